/**
 * containerd's `config.toml` (versions 1, 2 and 3): the runtime handlers with `runtime_type`,
 * `options.BinaryName` and the options of the current default runtime, `default_runtime_name`,
 * `enable_cdi`.
 *
 * Two ways to write them, chosen so `containerd config dump` shows the old config plus exactly
 * our keys and the user's file keeps its comments and layout:
 * - in place (`--drop-in-config ""`, and always for version 1): our keys are edited into the
 *   user's file, byte-preserving everything else;
 * - a drop-in (default for versions 2 and 3): our file, listed in the main file's `imports`.
 *   containerd 1.6 lets an imported file replace a plugin's whole section, so the drop-in
 *   carries the main file's complete CRI plugin section with our keys added.
 *
 * @module
 */

import { dirname, join, normalize } from "node:path";
import { stringify } from "smol-toml";
import { ConfigError, quoted } from "../core/errors.ts";
import { loadConfig } from "../core/config/config_file.ts";
import { detectConfigVersion } from "./containerd_version.ts";
import type { DefaultRuntime, EngineAdapter, EngineTarget, FileState } from "./engine_adapter.ts";
import {
  type ConfigureRequest,
  mergeRequests,
  type RuntimeHandler,
  type UnconfigureRequest,
  withoutHandlers,
} from "./engine_edit.ts";
import type { FileChange } from "./file_change.ts";
import { beginMemory, rememberChange, type RevertMemory } from "./revert_memory.ts";
import { parseTomlValue, TomlEditor, tomlKey, tomlValue } from "./toml_edit.ts";
import { getAt, isTable, parseTomlDocument, type Table } from "../core/text/toml_table.ts";
import { cloneToml, setAt } from "../core/text/toml_tree.ts";

/** containerd's config file. */
export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
/** Our drop-in. */
export const CONTAINERD_DROP_IN = "/etc/containerd/conf.d/99-xpu.toml";

/** The CRI plugin's table by config version. */
export const CRI_PLUGIN: Readonly<Record<1 | 2 | 3, readonly string[]>> = {
  1: ["plugins", "cri"],
  2: ["plugins", "io.containerd.grpc.v1.cri"],
  3: ["plugins", "io.containerd.cri.v1.runtime"],
};

/** The runtime type of runc-compatible handlers. */
export const RUNC_V2 = "io.containerd.runc.v2";

const DROP_IN_HEADER =
  "# Written by xpu-ctk runtime configure; xpu-ctk runtime unconfigure removes it.\n";
/** What unconfigure leaves where config.toml's own `imports` names the drop-in (containerd needs it). */
const EMPTY_DROP_IN = DROP_IN_HEADER +
  "# Kept, empty, by xpu-ctk runtime unconfigure: config.toml's imports names this file.\n";

/**
 * Parses a containerd config.
 *
 * @throws {ConfigError} with line and column for a syntax error
 */
export function parseContainerdConfig(text: string, file: string): Table {
  return parseTomlDocument(text, file, {
    fix: "fix the TOML (containerd rejects it too)",
    check: `check the file with "containerd config dump"`,
  });
}

/**
 * Parses a text this module edited: a failure is ours, not the user's, and says so.
 *
 * @throws {ConfigError} when the edit would not parse
 */
function parseEdited(text: string, file: string, action: string): Table {
  try {
    return parseContainerdConfig(text, file);
  } catch (error) {
    throw editFailure(error, file, action);
  }
}

function editFailure(error: unknown, file: string, action: string): ConfigError {
  const detail = error instanceof ConfigError && error.line !== undefined
    ? `line ${error.line} of the result would not parse`
    : "the result would not parse";
  return new ConfigError(
    `Cannot ${action} "${file}" safely: ${detail}: nothing was written; edit the file by hand ` +
      `or report this`,
    { path: file },
    { cause: error },
  );
}

/**
 * The config version (a file without `version` is version 1).
 *
 * @throws {ConfigError} for a version this toolkit does not know
 */
