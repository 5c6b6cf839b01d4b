/**
 * Atomic file replacement: a reader sees the old file or the new one, never a truncated one. The
 * path is never written through a symbolic link: the temp file is created with
 * `O_CREAT | O_EXCL | O_NOFOLLOW`, and `rename(2)` replaces the final component rather than
 * following it.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { AT, ERRNO, type FileStatus, OsCallError, statAt, syscall } from "./libc.ts";
import {
  closeFd,
  FILE_KIND_WORDS,
  FileKindError,
  linkTarget,
  openNoFollow,
  writeAll,
} from "./fs.ts";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file; default: the existing file's, else 0o644. */
  mode?: number;
  /**
   * Whether the new bytes must survive a crash of the host (fsync before the rename); default
   * true. A file that does not outlive a crash anyway (a bundle's `config.json`, which the engine
   * writes anew for every start) skips it: the rename alone keeps the replacement atomic.
   */
  durable?: boolean;
}

/**
 * Writes `data` to `path` through a temp file in the same directory: write, keep the existing
 * file's owner and mode, fsync (unless not `durable`), rename over. The temp file is removed on
 * failure.
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
  // A raw statx(2), as every other call here: no FileInfo, no thrown NotFound for a new file.
  let existing: FileStatus | undefined;
  try {
    existing = statAt(AT.FDCWD, path, AT.SYMLINK_NOFOLLOW);
  } catch (error) {
    if (!(error instanceof OsCallError && error.errno === ERRNO.ENOENT)) {
      throw describeFailure(path, error);
    }
  }
  if (existing !== undefined && existing.kind !== "file") {
    const kind = FILE_KIND_WORDS[existing.kind];
    const refusal = new FileKindError(path, kind, linkTarget(path));
    throw new UsageError(
      `Cannot write "${path}": ${refusal.detail}: ` +
        (kind === "symbolic link"
          ? "files are never written through a link; name the file itself or remove the link"
          : "name a regular file"),
    );
  }
  const mode = options.mode ?? existing?.mode ?? 0o644;
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
      if (existing !== undefined) syscall("fchown", fd, existing.uid, existing.gid);
      syscall("fchmod", fd, mode);
      if (options.durable !== false) syscall("fsync", fd);
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

/** The temp-file names {@link writeFileAtomic} uses for `base`: `.BASE.tmp-PID-RANDOM`. */
function tempOwner(name: string, base: string): number | undefined {
  const prefix = `.${base}.tmp-`;
  if (!name.startsWith(prefix)) return undefined;
  const match = /^(\d+)-[0-9a-z]+$/.exec(name.slice(prefix.length));
  return match ? Number(match[1]) : undefined;
}

/**
 * Removes the temp files a killed writer of `path` left beside it (those of processes that are
 * gone; a live writer's temp file stays). Only regular files are removed, never followed.
 *
 * @returns the paths removed
 */
export function sweepStaleTemps(path: string): string[] {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const pid = tempOwner(entry.name, base);
    if (pid === undefined || !entry.isFile || processExists(pid)) continue;
    const temp = `${dir === "/" ? "" : dir}/${entry.name}`;
    try {
      Deno.removeSync(temp);
      removed.push(temp);
    } catch {
      // Gone already, or not ours to remove: it does no harm where it is.
    }
  }
  return removed;
}

function processExists(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
