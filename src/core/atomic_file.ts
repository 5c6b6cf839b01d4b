/**
 * Atomic file replacement: a reader sees the old file or the new one, never a truncated one. The
 * path is never written through a symbolic link: the temp file is created with
 * `O_CREAT | O_EXCL | O_NOFOLLOW`, and `rename(2)` replaces the final component rather than
 * following it.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { check, libc, OsCallError } from "./libc.ts";
import {
  closeFd,
  FileKindError,
  kindOfInfo,
  linkTarget,
  openNoFollow,
  writeAll,
} from "./open_no_follow.ts";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file; default: the existing file's, else 0o644. */
  mode?: number;
}

/**
 * Writes `data` to `path` through a temp file in the same directory: write, keep the existing
 * file's owner and mode, fsync, rename over. The temp file is removed on failure.
 *
 * @example
 * ```ts
 * writeFileAtomic("/run/bundle/config.json", JSON.stringify(spec));
 * ```
 * @throws {UsageError} when `path` is a symbolic link or not a regular file (nothing is written)
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  let existing: Deno.FileInfo | undefined;
  try {
    existing = Deno.lstatSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (existing !== undefined && !existing.isFile) {
    const kind = kindOfInfo(existing);
    const refusal = new FileKindError(path, kind, linkTarget(path));
    throw new UsageError(
      `Cannot write "${path}": ${refusal.detail}: ` +
        (kind === "symbolic link"
          ? "files are never written through a link; name the file itself or remove the link"
          : "name a regular file"),
    );
  }
  const mode = options.mode ?? (existing?.mode != null ? existing.mode & 0o7777 : 0o644);
  const suffix = `${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
  const temp = `${dir === "/" ? "" : dir}/.${base}.tmp-${suffix}`;
  let fd: number;
  try {
    fd = openNoFollow(temp, "create-new", mode);
  } catch (error) {
    throw describeFailure(path, error);
  }
  try {
    try {
      writeAll(fd, bytes);
      // Owner first: chown clears set-id bits that the chmod then restores.
      if (existing?.uid != null && existing.gid != null) {
        check("fchown", libc().fchown(fd, existing.uid, existing.gid));
      }
      check("fchmod", libc().fchmod(fd, mode));
      check("fsync", libc().fsync(fd));
    } finally {
      closeFd(fd);
    }
    // rename(2) replaces whatever is at `path` now — a link planted since the check included —
    // and never follows it.
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // Already gone or never created; the original error is what matters.
    }
    throw describeFailure(path, error);
  }
}

/** A failed system call as one line naming the file; anything else as it is. */
function describeFailure(path: string, error: unknown): unknown {
  if (!(error instanceof OsCallError)) return error;
  return new Error(`Cannot write "${path}": ${error.message}`, { cause: error });
}
