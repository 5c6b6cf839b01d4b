/**
 * Writing planned file changes safely: under an exclusive lock of the config's directory (two
 * configures at once do not lose an update), through an intent journal in the state dir (written
 * before the first engine file changes, removed after the last memory is written; see
 * `change_journal.ts`), each file atomically with its mode and owner kept, in an order where every
 * state in between is one the engine accepts. A write that fails rolls back what was written; a
 * run that was killed is finished (or dropped) by the next one. For a dry run: a unified diff of
 * each change and no write.
 *
 * @module
 */

import { dirname } from "node:path";
import { createTwoFilesPatch } from "diff";
import { sweepStaleTemps, writeFileAtomic } from "../core/io/atomic_file.ts";
import {
  type FsFile,
  isNotADirectory,
  isNotFound,
  openSync,
  readFileSync,
  removeSync,
} from "../core/io/fs.ts";
import { ConfigError, osErrorReason, WriteError } from "../core/errors.ts";
import {
  type ChangeJournal,
  journalPath,
  journalText,
  orderWrites,
  parseJournal,
  type PlannedWrite,
  recoveryOf,
} from "./change_journal.ts";
import type { FileChange } from "./file_change.ts";
import { makeDirs } from "./make_dirs.ts";
import { isPermissionDenied, RUN_AS_ROOT } from "./permission_denied.ts";
import { memoryPath, memoryText } from "./revert_memory.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads a file, `null` when it does not exist. The bytes must be UTF-8: a file that is not would
 * not survive being edited as text.
 *
 * @throws {ConfigError} naming the file when it cannot be read or is not UTF-8 text
 */
export function readIfExists(path: string): string | null {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    // Under a path that is not a directory, nothing exists; writing there fails and says so.
    if (isNotFound(error) || isNotADirectory(error)) {
      return null;
    }
    throw new ConfigError(
      isPermissionDenied(error)
        ? `Cannot read "${path}": permission denied: ${RUN_AS_ROOT}`
        : `Cannot read "${path}": ${reasonOf(error)}: make it a readable file and re-run`,
      { path },
      { cause: error },
    );
  }
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new ConfigError(
      `Cannot read "${path}": it is not UTF-8 text: fix its encoding and re-run`,
      { path },
      { cause: error },
    );
  }
}

/**
 * An OS error's reason for a message that names the file itself: `No space left on device`, also
 * from an atomic write's `Cannot write "…": fsync: …`.
 */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const inner = /^Cannot write "[^"]*": (.*)$/s.exec(message)?.[1] ?? message;
  return osErrorReason(inner.replace(/^[a-z_0-9]+: /, "")).split("\n")[0];
}

/** Options of {@link withDirLock}. */
export interface DirLockOptions {
  /**
   * For a run that writes nothing (`--dry-run`): the directory is not created, the lock is a
   * shared one, and where the directory is missing or cannot be opened the plan runs without it.
   */
  readOnly?: boolean;
}

/**
 * Runs `plan` while holding an exclusive lock of `lockDir` (created when missing, its missing
 * parents 0755), so the files it reads cannot change under it.
 *
 * @throws {WriteError} when the directory cannot be created or opened (nothing was changed)
 */