export function configVersion(doc: Table, file: string): 1 | 2 | 3 {
  const version = doc.version ?? 1;
  if (version === 1 || version === 2 || version === 3) return version;
  throw new ConfigError(
    `Cannot update "${file}": config version ${JSON.stringify(version)} is not 1, 2 or 3: ` +
      `migrate it with "containerd config migrate" and re-run`,
    { path: file },
  );
}

/** The annotation prefixes the shim reads unless its config says otherwise. */
export const DEFAULT_ANNOTATION_PREFIXES: readonly string[] = ["cdi.k8s.io/"];

/**
 * containerd's `container_annotations` patterns that pass every annotation under `prefixes`
 * into the spec. containerd matches them with Go's `path.Match`, whose `*` stops at `/`; a key
 * has at most one `/`, so `P*` covers a prefix ending in `/`; one without a `/` also needs the
 * pattern `P*` + `/*`.
 */
export function annotationPatterns(prefixes: readonly string[]): string[] {
  const patterns: string[] = [];
  for (const prefix of prefixes) {
    const literal = prefix.replace(/[*?[\\]/g, (c) => `\\${c}`);
    patterns.push(`${literal}*`);
    if (!prefix.includes("/")) patterns.push(`${literal}*/*`);
  }
  return [...new Set(patterns)];
}

/**
 * The table a handler gets: the default runtime's settings (then runc's, then crun's), ours on
 * top — our `BinaryName`, and `container_annotations` extended so CRI passes the annotations the
 * shim reads (CDI requests) into the spec: a copied `container_annotations = []` would drop them.
 */
export function runtimeTable(
  doc: Table,
  cri: readonly string[],
  handler: RuntimeHandler,
  ours: readonly string[],
  annotationPrefixes: readonly string[] = DEFAULT_ANNOTATION_PREFIXES,
): Table {
  const runtimes = getAt(doc, [...cri, "containerd", "runtimes"]);
  const all = isTable(runtimes) ? runtimes : {};
  const defaultName = getAt(doc, [...cri, "containerd", "default_runtime_name"]);
  const candidates = [typeof defaultName === "string" ? defaultName : "runc", "runc", "crun"];
  const source = candidates
    .filter((name) => !ours.includes(name))
    .map((name) => getAt(all, [name]))
    .find((t): t is Table =>
      isTable(t) && (t.runtime_type === undefined || t.runtime_type === RUNC_V2)
    );
  const table = cloneToml(source ?? {});
  setAt(table, ["runtime_type"], RUNC_V2);
  if (!isTable(getAt(table, ["options"]))) setAt(table, ["options"], {});
  setAt(table, ["options", "BinaryName"], handler.path);
  const copied = getAt(table, ["container_annotations"]);
  const kept = Array.isArray(copied) ? copied.filter((p) => typeof p === "string") : [];
  const wanted = annotationPatterns(annotationPrefixes).filter((p) => !kept.includes(p));
  setAt(table, ["container_annotations"], [...kept, ...wanted]);
  return table;
}

/** Every leaf of a table as [path, value]; arrays are leaves. */
function leaves(table: Table, prefix: readonly string[]): [string[], unknown][] {
  return Object.entries(table).flatMap(([key, value]) =>
    isTable(value)
      ? leaves(value, [...prefix, key])
      : [[[...prefix, key], value] as [string[], unknown]]
  );
}

/** Whether two parsed TOML values are the same (dates by their TOML form, NaN is NaN). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.toISOString() === b.toISOString();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => sameValue(item, b[i]));
  }
  if (isTable(a) || isTable(b)) {
    if (!isTable(a) || !isTable(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]));
  }
  return Object.is(a, b);
}

/** The keys a configure sets, for a config document of `version`. */
function desiredKeys(
  doc: Table,
  version: 1 | 2 | 3,
  request: ConfigureRequest,
  annotationPrefixes: readonly string[],
): [string[], unknown][] {
  const cri = CRI_PLUGIN[version];
  const ours = request.handlers.map((h) => h.name);
  const keys: [string[], unknown][] = request.handlers.flatMap((handler) =>
    leaves(
      runtimeTable(doc, cri, handler, ours, annotationPrefixes),
      [...cri, "containerd", "runtimes", handler.name],
    )
  );
  if (request.defaultRuntime) {
    keys.push([[...cri, "containerd", "default_runtime_name"], request.defaultRuntime]);
  }
  if (request.cdi) keys.push([[...cri, "enable_cdi"], true]);
  return keys;
}

/**
 * The document with the default runtime an earlier configure of ours replaced: a handler takes
 * the user's default runtime's settings, not those of the handler we made the default.
 */
function asBeforeOurDefault(doc: Table, cri: readonly string[], memory?: RevertMemory): Table {
  const path = [...cri, "containerd", "default_runtime_name"];
  const change = memory?.changes.find((c) => c.path.join("\0") === path.join("\0"));
  if (change === undefined) return doc;
  const view = cloneToml(doc);
  const containerd = getAt(view, path.slice(0, -1));
  if (!isTable(containerd)) return doc;
  delete containerd.default_runtime_name;
  if (change.had) {
    try {
      setAt(containerd, ["default_runtime_name"], parseTomlValue(String(change.value)));
    } catch {
      // A memory value that is not TOML: no default, as if the file named none.
    }
  }
  return view;
}

/** Edits `keys` into `text` (parsed: `current`) in place, remembering what each held. */
function editInPlace(
  file: string,
  text: string,
  current: Table,
  keys: [string[], unknown][],
  memory: RevertMemory,
): string {
  // One editor for all keys: the text is read once, however many keys and tables it has.
  const editor = new TomlEditor(text, { file });
  for (const [path, value] of keys) {
    const existing = getAt(current, path);
    if (sameValue(existing, value)) continue;
    const edited = editor.set(path, tomlValue(value));
    rememberChange(memory, {
      path,
      had: existing !== undefined,
      value: existing === undefined ? undefined : edited.previous ?? tomlValue(existing),
    });
    memory.created.push(...edited.createdTables);
  }
  const result = editor.text;
  // The edit must read back as exactly what was meant.
  const check = parseEdited(result, file, "update");
  for (const [path, value] of keys) {
    if (!sameValue(getAt(check, path), value)) {
      throw new ConfigError(
        `Cannot update "${file}" safely: "${tomlKey(path)}" would not read back as ` +
          `${tomlValue(value)}: nothing was written; edit the file by hand or report this`,
        { path: file },
      );
    }
  }
  return result;
}

/** A value as a message shows it: a table, an array, a date or the value itself. */
function describeValue(value: unknown): string {
  if (isTable(value)) return "a table";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  return typeof value === "string" ? quoted(value) : String(value);
}

/**
 * Refuses keys whose path runs through a value that is not a table (or that would replace a
 * table with a value): writing them would drop what the user has there.
 *
 * @throws {ConfigError} naming the key in the way
 */
function checkTablesOnPaths(doc: Table, keys: [string[], unknown][], file: string): void {
  for (const [path, value] of keys) {
    for (let n = 1; n <= path.length; n++) {
      const at = getAt(doc, path.slice(0, n));
      const leaf = n === path.length;
      if (at === undefined || (leaf ? !isTable(at) || isTable(value) : isTable(at))) continue;
      throw new ConfigError(
        `Cannot update "${file}": "${tomlKey(path.slice(0, n))}" is ${describeValue(at)}, ` +
          `expected ${leaf ? "a value" : "a table"}: fix or remove that key and re-run`,
        { path: file },
      );
    }
  }
}

/** Options of the containerd planners. */
export interface ContainerdFiles {
  /** The main config file. */
  config: string;
  /** The drop-in, or `""` to edit the main file in place. */
  dropIn: string;
}

/** The path an `imports` entry names as containerd reads it: cleaned, relative to config.toml. */
function importedPath(item: unknown, config: string): string | undefined {
  if (typeof item !== "string") return undefined;
  const path = cleanPath(item);
  return path.startsWith("/") ? path : cleanPath(join(dirname(config), path));
}

/** Whether an `imports` entry names `dropIn` itself (not through a glob). */
function namesFile(item: unknown, dropIn: string, config: string): boolean {
  return importedPath(item, config) === cleanPath(dropIn);
}

/** Whether `imports` names `dropIn` itself (not through a glob). */
function importsListing(imports: unknown, dropIn: string, config: string): boolean {
  return Array.isArray(imports) && imports.some((item) => namesFile(item, dropIn, config));
}

/**
 * Whether `imports` already lists `dropIn` as containerd reads it: each entry cleaned, a relative
 * one taken from the main file's dir, and one with a `*` matched as a glob.
 */
function importsCover(imports: unknown, dropIn: string, config: string): boolean {
  if (!Array.isArray(imports)) return false;
  const target = cleanPath(dropIn);
  return imports.some((item) => {
    const path = importedPath(item, config);
    if (path === undefined) return false;
    return path.includes("*") ? matchFilepathGlob(path, target) : path === target;
  });
}

/**
 * Go's `filepath.Clean` (on Unix): the shortest lexically equivalent path — node's `normalize`,
 * which keeps a trailing slash that Clean drops.
 */
function cleanPath(path: string): string {
  const normal = normalize(path);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/**
 * Whether `path` is one of the files Go's `filepath.Glob(pattern)` finds (on Unix): `*` is any
 * run and `?` any one character except `/`, `[a-z]` / `[^a-z]` a class, `\` escapes the next
 * character. A malformed pattern matches nothing. The pattern is interpreted here, character by
 * character, never turned into a regular expression.
 */
export function matchFilepathGlob(pattern: string, path: string): boolean {
  // Glob checks the whole pattern first, then matches it one path element at a time.
  if (globMatch([...pattern], []) === "bad") return false;
  const patterns = pattern.split("/");
  const names = path.split("/");
  return patterns.length === names.length &&
    patterns.every((part, i) => globMatch([...part], [...names[i]]) === true);
}

type GlobResult = boolean | "bad";

/** Go's `filepath.Match` over code points. */
function globMatch(pattern: string[], name: string[]): GlobResult {
  let p = 0;
  let s = 0;
  chunks: while (p < pattern.length) {
    const { star, chunk, rest } = scanChunk(pattern, p);
    p = rest;
    // A trailing * matches the rest unless it holds a separator.
    if (star && chunk.length === 0) return !name.slice(s).includes("/");
    const here = matchChunk(chunk, name, s);
    if (typeof here === "number" && (here === name.length || p < pattern.length)) {
      s = here;
      continue;
    }
    if (here === "bad") return "bad";
    if (star) {
      // The star takes one more character each time (never a separator).
      for (let i = s; i < name.length && name[i] !== "/"; i++) {
        const later = matchChunk(chunk, name, i + 1);
        if (typeof later === "number") {
          if (p >= pattern.length && later < name.length) continue;
          s = later;
          continue chunks;
        }
        if (later === "bad") return "bad";
      }
    }
    // No match: still "bad" if the rest of the pattern is malformed.
    while (p < pattern.length) {
      const next = scanChunk(pattern, p);
      p = next.rest;
      if (matchChunk(next.chunk, [], 0) === "bad") return "bad";
    }
    return false;
  }
  return s === name.length;
}

/** The leading stars and the chunk up to the next star outside a class. */
function scanChunk(
  pattern: string[],
  from: number,
): { star: boolean; chunk: string[]; rest: number } {
  let p = from;
  let star = false;
  while (pattern[p] === "*") {
    p++;
    star = true;
  }
  let inRange = false;
  let i = p;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      if (i + 1 < pattern.length) i++;
    } else if (c === "[") inRange = true;
    else if (c === "]") inRange = false;
    else if (c === "*" && !inRange) break;
  }
  return { star, chunk: pattern.slice(p, i), rest: i };
}

