/**
 * The device permission of a running container, read and changed: cgroup v1 through its
 * `devices.list`, `devices.allow` and `devices.deny`; cgroup v2 through the eBPF program the
 * runtime attached to its cgroup, replaced atomically by one with our prologue
 * (`device_program.ts`). What each decides is pure; the calls are at the edges.
 *
 * @module
 */

import { closeFd, readTextFileSync, writeTextFileSync } from "../io/fs.ts";
import {
  attachDeviceProgram,
  detachDeviceProgram,
  loadDeviceProgram,
  openCgroup,
  programById,
  programIdOf,
  queryDevicePrograms,
  readProgram,
  replaceDeviceProgram,
} from "../io/bpf.ts";
import { parseMountinfo } from "../path/mountinfo.ts";
import { type ProcessDir, readProcessText, withProcessDir } from "../io/process_dir.ts";
import {
  allowAllProgram,
  decodeProgram,
  type DeviceDecision,
  encodeProgram,
  type Insn,
  programAllows,
  splitProgram,
  withDecisions,
} from "./device_program.ts";
import type { DeviceRule } from "./device_cgroup.ts";

/** How a running container's device access is controlled, with the host path of its cgroup. */
export type LiveCgroup =
  | { version: 1; dir: string }
  | { version: 2; dir: string }
  | { version: "none"; reason: string };

/** A cgroup line's path for a v1 controller or the unified hierarchy (`""`). */
function cgroupPath(procCgroup: string, controller: string): string | undefined {
  for (const line of procCgroup.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    if (controller === "" ? line.startsWith("0::") : controllers.split(",").includes(controller)) {
      return line.slice(second + 1);
    }
  }
  return undefined;
}

const join = (mount: string, path: string) => path === "/" ? mount : `${mount}${path}`;

/**
 * Where a process's device access is decided, from its `/proc/<pid>/cgroup`, this process's
 * mountinfo and whether a cgroup v2 dir has a device program attached (`hasProgram`). A v2
 * cgroup with a program wins (a runtime in v2 mode on a hybrid host leaves the process in the v1
 * root); then a v1 `devices` cgroup other than the root; then the v2 cgroup, without a program.
 */
export function liveCgroupOf(
  procCgroup: string,
  mountinfo: string,
  hasProgram: (dir: string) => boolean,
): LiveCgroup {
  const mounts = parseMountinfo(mountinfo);
  const unified = mounts.find((m) => m.fsType === "cgroup2")?.mountPoint;
  const v1 = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes("devices"))
    ?.mountPoint;
  const v2Path = cgroupPath(procCgroup, "");
  if (unified !== undefined && v2Path !== undefined && hasProgram(join(unified, v2Path))) {
    return { version: 2, dir: join(unified, v2Path) };
  }
  const v1Path = cgroupPath(procCgroup, "devices");
  if (v1 !== undefined && v1Path !== undefined && v1Path !== "/") {
    return { version: 1, dir: join(v1, v1Path) };
  }
  // A v2 cgroup without a program of its own (a privileged container's): a denial is a program
  // attached to it.
  if (unified !== undefined && v2Path !== undefined) {
    return { version: 2, dir: join(unified, v2Path) };
  }
  return { version: "none", reason: "it is in no device cgroup this host mounts" };
}

/** Whether a v1 `devices.list` allows every access to a device. */
export function v1ListAllows(list: string, rule: DeviceRule): boolean {
  return list.split("\n").some((line) => {
    const match = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
    if (!match) return false;
    const [, type, major, minor, access] = match;
    return (type === "a" || type === rule.type) &&
      (major === "*" || Number(major) === rule.major) &&
      (minor === "*" || Number(minor) === rule.minor) &&
      ["r", "w", "m"].every((a) => access.includes(a));
  });
}

const RWM = 7;

/** The container's device cgroup, open for reading and changing its rules. */
export interface DevicePermission {
  /** Whether every access to the device is allowed now. */
  allows(rule: DeviceRule): boolean;
  /**
   * Allows (`allow`) or takes back each rule, all at once.
   *
   * @returns a function that puts the permission back as it was
   */
  change(rules: readonly DeviceRule[], allow: boolean): () => void;
  /**
   * Makes sure the rules {@link allows} reports allowed are, where it cannot see a denial: a v1
   * cgroup that allows by default lists only `a *:* rwm`, never the denials made on it since (a
   * detach of ours, say). Allowing there only takes such a denial back, so nothing needs undoing.
   */
  confirm?(rules: readonly DeviceRule[]): void;
  /** How it is controlled, for messages. */
  describe(): string;
}