export async function withDirLock<T>(
  lockDir: string,
  plan: () => Promise<T> | T,
  options: DirLockOptions = {},
): Promise<T> {
  let dir: FsFile;
  let action = "lock";
  try {
    if (!options.readOnly) {
      action = "create";
      makeDirs(lockDir);
      action = "lock";
    }
    dir = openSync(lockDir, { read: true });
  } catch (error) {
    // The lock is the directory itself, no lock file; a dry run only reads, so where the
    // directory is missing (nothing in it to read) or closed to this user, it does without the
    // lock rather than create anything.
    if (options.readOnly) return await plan();
    const denied = isPermissionDenied(error);
    throw new WriteError(
      `Cannot ${action} "${lockDir}": ${denied ? "permission denied" : reasonOf(error)}: ` +
        `nothing was changed; ` +
        (denied ? RUN_AS_ROOT : "it must be a directory that can be created and read"),
      { path: lockDir },
      { cause: error },
    );
  }
  try {
    await dir.lock(!options.readOnly);
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

/** Options of {@link commitChanges}. */
export interface CommitOptions {
  /** Where the revert memories and the journal are kept. */
  stateDir: string;
  /** The directory whose lock the caller holds (names the journal). */
  lockDir: string;
  /** The command, recorded in the journal for the operator. */
  command: string;
}

/**
 * Writes the changes through the journal: journal, engine files (written, then removed), the
 * revert memories, journal removed. A failing write rolls back the writes before it.
 *
 * @returns one line per engine file saying what happened
 * @throws {WriteError} naming the file that could not be written, and whether anything changed
 */
export function commitChanges(changes: readonly FileChange[], options: CommitOptions): string[] {
  const memories = changes.map((change): PlannedWrite => {
    const path = memoryPath(change.path, options.stateDir);
    return {
      role: "memory",
      path,
      before: readIfExists(path),
      after: change.memory === undefined ? null : memoryText(change.memory),
      mode: 0o600,
    };
  });
  const writes = orderWrites(changes, memories);
  if (writes.length === 0) return [];
  const journal: ChangeJournal = { version: 1, command: options.command, writes };
  const journalFile = journalPath(options.stateDir, options.lockDir);
  try {
    // Only the state dir itself is private: a parent made for it stays readable (0755).
    makeDirs(options.stateDir, { mode: 0o700 });
    sweepStaleTemps(journalFile);
    writeFileAtomic(journalFile, journalText(journal), { mode: 0o600 });
    syncDir(options.stateDir);
  } catch (error) {
    if (isPermissionDenied(error)) {
      const files = writes.filter((w) => w.role === "engine").map((w) => `"${w.path}"`);
      const named = files.length <= 1
        ? files.join("")
        : `${files.slice(0, -1).join(", ")} and ${files[files.length - 1]}`;
      throw new WriteError(
        `Cannot change ${named || "the engine's files"}: permission denied writing ` +
          `"${options.stateDir}", where xpu-ctk keeps what it changes: nothing was changed; ` +
          RUN_AS_ROOT,
        { path: journalFile },
        { cause: error },
      );
    }
    throw new WriteError(
      `Cannot record the change in "${journalFile}": ${reasonOf(error)}: nothing was changed; ` +
        `make room in "${options.stateDir}" (or pass --state-dir) and re-run`,
      { path: journalFile },
      { cause: error },
    );
  }
  applyWrites(writes, journalFile);
  const lines = new Map(changes.flatMap((c) => c.report === undefined ? [] : [[c.path, c.report]]));
  return report(writes, lines);
}

/**
 * What was done, one line per engine file (memories are not the operator's business); `lines`
 * has the line a plan chose for a file, where it has more to say.
 */
function report(
  writes: readonly PlannedWrite[],
  lines: ReadonlyMap<string, string> = new Map(),
): string[] {
  return writes.filter((w) => w.role === "engine").map((w) =>
    lines.get(w.path) ??
      (w.after === null
        ? `Removed "${w.path}"`
        : `${w.before === null ? "Created" : "Updated"} "${w.path}"`)
  );
}

/** Applies `writes` in order, then removes the journal; rolls back on a failure. */
function applyWrites(writes: readonly PlannedWrite[], journalFile: string): void {
  for (let i = 0; i < writes.length; i++) {
    try {
      put(writes[i], "after");
    } catch (error) {
      const failed = writes[i];
      const undone = rollBack(writes.slice(0, i));
      const state = undone
        ? "nothing was changed"
        : `the change is half done (every file is in a state the engine accepts): the next ` +
          `xpu-ctk runtime run finishes it`;
      if (undone) removeQuietly(journalFile);
      const denied = isPermissionDenied(error);
      throw new WriteError(
        `Cannot ${failed.after === null ? "remove" : "write"} "${failed.path}": ` +
          `${denied ? "permission denied" : reasonOf(error)}: ${state}; ` +
          (denied ? RUN_AS_ROOT : "make the file's directory writable (free space) and re-run"),
        { path: failed.path },
        { cause: error },
      );
    }
  }
  try {
    removeSync(journalFile);
  } catch (error) {
    if (!isNotFound(error)) {
      throw new WriteError(
        `Cannot remove "${journalFile}": ${reasonOf(error)}: the change itself is complete; ` +
          `remove the file by hand`,
        { path: journalFile },
        { cause: error },
      );
    }
  }
}

/** Puts back the before state of `done`, last first; whether every one was undone. */
function rollBack(done: readonly PlannedWrite[]): boolean {
  let ok = true;
  for (const write of [...done].reverse()) {
    try {
      put(write, "before");
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Makes `write.path` hold its `side` content (idempotent). */
function put(write: PlannedWrite, side: "before" | "after"): void {
  const content = write[side];
  const other = write[side === "after" ? "before" : "after"];
  sweepStaleTemps(write.path);
  if (content === null) {
    try {
      removeSync(write.path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return;
  }
  makeDirs(dirname(write.path));
  writeFileAtomic(
    write.path,
    content,
    other === null ? { mode: write.mode ?? 0o644 } : {},
  );
  syncDir(dirname(write.path));
}

/** Makes a rename in `dir` durable (a power loss after it keeps the new name). */
function syncDir(dir: string): void {
  const handle = openSync(dir, { read: true });
  try {
    handle.syncSync();
  } finally {
    handle.close();
  }
}

function removeQuietly(path: string): void {
  try {
    removeSync(path);
  } catch {
    // The journal stays; the next run sees every file as before and drops it.
  }
}

/**
 * Finishes (or drops) a change an interrupted run left in the journal of `lockDir`. Call it under
 * the lock, before planning.
 *
 * @returns lines saying what was finished (none when there was no journal)
 * @throws {ConfigError} when a file the journal names was changed since; {WriteError} when a
 *   pending write fails
 */
export function finishInterrupted(stateDir: string, lockDir: string): string[] {
  const journalFile = journalPath(stateDir, lockDir);
  sweepStaleTemps(journalFile);
  const text = readIfExists(journalFile);
  if (text === null) return [];
  const journal = parseJournal(text, journalFile);
  const recovery = recoveryOf(journal, (path) => readIfExists(path));
  if (recovery.action === "conflict") {
    throw new ConfigError(
      `Cannot finish the change an interrupted run ("${journal.command}") was making: ` +
        `"${recovery.path}" was changed since: check the files "${journalFile}" names, then ` +
        `remove it and re-run`,
      { path: journalFile },
    );
  }
  if (recovery.action === "drop") {
    removeQuietly(journalFile);
    return [];
  }
  try {
    for (const write of recovery.pending) put(write, "after");
  } catch (error) {
    const denied = isPermissionDenied(error);
    throw new WriteError(
      `Cannot finish the change an interrupted run ("${journal.command}") was making: ` +
        `${denied ? "permission denied" : reasonOf(error)}: every file is in a state the ` +
        `engine accepts; ${denied ? RUN_AS_ROOT : "make room and re-run"}`,
      { path: journalFile },
      { cause: error },
    );
  }
  removeQuietly(journalFile);
  return report(journal.writes).map((line) => `Finished an interrupted change: ${line}`);
}
