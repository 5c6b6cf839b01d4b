/**
 * TOML documents, parsed and as text: parsing (smol-toml, a syntax error as one
 * {@link ConfigError} with line and column), what counts as a table and the value at a key path
 * (for parsed TOML and JSON), and the statement structure of the text (headers and key/value
 * lines with their line span) for the editors and for messages that name a key's line.
 *
 * The statement reader is a scanner, not a validator: it is meant for text a TOML parser accepted,
 * and on any other text it still ends (every step consumes input) and never throws.
 *
 * @module
 */

import { parse, TomlError } from "smol-toml";
import { ConfigError, describePosition } from "../errors.ts";

/** A table of a parsed document. */
export type Table = Record<string, unknown>;

/** Whether a parsed value is a table (not an array, not a TOML date). */
export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

/**
 * The value at `path` under `doc`, `undefined` when a step is missing or not a table. Only own
 * keys count (`constructor` is not a key of every table).
 */
export function getAt(doc: unknown, path: readonly string[]): unknown {
  let current = doc;
  for (const key of path) {
    current = isTable(current) && Object.hasOwn(current, key) ? current[key] : undefined;
  }
  return current;
}

/** The words of {@link parseTomlDocument}'s messages, where callers' differ. */
export interface TomlDocumentOptions {
  /** How they start (default `Cannot parse`). */
  action?: string;
  /** The fix of a syntax error (default `fix the TOML syntax`). */
  fix?: string;
  /** The fix when the parser itself fails (default `check the file's syntax`). */
  check?: string;
}

/**
 * Parses a TOML document with smol-toml (its tables have a null prototype).
 *
 * @throws {ConfigError} naming `path`, and the line and column of a syntax error
 */
export function parseTomlDocument(
  text: string,
  path: string,
  options: TomlDocumentOptions = {},
): Table {
  const {
    action = "Cannot parse",
    fix = "fix the TOML syntax",
    check = "check the file's syntax",
  } = options;
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) {
      // The parser failing otherwise (a bug of its own) is still this file's problem to report.
      throw new ConfigError(
        `${action} "${path}": the TOML parser failed (${String(error).split("\n")[0]}): ` +
          `${check} and re-run`,
        { path },
        { cause: error },
      );
    }
    // smol-toml's first line, without its generic prefix.
    const detail = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    const where = { path, line: error.line, column: error.column };
    throw new ConfigError(
      `${action} ${describePosition(where)}: ${detail}: ${fix} and re-run`,
      where,
      {
        cause: error,
      },
    );
  }
}

/** One statement of TOML text: a `[table]` or `[[array]]` header, or a key/value. */
export interface TomlStatement {
  kind: "table" | "array" | "value";
  /** The header's key, or the key/value's own (dotted) key, unquoted. */
  key: string[];
  /** First and last line (0-based) of the statement; a value can span lines. */
  first: number;
  last: number;
  /** Key/values: offsets in the text of the `=` and of the value's first and past-last character. */
  equals: number;
  valueStart: number;
  valueEnd: number;
  /** Key/values: the value is an inline table (`{ … }`). */
  inline: boolean;
  /** Offset of the comment (`#`) after the statement on its last line; -1 when there is none. */
  comment: number;
}

const ESCAPES: Readonly<Record<string, string>> = {
  b: "\b",
  t: "\t",
  n: "\n",
  f: "\f",
  r: "\r",
  e: "\x1b",
  '"': '"',
  "\\": "\\",
};

const HEX_DIGITS: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

function isBare(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x5f;
}

function skipBlank(text: string, from: number): number {
  let i = from;
  for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09; c = text.charCodeAt(i)) i++;
  return i;
}

/** The offset of the next line feed (the end of the line), or the text's length. */
function lineEnd(text: string, from: number): number {
  const i = text.indexOf("\n", from);
  return i < 0 ? text.length : i;
}

/**
 * One escape of a basic string at `text[at] === "\\"`: what it stands for and where it ends. An
 * escape TOML does not define, or a code point that is not a Unicode scalar value, reads as
 * U+FFFD (the parser rejects such text anyway); the end is always past the backslash.
 */
function readTomlEscape(text: string, at: number): { value: string; end: number } {
  const kind = text[at + 1];
  if (kind === undefined || kind === "\n") return { value: "", end: at + 1 };
  if (Object.hasOwn(ESCAPES, kind)) return { value: ESCAPES[kind], end: at + 2 };
  const digits = HEX_DIGITS[kind];
  if (digits === undefined) return { value: "\uFFFD", end: at + 2 };
  const hex = text.slice(at + 2, at + 2 + digits);
  if (hex.length !== digits || !/^[0-9A-Fa-f]+$/.test(hex)) return { value: "\uFFFD", end: at + 2 };
  const code = parseInt(hex, 16);
  const scalar = code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
  return { value: scalar ? String.fromCodePoint(code) : "\uFFFD", end: at + 2 + digits };
}

/**
 * A single-line string starting at the quote `text[at]`: its value and the offset past it (at
 * the line feed when it is not closed).
 */
function readQuoted(text: string, at: number): { value: string; end: number } {
  const quote = text[at];
  const basic = quote === '"';
  let value = "";
  let from = at + 1;
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === quote) return { value: value + text.slice(from, i), end: i + 1 };
    if (c === "\n") break;
    if (c === "\\" && basic) {
      const escape = readTomlEscape(text, i);
      value += text.slice(from, i) + escape.value;
      i = from = escape.end;
    } else i++;
  }
  return { value: value + text.slice(from, i), end: i };
}

