/**
 * Running a program on a container's rootfs where it cannot reach the host: this process is
 * replaced by the program after the calling thread has moved into a mount namespace of its own
 * whose root is the rootfs (`pivot_root`, not `chroot`), with procfs, sysfs and the other kernel
 * file systems unmounted, every mount `nodev,nosuid`, no capability left (effective, permitted,
 * inheritable, ambient and the bounding set), `no_new_privs`, stdin on `/dev/null` and every other
 * inherited fd closed on exec. This is how an image's own `ldconfig` is run: its code and its
 * `/etc/ld.so.conf` are the attacker's.
 *
 * Deno is multi-threaded; `unshare(CLONE_NEWNS)` applies to the calling thread, and `execve`
 * keeps that thread's namespaces, root and credentials while the other threads end.
 *
 * @module
 */

import { ExecError } from "../errors.ts";
import {
  AT,
  check,
  cString,
  cStringArray,
  ERRNO,
  errno,
  libc,
  MS,
  O,
  OsCallError,
  syscall,
} from "./libc.ts";
import { type MountInfo, parseMountinfo } from "../path/mountinfo.ts";
import { resetSignalsForExec } from "./process.ts";

const CLONE_NEWNS = 0x00020000;
const MNT_DETACH = 2;
const UMOUNT_NOFOLLOW = 8;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const CLOSE_RANGE_CLOEXEC = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** Kernel file systems that give a way out of a rootfs (`/proc/1/root`, `/sys`, cgroups…). */
const KERNEL_FILE_SYSTEMS = new Set([
  "proc",
  "sysfs",
  "cgroup",
  "cgroup2",
  "debugfs",
  "tracefs",
  "securityfs",
  "bpf",
  "nsfs",
  "binfmt_misc",
  "configfs",
  "fusectl",
  "pstore",
  "efivarfs",
  "selinuxfs",
  "hugetlbfs",
  "mqueue",
  "rpc_pipefs",
]);

/** Whether `path` is `root` or below it. */
function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root === "/" ? "/" : `${root}/`);
}

/**
 * What the sandbox does to the mounts under `rootfs` (from the new namespace's `mountinfo`):
 * kernel file systems to unmount (deepest first), then every other mount to remount
 * `nodev,nosuid` with the flags it has.
 */
export function planSandboxMounts(
  mounts: readonly MountInfo[],
  rootfs: string,
): { unmount: string[]; remount: { path: string; flags: bigint }[] } {
  const under = mounts.filter((m) => isUnder(m.mountPoint, rootfs));
  const unmount = [
    ...new Set(
      under.filter((m) => m.mountPoint !== rootfs && KERNEL_FILE_SYSTEMS.has(m.fsType))
        .map((m) => m.mountPoint),
    ),
  ].sort((a, b) => b.length - a.length);
  const gone = (path: string) => unmount.some((u) => isUnder(path, u));
  const remount = new Map<string, bigint>();
  for (const m of under) {
    if (gone(m.mountPoint)) continue;
    let flags = MS.BIND | MS.REMOUNT | MS.NODEV | MS.NOSUID;
    const has = (option: string) => m.options.includes(option);
    if (has("ro")) flags |= MS.RDONLY;
    if (has("noexec")) flags |= MS.NOEXEC;
    if (has("noatime")) flags |= MS.NOATIME;
    if (has("nodiratime")) flags |= MS.NODIRATIME;
    if (has("relatime")) flags |= MS.RELATIME;
    if (has("strictatime")) flags |= MS.STRICTATIME;
    // The last line for a mount point is the mount on top, the one a path reaches.
    remount.set(m.mountPoint, flags);
  }
  return { unmount, remount: [...remount].map(([path, flags]) => ({ path, flags })) };
}

/** What to run, and where. */
export interface IsolatedProgram {
  /** The rootfs, as a path in the caller's mount namespace (trusted: from the bundle). */
  rootfs: string;
  /**
   * The program: a path inside the rootfs (the image's), or a host file opened before the
   * isolation and run from its fd.
   */
  program: { inRoot: string } | { host: string };
  /** argv, argv[0] included. */
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Host ids to run as (the container's root in a user-namespaced container); default 0. */
  user?: { uid: number; gid: number };
}

function step(what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ExecError(
      `Cannot isolate the container's program from the host (${what}): ${detail}: ` +
        `the program was not run; check that the toolkit runs as root on Linux 5.6 or later`,
      { cause: error },
    );
  }
}

