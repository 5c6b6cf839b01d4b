/**
 * Format-preserving edits of TOML text: set or remove one key, remove a table that holds nothing,
 * leaving every other byte — comments, order, indentation, quoting, a byte-order mark, CRLF line
 * endings — as the user wrote it.
 *
 * The editor reads the document's statements with {@link readTomlStatements} (tables, keys with
 * dotted and quoted names, values spanning lines in multi-line strings, arrays and inline tables),
 * indexes them by key path, and splices lines; values are written by {@link tomlValue}. A key it
 * cannot place without changing what other keys mean (inside an inline table or an array of
 * tables, under a key that holds a value) is refused with a {@link ConfigError}. Callers re-parse
 * the result to check it (the engines do).
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";
import { parseTomlDocument, readTomlKey, readTomlStatements } from "../core/text/toml_table.ts";

/** One key/value statement. */
interface Entry {
  /** Full key path: table path + the key's own dotted parts. */
  path: string[];
  /** Path of the table (header) the statement is written in. */
  table: string[];
  first: number;
  last: number;
  /** The value is an inline table (`{ … }`). */
  inline: boolean;
  /** Column of the `=` in line `first`. */
  equals: number;
  /** The value as written (after `=`, without the comment after it). */
  valueText: string;
  /** The comment after the value on line `last` (`""`: none). */
  comment: string;
}

/** A `[table]` or `[[array]]` header and the lines of its body. */
interface Table {
  path: string[];
  array: boolean;
  header: number;
  /** Last line of the body (before the next header). */
  end: number;
}

/** The line structure of a TOML document, indexed by key path. */
export interface TomlLayout {
  /** A leading byte-order mark (kept apart: line 0 starts after it). */
  bom: string;
  /** The line ending of new lines: the document's first one, else `\n`. */
  eol: "\n" | "\r\n";
  /** The lines, split at `\n` (a CRLF line keeps its `\r`). */
  lines: string[];
  tables: Table[];
  entries: Entry[];
  /** The first entry of each key path (by {@link pathKey}). */
  entryAt: Map<string, Entry>;
  /** The `[table]` (not array) of each path. */
  tableAt: Map<string, Table>;
  /** The entries written in each table, in order. */
  entriesIn: Map<string, Entry[]>;
}

/** A key path as one map key. */
function pathKey(path: readonly string[]): string {
  return JSON.stringify(path);
}

/** Splits a dotted key (`a."b.c".d`) into its parts, unquoting them. */
export function splitTomlKey(text: string): string[] {
  return readTomlKey(text, 0).parts;
}

const STRING_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\t": "\\t",
  "\n": "\\n",
  "\f": "\\f",
  "\r": "\\r",
  "\u007f": "\\u007F",
};

/**
 * A basic string: quotes, backslashes and control characters escaped (TOML forbids them raw),
 * everything else as it is. A lone surrogate stays raw too: no TOML escape stands for one, and
 * written to a file it becomes U+FFFD, as any TOML writer's would.
 */
function tomlString(text: string): string {
  let out = '"';
  for (const c of text) {
    const escape = Object.hasOwn(STRING_ESCAPES, c) ? STRING_ESCAPES[c] : undefined;
    if (escape !== undefined) out += escape;
    else if (c < " ") out += `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    else out += c;
  }
  return `${out}"`;
}

/** Writes a key part, quoting it when it is not a bare key. */
export function tomlKeyPart(part: string): string {
  return /^[A-Za-z0-9_-]+$/.test(part) ? part : tomlString(part);
}

/** Writes a dotted key path. */
export function tomlKey(path: readonly string[]): string {
  return path.map(tomlKeyPart).join(".");
}

function tomlNumber(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (Object.is(value, -0)) return "-0.0";
  // An integral number beyond 2^53 came from a float: written as an integer, it would not parse.
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return value.toExponential();
  return String(value);
}

/** Writes a value: strings, booleans, numbers, dates, arrays and (inline) tables. */
export function tomlValue(value: unknown): string {
  if (typeof value === "string") return tomlString(value);
  if (typeof value === "number") return tomlNumber(value);
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  // A TOML date keeps its form (local date, time, date-time) in toISOString.
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object" && value !== null) {
    const items = Object.entries(value).map(([k, v]) => `${tomlKeyPart(k)} = ${tomlValue(v)}`);
    return items.length === 0 ? "{}" : `{ ${items.join(", ")} }`;
  }
  throw new TypeError(`cannot write ${String(value)} as TOML`);
}

