/**
 * Reading a file that must be a regular file — a bundle's `config.json` — so that a FIFO, a
 * device or a symbolic link planted in its place is refused at once instead of hanging the reader
 * or leading it elsewhere. Only `create` reads a bundle, so the runtime shim's pass-through path
 * does not load this.
 *
 * @module
 */

import { ERRNO, OsCallError } from "./libc.ts";
import { closeFd, FileKindError, openNoFollow, readAll, statFd } from "./fs.ts";

/**
 * Reads the bytes of the regular file at `path`: opened with
 * `O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC`, checked with `statx` on that descriptor,
 * read through it.
 *
 * @example
 * ```ts
 * const bytes = readRegularFile("/run/bundle/config.json");
 * ```
 * @throws {FileKindError} when the path is a symbolic link, a FIFO, a directory or a device
 * @throws {OsCallError} when it cannot be opened or read (missing, permissions), or the path
 *   holds a NUL byte (`EINVAL`)
 */
export function readRegularFile(path: string): Uint8Array {
  // The C string would end at the NUL: the file opened would be another than the one named.
  if (path.includes("\0")) throw new OsCallError("open", ERRNO.EINVAL);
  const fd = openNoFollow(path, "read");
  try {
    const { kind, size } = statFd(fd);
    if (kind !== "regular file") throw new FileKindError(path, kind);
    return readAll(fd, size);
  } finally {
    closeFd(fd);
  }
}
