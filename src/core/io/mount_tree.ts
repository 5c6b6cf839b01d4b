/**
 * Mounts carried into another mount namespace: a host file or directory is cloned into a
 * detached mount (`open_tree`) while this thread still sees the host, its flags are set on the
 * detached mount (`mount_setattr`), and after `setns` into the container the mount is attached
 * onto a target opened inside the container's root (`move_mount`). No path on either side is
 * resolved by the other: the container cannot redirect the source, the host cannot be reached
 * from the target. (The legacy hook needs none of this: it runs before `pivot_root`, when the
 * host's files are still in view.)
 *
 * @module
 */

import { AT, check, cString, libc, O, syscall } from "./libc.ts";

const OPEN_TREE_CLONE = 1;
const AT_RECURSIVE = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const MOUNT_ATTR = { RDONLY: 0x1n, NOSUID: 0x2n, NODEV: 0x4n, NOEXEC: 0x8n } as const;
const MNT_DETACH = 2;

/** Flags for a carried mount. */
export interface TreeFlags {
  /** The mounts under a directory too (`rbind`), each with the flags. */
  recursive?: boolean;
  readOnly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
}

/**
 * A detached clone of the mount of the host path `path` (not followed if a symlink), with
 * `flags` set; the caller closes the fd.
 */
export function cloneHostPath(path: string, flags: TreeFlags): number {
  const source = check("open", libc().open(cString(path), O.PATH | O.NOFOLLOW | O.CLOEXEC, 0));
  try {
    const tree = Number(
      syscall(
        "open_tree",
        source,
        cString(""),
        OPEN_TREE_CLONE | O.CLOEXEC | AT.EMPTY_PATH | (flags.recursive ? AT_RECURSIVE : 0),
      ),
    );
    try {
      let set = 0n;
      if (flags.readOnly) set |= MOUNT_ATTR.RDONLY;
      if (flags.nosuid) set |= MOUNT_ATTR.NOSUID;
      if (flags.nodev) set |= MOUNT_ATTR.NODEV;
      if (flags.noexec) set |= MOUNT_ATTR.NOEXEC;
      if (set !== 0n) {
        const attr = new BigUint64Array([set, 0n, 0n, 0n]);
        syscall(
          "mount_setattr",
          tree,
          cString(""),
          AT.EMPTY_PATH | (flags.recursive ? AT_RECURSIVE : 0),
          new Uint8Array(attr.buffer),
          32,
        );
      }
      return tree;
    } catch (error) {
      libc().close(tree);
      throw error;
    }
  } finally {
    libc().close(source);
  }
}

/** Attaches the detached mount `tree` onto the target open as `targetFd` (`O_PATH`). */
export function attachTree(tree: number, targetFd: number): void {
  syscall(
    "move_mount",
    tree,
    cString(""),
    targetFd,
    cString(""),
    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
  );
}

/**
 * Opens this thread's fd directory in the host's procfs (`/proc/thread-self/fd`), for
 * {@link detachMountOf}: opened before entering a container's mount namespace, where `/proc` is
 * the container's (or whatever it mounted there). The caller closes it.
 */
export function openOwnFdDir(): number {
  return check(
    "open",
    libc().open(cString("/proc/thread-self/fd"), O.PATH | O.DIRECTORY | O.CLOEXEC, 0),
  );
}

/**
 * Detaches the mount whose root `fd` (`O_PATH`) is open on, in this thread's mount namespace:
 * through the fd's magic link in `fdDir` ({@link openOwnFdDir}), so that no path of the
 * container's is resolved and nothing it swaps in can be unmounted instead. The working directory
 * is restored.
 *
 * @throws {OsCallError} EINVAL when `fd` is not a mount's root
 */
export function detachMountOf(fd: number, fdDir: number): void {
  const cwd = check("open", libc().open(cString("."), O.PATH | O.DIRECTORY | O.CLOEXEC, 0));
  try {
    check("fchdir", libc().fchdir(fdDir));
    try {
      check("umount2", libc().umount2(cString(String(fd)), MNT_DETACH));
    } finally {
      check("fchdir", libc().fchdir(cwd));
    }
  } finally {
    libc().close(cwd);
  }
}