/**
 * Reads one value as written after `=` (what {@link tomlValue} writes and
 * {@link TomlEditor.valueText} gives back).
 *
 * @example
 * ```ts
 * parseTomlValue('["a", 1]'); // ["a", 1]
 * ```
 * @throws {ConfigError} when `text` is not one TOML value
 */
export function parseTomlValue(text: string): unknown {
  const where = "<TOML value>";
  const doc = parseTomlDocument(`v = ${text}\n`, where);
  if (Object.keys(doc).length !== 1) {
    throw new ConfigError(`Cannot parse ${JSON.stringify(text)}: it is more than one value`, {
      path: where,
    });
  }
  return doc.v;
}

/** Reads the line structure. Only meaningful for text that parses as TOML; ends on any text. */
export function readTomlLayout(text: string): TomlLayout {
  const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
  const body = text.slice(bom.length);
  const firstBreak = body.indexOf("\n");
  const layout: TomlLayout = {
    bom,
    eol: firstBreak > 0 && body[firstBreak - 1] === "\r" ? "\r\n" : "\n",
    lines: body === "" ? [] : body.split("\n"),
    tables: [],
    entries: [],
    entryAt: new Map(),
    tableAt: new Map(),
    entriesIn: new Map([[pathKey([]), []]]),
  };
  addStatements(layout, body, 0, []);
  setTableEnds(layout);
  return layout;
}

/**
 * Indexes the statements of `text`, which holds the lines from line `at` on, written in table
 * `table` (the one in effect at `at`).
 */
function addStatements(layout: TomlLayout, text: string, at: number, table: string[]): void {
  let context = table;
  let own = ownEntries(layout, context);
  // Offsets of line starts, only as far as a statement needs them.
  const starts = [0];
  const lineStart = (line: number) => {
    while (starts.length <= line) {
      const previous = starts[starts.length - 1];
      const next = text.indexOf("\n", previous);
      starts.push(next < 0 ? text.length + 1 : next + 1);
    }
    return starts[line];
  };
  const appending = at >= (layout.entries[layout.entries.length - 1]?.first ?? -1) &&
    at >= (layout.tables[layout.tables.length - 1]?.header ?? -1);
  for (const statement of readTomlStatements(text)) {
    const first = at + statement.first;
    if (statement.kind !== "value") {
      context = statement.key;
      const array = statement.kind === "array";
      const header: Table = { path: context, array, header: first, end: first };
      insertByLine(layout.tables, header, (t) => t.header, appending);
      const key = pathKey(context);
      const existing = layout.tableAt.get(key);
      if (!array && (existing === undefined || existing.header > first)) {
        layout.tableAt.set(key, header);
      }
      own = ownEntries(layout, context);
      continue;
    }
    const last = layout.lines[at + statement.last] ?? "";
    const comment = statement.comment < 0
      ? ""
      : last.slice(statement.comment - lineStart(statement.last)).replace(/\r$/, "");
    const entry: Entry = {
      path: [...context, ...statement.key],
      table: context,
      first,
      last: at + statement.last,
      inline: statement.inline,
      equals: statement.equals - lineStart(statement.first),
      valueText: text.slice(statement.valueStart, statement.valueEnd),
      comment,
    };
    insertByLine(layout.entries, entry, (e) => e.first, appending);
    insertByLine(own, entry, (e) => e.first, appending);
    const key = pathKey(entry.path);
    const existing = layout.entryAt.get(key);
    if (existing === undefined || existing.first > first) layout.entryAt.set(key, entry);
  }
}

/** The entries written in table `path`, as kept in the index (created empty). */
function ownEntries(layout: TomlLayout, path: readonly string[]): Entry[] {
  const key = pathKey(path);
  let own = layout.entriesIn.get(key);
  if (own === undefined) {
    own = [];
    layout.entriesIn.set(key, own);
  }
  return own;
}