/**
 * Matches a chunk (no star) at `name[from]`: the index after it, `false` when it does not match,
 * `"bad"` when the chunk is malformed (checked to its end even after a mismatch).
 */
function matchChunk(chunk: string[], name: string[], from: number): number | false | "bad" {
  let failed = false;
  let s = from;
  let i = 0;
  while (i < chunk.length) {
    if (s >= name.length) failed = true;
    const c = chunk[i];
    if (c === "[") {
      const r = failed ? -1 : name[s++].codePointAt(0)!;
      i++;
      const negated = chunk[i] === "^";
      if (negated) i++;
      let matched = false;
      for (let ranges = 0;; ranges++) {
        if (chunk[i] === "]" && ranges > 0) {
          i++;
          break;
        }
        const lo = classChar(chunk, i);
        if (lo === "bad") return "bad";
        const hi = chunk[lo.next] === "-" ? classChar(chunk, lo.next + 1) : lo;
        if (hi === "bad") return "bad";
        if (lo.code <= r && r <= hi.code) matched = true;
        i = hi.next;
      }
      if (matched === negated) failed = true;
    } else if (c === "?") {
      if (!failed && name[s++] === "/") failed = true;
      i++;
    } else {
      let literal = c;
      if (c === "\\") {
        i++;
        if (i >= chunk.length) return "bad";
        literal = chunk[i];
      }
      if (!failed && name[s++] !== literal) failed = true;
      i++;
    }
  }
  return failed ? false : s;
}

