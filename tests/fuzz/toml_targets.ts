/**
 * Fuzz targets for the TOML layer: containerd's `config.toml` configured in place, with a
 * drop-in, and configured then unconfigured; cri-o's drop-in; the toolkit's own `config.toml`;
 * and the format-preserving editor (`TomlEditor`, `setTomlValue`, `removeTomlValue`) under them.
 * smol-toml is the oracle for what a text means:
 *
 * - an input smol-toml rejects is refused with a one-line tool error (the worker checks the
 *   error's class and lines), never edited;
 * - an output parses, and equals the input document with exactly the intended keys set (values
 *   compared as parsed; every other key unchanged); a second configure changes nothing; a
 *   byte-order mark and CRLF line endings stay;
 * - configure → unconfigure of a file edited in place gives the input back: byte for byte when
 *   untouched in between, as a document after an unrelated edit;
 * - a refusal of a document smol-toml accepts names a real obstacle (an inline table, an array of
 *   tables or a value where a table must be, a table where a value goes), found in the parsed
 *   document — never a failed self-check ("would not read back", "would not parse");
 * - the editor's index after a run of edits is what reading the edited text gives.
 *
 * @module
 */

import { parse } from "smol-toml";
import { parseConfig } from "../../src/core/config/config_file.ts";
import { ToolError } from "../../src/core/errors.ts";
import {
  configureContainerd,
  CRI_PLUGIN,
  matchFilepathGlob,
  runtimeTable,
  unconfigureContainerd,
} from "../../src/engines/containerd.ts";
import { configureCrioDropIn, unconfigureCrioDropIn } from "../../src/engines/crio.ts";
import { type ConfigureRequest, operatorHandlers } from "../../src/engines/engine_edit.ts";
import type { FileChange } from "../../src/engines/file_change.ts";
import {
  readTomlLayout,
  removeEmptyTomlTable,
  removeTomlValue,
  setTomlValue,
  splitTomlKey,
  TomlEditor,
  type TomlLayout,
  tomlValue,
} from "../../src/engines/toml_edit.ts";
import { InvariantError } from "../helpers/fuzz.ts";

const CONFIG = "/etc/containerd/config.toml";
const DROP_IN = "/etc/containerd/conf.d/99-xpu.toml";
const CRIO_CONF = "/etc/crio/crio.conf";
const CRIO_DROP_IN = "/etc/crio/crio.conf.d/99-xpu.toml";

type Doc = Record<string, unknown>;

/** The requests every configure target runs: plain, the operator's three, awkward names. */
export const REQUESTS: readonly ConfigureRequest[] = [
  {
    handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }],
    defaultRuntime: "xpu",
    cdi: true,
  },
  { handlers: operatorHandlers("/usr/local/xpu/toolkit"), defaultRuntime: "xpu", cdi: false },
  {
    handlers: [
      { name: 'a"b', path: '/opt/x"y/runtime' },
      { name: "dot.ted \u{1F600}", path: "/opt/\\U0001F600" },
    ],
    defaultRuntime: 'a"b',
    cdi: true,
  },
];

/** The edits the editor targets run (paths new to most documents, and awkward ones). */
export const EDITS: readonly { path: string[]; value: unknown }[] = [
  { path: ["version"], value: 3 },
  { path: ["plugins", "io.containerd.grpc.v1.cri", "enable_cdi"], value: true },
  {
    path: ["plugins", "cri", "containerd", "runtimes", "xpu", "options", "BinaryName"],
    value: "/x",
  },
  { path: ['a"b', "\u{1F600}", "c.d"], value: [1, "two", { three: 3 }] },
  { path: ["t", "k"], value: { inline: { deep: "\u007f\\" } } },
];

function fail(what: string, detail?: unknown): never {
  const shown = detail === undefined ? "" : `: ${JSON.stringify(detail)?.slice(0, 400)}`;
  throw new InvariantError(`${what}${shown}`);
}

const isTable = (v: unknown): v is Doc =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** smol-toml's reading of a text, `undefined` when it rejects it. */
function oracle(text: string): Doc | undefined {
  try {
    return parse(text) as Doc;
  } catch {
    return undefined;
  }
}

