/**
 * The `bpf(2)` calls that read and replace a cgroup v2 device program: which programs are
 * attached to a cgroup, their instructions, loading a new one, and attaching it in place of the
 * old one (`BPF_F_REPLACE`: one atomic swap, no moment without a program), or beside the others
 * where the cgroup has none of its own, and detaching that one again.
 *
 * @module
 */

import { addressOf, check, cString, libc, O, OsCallError, syscall } from "./libc.ts";

const CMD = {
  PROG_LOAD: 5,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_GET_FD_BY_ID: 13,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
} as const;
const PROG_TYPE_CGROUP_DEVICE = 15;
const CGROUP_DEVICE = 6;
const F_ALLOW_MULTI = 2;
const F_REPLACE = 4;
const QUERY_EFFECTIVE = 1;
const ATTR_SIZE = 128;

function bpf(command: number, attr: Uint8Array): number {
  return Number(syscall("bpf", command, attr, attr.length));
}

/** The device programs attached to a cgroup, and how they were attached. */
export interface AttachedPrograms {
  ids: number[];
  /** `BPF_F_*` flags the programs were attached with (0: one program, replaced on attach). */
  flags: number;
}

/** Opens a cgroup v2 directory for the calls below; the caller closes it. */
export function openCgroup(path: string): number {
  return check("open", libc().open(cString(path), O.RDONLY | O.DIRECTORY | O.CLOEXEC, 0));
}

/**
 * The device programs attached to the cgroup open as `cgroupFd` (`BPF_PROG_QUERY`); with
 * `effective`, also those of its ancestors that apply to it.
 */
export function queryDevicePrograms(
  cgroupFd: number,
  options: { effective?: boolean } = {},
): AttachedPrograms {
  const ids = new Uint32Array(64);
  const attr = new Uint8Array(ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, cgroupFd, true);
  view.setUint32(4, CGROUP_DEVICE, true);
  if (options.effective) view.setUint32(8, QUERY_EFFECTIVE, true);
  view.setBigUint64(16, addressOf(new Uint8Array(ids.buffer)), true);
  view.setUint32(24, ids.length, true);
  bpf(CMD.PROG_QUERY, attr);
  const count = view.getUint32(24, true);
  return { ids: [...ids.subarray(0, count)], flags: view.getUint32(12, true) };
}

/** Opens the program with id `id`; the caller closes it. */
export function programById(id: number): number {
  const attr = new Uint8Array(ATTR_SIZE);
  new DataView(attr.buffer).setUint32(0, id, true);
  return bpf(CMD.PROG_GET_FD_BY_ID, attr);
}

/** What `BPF_OBJ_GET_INFO_BY_FD` tells of a program. */
export interface ProgramInfo {
  type: number;
  id: number;
  /** The instructions as the kernel holds them (`xlated`), 8 bytes each. */
  instructions: Uint8Array;
}

function programInfo(fd: number, instructions?: Uint8Array): { info: DataView; length: number } {
  const info = new Uint8Array(256);
  const view = new DataView(info.buffer);
  if (instructions !== undefined) {
    view.setUint32(20, instructions.length, true);
    view.setBigUint64(32, addressOf(instructions), true);
  }
  const attr = new Uint8Array(ATTR_SIZE);
  const attrView = new DataView(attr.buffer);
  attrView.setUint32(0, fd, true);
  attrView.setUint32(4, info.length, true);
  attrView.setBigUint64(8, addressOf(info), true);
  bpf(CMD.OBJ_GET_INFO_BY_FD, attr);
  return { info: view, length: view.getUint32(20, true) };
}

/**
 * The type, id and instructions of the program open as `fd`.
 *
 * @throws {OsCallError} EPERM when the kernel does not show instructions to this process
 */