/** One character of a class (`\` escapes it); "bad" at the chunk's end, `-` or `]`. */
function classChar(chunk: string[], at: number): { code: number; next: number } | "bad" {
  let i = at;
  if (i >= chunk.length || chunk[i] === "-" || chunk[i] === "]") return "bad";
  if (chunk[i] === "\\" && ++i >= chunk.length) return "bad";
  const code = chunk[i].codePointAt(0)!;
  // A class must be closed: a character cannot end the chunk.
  return i + 1 >= chunk.length ? "bad" : { code, next: i + 1 };
}

/** What a plan takes besides the files and the request. */
export interface ContainerdOptions {
  /** The annotation prefixes the shim reads (its config's `modes.cdi.annotation-prefixes`). */
  annotationPrefixes?: readonly string[];
  /**
   * The config version to write where there is no config file: the one the installed
   * containerd reads (3 for 2.x; 1.6 and 1.7 refuse 3). Default 2, which every supported
   * containerd reads.
   */
  newFileVersion?: 2 | 3;
}

/**
 * Plans a configure: the changed files (main config, and the drop-in when one is used).
 *
 * @param texts current contents (`null`: missing) and memories of the main file and the drop-in
 */
export function configureContainerd(
  files: ContainerdFiles,
  texts: ContainerdTexts,
  request: ConfigureRequest,
  options: ContainerdOptions = {},
): FileChange[] {
  const mainText = texts.config;
  const newVersion = options.newFileVersion ?? 2;
  const doc = mainText === null
    ? { version: newVersion }
    : parseContainerdConfig(mainText, files.config);
  const version = mainText === null ? newVersion : configVersion(doc, files.config);
  const annotationPrefixes = options.annotationPrefixes ?? DEFAULT_ANNOTATION_PREFIXES;
  // Everything configured so far: a drop-in is rebuilt from all of it.
  const effective = mergeRequests(
    texts.dropInMemory?.request ?? texts.configMemory?.request,
    request,
  );
  const inPlace = files.dropIn === "" || version === 1;
  const keys = desiredKeys(
    inPlace ? asBeforeOurDefault(doc, CRI_PLUGIN[version], texts.configMemory) : doc,
    version,
    inPlace ? request : effective,
    annotationPrefixes,
  );
  const mainMemory = beginMemory(texts.configMemory, {
    engine: "containerd",
    file: files.config,
    before: mainText,
  });

  if (inPlace) {
    const after = editInPlace(
      files.config,
      mainText ?? `version = ${newVersion}\n`,
      doc,
      keys,
      mainMemory,
    );
    if (after === mainText) {
      const kept = texts.configMemory ? { ...texts.configMemory, request: effective } : undefined;
      return [{ path: files.config, before: mainText, after: mainText, memory: kept }];
    }
    mainMemory.after = after;
    mainMemory.request = effective;
    return [{ path: files.config, before: mainText, after, memory: mainMemory, mode: 0o644 }];
  }

  // The drop-in: the main file's whole CRI plugin section and our keys, as one document
  // (containerd 1.6 lets an imported plugin section replace the main file's entirely).
  const cri = CRI_PLUGIN[version];
  checkTablesOnPaths(doc, keys, files.config);
  const section = getAt(doc, cri);
  const merged: Table = { version };
  setAt(merged, cri, isTable(section) ? cloneToml(section) : {});
  for (const [path, value] of keys) setAt(merged, path, value);
  const dropInText = DROP_IN_HEADER + stringify(merged).replace(/\n*$/, "\n");
  parseEdited(dropInText, files.dropIn, "write");
  const changes: FileChange[] = [];
  const dropInMemory = beginMemory(texts.dropInMemory, {
    engine: "containerd",
    file: files.dropIn,
    before: texts.dropIn,
  });
  dropInMemory.request = effective;
  if (dropInText !== texts.dropIn) {
    dropInMemory.after = dropInText;
    changes.push({
      path: files.dropIn,
      before: texts.dropIn,
      after: dropInText,
      memory: dropInMemory,
      mode: 0o644,
    });
  } else if (texts.dropInMemory) {
    changes.push({
      path: files.dropIn,
      before: texts.dropIn,
      after: texts.dropIn,
      memory: dropInMemory,
    });
  }
  if (doc.imports !== undefined && !Array.isArray(doc.imports)) {
    throw new ConfigError(
      `Cannot update "${files.config}": "imports" is ${describeValue(doc.imports)}, expected an ` +
        `array of paths: fix or remove that key and re-run`,
      { path: files.config },
    );
  }
  if (!importsCover(doc.imports, files.dropIn, files.config)) {
    const imports = Array.isArray(doc.imports) ? [...doc.imports, files.dropIn] : [files.dropIn];
    const start = mainText ?? `version = ${newVersion}\n`;
    const after = editInPlace(files.config, start, doc, [[["imports"], imports]], mainMemory);
    mainMemory.after = after;
    changes.push({ path: files.config, before: mainText, after, memory: mainMemory, mode: 0o644 });
  }
  return changes;
}

