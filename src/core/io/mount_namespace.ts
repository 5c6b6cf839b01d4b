/**
 * Moving the calling thread into another process's mount namespace and back, without a helper
 * program (`nsenter` would be found through a PATH and costs a process per step).
 *
 * `setns(CLONE_NEWNS)` needs a thread whose file-system context (root, cwd, umask) is its own;
 * Deno's threads share one, so the calling thread first takes a private copy with
 * `unshare(CLONE_FS)`. Only this thread changes namespace: code in between must use synchronous
 * calls (FFI, `*Sync`), which run on it.
 *
 * @module
 */

import { AT, check, cString, libc, O, statAt } from "./libc.ts";
import {
  openProcessEntry,
  type ProcessDir,
  readProcessLink,
  readProcessText,
  withProcessDir,
} from "./process_dir.ts";

const CLONE_FS = 0x00000200;
const CLONE_NEWNS = 0x00020000;

/** A user namespace's id map (`/proc/<pid>/uid_map`): which host id a container id is. */
export function hostIdOf(map: string, containerId: number): number | undefined {
  for (const line of map.trim().split("\n")) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if ([inside, outside, count].some((n) => !Number.isInteger(n))) continue;
    if (containerId >= inside && containerId < inside + count) {
      return outside + (containerId - inside);
    }
  }
  return undefined;
}

/**
 * The host uid and gid of root in the container of `process` (a pid, or its `/proc` directory
 * held open), when it has its own user namespace.
 */
export function containerRootIds(
  process: number | ProcessDir,
): { uid: number; gid: number } | undefined {
  return withProcessDir(process, (dir) => {
    // The namespaces themselves are compared: a user namespace with the host's own id map is
    // still one whose file systems accept no device node.
    if (Deno.readLinkSync("/proc/self/ns/user") === readProcessLink(dir, "ns/user")) {
      return undefined;
    }
    const uid = hostIdOf(readProcessText(dir, "uid_map"), 0);
    const gid = hostIdOf(readProcessText(dir, "gid_map"), 0);
    if (uid === undefined || gid === undefined) return undefined;
    return { uid, gid };
  });
}

/**
 * Opens the mount namespace of `process` (a pid, or its `/proc` directory held open). The
 * descriptor holds that namespace: entering it later ({@link enterHeldMountNamespace}) enters
 * this one, even when the process has exited since and its pid belongs to another process (of
 * the host, say).
 *
 * @returns the descriptor; the caller closes it
 * @throws {OsCallError} when the process is gone or its namespace cannot be opened
 */
export function holdMountNamespace(process: number | ProcessDir): number {
  return withProcessDir(process, (dir) => openProcessEntry(dir, "ns/mnt"));
}

/** Whether the namespace held as `fd` is the calling thread's own mount namespace. */
export function isOwnMountNamespace(fd: number): boolean {
  const held = statAt(fd);
  const own = statAt(AT.FDCWD, "/proc/thread-self/ns/mnt");
  return held.ino === own.ino && held.devMajor === own.devMajor && held.devMinor === own.devMinor;
}

/**
 * Moves the calling thread into the mount namespace of `pid`.
 *
 * @returns a function that moves it back (and restores its working directory)
 * @throws {OsCallError} when the namespace cannot be entered
 */
export function enterMountNamespace(pid: number): () => void {
  const target = holdMountNamespace(pid);
  try {
    return enterHeldMountNamespace(target);
  } finally {
    libc().close(target);
  }
}

/**
 * Moves the calling thread into the mount namespace held as `fd` ({@link holdMountNamespace}).
 * Coming back cannot fail in practice (the thread's own namespace, held open, as root); if it
 * does, the process stops at once: every host path it would go on to use would name a file of the
 * container.
 *
 * @returns a function that moves it back (and restores its working directory)
 * @throws {OsCallError} when the namespace cannot be entered
 */
export function enterHeldMountNamespace(fd: number): () => void {
  check("unshare", libc().unshare(CLONE_FS));
  const home = check(
    "open",
    libc().open(cString("/proc/thread-self/ns/mnt"), O.RDONLY | O.CLOEXEC, 0),
  );
  const cwd = libc().open(cString("."), O.PATH | O.DIRECTORY | O.CLOEXEC, 0);
  try {
    check("setns", libc().setns(fd, CLONE_NEWNS));
  } catch (error) {
    libc().close(home);
    if (cwd >= 0) libc().close(cwd);
    throw error;
  }
  return () => {
    try {
      check("setns", libc().setns(home, CLONE_NEWNS));
      if (cwd >= 0) libc().fchdir(cwd);
    } catch (error) {
      console.error(
        `Cannot return to the host's mount namespace: ${
          error instanceof Error ? error.message : error
        }: stopping here, since a host path would now name a container's file`,
      );
      Deno.exit(1);
    } finally {
      libc().close(home);
      if (cwd >= 0) libc().close(cwd);
    }
  };
}

/** Whether the directory `path` is the root of a mount (its mount differs from its parent's). */
export function isMountPoint(path: string): boolean {
  try {
    const here = statAt(AT.FDCWD, path);
    const parent = statAt(AT.FDCWD, `${path.replace(/\/+$/, "")}/..`);
    return here.kind === "dir" && here.mountId !== undefined && here.mountId !== parent.mountId;
  } catch {
    return false;
  }
}
