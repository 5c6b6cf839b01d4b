/**
 * What `xpu-container-cli configure` does to a container, planned from data before anything is
 * touched: device nodes to create, driver files to bind read-only (or recreate as symlinks),
 * device cgroup rules, and the library folders whose ld cache to refresh.
 *
 * @module
 */

import type { DeviceNode, DriverFile, XpuDevice } from "../core/device/device_discovery.ts";
import type { HostFs } from "../core/io/host_fs.ts";
import { layoutDriverFiles } from "../core/device/driver_file_layout.ts";

/** One change inside the container's mount namespace. Paths are in-container. */
export type ConfigureOp =
  | {
    op: "node";
    path: string;
    /** The host's node, bound instead of created in a container with a user namespace. */
    source: string;
    type: "c" | "b";
    major: number;
    minor: number;
    mode: number;
    uid: number;
    gid: number;
  }
  | { op: "bind"; source: string; path: string }
  | { op: "link"; target: string; path: string };

/** A device cgroup allow rule. */
export interface CgroupRule {
  type: "c" | "b";
  major: number;
  minor: number;
}

/** The whole plan. */
export interface ConfigurePlan {
  ops: ConfigureOp[];
  cgroupRules: CgroupRule[];
  /** Folders holding injected libraries, for the ld cache. */
  libraryDirs: string[];
}

/** Inputs of {@link planConfigure}. */
export interface ConfigureInput {
  devices: readonly XpuDevice[];
  /** The host's control nodes: injected when at least one device is. */
  controlNodes: readonly DeviceNode[];
  driverFiles: readonly DriverFile[];
  fs: HostFs;
  /** Owner for the created nodes (`--user`); default the host node's owner. */
  owner?: { uid: number; gid: number };
}

/** Plans the configuration of one container. */
export function planConfigure(input: ConfigureInput): ConfigurePlan {
  const ops: ConfigureOp[] = [];
  const cgroupRules: CgroupRule[] = [];
  const nodes = input.devices.flatMap((d) => d.nodes);
  if (nodes.length > 0) nodes.push(...input.controlNodes);
  const seen = new Set<string>();
  for (const node of nodes) {
    if (seen.has(node.path)) continue;
    seen.add(node.path);
    ops.push({
      op: "node",
      path: node.path,
      source: node.hostPath,
      type: node.type,
      major: node.major,
      minor: node.minor,
      mode: node.fileMode,
      uid: input.owner?.uid ?? node.uid,
      gid: input.owner?.gid ?? node.gid,
    });
    cgroupRules.push({ type: node.type, major: node.major, minor: node.minor });
  }
  const layout = layoutDriverFiles(input.fs, input.driverFiles);
  // The real files first, then the links that point at them.
  for (const file of layout.files) ops.push({ op: "bind", source: file.hostPath, path: file.path });
  for (const link of layout.links) ops.push({ op: "link", target: link.target, path: link.path });
  return { ops, cgroupRules, libraryDirs: layout.libraryDirs };
}

/** Parses `--user UID[:GID]` (numeric ids; the group defaults to the uid). */
export function parseOwner(value: string): { uid: number; gid: number } | undefined {
  const match = /^(\d+)(?::(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  return { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) };
}
