/**
 * Finds a profile's devices, control nodes and driver files under a driver root and a dev root,
 * and selects the devices a request names (by index or UUID).
 *
 * @module
 */

import type { Capability } from "./capabilities.ts";
import type { DeviceProfile } from "./device_profile.ts";
import { compareVersions } from "../text/dotted_version.ts";
import type { HostFs } from "../io/host_fs.ts";
import { expandGlobInRoot, hostPath } from "../path/root_path.ts";

/** A device node as found on the host. */
export interface DeviceNode {
  /** Path in the container (and in the dev root), e.g. `/dev/xpu0`. */
  path: string;
  /** Path on the host (dev root joined). */
  hostPath: string;
  type: "c" | "b";
  major: number;
  minor: number;
  /** Permission bits. */
  fileMode: number;
  uid: number;
  gid: number;
}

/** One accelerator. */
export interface XpuDevice {
  index: number;
  uuid?: string;
  name?: string;
  nodes: DeviceNode[];
}

/** What discovery found on a host. */
export interface HostDevices {
  devices: XpuDevice[];
  /** Control nodes present on the host. */
  controlNodes: DeviceNode[];
}

/** Where discovery looks. */
export interface HostRoots {
  driverRoot: string;
  /** Defaults to the driver root. */
  devRoot?: string;
}

/** Reads the device node at in-root `path`; `undefined` when it is missing or not a device. */
export function readDeviceNode(fs: HostFs, devRoot: string, path: string): DeviceNode | undefined {
  const host = hostPath(devRoot, path);
  const info = fs.stat(host);
  if (info === undefined || (info.kind !== "char" && info.kind !== "block")) return undefined;
  return {
    path,
    hostPath: host,
    type: info.kind === "char" ? "c" : "b",
    major: info.major,
    minor: info.minor,
    fileMode: info.mode & 0o777,
    uid: info.uid,
    gid: info.gid,
  };
}

/**
 * Discovers the profile's devices (sorted by index) and control nodes.
 *
 * @example
 * ```ts
 * discoverDevices(realHostFs, XPU_PROFILE, { driverRoot: "/" });
 * ```
 */
export function discoverDevices(
  fs: HostFs,
  profile: DeviceProfile,
  roots: HostRoots,
): HostDevices {
  const devRoot = roots.devRoot ?? roots.driverRoot;
  const byIndex = new Map<number, DeviceNode[]>();
  for (const glob of profile.deviceNodes) {
    const nodes = expandGlobInRoot(fs, devRoot, glob)
      .map((path) => readDeviceNode(fs, devRoot, path))
      .filter((node): node is DeviceNode => node !== undefined);
    nodes.forEach((node, position) => {
      const index = profile.indexFrom === "suffix" ? suffixIndex(node.path) : position;
      if (index === undefined) return;
      byIndex.set(index, [...(byIndex.get(index) ?? []), node]);
    });
  }
  const keyed = profile.identityFiles
    ? readIdentityFiles(fs, roots.driverRoot, profile.identityFiles)
    : new Map<number, { uuid?: string; name?: string }>();
  const devices = [...byIndex.keys()].sort((a, b) => a - b).map((index) => {
    const nodes = byIndex.get(index)!;
    const device: XpuDevice = { index, nodes };
    // In-root and normalised by expandGlobInRoot: the name is what follows the last slash.
    const node = nodes[0].path.slice(nodes[0].path.lastIndexOf("/") + 1);
    const template = (t: string | undefined) =>
      t?.replaceAll("{index}", String(index)).replaceAll("{node}", node);
    const uuid = readIdentity(fs, roots.driverRoot, template(profile.identity.uuid)) ??
      keyed.get(index)?.uuid;
    const name = readIdentity(fs, roots.driverRoot, template(profile.identity.name)) ??
      keyed.get(index)?.name;
    if (uuid !== undefined) device.uuid = uuid;
    if (name !== undefined) device.name = name;
    return device;
  });
  const controlNodes = profile.controlNodes
    .flatMap((glob) => expandGlobInRoot(fs, devRoot, glob))
    .map((path) => readDeviceNode(fs, devRoot, path))
    .filter((node): node is DeviceNode => node !== undefined);
  return { devices, controlNodes };
}

function suffixIndex(path: string): number | undefined {
  const match = /(\d+)$/.exec(path);
  return match ? Number(match[1]) : undefined;
}

function readIdentity(
  fs: HostFs,
  driverRoot: string,
  path: string | undefined,
): string | undefined {
  if (path === undefined) return undefined;
  const value = fs.readTextFile(hostPath(driverRoot, path))?.trim();
  return value ? value : undefined;
}

