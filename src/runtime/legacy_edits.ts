/**
 * Legacy mode, the shim's part: the prestart hook that runs `xpu-container-cli` (added once), and
 * device cgroup allow rules for the requested devices and the control nodes, so the nodes the
 * hook creates can be opened on cgroup v2 hosts too.
 *
 * @module
 */

import { addDeviceCgroupRule, addHook, hasHookNamed } from "../core/oci/container_edits.ts";
import type { DeviceNode, XpuDevice } from "../core/device/device_discovery.ts";
import type { OciSpec } from "../core/oci/oci_spec.ts";

/** Basenames under which the legacy hook is installed. */
export const LEGACY_HOOK_NAMES: readonly string[] = [
  "xpu-container-runtime-hook",
  "xpu-container-toolkit",
];

/** Options of {@link applyLegacyEdits}. */
export interface LegacyEditOptions {
  /** Absolute path of the hook program. */
  hookPath: string;
  /** The hook's explicit environment (`hookEnv()`): never the container's. */
  hookEnv: readonly string[];
  /** The devices the container gets (empty for `none`). */
  devices: readonly XpuDevice[];
  /** Control nodes on the host; they get rules whenever a device is given. */
  controlNodes: readonly DeviceNode[];
}

/** Adds the prestart hook (unless a legacy hook is already there) and the cgroup allow rules. */
export function applyLegacyEdits(spec: OciSpec, options: LegacyEditOptions): void {
  if (!hasHookNamed(spec, "prestart", LEGACY_HOOK_NAMES)) {
    addHook(spec, {
      hookName: "prestart",
      path: options.hookPath,
      args: ["xpu-container-runtime-hook", "prestart"],
      env: [...options.hookEnv],
    });
  }
  const nodes = options.devices.flatMap((d) => d.nodes);
  if (nodes.length > 0) nodes.push(...options.controlNodes);
  for (const node of nodes) addDeviceCgroupRule(spec, node);
}
