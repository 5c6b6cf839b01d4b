/**
 * TOML documents, parsed and as text: what counts as a table and the value at a key path (for
 * parsed TOML and JSON), a copy that keeps TOML's date values, and the statement structure of the
 * text (headers and key/value lines with their line span) for the editors and for messages that
 * name a key's line.
 *
 * The statement reader is a scanner, not a validator: it is meant for text a TOML parser accepted,
 * and on any other text it still ends (every step consumes input) and never throws.
 *
 * @module
 */

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

/**
 * Sets `path` under `doc` (a key of any name, `__proto__` too, becomes an own key), making tables
 * of the steps that are missing or not tables.
 */
export function setAt(doc: Table, path: readonly string[], value: unknown): void {
  let current = doc;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(current, key) ? current[key] : undefined;
    if (!isTable(next)) defineKey(current, key, {});
    current = current[key] as Table;
  }
  defineKey(current, path[path.length - 1], value);
}

function defineKey(table: Table, key: string, value: unknown): void {
  Object.defineProperty(table, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/**
 * A deep copy of a parsed TOML value: tables and arrays are copied, dates are kept as they are
 * (`structuredClone` would turn a TOML local date into a plain `Date`, written back as a
 * date-time).
 */
export function cloneToml<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneToml) as T;
  if (!isTable(value)) return value;
  const copy: Table = {};
  for (const [key, item] of Object.entries(value)) defineKey(copy, key, cloneToml(item));
  return copy as T;
}

/** The first line of a smol-toml error, without its generic prefix (`Invalid TOML document: `). */
export function tomlErrorDetail(error: Error): string {
  return error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
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

/** A single-line string starting at the quote `text[at]`: its value and the offset past it. */
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

/** Past a single-line string starting at the quote `text[at]` (at a line feed if unclosed). */
function skipQuoted(text: string, at: number): number {
  const quote = text[at];
  let i = at + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === quote) return i + 1;
    if (c === "\n") return i;
    // An escape is two characters (a line feed never belongs to one here).
    i += c === "\\" && quote === '"' && text[i + 1] !== "\n" ? 2 : 1;
  }
  return text.length;
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
      } else i = skipQuoted(text, i);
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
