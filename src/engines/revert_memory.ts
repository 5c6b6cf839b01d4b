/**
 * What a configure replaced, kept in a state dir (one file per edited file) so an unconfigure —
 * later, from another process — puts it back: the file's bytes before and after our edit (an
 * untouched file is restored byte for byte) and, key by key, what each key we set held.
 *
 * The state dir is not next to the config: engines read every file of some dirs (podman and
 * cri-o parse every `*.json` in hooks.d, hidden ones too).
 *
 * @module
 */

import { writeFileAtomic } from "../core/atomic_file.ts";
import { ConfigError } from "../core/errors.ts";
import type { ConfigureRequest } from "./engine_edit.ts";

/** What one key held before our first edit of it. */
export interface KeyChange {
  /** Key path in the document. */
  path: string[];
  /** Whether the key existed. */
  had: boolean;
  /** Its value (JSON documents) or value text (TOML documents). */
  value?: unknown;
}

/** The memory of one edited file. */
export interface RevertMemory {
  version: 1;
  engine: string;
  /** The edited file. */
  file: string;
  /** Its content before our first edit; `null` when it did not exist. */
  before: string | null;
  /** Its content after our last edit; `null` when we removed it. */
  after: string | null;
  changes: KeyChange[];
  /** Tables (TOML) or objects (JSON) our edits created. */
  created: string[][];
  /** Everything configured into the file so far (all configures together). */
  request?: ConfigureRequest;
}

/** The default state dir (override: `--state-dir`, `XPU_CTK_STATE_DIR`). */
export const DEFAULT_STATE_DIR = "/etc/xpu-container-runtime/revert";

/** Where the memory of `file` is kept in `stateDir`. */
export function memoryPath(file: string, stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${encodeURIComponent(file)}.json`;
}

/** Reads the memory of `file`, if any. */
export function readMemory(file: string, stateDir: string): RevertMemory | undefined {
  const path = memoryPath(file, stateDir);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const memory = JSON.parse(text) as RevertMemory;
    if (memory.version !== 1 || !Array.isArray(memory.changes)) throw new Error("unknown format");
    return memory;
  } catch (error) {
    throw new ConfigError(
      `Cannot read "${path}": ${error instanceof Error ? error.message : error}: it records what ` +
        `xpu-ctk changed; restore it, or remove it to revert without it`,
      { path },
      { cause: error },
    );
  }
}

/** Writes (or, for `undefined`, removes) the memory of `file`. */
export function writeMemory(
  file: string,
  memory: RevertMemory | undefined,
  stateDir: string,
): void {
  const path = memoryPath(file, stateDir);
  if (memory === undefined) {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return;
  }
  const text = JSON.stringify(memory, null, 2) + "\n";
  try {
    if (Deno.readTextFileSync(path) === text) return;
  } catch {
    // Not written yet.
  }
  Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(path, text, { mode: 0o600 });
}

/** Starts or continues a memory: the first record of a key wins (it is the original). */
export function rememberChange(memory: RevertMemory, change: KeyChange): void {
  const key = JSON.stringify(change.path);
  if (!memory.changes.some((c) => JSON.stringify(c.path) === key)) memory.changes.push(change);
}

/** A memory for a file about to be edited for the first time (or continued). */
export function beginMemory(
  previous: RevertMemory | undefined,
  init: { engine: string; file: string; before: string | null },
): RevertMemory {
  return previous
    ? structuredClone(previous)
    : { version: 1, ...init, after: init.before, changes: [], created: [] };
}
