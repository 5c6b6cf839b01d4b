/**
 * The real file system with `stat` and `lstat` made by raw `statx(2)` calls, for the create step:
 * it binds `syscall` for the spec's read and write anyway, and resolving a mount spec's paths in
 * the driver root takes dozens of lookups, each of which Deno's `statSync` answers with a full
 * `FileInfo` (dates and all) and a missing path with a thrown `NotFound` and its stack. Everything
 * else is {@link realHostFs}'s.
 *
 * @module
 */

import { type FileStat, type HostFs, realHostFs } from "./host_fs.ts";
import { AT, ERRNO, OsCallError, statAt } from "./libc.ts";

/**
 * `stat(2)` (`follow`) or `lstat(2)` of `path`: `undefined` when nothing is there, as
 * {@link realHostFs} says (no such entry, a component not a directory, an empty path).
 *
 * @throws {OsCallError} for any other failure (permissions, a loop of links)
 */
export function statViaSyscall(path: string, follow: boolean): FileStat | undefined {
  if (path === "") return undefined;
  let status;
  try {
    status = statAt(AT.FDCWD, path, follow ? 0 : AT.SYMLINK_NOFOLLOW);
  } catch (error) {
    if (
      error instanceof OsCallError &&
      (error.errno === ERRNO.ENOENT || error.errno === ERRNO.ENOTDIR)
    ) {
      return undefined;
    }
    throw error;
  }
  const device = status.kind === "char" || status.kind === "block";
  return {
    kind: status.kind,
    mode: status.mode,
    uid: status.uid,
    gid: status.gid,
    major: device ? status.rdevMajor : 0,
    minor: device ? status.rdevMinor : 0,
  };
}

/** The real file system, its `stat` and `lstat` through `statx(2)`. */
export const syscallHostFs: HostFs = {
  ...realHostFs,
  stat: (path) => statViaSyscall(path, true),
  lstat: (path) => statViaSyscall(path, false),
};