/** Inserts `item` into `items` (sorted by line), at the end when `appending`. */
function insertByLine<T>(items: T[], item: T, line: (item: T) => number, appending: boolean): void {
  if (appending) {
    items.push(item);
    return;
  }
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (line(items[middle]) <= line(item)) low = middle + 1;
    else high = middle;
  }
  items.splice(low, 0, item);
}

/** Each table's body ends before the next header (the last one at the last line). */
function setTableEnds(layout: TomlLayout): void {
  const { tables } = layout;
  for (let i = 0; i < tables.length; i++) {
    tables[i].end = (i + 1 < tables.length ? tables[i + 1].header : layout.lines.length) - 1;
  }
}

/** The table in effect at line `line`: the path of the last header before it (root: `[]`). */
function tableAtLine(layout: TomlLayout, line: number): Table | undefined {
  const { tables } = layout;
  let low = 0;
  let high = tables.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (tables[middle].header < line) low = middle + 1;
    else high = middle;
  }
  return tables[low - 1];
}

function remove<T>(items: T[], item: T): void {
  const i = items.indexOf(item);
  if (i >= 0) items.splice(i, 1);
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => p === path[i]);
}

function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

function isBlank(line: string): boolean {
  return /^[ \t\r]*$/.test(line);
}

/**
 * Replaces lines `at` … `at + count - 1` (whole statements, or none) with `added` (whole
 * statements), keeping the index up to date: statements after move, the added ones are read.
 */
function spliceLines(layout: TomlLayout, at: number, count: number, text: string[]): void {
  // A value written back from memory can span lines: the index counts real lines.
  const added = text.flatMap((line) => line.split("\n"));
  const end = at + count;
  for (const entry of layout.entries.filter((e) => e.first >= at && e.first < end)) {
    remove(layout.entries, entry);
    remove(ownEntries(layout, entry.table), entry);
    const key = pathKey(entry.path);
    if (layout.entryAt.get(key) === entry) {
      layout.entryAt.delete(key);
      const next = layout.entries.find((e) => same(e.path, entry.path));
      if (next) layout.entryAt.set(key, next);
    }
  }
  for (const table of layout.tables.filter((t) => t.header >= at && t.header < end)) {
    remove(layout.tables, table);
    const key = pathKey(table.path);
    if (layout.tableAt.get(key) === table) {
      layout.tableAt.delete(key);
      const next = layout.tables.find((t) => !t.array && same(t.path, table.path));
      if (next) layout.tableAt.set(key, next);
    }
  }
  const shift = added.length - count;
  if (shift !== 0) {
    for (const entry of layout.entries) {
      if (entry.first >= end) {
        entry.first += shift;
        entry.last += shift;
      }
    }
    for (const table of layout.tables) if (table.header >= end) table.header += shift;
  }
  layout.lines.splice(at, count, ...added);
  if (added.length > 0) {
    addStatements(layout, added.join("\n"), at, tableAtLine(layout, at)?.path ?? []);
  }
  setTableEnds(layout);
}

/**
 * Inserts `added` before line `at`, each ending like the document's lines. After the last line
 * (which no line feed ends), that line gets the ending and the last added line none; into an
 * empty document, the lines end with a final line feed.
 */
function insertLines(layout: TomlLayout, at: number, added: string[]): void {
  const cr = layout.eol === "\r\n" ? "\r" : "";
  const { lines } = layout;
  const block = added.map((line) => line + cr);
  if (lines.length === 0) block.push("");
  else if (at >= lines.length) {
    if (!lines[lines.length - 1].endsWith("\r")) lines[lines.length - 1] += cr;
    block[block.length - 1] = added[added.length - 1];
  }
  spliceLines(layout, at, 0, block);
}

/** Removes `count` lines from `from`; a line that becomes the last keeps no `\r` of its own. */
function removeLines(layout: TomlLayout, from: number, count: number): void {
  const atEnd = from + count >= layout.lines.length;
  spliceLines(layout, from, count, []);
  const { lines } = layout;
  if (atEnd && lines.length > 0) {
    lines[lines.length - 1] = lines[lines.length - 1].replace(/\r$/, "");
  }
}