export function readProgram(fd: number): ProgramInfo {
  const { length } = programInfo(fd);
  if (length === 0) throw new OsCallError("bpf(BPF_OBJ_GET_INFO_BY_FD)", 1);
  const instructions = new Uint8Array(length);
  const { info } = programInfo(fd, instructions);
  if (instructions.every((byte) => byte === 0)) {
    // The kernel leaves the buffer untouched when it will not dump a program's instructions.
    throw new Error(
      `the kernel does not show the instructions of device program ${info.getUint32(4, true)} ` +
        `(kernel.kptr_restrict = 2, or a lockdown)`,
    );
  }
  return { type: info.getUint32(0, true), id: info.getUint32(4, true), instructions };
}

/** The id of the program open as `fd` (`BPF_OBJ_GET_INFO_BY_FD`). */
export function programIdOf(fd: number): number {
  return programInfo(fd).info.getUint32(4, true);
}

/**
 * Loads a device program; the caller closes the fd. The verifier's log is asked for only when a
 * load fails (a log buffer too small for a successful load's log would fail it), for the message.
 *
 * @throws {Error} naming the verifier's last lines when the kernel refuses the program
 */
export function loadDeviceProgram(instructions: Uint8Array): number {
  const license = cString("Apache");
  const load = (log?: Uint8Array) => {
    const attr = new Uint8Array(ATTR_SIZE);
    const view = new DataView(attr.buffer);
    view.setUint32(0, PROG_TYPE_CGROUP_DEVICE, true);
    view.setUint32(4, instructions.length / 8, true);
    view.setBigUint64(8, addressOf(instructions), true);
    view.setBigUint64(16, addressOf(license), true);
    if (log !== undefined) {
      view.setUint32(24, 1, true);
      view.setUint32(28, log.length, true);
      view.setBigUint64(32, addressOf(log), true);
    }
    return bpf(CMD.PROG_LOAD, attr);
  };
  try {
    return load();
  } catch (error) {
    const log = new Uint8Array(1 << 20);
    try {
      return load(log);
    } catch {
      const end = log.indexOf(0);
      const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
      const last = text.split("\n").slice(-2).join("; ");
      throw new Error(
        `${error instanceof Error ? error.message : error}${last ? ` (verifier: ${last})` : ""}`,
        { cause: error },
      );
    }
  }
}

/**
 * Attaches the program `newFd` to the cgroup in place of `oldFd`, atomically: with the flags the
 * old one had (`BPF_F_ALLOW_MULTI` plus `BPF_F_REPLACE`, or none, where attaching replaces).
 */
export function replaceDeviceProgram(
  cgroupFd: number,
  newFd: number,
  oldFd: number,
  flags: number,
): void {
  const multi = (flags & F_ALLOW_MULTI) !== 0;
  attachCall(
    CMD.PROG_ATTACH,
    cgroupFd,
    newFd,
    multi ? flags | F_REPLACE : flags,
    multi ? oldFd : 0,
  );
}

/**
 * Attaches the program `progFd` to the cgroup `cgroupFd` beside any others (`BPF_F_ALLOW_MULTI`,
 * as runc attaches its own): for a cgroup that has no device program of its own.
 */
export function attachDeviceProgram(cgroupFd: number, progFd: number): void {
  attachCall(CMD.PROG_ATTACH, cgroupFd, progFd, F_ALLOW_MULTI, 0);
}

/** Detaches the program `progFd` from the cgroup `cgroupFd` (`BPF_PROG_DETACH`). */
export function detachDeviceProgram(cgroupFd: number, progFd: number): void {
  attachCall(CMD.PROG_DETACH, cgroupFd, progFd, 0, 0);
}

/**
 * `BPF_PROG_ATTACH` or `BPF_PROG_DETACH` of a device program: the attr's `target_fd`,
 * `attach_bpf_fd`, `attach_type`, `attach_flags` and `replace_bpf_fd`.
 */
function attachCall(
  command: number,
  cgroupFd: number,
  progFd: number,
  flags: number,
  replaceFd: number,
): void {
  const attr = new Uint8Array(ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, cgroupFd, true);
  view.setUint32(4, progFd, true);
  view.setUint32(8, CGROUP_DEVICE, true);
  view.setUint32(12, flags, true);
  view.setUint32(16, replaceFd, true);
  bpf(command, attr);
}