/** Parses an output the target produced: it must parse. */
function parseOutput(text: string, what: string): Doc {
  try {
    return parse(text) as Doc;
  } catch (error) {
    return fail(`${what} does not parse (${(error as Error).message.split("\n")[0]})`, text);
  }
}

/** Parsed values alike: tables by own keys (any order), dates by their TOML form. */
function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.toISOString() === b.toISOString();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => same(item, b[i]));
  }
  if (isTable(a) || isTable(b)) {
    if (!isTable(a) || !isTable(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  // A lone surrogate cannot reach a UTF-8 file: every writer puts U+FFFD there.
  if (typeof a === "string" && typeof b === "string") return a.toWellFormed() === b.toWellFormed();
  // -0 is 0 (smol-toml's stringify writes -0.0 as 0), NaN is NaN.
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function copy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copy) as T;
  if (!isTable(value)) return value;
  const out: Doc = {};
  for (const [k, v] of Object.entries(value)) define(out, k, copy(v));
  return out as T;
}

function define(table: Doc, key: string, value: unknown): void {
  Object.defineProperty(table, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function getAt(doc: unknown, path: readonly string[]): unknown {
  let current = doc;
  for (const key of path) {
    current = isTable(current) && Object.hasOwn(current, key) ? current[key] : undefined;
  }
  return current;
}

/** Sets `path` in a parsed document, making tables of what is missing. */
function setAt(doc: Doc, path: readonly string[], value: unknown): void {
  let current = doc;
  for (const key of path.slice(0, -1)) {
    if (!isTable(getAt(current, [key]))) define(current, key, {});
    current = current[key] as Doc;
  }
  define(current, path[path.length - 1], value);
}

function removeAt(doc: Doc, path: readonly string[]): void {
  const parent = getAt(doc, path.slice(0, -1));
  if (isTable(parent)) delete parent[path[path.length - 1]];
}

/** Every leaf of a table as [path, value]; arrays are leaves (as containerd's planner has it). */
function leaves(table: Doc, prefix: readonly string[]): [string[], unknown][] {
  return Object.entries(table).flatMap(([key, value]) =>
    isTable(value)
      ? leaves(value, [...prefix, key])
      : [[[...prefix, key], value] as [string[], unknown]]
  );
}

/** The keys a containerd configure means to set in `doc` (for its version). */
function intendedKeys(doc: Doc, request: ConfigureRequest): [string[], unknown][] {
  const version = (doc.version ?? 1) as 1 | 2 | 3;
  const cri = CRI_PLUGIN[version];
  const ours = request.handlers.map((h) => h.name);
  const keys = request.handlers.flatMap((handler) =>
    leaves(runtimeTable(doc, cri, handler, ours), [...cri, "containerd", "runtimes", handler.name])
  );
  if (request.defaultRuntime) {
    keys.push([[...cri, "containerd", "default_runtime_name"], request.defaultRuntime]);
  }
  if (request.cdi) keys.push([[...cri, "enable_cdi"], true]);
  return keys;
}

function withKeys(doc: Doc, keys: [string[], unknown][]): Doc {
  const expected = copy(doc);
  for (const [path, value] of keys) setAt(expected, path, value);
  return expected;
}

/** What keeps a key from being written at `path` of `doc`: a non-table on the way, or a table at the end. */
function obstacle(doc: Doc, path: readonly string[]): boolean {
  for (let n = 1; n <= path.length; n++) {
    const at = getAt(doc, path.slice(0, n));
    if (at === undefined) return false;
    if (n < path.length ? !isTable(at) : isTable(at)) return true;
  }
  return false;
}

const PLACEMENT =
  /is an inline table|is an array of tables|holds a value, not a table|is a table, not a value|expected a table|expected a value/;

/**
 * A refusal of a document smol-toml accepts must name an obstacle that is there: the key it
 * names (an inline table, an array of tables) on the way of an intended key, or a value in the
 * way of one.
 */
function checkRefusal(error: unknown, doc: Doc | undefined, paths: string[][]): void {
  if (error instanceof InvariantError) throw error;
  if (!(error instanceof ToolError) || doc === undefined) return;
  const message = error.message;
  if (!PLACEMENT.test(message)) fail(`refused a document it can edit: ${message}`);
  const named = /line \d+: "(.*)" is an (inline table|array of tables)/.exec(message);
  if (named) {
    const key = splitTomlKey(named[1]);
    const value = getAt(doc, key);
    const real = named[2] === "inline table" ? isTable(value) : Array.isArray(value);
    if (!real || !paths.some((p) => key.every((part, i) => p[i] === part))) {
      fail(`refused for a ${named[2]} that is not in the way: ${message}`);
    }
  } else if (!paths.some((p) => obstacle(doc, p))) {
    fail(`refused without anything in the way: ${message}`);
  }
}

const validVersion = (doc: Doc) => [undefined, 1, 2, 3].includes(doc.version as number);

/** Line endings and the byte-order mark of the input, as the output must keep them. */
function checkBytesKept(input: string, output: string): void {
  if (input.startsWith("\uFEFF") !== output.startsWith("\uFEFF")) {
    fail("the byte-order mark was not kept", output.slice(0, 40));
  }
  const crlf = input.includes("\r\n") && !/(^|[^\r])\n/.test(input);
  if (crlf && /(^|[^\r])\n/.test(output)) fail("a CRLF file got a bare line feed", output);
}

/**
 * Every line of the input but those of the statements replaced is in the output, in order (a
 * line's own `\r` aside: the last line gains one when a line is added after it).
 */
function checkLinesKept(input: string, output: string, replaced: readonly string[][]): void {
  const layout = readTomlLayout(input);
  const gone = new Set<number>();
  for (const path of replaced) {
    const entry = layout.entryAt.get(JSON.stringify(path));
    for (let i = entry?.first ?? 0; entry && i <= entry.last; i++) gone.add(i);
  }
  const strip = (line: string) => line.replace(/\r$/, "");
  const kept = layout.lines.filter((_, i) => !gone.has(i)).map(strip);
  const out = output.slice(layout.bom.length).split("\n").map(strip);
  let at = 0;
  for (const line of out) if (at < kept.length && line === kept[at]) at++;
  if (at < kept.length) fail(`line ${JSON.stringify(kept[at])} of the input is not kept`, output);
}

function changeOf(changes: FileChange[], path: string): FileChange | undefined {
  return changes.find((c) => c.path === path);
}

/** Runs `body` for each request, rethrowing the last refusal after all ran. */
function eachRequest(body: (request: ConfigureRequest) => void): void {
  let refusal: unknown;
  for (const request of REQUESTS) {
    try {
      body(request);
    } catch (error) {
      if (error instanceof InvariantError || !(error instanceof ToolError)) throw error;
      refusal = error;
    }
  }
  if (refusal !== undefined) throw refusal;
}

/** containerd, in place: the output is the input plus exactly our keys, and stable. */
export function containerdInPlace(input: string): void {
  const doc = oracle(input);
  const files = { config: CONFIG, dropIn: "" };
  eachRequest((request) => {
    const keys = doc && validVersion(doc) ? intendedKeys(doc, request) : [];
    let changes;
    try {
      changes = configureContainerd(files, { config: input, dropIn: null }, request);
    } catch (error) {
      if (doc && validVersion(doc)) checkRefusal(error, doc, keys.map(([p]) => p));
      throw error;
    }
    if (doc === undefined) fail("edited a text smol-toml rejects");
    if (!validVersion(doc)) fail("accepted an unknown config version", doc.version);
    const change = changeOf(changes, CONFIG) ?? fail("no change of the config planned");
    const after = change.after ?? fail("configure removed the config");
    if (!same(parseOutput(after, "the configured file"), withKeys(doc, keys))) {
      fail("the configured document is not the input plus our keys", after);
    }
    checkBytesKept(input, after);
    checkLinesKept(input, after, keys.map(([p]) => p).filter((p) => getAt(doc, p) !== undefined));
    const again = configureContainerd(files, {
      config: after,
      dropIn: null,
      configMemory: change.memory,
    }, request);
    if (changeOf(again, CONFIG)?.after !== after) fail("a second configure changed the file");
  });
}

/** containerd with a drop-in: our section in the drop-in, the main file only gets `imports`. */
export function containerdDropIn(input: string): void {
  const doc = oracle(input);
  const files = { config: CONFIG, dropIn: DROP_IN };
  eachRequest((request) => {
    const keys = doc && validVersion(doc) ? intendedKeys(doc, request) : [];
    let changes;
    try {
      changes = configureContainerd(files, { config: input, dropIn: null }, request);
    } catch (error) {
      if (doc && validVersion(doc) && (doc.imports === undefined || Array.isArray(doc.imports))) {
        checkRefusal(error, doc, keys.map(([p]) => p));
      }
      throw error;
    }
    if (doc === undefined) fail("edited a text smol-toml rejects");
    const main = changeOf(changes, CONFIG);
    if ((doc.version ?? 1) === 1) {
      // Version 1 has no imports: edited in place.
      if (!same(parseOutput(main?.after ?? input, "the configured file"), withKeys(doc, keys))) {
        fail("the configured v1 document is not the input plus our keys", main?.after);
      }
      return;
    }
    const dropIn = changeOf(changes, DROP_IN)?.after ?? fail("no drop-in written");
    const cri = CRI_PLUGIN[doc.version as 2 | 3];
    const section = getAt(doc, cri);
    const expected: Doc = { version: doc.version };
    setAt(expected, cri, isTable(section) ? copy(section) : {});
    for (const [path, value] of keys) setAt(expected, path, value);
    if (!same(parseOutput(dropIn, "the drop-in"), expected)) {
      fail("the drop-in is not the CRI section plus our keys", dropIn);
    }
    const imports = Array.isArray(doc.imports) ? doc.imports : [];
    if (main === undefined) {
      const covered = imports.some((i) => {
        if (typeof i !== "string") return false;
        const path = clean(i.startsWith("/") ? i : `/etc/containerd/${i}`);
        return path === DROP_IN || (path.includes("*") && matchFilepathGlob(path, DROP_IN));
      });
      if (!covered) fail("the main file does not import the drop-in", imports);
    } else {
      const after = main.after ?? fail("configure removed the main file");
      const withImport = copy(doc);
      setAt(withImport, ["imports"], [...imports, DROP_IN]);
      if (!same(parseOutput(after, "the main file"), withImport)) {
        fail("the main file is not the input plus the import", after);
      }
      checkBytesKept(input, after);
    }
    const reverted = unconfigureContainerd(files, {
      config: main?.after ?? input,
      dropIn,
      configMemory: main?.memory,
      dropInMemory: changeOf(changes, DROP_IN)?.memory,
    }, { names: request.handlers.map((h) => h.name) });
    // An entry of the user's own naming the drop-in keeps it (emptied): containerd needs the file.
    const named = imports.some((i) =>
      typeof i === "string" && clean(i.startsWith("/") ? i : `/etc/containerd/${i}`) === DROP_IN
    );
    const left = changeOf(reverted, DROP_IN)?.after;
    if (
      named
        ? left === null || parseOutput(left ?? "", "the kept drop-in") === undefined
        : left !== null
    ) {
      fail(
        named
          ? "unconfigure removed a drop-in the user's imports names"
          : "unconfigure kept the drop-in",
        left,
      );
    }
    const back = changeOf(reverted, CONFIG)?.after ?? main?.after ?? input;
    if (back !== input) fail("unconfigure did not give the main file back byte for byte", back);
  });
}

/** A rooted path without `.`, `..` and doubled slashes (Go's `filepath.Clean`). */
function clean(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** The unrelated key an edit between configure and unconfigure adds. */
const UNRELATED = "xpu-fuzz-unrelated";

/**
 * containerd, in place, configure → unconfigure with the memory: untouched, the bytes come back;
 * after an unrelated edit (a root key written before everything), the document does.
 */
export function containerdRoundTrip(input: string): void {
  const doc = oracle(input);
  const files = { config: CONFIG, dropIn: "" };
  eachRequest((request) => {
    const keys = doc && validVersion(doc) ? intendedKeys(doc, request) : [];
    let changes;
    try {
      changes = configureContainerd(files, { config: input, dropIn: null }, request);
    } catch (error) {
      if (doc && validVersion(doc)) checkRefusal(error, doc, keys.map(([p]) => p));
      throw error;
    }
    if (doc === undefined) fail("edited a text smol-toml rejects");
    const change = changeOf(changes, CONFIG)!;
    // Nothing changed, nothing remembered: an unconfigure would remove what the file had.
    if (change.after === input || Object.hasOwn(doc, UNRELATED)) return;
    const names = { names: request.handlers.map((h) => h.name) };
    const untouched = unconfigureContainerd(files, {
      config: change.after,
      dropIn: null,
      configMemory: change.memory,
    }, names);
    const restored = changeOf(untouched, CONFIG)?.after;
    if (restored !== input) fail("an untouched file did not come back byte for byte", restored);

    const bom = input.startsWith("\uFEFF") ? "\uFEFF" : "";
    const eol = /^[^\n]*\r\n/.test(input) ? "\r\n" : "\n";
    const edited = `${bom}${UNRELATED} = 1${eol}${change.after!.slice(bom.length)}`;
    const reverted = unconfigureContainerd(files, {
      config: edited,
      dropIn: null,
      configMemory: change.memory,
    }, names);
    const text = changeOf(reverted, CONFIG)?.after ?? fail("no revert planned after an edit");
    if (changeOf(reverted, CONFIG)?.memory !== undefined) fail("unconfigure kept a memory");
    const expected = copy(doc);
    setAt(expected, [UNRELATED], 1);
    if (!same(parseOutput(text, "the unconfigured file"), expected)) {
      fail("unconfigure after an unrelated edit did not restore the input", text);
    }
    checkBytesKept(input, text);
  });
}

/** cri-o's drop-in from crio.conf: the handlers with the default runtime's settings. */
export function crioDropIn(input: string): void {
  const doc = oracle(input);
  eachRequest((request) => {
    const main = { path: CRIO_CONF, text: input };
    const change = configureCrioDropIn(CRIO_DROP_IN, null, main, request, undefined);
    if (doc === undefined) fail("read a crio.conf smol-toml rejects");
    const text = change.after ?? fail("no drop-in written");
    const runtime = getAt(doc, ["crio", "runtime"]);
    const named = getAt(runtime, ["default_runtime"]);
    const ours = request.handlers.map((h) => h.name);
    const source = [typeof named === "string" ? named : "runc", "runc", "crun"]
      .filter((n) => !ours.includes(n))
      .map((n) => getAt(runtime, ["runtimes", n]))
      .find(isTable) ?? {};
    const expected: Doc = {};
    setAt(expected, ["crio", "runtime", "runtimes"], {});
    for (const h of request.handlers) {
      const table = copy(source);
      setAt(table, ["runtime_path"], h.path);
      setAt(table, ["runtime_type"], "oci");
      setAt(expected, ["crio", "runtime", "runtimes", h.name], table);
    }
    if (request.defaultRuntime) {
      setAt(expected, ["crio", "runtime", "default_runtime"], request.defaultRuntime);
    }
    if (!same(parseOutput(text, "the cri-o drop-in"), expected)) {
      fail("the drop-in is not our handlers with the default runtime's settings", text);
    }
    const again = configureCrioDropIn(CRIO_DROP_IN, text, main, request, change.memory);
    if (again.after !== text) fail("a second configure changed the drop-in");
    const removed = unconfigureCrioDropIn(CRIO_DROP_IN, text, main, { names: ours }, change.memory);
    if (removed?.after !== null) fail("unconfigure kept the drop-in", removed?.after);
  });
}

/** The toolkit's config.toml: parsed or refused; every line a message names is in the file. */
export function toolkitConfig(input: string): void {
  const doc = oracle(input);
  const lines = input.split("\n").length;
  const checkLines = (text: string) => {
    for (const match of text.matchAll(/, line (\d+)/g)) {
      if (Number(match[1]) < 1 || Number(match[1]) > lines) {
        fail(`line ${match[1]} of ${lines}`, text);
      }
    }
  };
  let result;
  try {
    result = parseConfig(input, "/etc/xpu-container-runtime/config.toml");
  } catch (error) {
    if (error instanceof ToolError) checkLines(error.message);
    throw error;
  }
  if (doc === undefined) fail("accepted a config smol-toml rejects");
  for (const warning of result.warnings) {
    if (warning.includes("\n")) fail("a warning of more than one line", warning);
    checkLines(warning);
  }
}

/** The index an editor keeps, as plain data (to compare with a fresh read). */
function indexOf(layout: TomlLayout): unknown {
  return {
    lines: layout.lines,
    tables: layout.tables,
    entries: layout.entries.map((e) => ({ ...e })),
    entryAt: [...layout.entryAt].map(([k, e]) => [k, e.first]).sort(),
    tableAt: [...layout.tableAt].map(([k, t]) => [k, t.header]).sort(),
    entriesIn: [...layout.entriesIn].filter(([, l]) => l.length > 0)
      .map(([k, l]) => [k, l.map((e) => e.first)]).sort(),
  };
}

function checkIndex(editor: TomlEditor, after: string): void {
  const fresh = JSON.stringify(indexOf(readTomlLayout(editor.text)));
  if (JSON.stringify(indexOf(editor.layout)) !== fresh) {
    fail(`the editor's index is stale ${after}`);
  }
}

/**
 * The editor on any document: each edit sets a key (or is refused for a real obstacle), the
 * output is the input plus that key; removing it and the tables it made gives the bytes back; a
 * run of edits in one editor keeps its index true.
 */
export function tomlEdits(input: string): void {
  const doc = oracle(input);
  const where = { file: CONFIG };
  // The document's own keys too: replaced in place, removed.
  const own = doc === undefined ? [] : readTomlLayout(input).entries
    .filter((e) => e.path.length === e.table.length + 1).map((e) => e.path).slice(0, 3);
  const edits = [...EDITS, ...own.map((path) => ({ path, value: "replaced" }))];
  const editor = new TomlEditor(input, where);
  let refusal: unknown;
  for (const edit of edits) {
    try {
      const result = setTomlValue(input, edit.path, tomlValue(edit.value), where);
      if (doc === undefined) continue;
      const expected = copy(doc);
      setAt(expected, edit.path, edit.value);
      if (!same(parseOutput(result.text, "the edited text"), expected)) {
        fail(
          `setting ${JSON.stringify(edit.path)} changed more (or less) than that key`,
          result.text,
        );
      }
      checkBytesKept(input, result.text);
      checkLinesKept(input, result.text, result.previous === undefined ? [] : [edit.path]);
      if (result.previous === undefined) {
        let back = removeTomlValue(result.text, edit.path);
        for (const table of [...result.createdTables].reverse()) {
          back = removeEmptyTomlTable(back, table, { evenWithSubTables: true });
        }
        if (back !== input) {
          fail(`set then remove of ${JSON.stringify(edit.path)} changed bytes`, back);
        }
      } else {
        const removed = copy(doc);
        removeAt(removed, edit.path);
        const text = removeTomlValue(result.text, edit.path);
        if (!same(parseOutput(text, "the text after a removal"), removed)) {
          fail(`removing ${JSON.stringify(edit.path)} changed more (or less) than that key`, text);
        }
      }
      try {
        editor.set(edit.path, tomlValue(edit.value));
      } catch (error) {
        // The run's earlier edits can be in the way of this one; only the index is checked here.
        if (!(error instanceof ToolError)) throw error;
      }
      checkIndex(editor, `after setting ${JSON.stringify(edit.path)}`);
    } catch (error) {
      if (doc !== undefined) checkRefusal(error, doc, [edit.path]);
      refusal = error;
    }
  }
  if (doc !== undefined) {
    for (const path of own) {
      editor.remove(path);
      checkIndex(editor, `after removing ${JSON.stringify(path)}`);
    }
    // What an unconfigure does: every key under a prefix, then tables left empty.
    editor.removeUnder(["plugins"]);
    checkIndex(editor, "after removing everything under plugins");
    for (const table of [...editor.layout.tables].reverse()) {
      editor.removeEmptyTable(table.path, { evenWithSubTables: true });
      checkIndex(editor, `after removing the table ${JSON.stringify(table.path)}`);
    }
  }
  if (refusal !== undefined) throw refusal;
}
