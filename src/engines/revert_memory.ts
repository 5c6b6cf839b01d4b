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

import { join } from "node:path";
import { writeFileAtomic } from "../core/io/atomic_file.ts";
import { isNotADirectory, isNotFound, readTextFileSync, removeSync } from "../core/io/fs.ts";
import { ConfigError } from "../core/errors.ts";
import { findDepthExcess } from "../core/text/json_depth.ts";
import type { ConfigureRequest } from "./engine_edit.ts";
import { makeDirs } from "./make_dirs.ts";
import { isPermissionDenied, RUN_AS_ROOT } from "./permission_denied.ts";
import { parseTomlValue } from "./toml_edit.ts";

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
  return join(stateDir, `${encodeURIComponent(file)}.json`);
}

/** How {@link readMemory} and {@link parseMemory} read a memory. */
export interface MemoryReadOptions {
  /**
   * How the memories of an engine's files keep a key's old value: the JSON value, or the TOML
   * text after `=`, which is checked (default: JSON for every engine). `engines.ts` has the
   * answer of each engine.
   */
  valuesOf?: (engine: string) => "json" | "toml";
}

/** Reads the memory of `file`, if any. */
export function readMemory(
  file: string,
  stateDir: string,
  options: MemoryReadOptions = {},
): RevertMemory | undefined {
  const path = memoryPath(file, stateDir);
  let text: string;
  try {
    text = readTextFileSync(path);
  } catch (error) {
    if (isNotFound(error) || isNotADirectory(error)) {
      return undefined;
    }
    throw new ConfigError(
      isPermissionDenied(error)
        ? `Cannot read "${path}", where xpu-ctk keeps what it changed in "${file}": ` +
          `permission denied: ${RUN_AS_ROOT}`
        : `Cannot read "${path}": ${error instanceof Error ? error.message : error}: make it ` +
          `readable and re-run`,
      { path },
      { cause: error },
    );
  }
  return parseMemory(text, path, options);
}

/**
 * The JSON object of a file xpu-ctk keeps in its state dir (a memory, a journal); `fail` says what
 * is wrong with it — nesting too deep, not JSON, not an object.
 */
export function parseStateObject(
  text: string,
  fail: (problem: string) => never,
): Record<string, unknown> {
  const deep = findDepthExcess(text);
  if (deep) fail(`line ${deep.line} nests deeper than ${deep.limit} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail("it is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("it is not an object");
  }
  return value as Record<string, unknown>;
}

/**
 * Checks a memory file's text field by field: a hand-edited memory is refused with the field that
 * is wrong, never acted on half-understood.
 *
 * @throws {ConfigError} naming the file and the field
 */
export function parseMemory(
  text: string,
  path: string,
  options: MemoryReadOptions = {},
): RevertMemory {
  const fail = (problem: string): never => {
    throw new ConfigError(
      `Cannot read "${path}": ${problem}: it records what xpu-ctk changed; restore it, or ` +
        `remove it to revert without it`,
      { path },
    );
  };
  const value = parseStateObject(text, fail);
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const isKeyPath = (v: unknown): v is string[] =>
    Array.isArray(v) && v.length > 0 && v.every((p) => typeof p === "string");
  if (value.version !== 1) fail(`"version" is not 1`);
  if (typeof value.engine !== "string") fail(`"engine" is not a string`);
  const tomlValues = options.valuesOf?.(value.engine as string) === "toml";
  if (typeof value.file !== "string") fail(`"file" is not a string`);
  for (const key of ["before", "after"]) {
    if (value[key] !== null && typeof value[key] !== "string") {
      fail(`"${key}" is not text or null`);
    }
  }
  if (!Array.isArray(value.changes)) return fail(`"changes" is not a list`);
  value.changes.forEach((change, i) => {
    if (!isObject(change)) return fail(`"changes[${i}]" is not an object`);
    if (!isKeyPath(change.path)) fail(`"changes[${i}].path" is not a list of key names`);
    if (typeof change.had !== "boolean") fail(`"changes[${i}].had" is not true or false`);
    // A TOML document's memory keeps each value as its TOML text.
    if (change.had && tomlValues && !isTomlValueText(change.value)) {
      fail(`"changes[${i}].value" is not a TOML value's text`);
    }
  });
  if (!Array.isArray(value.created) || !value.created.every(isKeyPath)) {
    fail(`"created" is not a list of key paths`);
  }
  if (value.request !== undefined) {
    const request = value.request;
    if (!isObject(request)) return fail(`"request" is not an object`);
    if (
      !Array.isArray(request.handlers) ||
      !request.handlers.every((h) =>
        isObject(h) && typeof h.name === "string" && h.name !== "" && typeof h.path === "string"
      )
    ) {
      fail(`"request.handlers" is not a list of {"name", "path"}`);
    }
    if (request.defaultRuntime !== undefined && typeof request.defaultRuntime !== "string") {
      fail(`"request.defaultRuntime" is not a string`);
    }
    if (typeof request.cdi !== "boolean") fail(`"request.cdi" is not true or false`);
  }
  return value as unknown as RevertMemory;
}

/** Whether `text` is one TOML value as written after `=` (a containerd memory keeps those). */
function isTomlValueText(text: unknown): boolean {
  if (typeof text !== "string") return false;
  try {
    parseTomlValue(text);
    return true;
  } catch {
    return false;
  }
}

/** The text a memory file holds. */
export function memoryText(memory: RevertMemory): string {
  return JSON.stringify(memory, null, 2) + "\n";
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
      removeSync(path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return;
  }
  const text = memoryText(memory);
  try {
    if (readTextFileSync(path) === text) return;
  } catch {
    // Not written yet.
  }
  // Only the state dir itself is private: a parent made for it stays readable (0755).
  makeDirs(stateDir, { mode: 0o700 });
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
