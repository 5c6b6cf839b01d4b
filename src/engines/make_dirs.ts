/**
 * Creating a directory and its missing parents with the modes the toolkit promises: the directory
 * gets its own mode (the state dir is private, 0700), every parent this creates gets 0755 so other
 * users can still reach what lives beside it (a non-root `xpu-container-cli info` reads
 * `/etc/xpu-container-runtime/config.toml`), and a directory that already exists keeps its mode.
 *
 * A recursive `mkdir` with a mode gives every directory it creates that mode, and the umask cuts
 * it further; so each missing directory is made on its own with its mode, then set to it exactly.
 *
 * @module
 */

import { dirname } from "node:path";
import { chmodSync, isAlreadyExists, isNotFound, mkdirSync, statSync } from "../core/io/fs.ts";

/** Options of {@link makeDirs}. */
export interface MakeDirsOptions {
  /** Mode of `dir` itself when this creates it (default 0o755). */
  mode?: number;
  /** Mode of each parent this creates (default 0o755). */
  parentMode?: number;
}

/**
 * Makes `dir` and its missing parents; what exists already is left as it is.
 *
 * @returns the directories created, outermost first
 * @throws the OS error of the first directory that could not be created (its path in the message)
 */
export function makeDirs(dir: string, options: MakeDirsOptions = {}): string[] {
  const missing: string[] = [];
  for (let path = dir; !exists(path); path = dirname(path)) {
    missing.unshift(path);
    if (dirname(path) === path) break;
  }
  const created: string[] = [];
  for (const path of missing) {
    const mode = path === dir ? options.mode ?? 0o755 : options.parentMode ?? 0o755;
    try {
      // Made with its mode at once (a private dir is never open to others, not even until the
      // chmod, and a run killed in between leaves it right under the usual umask); the chmod
      // puts back what a stricter umask took.
      mkdirSync(path, { mode });
    } catch (error) {
      // Another writer made it meanwhile: it is theirs, mode and all.
      if (isAlreadyExists(error)) continue;
      throw error;
    }
    chmodSync(path, mode);
    created.push(path);
  }
  return created;
}

/** Whether something is at `path` (a file in the way makes the mkdir below it fail, as it should). */
function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    // Not a directory, or not allowed to look: the mkdir under it reports the real problem.
    return true;
  }
}