/** The current texts and memories of the main file and the drop-in. */
export interface ContainerdTexts {
  config: string | null;
  dropIn: string | null;
  configMemory?: RevertMemory;
  dropInMemory?: RevertMemory;
}

/**
 * Plans an unconfigure of `names`. Handlers other configures added stay: everything we added is
 * reverted, then what remains is configured again.
 */
export function unconfigureContainerd(
  files: ContainerdFiles,
  texts: ContainerdTexts,
  request: UnconfigureRequest,
  options: ContainerdOptions = {},
): FileChange[] {
  const configured = texts.dropInMemory?.request ?? texts.configMemory?.request;
  if (configured === undefined) return revertContainerd(files, texts, request);
  const all = [...new Set([...configured.handlers.map((h) => h.name), ...request.names])];
  const reverted = revertContainerd(files, texts, { names: all });
  const remaining = withoutHandlers(configured, request.names);
  if (remaining === undefined) return reverted;
  const after = (path: string, before: string | null) => {
    const change = reverted.find((c) => c.path === path);
    return change ? change.after : before;
  };
  const again = configureContainerd(
    files,
    {
      config: after(files.config, texts.config),
      dropIn: files.dropIn ? after(files.dropIn, texts.dropIn) : null,
    },
    remaining,
    options,
  );
  const paths = [...new Set([...reverted, ...again].map((c) => c.path))];
  return paths.map((path) => {
    const first = path === files.config ? texts.config : texts.dropIn;
    const change = again.find((c) => c.path === path) ?? reverted.find((c) => c.path === path)!;
    return { ...change, before: first };
  });
}

