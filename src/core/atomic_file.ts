/**
 * Atomic file replacement: a reader sees the old file or the new one, never a truncated one.
 *
 * @module
 */

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file; default: the existing file's, else 0o644. */
  mode?: number;
}

/**
 * Writes `data` to `path` through a temp file in the same directory: write, fsync, keep the
 * existing file's mode and owner, rename over. The temp file is removed on failure.
 *
 * @example
 * ```ts
 * writeFileAtomic("/run/bundle/config.json", JSON.stringify(spec));
 * ```
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
    existing = Deno.statSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const mode = options.mode ?? (existing?.mode != null ? existing.mode & 0o7777 : 0o644);
  const suffix = `${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
  const temp = `${dir === "/" ? "" : dir}/.${base}.tmp-${suffix}`;
  const file = Deno.openSync(temp, { write: true, createNew: true, mode });
  try {
    try {
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.chmodSync(temp, mode);
    if (existing?.uid != null && existing.gid != null) {
      Deno.chownSync(temp, existing.uid, existing.gid);
    }
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // Already gone or never created; the original error is what matters.
    }
    throw error;
  }
}