/** A dotted key from `at`: its parts, unquoted, and the offset past it (0 parts: no key there). */
export function readTomlKey(text: string, at: number): { parts: string[]; end: number } {
  const parts: string[] = [];
  let i = at;
  while (i < text.length) {
    const start = skipBlank(text, i);
    const c = text[start];
    if (c === '"' || c === "'") {
      const part = readQuoted(text, start);
      parts.push(part.value);
      i = part.end;
    } else if (isBare(text.charCodeAt(start))) {
      let j = start + 1;
      while (isBare(text.charCodeAt(j))) j++;
      parts.push(text.slice(start, j));
      i = j;
    } else break;
    const next = skipBlank(text, i);
    if (text[next] !== ".") break;
    i = next + 1;
  }
  return { parts, end: i };
}

/** Past the closing `"""` / `'''` of a multi-line string opened at `at`; counts its line feeds. */
function skipMultiLine(text: string, at: number): { end: number; newlines: number } {
  const quote = text[at];
  const close = quote.repeat(3);
  let newlines = 0;
  let i = at + 3;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && quote === '"') {
      if (text[i + 1] === "\n") newlines++;
      i += 2;
    } else if (text.startsWith(close, i)) {
      // Up to two more quotes belong to the string: `"""a"""""` is `a""`.
      let end = i + 3;
      while (end < i + 5 && text[end] === quote) end++;
      return { end, newlines };
    } else {
      if (c === "\n") newlines++;
      i++;
    }
  }
  return { end: text.length, newlines };
}

/**
 * A value from `at`: the offset past its last character, the line feeds inside it (multi-line
 * strings, arrays and inline tables span lines) and whether it is an inline table.
 */
function skipValue(text: string, at: number): { end: number; newlines: number; inline: boolean } {
  let depth = 0;
  let newlines = 0;
  let end = at;
  // The line feeds before `end` (an unclosed array's trailing ones are not the value's).
  let newlinesToEnd = 0;
  let i = at;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'") {
      if (text[i + 1] === c && text[i + 2] === c) {
        const string = skipMultiLine(text, i);
        newlines += string.newlines;
        i = string.end;
      } else i = readQuoted(text, i).end;
      end = i;
      newlinesToEnd = newlines;
    } else if (c === "\n" || c === "#") {
      if (depth === 0) break;
      if (c === "\n") {
        newlines++;
        i++;
      } else i = lineEnd(text, i);
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else {
      if (c === "[" || c === "{") depth++;
      else if ((c === "]" || c === "}") && depth > 0) depth--;
      i++;
      end = i;
      newlinesToEnd = newlines;
    }
  }
  return { end, newlines: newlinesToEnd, inline: text[at] === "{" };
}

/**
 * The statements of TOML text, in order (a leading byte-order mark is skipped). Lines that hold
 * no statement (blank, comments) are not listed; a line the scanner cannot read is skipped.
 * Each turn of every loop here moves past at least one character, so it ends on any text.
 */
export function readTomlStatements(text: string): TomlStatement[] {
  const statements: TomlStatement[] = [];
  let i = text.startsWith("\uFEFF") ? 1 : 0;
  let line = 0;
  while (i < text.length) {
    const start = skipBlank(text, i);
    const c = text[start];
    if (c === undefined) break;
    if (c === "\n") {
      line++;
      i = start + 1;
      continue;
    }
    if (c === "[") {
      const array = text[start + 1] === "[";
      const key = readTomlKey(text, start + (array ? 2 : 1));
      let after = skipBlank(text, key.end);
      if (text.startsWith(array ? "]]" : "]", after)) {
        after = skipBlank(text, after + (array ? 2 : 1));
      }
      statements.push({
        kind: array ? "array" : "table",
        key: key.parts,
        first: line,
        last: line,
        equals: -1,
        valueStart: -1,
        valueEnd: -1,
        inline: false,
        comment: text[after] === "#" ? after : -1,
      });
      i = lineEnd(text, after);
      continue;
    }
    const key = c === "#" ? { parts: [], end: start } : readTomlKey(text, start);
    const equals = skipBlank(text, key.end);
    if (key.parts.length === 0 || text[equals] !== "=") {
      // A comment, or nothing a statement starts with: the rest of the line.
      i = Math.max(lineEnd(text, start), start + 1);
      continue;
    }
    const valueStart = skipBlank(text, equals + 1);
    const value = skipValue(text, valueStart);
    const after = skipBlank(text, value.end);
    statements.push({
      kind: "value",
      key: key.parts,
      first: line,
      last: line + value.newlines,
      equals,
      valueStart,
      valueEnd: value.end,
      inline: value.inline,
      comment: text[after] === "#" ? after : -1,
    });
    line += value.newlines;
    i = Math.max(lineEnd(text, after), value.end);
  }
  return statements;
}

/**
 * The 1-based line where a dotted key (or table header) is defined, found from the statements of
 * the text (quoted and escaped key parts, multi-line values and all); `undefined` when the text
 * does not say. The n-th table of an array of tables (`[[a.b]]`) is addressed with its index:
 * `a.b.1.key`.
 */
export function findTomlKeyLine(text: string, key: string): number | undefined {
  const want = key.split(".");
  const same = (parts: string[]) =>
    parts.length === want.length && parts.every((p, i) => p === want[i]);
  let table: string[] = [];
  const arrayTables = new Map<string, number>();
  for (const statement of readTomlStatements(text)) {
    if (statement.kind !== "value") {
      table = statement.key;
      if (statement.kind === "array") {
        const name = JSON.stringify(table);
        const index = arrayTables.get(name) ?? 0;
        arrayTables.set(name, index + 1);
        table = [...table, String(index)];
      }
      if (same(table)) return statement.first + 1;
      continue;
    }
    const full = [...table, ...statement.key];
    if (same(full) || (full.length > want.length && same(full.slice(0, want.length)))) {
      return statement.first + 1;
    }
  }
  return undefined;
}
