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
const MOVE_MOUNT_F_EMPTY_PATH = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const MOUNT_ATTR = { RDONLY: 0x1n, NOSUID: 0x2n, NODEV: 0x4n, NOEXEC: 0x8n } as const;
const UMOUNT_NOFOLLOW = 0x8;
const MNT_DETACH = 2;

/** Flags for a carried mount. */
export interface TreeFlags {
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
      syscall("open_tree", source, cString(""), OPEN_TREE_CLONE | O.CLOEXEC | AT.EMPTY_PATH),
    );
    try {
      let set = 0n;
      if (flags.readOnly) set |= MOUNT_ATTR.RDONLY;
      if (flags.nosuid) set |= MOUNT_ATTR.NOSUID;
      if (flags.nodev) set |= MOUNT_ATTR.NODEV;
      if (flags.noexec) set |= MOUNT_ATTR.NOEXEC;
      if (set !== 0n) {
        const attr = new BigUint64Array([set, 0n, 0n, 0n]);
        syscall("mount_setattr", tree, cString(""), AT.EMPTY_PATH, new Uint8Array(attr.buffer), 32);
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
 * Detaches the mount at `path` in this thread's mount namespace, not following a final symlink.
 */
export function detachMountAt(path: string): void {
  check("umount2", libc().umount2(cString(path), MNT_DETACH | UMOUNT_NOFOLLOW));
}
