/**
 * Device cgroup (v1) access for a running container: where its `devices` cgroup is, and the
 * `devices.allow` lines for its nodes. On a cgroup v2-only host there is no such file; the
 * runtime's spec-level rules (which `xpu-container-runtime` adds) are what grant access there.
 *
 * @module
 */

import { parseMountinfo } from "../core/mountinfo.ts";
import type { CgroupRule } from "./configure_plan.ts";

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

/** The `devices.allow` line of a rule: `c 195:0 rwm`. */
export function allowLine(rule: CgroupRule): string {
  return `${rule.type} ${rule.major}:${rule.minor} rwm`;
}

/**
 * Allows the rules in the container's device cgroup.
 *
 * @returns the `devices.allow` file written, or `undefined` when the host has no v1 devices cgroup
 */
export function allowDevices(pid: number, rules: readonly CgroupRule[]): string | undefined {
  const mount = devicesMountPoint(Deno.readTextFileSync("/proc/self/mountinfo"));
  const path = devicesCgroupPath(Deno.readTextFileSync(`/proc/${pid}/cgroup`));
  if (mount === undefined || path === undefined) return undefined;
  const file = `${mount}${path === "/" ? "" : path}/devices.allow`;
  // The kernel takes one rule per write.
  for (const rule of rules) Deno.writeTextFileSync(file, allowLine(rule));
  return file;
}
