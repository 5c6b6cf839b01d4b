/**
 * Format-preserving edits of TOML text: set or remove one key, remove a table that holds nothing,
 * leaving every other byte — comments, order, indentation, quoting — as the user wrote it.
 *
 * The editor understands the document's line structure (tables, keys with dotted names, values
 * spanning lines in multi-line strings and arrays); values are written by {@link tomlValue}.
 * Callers re-parse the result to check it (the engines do).
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";

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
}

/** A `[table]` or `[[array]]` header and the lines of its body. */
interface Table {
  path: string[];
  array: boolean;
  header: number;
  /** Last line of the body (before the next header). */
  end: number;
}

/** The line structure of a TOML document. */
export interface TomlLayout {
  lines: string[];
  tables: Table[];
  entries: Entry[];
}

const BARE = /[A-Za-z0-9_-]/;

/** Splits a dotted key (`a."b.c".d`) into its parts, unquoting them. */
export function splitTomlKey(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === " " || text[i] === "\t" || text[i] === ".") i++;
    if (i >= text.length) break;
    if (text[i] === '"' || text[i] === "'") {
      const quote = text[i];
      let j = i + 1;
      let value = "";
      while (j < text.length && text[j] !== quote) {
        if (quote === '"' && text[j] === "\\") {
          value += JSON.parse(`"${text.slice(j, j + (text[j + 1] === "u" ? 6 : 2))}"`);
          j += text[j + 1] === "u" ? 6 : 2;
        } else value += text[j++];
      }
      parts.push(value);
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && BARE.test(text[j])) j++;
      parts.push(text.slice(i, j));
      i = j;
    }
  }
  return parts;
}

/** Writes a key part, quoting it when it is not a bare key. */
export function tomlKeyPart(part: string): string {
  return /^[A-Za-z0-9_-]+$/.test(part) ? part : JSON.stringify(part);
}

/** Writes a dotted key path. */
export function tomlKey(path: readonly string[]): string {
  return path.map(tomlKeyPart).join(".");
}

/** Writes a value: strings, booleans, numbers, arrays and (inline) tables. */
export function tomlValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value).replace(/\u007f/g, "\\u007F");
  if (typeof value === "boolean" || typeof value === "number" || typeof value === "bigint") {
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object" && value !== null) {
    const items = Object.entries(value).map(([k, v]) => `${tomlKeyPart(k)} = ${tomlValue(v)}`);
    return items.length === 0 ? "{}" : `{ ${items.join(", ")} }`;
  }
  throw new TypeError(`cannot write ${String(value)} as TOML`);
}

/**
 * Scans a value that starts at `line[col]`; returns the line where it ends (multi-line strings and
 * arrays span lines) and whether it is an inline table.
 */
function scanValue(lines: string[], start: number, col: number): { last: number; inline: boolean } {
  let depth = 0;
  let inline = false;
  let i = start;
  let j = col;
  let string: '"' | "'" | '"""' | "'''" | undefined;
  for (; i < lines.length; i++, j = 0) {
    const line = lines[i];
    while (j < line.length) {
      if (string) {
        if (line.startsWith(string, j)) {
          j += string.length;
          string = undefined;
        } else j += line[j] === "\\" && string.startsWith('"') ? 2 : 1;
        continue;
      }
      const c = line[j];
      if (line.startsWith('"""', j) || line.startsWith("'''", j)) {
        string = line.slice(j, j + 3) as '"""' | "'''";
        j += 3;
      } else if (c === '"' || c === "'") {
        string = c;
        j++;
      } else if (c === "#") break;
      else {
        if (c === "[" || c === "{") {
          if (depth === 0 && c === "{") inline = true;
          depth++;
        } else if (c === "]" || c === "}") depth--;
        j++;
      }
    }
    // A single-line string cannot continue on the next line.
    if (string === '"' || string === "'") string = undefined;
    if (!string && depth <= 0) return { last: i, inline };
  }
  return { last: lines.length - 1, inline };
}

/** Reads the line structure. Only call on text that parses as TOML. */
export function readTomlLayout(text: string): TomlLayout {
  const lines = text === "" ? [] : text.split("\n");
  const tables: Table[] = [];
  const entries: Entry[] = [];
  let table: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (trimmed.startsWith("[")) {
      const array = trimmed.startsWith("[[");
      const close = findClose(array ? trimmed.slice(1) : trimmed) + (array ? 1 : 0);
      table = splitTomlKey(trimmed.slice(array ? 2 : 1, close));
      if (tables.length > 0) tables[tables.length - 1].end = i - 1;
      tables.push({ path: table, array, header: i, end: lines.length - 1 });
      continue;
    }
    const eq = findEquals(lines[i]);
    if (eq < 0) continue;
    const { last, inline } = scanValue(lines, i, eq + 1);
    entries.push({
      path: [...table, ...splitTomlKey(lines[i].slice(0, eq))],
      table,
      first: i,
      last,
      inline,
    });
    i = last;
  }
  return { lines, tables, entries };
}