/**
 * Parses the text a revert made of `original`: a syntax error of the user's file is theirs (and
 * reported as such), any other is ours.
 */
function parseReverted(text: string, original: string, file: string): Table {
  try {
    return parseContainerdConfig(text, file);
  } catch (error) {
    if (text === original) throw error;
    parseContainerdConfig(original, file);
    throw editFailure(error, file, "revert");
  }
}

/**
 * The config version as the text being reverted states it (a root key, so read from its line;
 * the whole text is parsed once the revert is done).
 */
function versionIn(editor: TomlEditor, original: string, file: string): unknown {
  const written = editor.valueText(["version"]);
  if (written === undefined) return undefined;
  try {
    return parseTomlValue(written);
  } catch {
    return parseReverted(editor.text, original, file).version;
  }
}

/** The document before our first edit (`undefined`: there was no file, or it does not parse). */
function parsedBefore(memory: RevertMemory): Table | undefined {
  if (memory.before === null) return undefined;
  try {
    return parseContainerdConfig(memory.before, memory.file);
  } catch {
    return undefined;
  }
}

/**
 * Reverts our edits of `names` both ways: files we left untouched since come back byte for byte;
 * otherwise our keys are removed or restored, a default runtime that named a removed handler is
 * restored (or set to `runc`), and the drop-in is removed.
 */