/** Reads `Key: value` identity files; the `indexKey` value says which device a file describes. */
function readIdentityFiles(
  fs: HostFs,
  driverRoot: string,
  spec: NonNullable<DeviceProfile["identityFiles"]>,
): Map<number, { uuid?: string; name?: string }> {
  const byIndex = new Map<number, { uuid?: string; name?: string }>();
  for (const path of expandGlobInRoot(fs, driverRoot, spec.glob)) {
    const fields = new Map<string, string>();
    for (const line of (fs.readTextFile(hostPath(driverRoot, path)) ?? "").split("\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const index = Number.parseInt(fields.get(spec.indexKey) ?? "", 10);
    if (Number.isNaN(index)) continue;
    const identity: { uuid?: string; name?: string } = {};
    const uuid = spec.uuidKey ? fields.get(spec.uuidKey) : undefined;
    const name = spec.nameKey ? fields.get(spec.nameKey) : undefined;
    if (uuid) identity.uuid = uuid;
    if (name) identity.name = name;
    byIndex.set(index, identity);
  }
  return byIndex;
}

/** A driver file found under the driver root. */
export interface DriverFile {
  /** In-root path (also the path in the container). */
  path: string;
  hostPath: string;
  capabilities: readonly Capability[];
}

/** Finds the profile's driver files serving any of `capabilities`, de-duplicated, in search order. */
export function discoverDriverFiles(
  fs: HostFs,
  profile: DeviceProfile,
  options: { driverRoot: string; capabilities: readonly Capability[] },
): DriverFile[] {
  const found = new Map<string, DriverFile>();
  for (const group of profile.driverFiles) {
    if (!group.capabilities.some((c) => options.capabilities.includes(c))) continue;
    for (const dir of group.dirs) {
      for (const pattern of group.patterns) {
        for (const path of expandGlobInRoot(fs, options.driverRoot, `${dir}/${pattern}`)) {
          if (found.has(path)) continue;
          found.set(path, {
            path,
            hostPath: hostPath(options.driverRoot, path),
            capabilities: group.capabilities,
          });
        }
      }
    }
  }
  return [...found.values()];
}

/**
 * The driver version, from the profile's version library file name (`libxpu.so.1.2.3` → `1.2.3`);
 * the highest when several are installed, `undefined` when none is.
 */
export function readDriverVersion(
  fs: HostFs,
  profile: DeviceProfile,
  driverRoot: string,
): string | undefined {
  const library = profile.versionLibrary;
  if (library === undefined) return undefined;
  const dirs = [...new Set(profile.driverFiles.flatMap((g) => g.dirs))];
  const prefix = `${library}.`;
  let best: string | undefined;
  for (const dir of dirs) {
    for (const name of fs.readDir(hostPath(driverRoot, dir)) ?? []) {
      const version = name.startsWith(prefix) ? name.slice(prefix.length) : "";
      if (!/^\d+(\.\d+)+$/.test(version)) continue;
      if (fs.lstat(hostPath(driverRoot, `${dir}/${name}`))?.kind !== "file") continue;
      if (best === undefined || compareVersions(version, best) > 0) best = version;
    }
  }
  return best;
}

/** The outcome of choosing devices by id. */
export type DeviceSelection =
  | { ok: true; devices: XpuDevice[] }
  | { ok: false; unknown: string[] };

/**
 * Chooses devices by index (`"0"`) or UUID; `"all"` chooses every device. The result follows the
 * order of the request without duplicates.
 */
export function selectDevices(
  devices: readonly XpuDevice[],
  ids: "all" | readonly string[],
): DeviceSelection {
  if (ids === "all") return { ok: true, devices: [...devices] };
  const chosen: XpuDevice[] = [];
  const unknown: string[] = [];
  for (const id of ids) {
    const device = devices.find((d) =>
      /^\d+$/.test(id) ? d.index === Number(id) : d.uuid !== undefined && d.uuid === id
    );
    if (device === undefined) unknown.push(id);
    else if (!chosen.includes(device)) chosen.push(device);
  }
  return unknown.length > 0 ? { ok: false, unknown } : { ok: true, devices: chosen };
}

/** Lists devices for messages: `0 (uuid XPU-1234), 1`. */
export function describeDevices(devices: readonly XpuDevice[]): string {
  if (devices.length === 0) return "none";
  return devices.map((d) => (d.uuid ? `${d.index} (${d.uuid})` : String(d.index))).join(", ");
}