function mount(source: string | null, target: string, flags: bigint): void {
  check(
    "mount",
    libc().mount(source === null ? null : cString(source), cString(target), null, flags, null),
  );
}

/**
 * Replaces this process with `request.program`, isolated from the host on `request.rootfs`.
 * Everything the caller still has to do must be done before: this returns only by throwing.
 *
 * @throws {ExecError} when the isolation cannot be had (nothing is run then) or the exec fails
 */
export function execIsolated(request: IsolatedProgram): never {
  const rootfs = request.rootfs.replace(/\/+$/, "") || "/";
  if (!rootfs.startsWith("/") || rootfs === "/") {
    throw new ExecError(`Cannot isolate a program on rootfs "${request.rootfs}": not a rootfs`);
  }
  const argv = cStringArray(request.argv);
  const env = cStringArray(Object.entries(request.env).map(([k, v]) => `${k}=${v}`));
  let hostProgram = -1;
  let devNull = -1;
  step("open the program and /dev/null", () => {
    if ("host" in request.program) {
      hostProgram = check(
        "open",
        libc().open(cString(request.program.host), O.PATH | O.CLOEXEC, 0),
      );
    }
    devNull = check("open", libc().open(cString("/dev/null"), O.RDWR | O.CLOEXEC, 0));
  });
  step("reset signals", () => resetSignalsForExec());
  step("new mount namespace", () => {
    check("unshare", libc().unshare(CLONE_NEWNS));
    mount(null, "/", MS.REC | MS.PRIVATE);
    mount(rootfs, rootfs, MS.BIND | MS.REC);
  });
  step("unmount kernel file systems", () => {
    const plan = planSandboxMounts(
      parseMountinfo(Deno.readTextFileSync("/proc/thread-self/mountinfo")),
      rootfs,
    );
    for (const path of plan.unmount) {
      const result = libc().umount2(cString(path), MNT_DETACH | UMOUNT_NOFOLLOW);
      if (result < 0) {
        const error = new OsCallError("umount2", errno());
        if (error.errno !== ERRNO.EINVAL && error.errno !== ERRNO.ENOENT) throw error;
      }
    }
    for (const { path, flags } of plan.remount) mount(null, path, flags);
  });
  step("pivot_root into the rootfs", () => {
    check("chdir", libc().chdir(cString(rootfs)));
    syscall("pivot_root", cString("."), cString("."));
    check("umount2", libc().umount2(cString("."), MNT_DETACH));
    check("chdir", libc().chdir(cString("/")));
  });
  step("drop privileges", () => {
    for (let cap = 0; cap < 64; cap++) {
      if (libc().prctl(PR_CAPBSET_DROP, BigInt(cap), 0n, 0n, 0n) < 0) break;
    }
    check("prctl", libc().prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_CLEAR_ALL), 0n, 0n, 0n));
    const uid = request.user?.uid ?? 0;
    const gid = request.user?.gid ?? 0;
    syscall("setgroups", 0, null);
    syscall("setresgid", gid, gid, gid);
    syscall("setresuid", uid, uid, uid);
    const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
    const data = new Uint32Array(6);
    syscall("capset", new Uint8Array(header.buffer), new Uint8Array(data.buffer));
    check("prctl", libc().prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n));
  });
  step("close inherited files", () => {
    check("dup2", libc().dup2(devNull, 0));
    try {
      syscall("close_range", 3, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    } catch {
      // Before Linux 5.11: mark each fd; /proc is gone, so try the plausible range.
      for (let fd = 3; fd < 1024; fd++) {
        try {
          syscall("fcntl", fd, F_SETFD, FD_CLOEXEC);
        } catch {
          // Not open.
        }
      }
    }
  });
  let failure: OsCallError;
  try {
    if ("host" in request.program) {
      syscall("execveat", hostProgram, cString(""), argv.array, env.array, AT.EMPTY_PATH);
    } else {
      check("execve", libc().execve(cString(request.program.inRoot), argv.array, env.array));
    }
    throw new OsCallError("execve", ERRNO.EINVAL);
  } catch (error) {
    failure = error instanceof OsCallError ? error : new OsCallError("execve", ERRNO.EINVAL);
  }
  const program = "host" in request.program ? request.program.host : request.program.inRoot;
  throw new ExecError(
    `Cannot run "${program}" isolated in the container's rootfs: ${failure.message}: ` +
      `check that it is an executable for this machine`,
  );
}
