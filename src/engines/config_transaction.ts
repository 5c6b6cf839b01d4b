/**
 * Writing planned file changes safely: under an exclusive lock of the config's directory (two
 * configures at once do not lose an update), each file atomically with its mode and owner kept,
 * its revert memory (in the state dir) after it; or, for a dry run, a unified diff of each change
 * and no write.
 *
 * @module
 */

import { createTwoFilesPatch } from "diff";
import { writeFileAtomic } from "../core/atomic_file.ts";
import type { FileChange } from "./engine_edit.ts";
import { writeMemory } from "./revert_memory.ts";

/** Reads a file, `null` when it does not exist. */
export function readIfExists(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/**
 * Runs `plan` while holding an exclusive lock of `lockDir` (created when missing), so the files
 * it reads cannot change under it.
 */
export async function withDirLock<T>(lockDir: string, plan: () => Promise<T> | T): Promise<T> {
  Deno.mkdirSync(lockDir, { recursive: true });
  const dir = Deno.openSync(lockDir, { read: true });
  try {
    await dir.lock(true);
    return await plan();
  } finally {
    dir.close();
  }
}

/** A unified diff of one change (empty when the file does not change). */
export function diffChange(change: FileChange): string {
  if (change.before === change.after) return "";
  const patch = createTwoFilesPatch(
    change.path,
    change.path,
    change.before ?? "",
    change.after ?? "",
    change.before === null ? "(missing)" : "(current)",
    change.after === null ? "(removed)" : "(after)",
    { context: 3 },
  );
  // Drop jsdiff's "Index:" and "===" lines: what remains is what `diff -u` prints.
  return patch.split("\n").filter((line, i) => i > 1 || !/^(Index: |=+$)/.test(line)).join("\n");
}

/**
 * Writes the changes: a changed file atomically (created with the planned mode, an existing one
 * keeping its mode and owner), a `null` one removed; then its revert memory.
 *
 * @returns one line per file saying what happened
 */
export function writeChanges(changes: readonly FileChange[], stateDir: string): string[] {
  const report: string[] = [];
  for (const change of changes) {
    if (change.before !== change.after) {
      if (change.after === null) {
        Deno.removeSync(change.path);
        report.push(`Removed "${change.path}"`);
      } else {
        Deno.mkdirSync(dirOf(change.path), { recursive: true });
        writeFileAtomic(
          change.path,
          change.after,
          change.before === null ? { mode: change.mode ?? 0o644 } : {},
        );
        report.push(`${change.before === null ? "Created" : "Updated"} "${change.path}"`);
      }
    }
    writeMemory(change.path, change.memory, stateDir);
  }
  return report;
}