/** The v1 permission of the cgroup dir `dir`. */
export function v1Permission(dir: string): DevicePermission {
  const list = () => readTextFileSync(`${dir}/devices.list`);
  const line = (rule: DeviceRule) => `${rule.type} ${rule.major}:${rule.minor} rwm`;
  return {
    allows: (rule) => v1ListAllows(list(), rule),
    confirm(rules) {
      if (list().trim() !== "a *:* rwm") return;
      for (const rule of rules) writeTextFileSync(`${dir}/devices.allow`, line(rule));
    },
    change(rules, allow) {
      const before = rules.map((rule) => ({ rule, allowed: v1ListAllows(list(), rule) }));
      const apply = (rule: DeviceRule, yes: boolean) =>
        writeTextFileSync(`${dir}/${yes ? "devices.allow" : "devices.deny"}`, line(rule));
      const done: DeviceRule[] = [];
      const undo = () => {
        for (const rule of done.reverse()) {
          apply(rule, before.find((b) => b.rule === rule)!.allowed);
        }
      };
      try {
        for (const rule of rules) {
          apply(rule, allow);
          done.push(rule);
        }
      } catch (error) {
        undo();
        throw error;
      }
      return undo;
    },
    describe: () => `cgroup v1 "${dir}"`,
  };
}

/** A device program, by id, with its decoded instructions. */
interface Program {
  id: number;
  insns: Insn[];
}

function readProgramById(id: number): Program {
  const fd = programById(id);
  try {
    return { id, insns: decodeProgram(readProgram(fd).instructions) };
  } finally {
    closeFd(fd);
  }
}

/**
 * The device programs of the cgroup `dir`: its own (attached to it: the runtime's, and with
 * systemd also systemd's; none for a privileged container), and those of its ancestors that apply
 * too. An access is allowed only when every one of them allows it (none: every access is).
 */
function programsOf(dir: string): { own: Program[]; inherited: Program[]; flags: number } {
  const cgroup = openCgroup(dir);
  try {
    const { ids, flags } = queryDevicePrograms(cgroup);
    const effective = queryDevicePrograms(cgroup, { effective: true }).ids;
    return {
      own: ids.map(readProgramById),
      inherited: effective.filter((id) => !ids.includes(id)).map(readProgramById),
      flags,
    };
  } finally {
    closeFd(cgroup);
  }
}

/** Whether a cgroup v2 dir has device programs attached. */
export function hasDeviceProgram(dir: string): boolean {
  try {
    const cgroup = openCgroup(dir);
    try {
      return queryDevicePrograms(cgroup).ids.length > 0;
    } finally {
      closeFd(cgroup);
    }
  } catch {
    return false;
  }
}

/** Replaces the program `old` attached to `dir` by `insns`; returns the new program's id. */
function swapProgram(dir: string, old: number, insns: readonly Insn[], flags: number): number {
  const cgroup = openCgroup(dir);
  try {
    if (!queryDevicePrograms(cgroup).ids.includes(old)) {
      throw new Error(`the device program of "${dir}" changed while it was being replaced`);
    }
    const oldFd = programById(old);
    try {
      const next = loadDeviceProgram(encodeProgram(insns));
      try {
        replaceDeviceProgram(cgroup, next, oldFd, flags);
        return programIdOf(next);
      } finally {
        closeFd(next);
      }
    } finally {
      closeFd(oldFd);
    }
  } finally {
    closeFd(cgroup);
  }
}

/** Attaches `insns` to `dir` beside its other programs; returns the new program's id. */
function addProgram(dir: string, insns: readonly Insn[]): number {
  const cgroup = openCgroup(dir);
  try {
    const next = loadDeviceProgram(encodeProgram(insns));
    try {
      const before = new Set(queryDevicePrograms(cgroup).ids);
      const inherited = queryDevicePrograms(cgroup, { effective: true }).ids
        .filter((i) => !before.has(i));
      attachDeviceProgram(cgroup, next);
      const id = programIdOf(next);
      // A parent that attached with BPF_F_ALLOW_OVERRIDE lets a child's program replace its own:
      // ours, which allows all but its denials, must not take the parents' place.
      const effective = queryDevicePrograms(cgroup, { effective: true }).ids;
      if (!inherited.every((i) => effective.includes(i))) {
        detachDeviceProgram(cgroup, next);
        throw new Error(
          `a parent cgroup's device program would stop applying to "${dir}" (it was attached ` +
            `with BPF_F_ALLOW_OVERRIDE): not attaching a program of the container's own`,
        );
      }
      return id;
    } finally {
      closeFd(next);
    }
  } finally {
    closeFd(cgroup);
  }
}