function revertContainerd(
  files: ContainerdFiles,
  texts: {
    config: string | null;
    dropIn: string | null;
    configMemory?: RevertMemory;
    dropInMemory?: RevertMemory;
  },
  request: UnconfigureRequest,
): FileChange[] {
  const changes: FileChange[] = [];
  if (files.dropIn !== "" && texts.dropIn !== null) {
    const ours = texts.dropInMemory !== undefined || texts.dropIn.startsWith(DROP_IN_HEADER);
    if (ours) {
      const restore = texts.dropInMemory && texts.dropIn === texts.dropInMemory.after
        ? texts.dropInMemory.before
        : null;
      changes.push({ path: files.dropIn, before: texts.dropIn, after: restore, memory: undefined });
    }
  }
  const text = texts.config;
  const memory = texts.configMemory;
  if (text === null) {
    if (memory) changes.push({ path: files.config, before: null, after: null, memory: undefined });
    return changes;
  }
  if (memory && text === memory.after) {
    changes.push({ path: files.config, before: text, after: memory.before, memory: undefined });
    return changes;
  }
  // A drop-in that goes must not stay named in `imports` (containerd refuses a missing import).
  // With the main file's memory, the replay below takes out what we added. Without any memory
  // (the state dir was lost), an entry naming exactly our drop-in is ours and goes too. With only
  // the drop-in's memory, configure found the entry there: it is the user's, so the file stays,
  // emptied, rather than the entry going.
  const removal = changes.find((c) => c.path === files.dropIn && c.after === null);
  const listed = removal !== undefined && memory === undefined &&
    importsListing(parseContainerdConfig(text, files.config).imports, files.dropIn, files.config);
  if (listed && texts.dropInMemory !== undefined) removal.after = EMPTY_DROP_IN;
  // Configured through the drop-in, the main file untouched (its imports covered it): the
  // handlers it has are the user's.
  if (memory === undefined && texts.dropInMemory !== undefined) return changes;
  const editor = new TomlEditor(text, { file: files.config });
  for (const change of [...(memory?.changes ?? [])].reverse()) {
    if (change.had) editor.set(change.path, String(change.value));
    else editor.remove(change.path);
  }
  if (listed) {
    const imports = parseContainerdConfig(text, files.config).imports as unknown[];
    const rest = imports.filter((item) => !namesFile(item, files.dropIn, files.config));
    if (rest.length > 0) editor.set(["imports"], tomlValue(rest));
    else editor.remove(["imports"]);
  }
  const cri =
    CRI_PLUGIN[configVersion({ version: versionIn(editor, text, files.config) }, files.config)];
  const runtimes = [...cri, "containerd", "runtimes"];
  // Whatever of our handlers is still there (a configure without memory) goes too.
  const before = memory ? parsedBefore(memory) : undefined;
  for (const name of request.names) {
    const prefix = [...runtimes, name];
    // A handler the file had before our first configure is the user's: the replay restored it.
    if (isTable(getAt(before, prefix))) continue;
    editor.removeUnder(prefix);
    editor.removeEmptyTable([...prefix, "options"]);
    editor.removeEmptyTable(prefix);
  }
  for (const table of [...(memory?.created ?? [])].sort((a, b) => b.length - a.length)) {
    editor.removeEmptyTable(table, { evenWithSubTables: true });
  }
  // One parse checks the result (and, for a file without memory, that it was TOML at all).
  const reverted = parseReverted(editor.text, text, files.config);
  const defaultPath = [...cri, "containerd", "default_runtime_name"];
  const current = getAt(reverted, defaultPath);
  if (
    typeof current === "string" && request.names.includes(current) &&
    !isTable(getAt(reverted, [...runtimes, current])) &&
    !(memory && getAt(before, defaultPath) === current)
  ) {
    // A default that names a handler we removed: runc, unless the user had it so before.
    editor.set(defaultPath, tomlValue("runc"));
    parseReverted(editor.text, text, files.config);
  }
  const result = editor.text;
  if (result !== text) {
    changes.push({ path: files.config, before: text, after: result, memory: undefined });
  } else if (memory) {
    changes.push({ path: files.config, before: text, after: text, memory: undefined });
  }
  return changes;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The CRI plugin's default runtime: runc unless the config names another; the runc shim runs
 * "runc" unless `BinaryName` says otherwise; a named default the config does not declare is not
 * known.
 */
function containerdDefaultRuntime(text: string | null, path: string): DefaultRuntime | undefined {
  const doc = text === null ? {} : parseContainerdConfig(text, path);
  const cri = CRI_PLUGIN[configVersion(doc, path)];
  const name = nonEmpty(getAt(doc, [...cri, "containerd", "default_runtime_name"])) ?? "runc";
  const runtime = getAt(doc, [...cri, "containerd", "runtimes", name]);
  const binary = nonEmpty(getAt(runtime, ["options", "BinaryName"]));
  const type = getAt(runtime, ["runtime_type"]);
  if (name !== "runc" && !isTable(runtime)) return undefined;
  const runcCompatible = type === undefined || type === RUNC_V2;
  return { name, program: binary ?? (runcCompatible ? "runc" : undefined) };
}

/** The main file's and the drop-in's texts and memories, in the order they were always read. */
function readTexts(files: FileState, target: EngineTarget): ContainerdTexts {
  return {
    config: files.text(target.config),
    dropIn: target.dropIn ? files.text(target.dropIn) : null,
    configMemory: files.memory(target.config),
    dropInMemory: target.dropIn ? files.memory(target.dropIn) : undefined,
  };
}

/**
 * containerd: our handlers in a drop-in named in config.toml's `imports` (or in config.toml
 * itself), applied by a restart — containerd stops on SIGHUP. A plan needs two host facts: the
 * annotation prefixes the shim reads (from the toolkit's config), and, where there is no config
 * file yet, the config version the installed containerd reads.
 */
export const CONTAINERD: EngineAdapter<ContainerdOptions> = {
  name: "containerd",
  containerPid: {
    command: (_id, namespace) => ({
      program: "ctr",
      args: ["--namespace", namespace, "task", "ls"],
    }),
    pid: (id, namespace, stdout) => {
      for (const line of stdout.split("\n").slice(1)) {
        const [task, pid, status] = line.trim().split(/\s+/);
        if (task !== id) continue;
        if (status !== "RUNNING" && status !== "PAUSED") return `its task is ${status}`;
        return Number(pid);
      }
      return `namespace ${quoted(namespace)} has no task of that id`;
    },
  },
  defaults: {
    config: CONTAINERD_CONFIG,
    dropIn: CONTAINERD_DROP_IN,
    socket: "/run/containerd/containerd.sock",
    restartMode: "systemd",
    systemdUnit: "containerd",
    processName: "containerd",
  },
  signal: {
    refusal: "Cannot restart containerd with a signal: SIGHUP stops containerd instead of " +
      "reloading it: use --restart-mode systemd or none",
    advised: false,
  },
  memoryValues: "toml",
  lockFile: (target) => target.config,
  async inspectHost(files, { target, adds, env, hostRoot }) {
    const annotationPrefixes = loadConfig(env).config.runtime.modes.cdi.annotationPrefixes;
    if (!adds || files.text(target.config) !== null) {
      return { facts: { annotationPrefixes }, notes: [] };
    }
    const choice = await detectConfigVersion(hostRoot);
    return {
      facts: { annotationPrefixes, newFileVersion: choice.configVersion },
      notes: [choice.note],
    };
  },
  plan: (files, { target, configure, host }) =>
    configureContainerd(target, readTexts(files, target), configure, host),
  unplan: (files, { target, unconfigure, host }) =>
    unconfigureContainerd(target, readTexts(files, target), unconfigure, host),
  defaultRuntime: containerdDefaultRuntime,
};
