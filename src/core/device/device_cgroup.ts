/**
 * A running container's device cgroup: cgroup v1, where access is granted by writing
 * `devices.allow` lines for its nodes, or cgroup v2, where the runtime's eBPF program (built from
 * the spec's `linux.resources.devices`) is all there is and nothing can be added from a hook.
 *
 * @module
 */

import { readTextFileSync, writeTextFileSync } from "../io/fs.ts";
import { parseMountinfo } from "../path/mountinfo.ts";

/** A device allow rule: a node's type and numbers. */
export interface DeviceRule {
  type: "c" | "b";
  major: number;
  minor: number;
}

/** The container's path in the v1 `devices` hierarchy, from `/proc/<pid>/cgroup` text. */
export function devicesCgroupPath(procCgroup: string): string | undefined {
  for (const line of procCgroup.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    if (line.slice(first + 1, second).split(",").includes("devices")) return line.slice(second + 1);
  }
  return undefined;
}

/** Where the v1 `devices` controller is mounted, from `/proc/self/mountinfo` text. */
export function devicesMountPoint(mountinfo: string): string | undefined {
  return parseMountinfo(mountinfo).find((m) =>
    m.fsType === "cgroup" && m.superOptions.includes("devices")
  )?.mountPoint;
}

/** How a container's device access is controlled. */
export type DeviceCgroup =
  /** A v1 `devices` cgroup: rules are added by writing `allowFile`. */
  | { version: 1; allowFile: string }
  /** cgroup v2: the runtime's eBPF program alone; `path` is the unified cgroup. */
  | { version: 2; path: string }
  /** Neither: no device cgroup this process can see. */
  | { version: "none" };

/**
 * Which device cgroup a process is in, from its `/proc/<pid>/cgroup` and this process's
 * `/proc/self/mountinfo`. A v1 `devices` controller that is mounted wins (a hybrid host);
 * without one, a `0::` line means cgroup v2. The kernel lists every v1 hierarchy in
 * `/proc/<pid>/cgroup` even where none is mounted, so the mount decides, not the lines.
 */
export function deviceCgroupOf(procCgroup: string, mountinfo: string): DeviceCgroup {
  const mount = devicesMountPoint(mountinfo);
  const path = devicesCgroupPath(procCgroup);
  if (mount !== undefined && path !== undefined) {
    return { version: 1, allowFile: `${mount}${path === "/" ? "" : path}/devices.allow` };
  }
  const unified = procCgroup.split("\n").find((line) => line.startsWith("0::"));
  if (unified !== undefined) return { version: 2, path: unified.slice(3) };
  return { version: "none" };
}

/** The device cgroup of process `pid`, as seen from this process's mount namespace. */
export function readDeviceCgroup(pid: number): DeviceCgroup {
  return deviceCgroupOf(
    readTextFileSync(`/proc/${pid}/cgroup`),
    readTextFileSync("/proc/self/mountinfo"),
  );
}

/** The `devices.allow` line of a rule: `c 195:0 rwm`. */
export function allowLine(rule: DeviceRule): string {
  return `${rule.type} ${rule.major}:${rule.minor} rwm`;
}

/** Allows the rules by writing them to a v1 cgroup's `devices.allow` file. */
export function allowDevices(allowFile: string, rules: readonly DeviceRule[]): void {
  // The kernel takes one rule per write.
  for (const rule of rules) writeTextFileSync(allowFile, allowLine(rule));
}
