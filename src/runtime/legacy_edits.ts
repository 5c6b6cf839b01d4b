/**
 * Legacy mode, the shim's part: the prestart hook that runs `xpu-container-cli` (added once), and
 * device cgroup allow rules for the requested devices and the control nodes, so the nodes the
 * hook creates can be opened on cgroup v2 hosts too.
 *
 * @module
 */

import { hookEnv } from "../core/config/hook_env.ts";
import { addDeviceCgroupRule, addHook, hasHookNamed } from "../core/oci/container_edits.ts";
import {
  describeDevices,
  type DeviceNode,
  discoverDevices,
  selectDevices,
  type XpuDevice,
} from "../core/device/device_discovery.ts";
import { findProfile, XPU_PROFILE } from "../core/device/device_profile.ts";
import { quoted, RequestError } from "../core/errors.ts";
import type { OciSpec } from "../core/oci/oci_spec.ts";
import { hookProgram } from "./hook_program.ts";
import type { ModeContext, ModeRequest } from "./mode_edit.ts";

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

/**
 * Legacy mode's edit: the requested devices looked up on the host, then the hook and the rules
 * ({@link applyLegacyEdits}). Without an `XPU_VISIBLE_DEVICES` or volume-mount request there is
 * nothing to do.
 *
 * @throws {RequestError} for a CDI name (served in mode 'cdi' only) or a device the host does
 *   not have
 * @throws {ConfigError} when the hook program has no absolute path
 */
export function editForLegacy(spec: OciSpec, request: ModeRequest, ctx: ModeContext): void {
  if (request.devices === undefined) return;
  const { config } = ctx;
  const ids = request.devices.devices;
  if (ids !== "all") {
    const cdiNames = ids.filter((id) => id.includes("="));
    if (cdiNames.length > 0) {
      throw new RequestError(
        `Cannot serve CDI devices ${cdiNames.map(quoted).join(", ")} in mode 'legacy': ` +
          `request devices by index or UUID, or request only CDI names`,
      );
    }
  }
  const profile = findProfile(config.profiles, config.cli.profile) ?? XPU_PROFILE;
  const host = discoverDevices(ctx.fs, profile, { driverRoot: config.cli.root });
  const selection = selectDevices(host.devices, ids);
  if (!selection.ok) {
    throw new RequestError(
      `Cannot give the container XPU ${selection.unknown.map(quoted).join(", ")}: ` +
        `no such device under "${config.cli.root}" (devices: ${describeDevices(host.devices)}): ` +
        `request an existing index or UUID, or "all"`,
    );
  }
  applyLegacyEdits(spec, {
    hookPath: hookProgram(config.hook.path, "[xpu-container-runtime-hook] path", ctx),
    hookEnv: hookEnv({ configPath: ctx.configPath }),
    devices: selection.devices,
    controlNodes: host.controlNodes,
  });
}