/** How much deeper the file indents a table's keys than its header (0 for flat files). */
function indentStep(layout: TomlLayout): string {
  for (const table of layout.tables) {
    const entry = layout.entriesIn.get(pathKey(table.path))?.[0];
    if (entry === undefined) continue;
    const header = indentOf(layout.lines[table.header]);
    const key = indentOf(layout.lines[entry.first]);
    if (key.startsWith(header)) return key.slice(header.length);
  }
  return "";
}

/** Where a key/value line for table `path` goes, and with which indentation. */
function insertionPoint(
  layout: TomlLayout,
  path: string[],
): { after: number; indent: string } | undefined {
  const own = layout.entriesIn.get(pathKey(path)) ?? [];
  if (path.length === 0) {
    // Root keys: after the last one, else just before the first [table].
    if (own.length > 0) return { after: own[own.length - 1].last, indent: "" };
    let after = (layout.tables[0]?.header ?? layout.lines.length) - 1;
    while (after >= 0 && isBlank(layout.lines[after])) after--;
    return { after, indent: "" };
  }
  const table = layout.tableAt.get(pathKey(path));
  if (table === undefined) return undefined;
  const lastOwn = own.length > 0 ? own[own.length - 1].last : table.header;
  const indent = own.length > 0
    ? indentOf(layout.lines[own[0].first])
    : indentOf(layout.lines[table.header]) + indentStep(layout);
  return { after: lastOwn, indent };
}

/** The indentation the file gives a new header for `path`. */
function headerIndent(layout: TomlLayout, path: string[], step: string): string {
  // A sibling table ([a.b.runc] for a new [a.b.xpu]) shows the indentation to use.
  const parent = path.slice(0, -1);
  const sibling = layout.tables.find((t) =>
    t.path.length === path.length && startsWith(t.path, parent)
  );
  if (sibling) return indentOf(layout.lines[sibling.header]);
  let best: Table | undefined;
  for (const table of layout.tables) {
    if (
      startsWith(path, table.path) && (best === undefined || table.path.length > best.path.length)
    ) {
      best = table;
    }
  }
  if (best === undefined) return "";
  return indentOf(layout.lines[best.header]) +
    step.repeat(Math.max(0, path.length - best.path.length));
}

/**
 * The last line of the block a new `[path]` goes after: the end of the last table of its closest
 * relatives (those sharing the longest proper prefix of `path`), back over blank lines.
 */
function newTableAnchor(layout: TomlLayout, path: readonly string[]): number {
  let shared = -1;
  let anchor = -1;
  for (const table of layout.tables) {
    if (table.path.length === 0) continue;
    let n = 0;
    while (n < path.length - 1 && n < table.path.length && table.path[n] === path[n]) n++;
    if (n > shared) {
      shared = n;
      anchor = table.end;
    } else if (n === shared) anchor = Math.max(anchor, table.end);
  }
  if (anchor < 0) anchor = layout.lines.length - 1;
  while (anchor > 0 && isBlank(layout.lines[anchor])) anchor--;
  return anchor;
}

/**
 * Format-preserving edits of one TOML document, each a splice of whole lines: the index of tables
 * and keys is read once and kept up to date, so a run of edits costs one read of the text.
 */
export class TomlEditor {
  readonly #layout: TomlLayout;
  readonly #where: { file: string };

  /** Reads `text` (which should parse as TOML); `where.file` names it in errors. */
  constructor(text: string, where: { file: string }) {
    this.#layout = readTomlLayout(text);
    this.#where = where;
  }

  /** The text as edited so far. */
  get text(): string {
    return this.#layout.bom + this.#layout.lines.join("\n");
  }

  /** The line structure of {@link text} (what {@link readTomlLayout} of it gives). */
  get layout(): TomlLayout {
    return this.#layout;
  }

