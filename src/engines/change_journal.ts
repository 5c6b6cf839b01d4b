/**
 * The intent journal of a configure or unconfigure: every file write the run is about to make
 * (engine files first, then the revert memories), with each file's content before and after,
 * recorded in the state dir before the first engine file changes and removed once the last write
 * is done. A run killed half-way leaves the journal behind, and the next run under the same lock
 * reads it: when no file has reached its new content yet, the change never started and the journal
 * is dropped; otherwise the change is finished, so the files and their memories agree again.
 *
 * The order of the writes is what keeps the engine alive in between: a file that is created or
 * updated is written before any file is removed, so containerd's `imports` never names a drop-in
 * that is gone (configure writes the drop-in, then the `imports` line; unconfigure takes the line
 * out, then removes the drop-in).
 *
 * Everything here is pure; reading and writing the files is the transaction's job.
 *
 * @module
 */

import { join } from "node:path";
import { ConfigError } from "../core/errors.ts";
import type { FileChange } from "./file_change.ts";
import { parseStateObject } from "./revert_memory.ts";

/** One file write of a change (`null`: the file does not exist / is removed). */
export interface PlannedWrite {
  /** An engine's config file, or the revert memory of one. */
  role: "engine" | "memory";
  path: string;
  before: string | null;
  after: string | null;
  /** Permission bits for a file that is created (or re-created by a rollback). */
  mode?: number;
}

/** The journal file's content. */
export interface ChangeJournal {
  version: 1;
  /** The command that planned the change, for the operator reading the file. */
  command: string;
  writes: PlannedWrite[];
}

/** What the next run does with a journal an interrupted run left. */
export type Recovery =
  | { action: "drop" }
  | { action: "finish"; pending: PlannedWrite[] }
  | { action: "conflict"; path: string };

/** Where the journal of changes made under the lock of `lockDir` is kept in `stateDir`. */
export function journalPath(stateDir: string, lockDir: string): string {
  return join(stateDir, `${encodeURIComponent(lockDir)}.journal`);
}

/**
 * The writes of a change in a safe order: engine files that are written (in the planner's order),
 * then engine files that are removed, then the memories.
 */
export function orderWrites(
  engine: readonly FileChange[],
  memories: readonly PlannedWrite[],
): PlannedWrite[] {
  const effective = engine.filter((c) => c.before !== c.after).map((c): PlannedWrite => ({
    role: "engine",
    path: c.path,
    before: c.before,
    after: c.after,
    ...(c.mode !== undefined ? { mode: c.mode } : {}),
  }));
  return [
    ...effective.filter((w) => w.after !== null),
    ...effective.filter((w) => w.after === null),
    ...memories.filter((w) => w.before !== w.after).map((w) => ({ ...w, role: "memory" as const })),
  ];
}

/**
 * Decides what to do with an interrupted change, given each file's content now.
 *
 * - every file still as before: the change never started — drop the journal;
 * - each file either as before or as after: finish the writes still pending (in journal order);
 * - a file that is neither: someone changed it since — do not touch anything.
 */
export function recoveryOf(
  journal: ChangeJournal,
  current: (path: string) => string | null,
): Recovery {
  const pending: PlannedWrite[] = [];
  let started = false;
  for (const write of journal.writes) {
    const now = current(write.path);
    if (now === write.after) {
      started = true;
      continue;
    }
    if (now !== write.before) return { action: "conflict", path: write.path };
    pending.push(write);
  }
  return started ? { action: "finish", pending } : { action: "drop" };
}

/** The journal as the file holds it. */
export function journalText(journal: ChangeJournal): string {
  return JSON.stringify(journal, null, 2) + "\n";
}

/**
 * Reads a journal file's text, checking every field (a hand-edited or truncated journal is
 * refused, never half-applied).
 *
 * @throws {ConfigError} naming the file and the field
 */
export function parseJournal(text: string, path: string): ChangeJournal {
  const fail = (problem: string): never => {
    throw new ConfigError(
      `Cannot read "${path}": ${problem}: it records a change an interrupted xpu-ctk run was ` +
        `making; check the files it names, then remove it and re-run`,
      { path },
    );
  };
  const doc = parseStateObject(text, fail);
  if (doc.version !== 1) fail(`"version" is not 1`);
  if (typeof doc.command !== "string") fail(`"command" is not a string`);
  if (!Array.isArray(doc.writes)) return fail(`"writes" is not a list`);
  const writes = doc.writes.map((item, i): PlannedWrite => {
    const at = `"writes[${i}]"`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return fail(`${at} is not an object`);
    }
    const w = item as Record<string, unknown>;
    if (w.role !== "engine" && w.role !== "memory") fail(`${at}.role is not engine or memory`);
    if (typeof w.path !== "string" || !w.path.startsWith("/") || w.path.includes("\0")) {
      fail(`${at}.path is not an absolute path`);
    }
    for (const key of ["before", "after"]) {
      if (w[key] !== null && typeof w[key] !== "string") fail(`${at}.${key} is not text or null`);
    }
    if (
      w.mode !== undefined &&
      (typeof w.mode !== "number" || !Number.isInteger(w.mode) || w.mode < 0 || w.mode > 0o7777)
    ) {
      fail(`${at}.mode is not a file mode`);
    }
    return {
      role: w.role as "engine" | "memory",
      path: w.path as string,
      before: w.before as string | null,
      after: w.after as string | null,
      ...(w.mode !== undefined ? { mode: w.mode as number } : {}),
    };
  });
  return { version: 1, command: doc.command as string, writes };
}