/** Detaches the program `id` from `dir` (one {@link addProgram} attached). */
function removeProgram(dir: string, id: number): void {
  const cgroup = openCgroup(dir);
  try {
    const fd = programById(id);
    try {
      detachDeviceProgram(cgroup, fd);
    } finally {
      closeFd(fd);
    }
  } finally {
    closeFd(cgroup);
  }
}

const allowedBy = (programs: readonly Program[], rule: DeviceRule) =>
  programs.every((p) => programAllows(p.insns, { ...rule, access: RWM }));

/** The v2 permission of the cgroup dir `dir`, through its device programs. */
export function v2Permission(dir: string): DevicePermission {
  return {
    allows(rule) {
      const { own, inherited } = programsOf(dir);
      return allowedBy([...own, ...inherited], rule);
    },
    change(rules, allow) {
      const { own, inherited, flags } = programsOf(dir);
      const refused = allow ? rules.filter((rule) => !allowedBy(inherited, rule)) : [];
      if (refused.length > 0) {
        throw new Error(
          `a device program of a parent cgroup denies ${
            refused.map((r) => `${r.type} ${r.major}:${r.minor}`).join(", ")
          }, which no program of the container's cgroup can undo`,
        );
      }
      if (own.length === 0) {
        // Nothing of the cgroup's own restricts it: an allow needs nothing (the parents' programs
        // were checked above); a denial is a program of its own, our prologue before allow-all.
        const denied = rules.filter((rule) => allowedBy(inherited, rule));
        if (allow || denied.length === 0) return () => {};
        const id = addProgram(
          dir,
          withDecisions(allowAllProgram(), denied.map((rule) => ({ ...rule, allow: false }))),
        );
        return () => removeProgram(dir, id);
      }
      const swapped: { id: number; original: Insn[] }[] = [];
      const undo = () => {
        for (const { id, original } of swapped.reverse()) swapProgram(dir, id, original, flags);
      };
      try {
        for (const program of own) {
          const { decisions, runtime } = splitProgram(program.insns);
          const next = withDecisions(runtime, nextDecisions(decisions, runtime, rules, allow));
          if (JSON.stringify(next) === JSON.stringify(program.insns)) continue;
          swapped.push({ id: swapProgram(dir, program.id, next, flags), original: program.insns });
        }
      } catch (error) {
        undo();
        throw error;
      }
      return undo;
    },
    describe: () => `cgroup v2 "${dir}" (its eBPF device program)`,
  };
}

/**
 * The prologue's decisions after allowing or taking back `rules`: an allowed device the runtime
 * already allows needs no decision; a taken-back one needs a deny only when the runtime allows it.
 */
export function nextDecisions(
  decisions: readonly DeviceDecision[],
  runtime: readonly Insn[],
  rules: readonly DeviceRule[],
  allow: boolean,
): DeviceDecision[] {
  const key = (d: DeviceRule) => `${d.type} ${d.major}:${d.minor}`;
  const changed = new Set(rules.map(key));
  const kept = decisions.filter((d) => !changed.has(key(d)));
  for (const rule of rules) {
    const runtimeAllows = programAllows(runtime, { ...rule, access: RWM });
    if (allow && !runtimeAllows) kept.push({ ...rule, allow: true });
    if (!allow && runtimeAllows) kept.push({ ...rule, allow: false });
  }
  return kept;
}

/** The permission object for a live cgroup. */
export function devicePermission(cgroup: LiveCgroup): DevicePermission | undefined {
  if (cgroup.version === 1) return v1Permission(cgroup.dir);
  if (cgroup.version === 2) return v2Permission(cgroup.dir);
  return undefined;
}

/** The live cgroup of `process` (a pid, or its `/proc` directory held open), as the host sees it. */
export function readLiveCgroup(process: number | ProcessDir): LiveCgroup {
  return liveCgroupOf(
    withProcessDir(process, (dir) => readProcessText(dir, "cgroup")),
    readTextFileSync("/proc/self/mountinfo"),
    hasDeviceProgram,
  );
}