  /** The value of `path` as written (the text after `=`), `undefined` when absent. */
  valueText(path: readonly string[]): string | undefined {
    return this.#layout.entryAt.get(pathKey(path))?.valueText;
  }

  /**
   * Sets `path = valueText` (TOML, e.g. from {@link tomlValue}): replaced in place when the key
   * exists, else added to its table, creating the table next to its relatives when needed.
   *
   * @returns the tables created (to remove on revert) and the value replaced, as written
   * @throws {ConfigError} when the key lives in an inline table or an array of tables, under a
   * key that holds a value, or where a table is
   */
  set(
    path: readonly string[],
    valueText: string,
  ): { createdTables: string[][]; previous?: string } {
    const layout = this.#layout;
    const { lines } = layout;
    this.#checkPlace(path);
    const existing = layout.entryAt.get(pathKey(path));
    if (existing) {
      const first = lines[existing.first];
      const spacing = /^[ \t]*/.exec(first.slice(existing.equals + 1))![0] || " ";
      const ending = lines[existing.last].endsWith("\r") ? "\r" : "";
      const comment = existing.comment ? ` ${existing.comment.trim()}` : "";
      const replaced = `${first.slice(0, existing.equals + 1)}${spacing}${valueText}${comment}`;
      spliceLines(layout, existing.first, existing.last - existing.first + 1, [replaced + ending]);
      return { createdTables: [], previous: existing.valueText };
    }
    const tablePath = path.slice(0, -1);
    const key = path[path.length - 1];
    const point = insertionPoint(layout, tablePath);
    if (point) {
      insertLines(layout, point.after + 1, [`${point.indent}${tomlKeyPart(key)} = ${valueText}`]);
      return { createdTables: [] };
    }
    // The table is implied by dotted keys (`a.b.c = 1` in [x]): add ours the same way.
    const dotted = layout.entries.find((e) =>
      e.path.length > tablePath.length && startsWith(e.path, tablePath) &&
      startsWith(tablePath, e.table)
    );
    if (dotted) {
      const own = layout.entriesIn.get(pathKey(dotted.table))!;
      const relative = path.slice(dotted.table.length);
      insertLines(layout, own[own.length - 1].last + 1, [
        `${indentOf(lines[dotted.first])}${tomlKey(relative)} = ${valueText}`,
      ]);
      return { createdTables: [] };
    }
    // A new [table]: after the last block of its closest relatives, else at the end.
    const anchor = newTableAnchor(layout, tablePath);
    const step = indentStep(layout);
    const indent = headerIndent(layout, tablePath, step);
    // Into a document of blank lines, at the top: what follows stays as it was.
    const empty = lines.every(isBlank);
    insertLines(layout, empty ? 0 : anchor + 1, [
      ...(empty ? [] : [""]),
      `${indent}[${tomlKey(tablePath)}]`,
      `${indent}${step}${tomlKeyPart(key)} = ${valueText}`,
    ]);
    return { createdTables: [tablePath] };
  }

