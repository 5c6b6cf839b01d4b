/**
 * Generating a CDI spec from what a device profile finds on the host: one device per index and
 * per UUID plus `all`, common edits with the control nodes, read-only mounts of the driver files,
 * the hooks that recreate their symlinks and refresh the ld cache (with an explicit minimal `env`,
 * so runtimes never start them with the container's), and the lowest `cdiVersion` that can
 * express it all.
 *
 * @module
 */

import { CAPABILITIES } from "../device/capabilities.ts";
import type { CdiDevice, CdiDeviceNode, CdiEdits, CdiHook, CdiMount, CdiSpec } from "./cdi_spec.ts";
import { minimumCdiVersion } from "./cdi_version.ts";
import { READ_ONLY_BIND_OPTIONS } from "../oci/container_edits.ts";
import {
  type DeviceNode,
  discoverDevices,
  discoverDriverFiles,
} from "../device/device_discovery.ts";
import type { DeviceProfile } from "../device/device_profile.ts";
import { RequestError } from "../errors.ts";
import type { HostFs } from "../io/host_fs.ts";
import { ctkHooks, layoutDriverFiles } from "../device/driver_file_layout.ts";
import { hookEnv } from "../config/hook_env.ts";

/** Inputs of {@link generateCdiSpec}. */
export interface GenerateOptions {
  profile: DeviceProfile;
  fs: HostFs;
  /** Where driver files are read; mounts' host paths are under it. */
  driverRoot: string;
  /** Where device nodes are read (default: the driver root); node host paths are under it. */
  devRoot?: string;
  /** `vendor/class` of the devices. */
  kind: string;
  /** Absolute path of `xpu-ctk` for the hooks (which run with {@link hookEnv}). */
  ctkPath: string;
}

function join(root: string, path: string): string {
  return root === "/" ? path : root.replace(/\/+$/, "") + path;
}

/** A node needs its group in `additionalGids` when only its owner and group may open it. */
function restrictedGid(node: DeviceNode): number | undefined {
  const others = node.fileMode & 0o006;
  const group = node.fileMode & 0o060;
  return others === 0 && group !== 0 && node.gid !== 0 ? node.gid : undefined;
}

function edits(
  nodes: readonly DeviceNode[],
  devRoot: string,
): CdiEdits {
  const deviceNodes: CdiDeviceNode[] = nodes.map((node) => {
    const host = join(devRoot, node.path);
    return host === node.path ? { path: node.path } : { path: node.path, hostPath: host };
  });
  const result: CdiEdits = { deviceNodes };
  const gids = [...new Set(nodes.map(restrictedGid).filter((g): g is number => g !== undefined))];
  if (gids.length > 0) result.additionalGids = gids.sort((a, b) => a - b);
  return result;
}

/** The devices the profile finds, or an error saying what to do when there are none. */
function findDevices(options: GenerateOptions) {
  const { fs, profile, driverRoot } = options;
  const devRoot = options.devRoot ?? driverRoot;
  const host = discoverDevices(fs, profile, { driverRoot, devRoot });
  if (host.devices.length === 0) {
    throw new RequestError(
      `Cannot generate a CDI spec: the "${profile.name}" profile finds no device under ` +
        `"${devRoot}" (${profile.deviceNodes.join(", ")}): load the driver, or pass --dev-root ` +
        `or --profile`,
    );
  }
  return host;
}

/** The edits every device shares: the control nodes, the driver files and their hooks. */
function commonEdits(options: GenerateOptions, controlNodes: readonly DeviceNode[]): CdiEdits {
  const { fs, profile, driverRoot } = options;
  const layout = layoutDriverFiles(
    fs,
    discoverDriverFiles(fs, profile, { driverRoot, capabilities: CAPABILITIES }),
  );
  const mounts: CdiMount[] = layout.files.map((file) => ({
    hostPath: join(driverRoot, file.path),
    containerPath: file.path,
    options: [...READ_ONLY_BIND_OPTIONS],
  }));
  const hooks: CdiHook[] = ctkHooks(layout, { ctkPath: options.ctkPath, env: hookEnv() });
  const common = edits(controlNodes, options.devRoot ?? driverRoot);
  const containerEdits: CdiEdits = {};
  if (common.deviceNodes!.length > 0) containerEdits.deviceNodes = common.deviceNodes;
  if (mounts.length > 0) containerEdits.mounts = mounts;
  if (hooks.length > 0) containerEdits.hooks = hooks;
  if (common.additionalGids) containerEdits.additionalGids = common.additionalGids;
  return containerEdits;
}

function finish(kind: string, devices: CdiDevice[], containerEdits: CdiEdits): CdiSpec {
  const spec: CdiSpec = { cdiVersion: "", kind, devices, containerEdits };
  spec.cdiVersion = minimumCdiVersion(spec);
  return spec;
}

/**
 * Generates the spec.
 *
 * @throws {RequestError} when the profile finds no device under the dev root
 */
export function generateCdiSpec(options: GenerateOptions): CdiSpec {
  const devRoot = options.devRoot ?? options.driverRoot;
  const host = findDevices(options);
  const devices: CdiDevice[] = [];
  for (const device of host.devices) {
    devices.push({ name: String(device.index), containerEdits: edits(device.nodes, devRoot) });
  }
  for (const device of host.devices) {
    if (device.uuid) {
      devices.push({ name: device.uuid, containerEdits: edits(device.nodes, devRoot) });
    }
  }
  devices.push({
    name: "all",
    containerEdits: edits(host.devices.flatMap((d) => d.nodes), devRoot),
  });
  return finish(options.kind, devices, commonEdits(options, host.controlNodes));
}

/**
 * Generates the management spec (the installer's, kind `management.xpu.dev/xpu`): one device
 * `all` with every device node, for monitoring and management containers that see the whole host.
 *
 * @throws {RequestError} when the profile finds no device under the dev root
 */
export function generateManagementCdiSpec(options: GenerateOptions): CdiSpec {
  const devRoot = options.devRoot ?? options.driverRoot;
  const host = findDevices(options);
  const all = edits(host.devices.flatMap((d) => d.nodes), devRoot);
  return finish(
    options.kind,
    [{ name: "all", containerEdits: all }],
    commonEdits(options, host.controlNodes),
  );
}
