/**
 * Real temporary directories for tests that need the disk, removed whatever the test does.
 *
 * @module
 */

/** Runs `fn` with a fresh temp dir and removes the dir afterwards, even when `fn` throws. */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "xpu-ctk-test-" });
  try {
    return await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Writes `files` (in-dir path → contents, or `{ link }` for a symlink) under `dir`. */
export function writeTree(
  dir: string,
  files: Readonly<Record<string, string | { link: string } | { dir: true }>>,
): void {
  for (const [path, entry] of Object.entries(files)) {
    const full = dir + path;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (typeof entry === "string") Deno.writeTextFileSync(full, entry);
    else if ("link" in entry) Deno.symlinkSync(entry.link, full);
    else Deno.mkdirSync(full, { recursive: true });
  }
}

/** Whether anything (a file, dir, socket or dangling symlink) is at `path`. */
export function pathExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