  /** Removes the statement of `path` (all its lines); `false` when it is absent. */
  remove(path: readonly string[]): boolean {
    const entry = this.#layout.entryAt.get(pathKey(path));
    if (entry === undefined) return false;
    removeLines(this.#layout, entry.first, entry.last - entry.first + 1);
    return true;
  }

  /** Removes every key/value statement whose path starts with `prefix` (headers stay). */
  removeUnder(prefix: readonly string[]): void {
    const doomed = this.#layout.entries.filter((e) => startsWith(e.path, prefix)).reverse();
    for (const entry of doomed) {
      removeLines(this.#layout, entry.first, entry.last - entry.first + 1);
    }
  }

  /**
   * Removes the header of table `path` when it holds no key (and, unless `evenWithSubTables`,
   * no sub-table), with the blank line before it; `false` when it stays.
   */
  removeEmptyTable(
    path: readonly string[],
    options: { evenWithSubTables?: boolean } = {},
  ): boolean {
    const layout = this.#layout;
    const table = layout.tableAt.get(pathKey(path));
    if (table === undefined) return false;
    if ((layout.entriesIn.get(pathKey(path)) ?? []).length > 0) return false;
    // A header of its own is not needed for sub-tables to exist ([a.b] implies [a]).
    if (
      !options.evenWithSubTables &&
      (layout.entries.some((e) => startsWith(e.path, path)) ||
        layout.tables.some((t) => t !== table && startsWith(t.path, path)))
    ) {
      return false;
    }
    if (!layout.lines.slice(table.header + 1, table.end + 1).every(isBlank)) return false;
    // The header and the blank line that separates it from what comes before; the body's blank
    // lines stay, separating what came before from what follows.
    const first = table.header > 0 && isBlank(layout.lines[table.header - 1])
      ? table.header - 1
      : table.header;
    removeLines(layout, first, table.header - first + 1);
    return true;
  }

  #refuse(line: number, detail: string): never {
    const file = this.#where.file;
    throw new ConfigError(`Cannot edit "${file}", line ${line + 1}: ${detail}`, {
      path: file,
      line: line + 1,
    });
  }

  /**
   * Refuses a key that cannot be written without changing other keys' meaning: under an array
   * of tables, an inline table or a key that holds a value, or where a table is.
   */
  #checkPlace(path: readonly string[]): void {
    const layout = this.#layout;
    for (const table of layout.tables) {
      if (table.array && startsWith(path, table.path)) {
        this.#refuse(
          table.header,
          `"${tomlKey(table.path)}" is an array of tables: edit the table you mean by hand and ` +
            `re-run`,
        );
      }
    }
    for (let n = 1; n < path.length; n++) {
      const entry = layout.entryAt.get(pathKey(path.slice(0, n)));
      if (entry === undefined) continue;
      const key = tomlKey(entry.path);
      if (entry.inline) {
        this.#refuse(
          entry.first,
          `"${key}" is an inline table: write it as a [${key}] section and re-run`,
        );
      }
      this.#refuse(
        entry.first,
        `"${key}" holds a value, not a table: fix or remove that key and re-run`,
      );
    }
    if (layout.entryAt.has(pathKey(path))) return;
    const table = layout.tableAt.get(pathKey(path)) ??
      layout.tables.find((t) => t.path.length > path.length && startsWith(t.path, path));
    const line = table?.header ??
      layout.entries.find((e) => e.path.length > path.length && startsWith(e.path, path))?.first;
    if (line !== undefined) {
      this.#refuse(
        line,
        `"${tomlKey(path)}" is a table, not a value: fix or remove that table and re-run`,
      );
    }
  }
}

/** The result of {@link setTomlValue}. */
export interface TomlSetResult {
  text: string;
  /** The tables the edit created (to remove on revert). */
  createdTables: string[][];
  /** The value the key had, as written; `undefined` when the key was added. */
  previous?: string;
}

/**
 * Sets `path = valueText` in `text` (one {@link TomlEditor.set}).
 *
 * @throws {ConfigError} when the key cannot be placed (see {@link TomlEditor.set})
 */
export function setTomlValue(
  text: string,
  path: readonly string[],
  valueText: string,
  where: { file: string },
): TomlSetResult {
  const editor = new TomlEditor(text, where);
  const result = editor.set(path, valueText);
  return { text: editor.text, ...result };
}

/** The value of `path` as written (the text after `=`), or `undefined` when the key is absent. */
export function tomlValueText(text: string, path: readonly string[]): string | undefined {
  return readTomlLayout(text).entryAt.get(pathKey(path))?.valueText;
}

/** Removes the statement of `path` (all its lines); the text is unchanged when it is absent. */
export function removeTomlValue(text: string, path: readonly string[]): string {
  const editor = new TomlEditor(text, { file: "" });
  return editor.remove(path) ? editor.text : text;
}

/**
 * Removes the header of table `path` when it holds no key (and, unless `evenWithSubTables`, no
 * sub-table), with the blank line before it; the text is unchanged otherwise.
 */
export function removeEmptyTomlTable(
  text: string,
  path: readonly string[],
  options: { evenWithSubTables?: boolean } = {},
): string {
  const editor = new TomlEditor(text, { file: "" });
  return editor.removeEmptyTable(path, options) ? editor.text : text;
}