/** The `]` that closes a header, skipping quoted parts. */
function findClose(header: string): number {
  let quote: string | undefined;
  for (let i = 1; i < header.length; i++) {
    const c = header[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "]") return i;
  }
  return header.length;
}

/** The `=` of a key/value line, skipping quoted key parts; -1 when there is none. */
function findEquals(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "=") return i;
    else if (c === "#") return -1;
  }
  return -1;
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

/** Where a key/value line for table `path` goes, and with which indentation. */
function insertionPoint(
  layout: TomlLayout,
  path: string[],
): { after: number; indent: string } | undefined {
  if (path.length === 0) {
    // Root keys: after the last one, else just before the first [table].
    const own = layout.entries.filter((e) => e.table.length === 0);
    if (own.length > 0) return { after: own[own.length - 1].last, indent: "" };
    const first = layout.tables[0]?.header ?? layout.lines.length;
    let after = first - 1;
    while (after >= 0 && layout.lines[after].trim() === "") after--;
    return { after, indent: "" };
  }
  const table = layout.tables.find((t) => !t.array && same(t.path, path));
  if (table === undefined) return undefined;
  const own = layout.entries.filter((e) => same(e.table, path));
  const lastOwn = own.length > 0 ? own[own.length - 1].last : table.header;
  const headerIndent = indentOf(layout.lines[table.header]);
  const indent = own.length > 0
    ? indentOf(layout.lines[own[0].first])
    : headerIndent + indentStep(layout);
  return { after: lastOwn, indent };
}

/** How much deeper the file indents a table's keys than its header (0 for flat files). */
function indentStep(layout: TomlLayout): string {
  for (const table of layout.tables) {
    const entry = layout.entries.find((e) => same(e.table, table.path));
    if (entry === undefined) continue;
    const header = indentOf(layout.lines[table.header]);
    const key = indentOf(layout.lines[entry.first]);
    if (key.startsWith(header)) return key.slice(header.length);
  }
  return "";
}

/** The indentation the file gives a header `extra` levels below an existing one. */
function headerIndent(layout: TomlLayout, path: string[]): string {
  // A sibling table ([a.b.runc] for a new [a.b.xpu]) shows the indentation to use.
  const sibling = layout.tables.find((t) =>
    t.path.length === path.length && startsWith(t.path, path.slice(0, -1))
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
  const step = indentStep(layout);
  return indentOf(layout.lines[best.header]) +
    step.repeat(Math.max(0, path.length - best.path.length));
}

/** The value of `path` as written (the text after `=`), or `undefined` when the key is absent. */
export function tomlValueText(text: string, path: readonly string[]): string | undefined {
  const layout = readTomlLayout(text);
  const entry = layout.entries.find((e) => same(e.path, path));
  if (entry === undefined) return undefined;
  const lines = layout.lines.slice(entry.first, entry.last + 1);
  lines[0] = lines[0].slice(findEquals(lines[0]) + 1);
  return stripComment(lines.join("\n")).trim();
}

function stripComment(valueText: string): string {
  // Only a single-line value can carry a trailing comment this simply.
  if (valueText.includes("\n")) return valueText;
  let quote: string | undefined;
  for (let i = 0; i < valueText.length; i++) {
    const c = valueText[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return valueText.slice(0, i);
  }
  return valueText;
}

/**
 * Sets `path = valueText` (valueText is TOML, e.g. from {@link tomlValue}), replacing the value in
 * place when the key exists and otherwise adding it to its table, creating the table next to its
 * relatives when needed.
 *
 * @returns the new text and the tables it created (to remove on revert)
 * @throws {ConfigError} when the key lives in an inline table the editor cannot extend
 */
export function setTomlValue(
  text: string,
  path: readonly string[],
  valueText: string,
  where: { file: string },
): { text: string; createdTables: string[][] } {
  const layout = readTomlLayout(text);
  const { lines } = layout;
  const existing = layout.entries.find((e) => same(e.path, path));
  if (existing) {
    const first = lines[existing.first];
    const eq = findEquals(first);
    // A trailing comment sits on the value's last line (after `]` or `"""` for multi-line ones).
    const last = lines[existing.last];
    const rest = existing.first === existing.last ? first.slice(eq + 1) : last;
    const comment = rest.slice(stripComment(rest).length);
    const spacing = /^\s*/.exec(first.slice(eq + 1))![0] || " ";
    const replaced = `${first.slice(0, eq + 1)}${spacing}${valueText}${
      comment ? ` ${comment.trim()}` : ""
    }`;
    lines.splice(existing.first, existing.last - existing.first + 1, replaced);
    return { text: lines.join("\n"), createdTables: [] };
  }
  const inline = layout.entries.find((e) => e.inline && startsWith(path, e.path));
  if (inline) {
    throw new ConfigError(
      `Cannot edit "${where.file}", line ${inline.first + 1}: "${tomlKey(inline.path)}" is an ` +
        `inline table: write it as a [${tomlKey(inline.path)}] section and re-run`,
      { path: where.file, line: inline.first + 1 },
    );
  }
  // The deepest table (written as a header, or implied by dotted keys) that holds the key.
  const tablePath = path.slice(0, -1);
  const key = path[path.length - 1];
  const point = insertionPoint(layout, tablePath);
  if (point) {
    lines.splice(point.after + 1, 0, `${point.indent}${tomlKeyPart(key)} = ${valueText}`);
    const result = lines.join("\n");
    const newline = (text === "" || text.endsWith("\n")) && !result.endsWith("\n");
    return { text: newline ? result + "\n" : result, createdTables: [] };
  }
  const dotted = layout.entries.find((e) =>
    !same(e.table, e.path.slice(0, -1)) && startsWith(e.path, tablePath) &&
    startsWith(tablePath, e.table)
  );
  if (dotted) {
    // The table is implied by dotted keys (`a.b.c = 1` in [x]): add ours the same way.
    const own = layout.entries.filter((e) => same(e.table, dotted.table));
    const after = own[own.length - 1].last;
    const relative = path.slice(dotted.table.length);
    lines.splice(
      after + 1,
      0,
      `${indentOf(lines[dotted.first])}${tomlKey(relative)} = ${valueText}`,
    );
    return { text: lines.join("\n"), createdTables: [] };
  }
  // A new [table]: after the last block of its closest relative, else at the end.
  let anchor = -1;
  for (let n = tablePath.length - 1; n >= 0 && anchor < 0; n--) {
    const prefix = tablePath.slice(0, n);
    const related = layout.tables.filter((t) =>
      startsWith(t.path, prefix) && (n > 0 || t.path.length > 0)
    );
    if (related.length > 0) anchor = Math.max(...related.map((t) => t.end));
  }
  if (anchor < 0) anchor = lines.length - 1;
  while (anchor > 0 && lines[anchor].trim() === "") anchor--;
  const indent = headerIndent(layout, tablePath);
  const step = indentStep(layout);
  const empty = lines.every((l) => l.trim() === "");
  const block = [
    ...(empty ? [] : [""]),
    `${indent}[${tomlKey(tablePath)}]`,
    `${indent}${step}${tomlKeyPart(key)} = ${valueText}`,
  ];
  const atEnd = lines.slice(anchor + 1).every((l) => l.trim() === "");
  lines.splice(anchor + 1, 0, ...block);
  let result = lines.join("\n");
  // Keep the file's own ending: a final newline only where there was one (or nothing at all).
  if (atEnd && !result.endsWith("\n") && (text === "" || text.endsWith("\n"))) result += "\n";
  return { text: result, createdTables: [tablePath] };
}

/** Removes the statement of `path` (all its lines); the text is unchanged when it is absent. */
export function removeTomlValue(text: string, path: readonly string[]): string {
  const layout = readTomlLayout(text);
  const entry = layout.entries.find((e) => same(e.path, path));
  if (entry === undefined) return text;
  layout.lines.splice(entry.first, entry.last - entry.first + 1);
  return layout.lines.join("\n");
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
  const layout = readTomlLayout(text);
  const table = layout.tables.find((t) => !t.array && same(t.path, path));
  if (table === undefined) return text;
  if (
    layout.entries.some((e) =>
      same(e.table, path) || (!options.evenWithSubTables && startsWith(e.path, path))
    )
  ) {
    return text;
  }
  // A header of its own is not needed for sub-tables to exist ([a.b] implies [a]).
  if (
    !options.evenWithSubTables && layout.tables.some((t) => t !== table && startsWith(t.path, path))
  ) {
    return text;
  }
  const body = layout.lines.slice(table.header + 1, table.end + 1);
  if (body.some((l) => l.trim() !== "")) return text;
  // The header and the blank line that separates it from what comes before; the body's blank
  // lines stay, separating what came before from what follows.
  const first = table.header > 0 && layout.lines[table.header - 1].trim() === ""
    ? table.header - 1
    : table.header;
  layout.lines.splice(first, table.header - first + 1);
  return layout.lines.join("\n");
}
