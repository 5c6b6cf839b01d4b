/**
 * Byte-preserving edits of a JSON document: set or remove one property and touch nothing else —
 * not the other keys' layout, not their order. New properties go after an object's last one, in
 * the object's own style (one line, or one property per line at its indentation) and with the
 * file's line endings.
 *
 * Every document is checked before it is edited: strict JSON (as `JSON.parse` and Go's
 * encoding/json read it), nested no deeper than {@link MAX_JSON_DEPTH} (jsonc-parser and the
 * walkers here recurse), and no key on the edited path repeated in its object — readers keep the
 * last of two equal keys while an edit would change the first, so it would silently not count.
 * Duplicates off the path stay as they are: they are not ours to judge, and readers see them as
 * before.
 *
 * @module
 */

import { type Node, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import { ConfigError, describePosition, quoted } from "../core/errors.ts";
import { findDepthExcess, MAX_JSON_DEPTH } from "../core/text/json_depth.ts";
import { findJsonSyntaxError } from "../core/text/json_syntax.ts";
import { type LineColumn, lineColumn } from "../core/text/line_column.ts";

/** Where a JSON text came from and who reads it, for the messages of its errors. */
export interface JsonTextOptions {
  /** The file the text is from (default `<JSON text>`). */
  file?: string;
  /** The program that reads the file and keeps the last of two equal keys (`dockerd`). */
  reader?: string;
}

/** jsonc-parser's error codes in words. */
const PARSE_ERRORS: Record<string, string> = {
  InvalidSymbol: "unexpected character",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "a property name was expected (a trailing comma?)",
  ValueExpected: "a value was expected",
  ColonExpected: "a colon was expected",
  CommaExpected: "a comma was expected",
  CloseBraceExpected: "a closing brace was expected",
  CloseBracketExpected: "a closing bracket was expected",
  EndOfFileExpected: "text after the end of the document",
  InvalidCommentToken: "comments are not allowed in JSON",
  UnexpectedEndOfComment: "unterminated comment",
  UnexpectedEndOfString: "unterminated string",
  UnexpectedEndOfNumber: "unterminated number",
  InvalidUnicode: "invalid unicode escape",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character in a string",
};

function fileOf(options: JsonTextOptions): string {
  return options.file ?? "<JSON text>";
}

function syntaxError(position: LineColumn, detail: string, options: JsonTextOptions): ConfigError {
  const where = { path: fileOf(options), line: position.line, column: position.column };
  const readers = options.reader ? ` (${options.reader} rejects it too)` : "";
  return new ConfigError(
    `Cannot parse ${describePosition(where)}: ${detail}: fix the JSON${readers} and re-run`,
    where,
  );
}

/** A strict JSON document, parsed. */
export interface ParsedJson {
  /** jsonc-parser's tree: the offsets of every key and value. */
  tree: Node;
  /** The value, as `JSON.parse` reads it (of equal keys, the last counts). */
  value: unknown;
}

/**
 * Parses a strict JSON document into jsonc-parser's tree and its value.
 *
 * @throws {ConfigError} with line and column for nesting deeper than {@link MAX_JSON_DEPTH}
 *   (checked first, without recursion) and for any syntax error
 */
export function parseJsonDocument(text: string, options: JsonTextOptions = {}): ParsedJson {
  const deep = findDepthExcess(text, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    const where = { path: fileOf(options), line: deep.line, column: deep.column };
    throw new ConfigError(
      `Cannot parse ${describePosition(where)}: the document nests deeper than ${deep.limit} ` +
        `levels here, more than any configuration needs: fix the file and re-run`,
      where,
    );
  }
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length > 0 || tree === undefined) {
    const code = errors[0] ? printParseErrorCode(errors[0].error) : "ValueExpected";
    const detail = PARSE_ERRORS[code] ?? code;
    throw syntaxError(lineColumn(text, errors[0]?.offset ?? 0), detail, options);
  }
  // jsonc-parser is the position finder, JSON.parse the judge of what JSON is: a text one
  // accepts and the other does not is refused rather than edited.
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const found = findJsonSyntaxError(text);
    throw syntaxError(found ?? { line: 1, column: 1 }, found?.detail ?? "not valid JSON", options);
  }
  return { tree, value };
}

/** The key of a property node. */
function keyOf(property: Node): unknown {
  return property.children?.[0]?.value;
}

/**
 * The property `key` of an object node, refusing a key that appears twice: readers keep the
 * last, an edit of the first would not count.
 */
function property(
  text: string,
  object: Node,
  path: readonly string[],
  depth: number,
  options: JsonTextOptions,
): Node | undefined {
  const key = path[depth];
  const found = (object.children ?? []).filter((p) => keyOf(p) === key);
  if (found.length > 1) {
    const [first, second] = found.map((p) => lineColumn(text, p.offset));
    const where = { path: fileOf(options), ...second };
    const reader = options.reader ?? "a JSON reader";
    const lines = first.line === second.line
      ? `on line ${first.line} (columns ${first.column} and ${second.column})`
      : `lines ${first.line} and ${second.line}`;
    throw new ConfigError(
      `Cannot update ${describePosition({ path: where.path })}: ` +
        `${quoted(path.slice(0, depth + 1).join("."))} appears twice, ${lines}: ${reader} ` +
        `reads the last, so an edit of the first would not count: remove one and re-run`,
      where,
    );
  }
  return found[0];
}

/**
 * Refuses a key on `path` that appears twice in its object (where the path leads through
 * objects).
 *
 * @throws {ConfigError} naming the file, the key and both lines
 */
export function assertUniquePath(
  text: string,
  path: readonly string[],
  options: JsonTextOptions = {},
): void {
  let node: Node | undefined = parseJsonDocument(text, options).tree;
  for (let depth = 0; depth < path.length && node?.type === "object"; depth++) {
    node = property(text, node, path, depth, options)?.children?.[1];
  }
}

/** The file's indentation unit (`"  "`, `"\t"`…). */
export function indentUnit(text: string): string {
  return /\n([ \t]+)"/.exec(text)?.[1] ?? "  ";
}

/** The file's line ending: CRLF when its first line break is one. */
function lineEnding(text: string): string {
  const lf = text.indexOf("\n");
  return lf > 0 && text[lf - 1] === "\r" ? "\r\n" : "\n";
}

function lineIndent(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/**
 * Writes a value at an indentation: objects one property per line in the file's unit, lists of
 * plain values on one line (`["--debug"]`), as people write daemon.json. Line breaks are `\n`;
 * {@link withEnding} turns them into the file's.
 */
function render(value: unknown, indent: string, unit: string, inline: boolean): string {
  if (Array.isArray(value)) {
    const plain = value.every((v) => typeof v !== "object" || v === null);
    if (inline || plain) return `[${value.map((v) => render(v, indent, unit, true)).join(", ")}]`;
    const inner = indent + unit;
    return `[\n${value.map((v) => inner + render(v, inner, unit, false)).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    if (inline) {
      return `{ ${
        entries.map(([k, v]) => `${JSON.stringify(k)}: ${render(v, indent, unit, true)}`).join(", ")
      } }`;
    }
    const inner = indent + unit;
    const lines = entries.map(([k, v]) =>
      `${inner}${JSON.stringify(k)}: ${render(v, inner, unit, false)}`
    );
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** Rendered text with the file's line ending (JSON.stringify leaves no raw line break in it). */
function withEnding(rendered: string, eol: string): string {
  return eol === "\n" ? rendered : rendered.replaceAll("\n", eol);
}

/** Nests `value` under the keys of `path` (`["a", "b"]`, 1 → `{"a": {"b": 1}}`). */
function nested(path: readonly string[], value: unknown): unknown {
  let result = value;
  for (const key of [...path].reverse()) result = { [key]: result };
  return result;
}

function notAnObject(text: string, root: Node, options: JsonTextOptions): ConfigError {
  const where = { path: fileOf(options), ...lineColumn(text, root.offset) };
  return new ConfigError(
    `Cannot update ${describePosition(where)}: the document is ${describeType(root)}, ` +
      `expected an object: fix the file and re-run`,
    where,
  );
}

/** "an array", "a string"… for messages. */
export function describeType(node: Node): string {
  return node.type === "array" || node.type === "object" ? `an ${node.type}` : `a ${node.type}`;
}

/**
 * Sets `path` to `value`, creating missing objects on the way (and replacing a non-object that is
 * in the way).
 *
 * @example
 * ```ts
 * setJsonValue('{\n  "a": 1\n}\n', ["b"], true); // '{\n  "a": 1,\n  "b": true\n}\n'
 * ```
 * @throws {ConfigError} for text that is not strict JSON, nests too deeply, is not an object, or
 *   repeats a key of `path` in its object
 */
export function setJsonValue(
  text: string,
  path: readonly string[],
  value: unknown,
  options: JsonTextOptions = {},
): string {
  const unit = indentUnit(text);
  const eol = lineEnding(text);
  const root = parseJsonDocument(text, options).tree;
  if (root.type !== "object") throw notAnObject(text, root, options);
  let node = root;
  for (let depth = 0; depth < path.length; depth++) {
    const found = property(text, node, path, depth, options);
    if (found === undefined) {
      // Insert the rest of the path as one new property of this object.
      const inserted = nested(path.slice(depth + 1), value);
      return insertProperty(text, node, path[depth], inserted, { unit, eol });
    }
    const valueNode = found.children![1];
    if (depth === path.length - 1 || valueNode.type !== "object") {
      // The value itself, or a non-object in the way: replaced by what the rest of the path needs.
      const replacement = nested(path.slice(depth + 1), value);
      const indent = lineIndent(text, found.offset);
      const inline =
        !text.slice(valueNode.offset, valueNode.offset + valueNode.length).includes("\n") &&
        !text.slice(node.offset, node.offset + node.length).includes("\n");
      return text.slice(0, valueNode.offset) +
        withEnding(render(replacement, indent, unit, inline), eol) +
        text.slice(valueNode.offset + valueNode.length);
    }
    node = valueNode;
  }
  return text;
}

function insertProperty(
  text: string,
  object: Node,
  key: string,
  value: unknown,
  style: { unit: string; eol: string },
): string {
  const { unit, eol } = style;
  const body = text.slice(object.offset, object.offset + object.length);
  const last = object.children?.[object.children.length - 1];
  const close = object.offset + object.length - 1;
  if (!body.includes("\n") && last !== undefined) {
    // One-line object: stay on one line.
    const end = last.offset + last.length;
    return `${text.slice(0, end)}, ${JSON.stringify(key)}: ${render(value, "", unit, true)}${
      text.slice(end)
    }`;
  }
  if (last === undefined) {
    const indent = lineIndent(text, object.offset);
    const inner = indent + unit;
    const inserted = `\n${inner}${JSON.stringify(key)}: ${render(value, inner, unit, false)}\n`;
    return `${text.slice(0, object.offset + 1)}${withEnding(inserted, eol)}${indent}${
      text.slice(close)
    }`;
  }
  const indent = lineIndent(text, last.offset);
  const end = last.offset + last.length;
  const inserted = `,\n${indent}${JSON.stringify(key)}: ${render(value, indent, unit, false)}`;
  return `${text.slice(0, end)}${withEnding(inserted, eol)}${text.slice(end)}`;
}

/**
 * Removes the property at `path`; the text is unchanged when it is absent (or something on the
 * way is not an object).
 *
 * @throws {ConfigError} for text that is not strict JSON, nests too deeply, or repeats a key of
 *   `path` in its object
 */
export function removeJsonValue(
  text: string,
  path: readonly string[],
  options: JsonTextOptions = {},
): string {
  let object = parseJsonDocument(text, options).tree;
  if (path.length === 0) return text;
  for (let depth = 0; depth < path.length; depth++) {
    if (object.type !== "object") return text;
    const found = property(text, object, path, depth, options);
    if (found === undefined) return text;
    if (depth < path.length - 1) {
      object = found.children![1];
      continue;
    }
    const children = object.children!;
    const index = children.indexOf(found);
    if (children.length === 1) {
      // The object becomes empty: `{}`.
      return text.slice(0, object.offset + 1) + text.slice(object.offset + object.length - 1);
    }
    if (index < children.length - 1) {
      // Up to the next property, so its line keeps its indentation.
      return text.slice(0, found.offset) + text.slice(children[index + 1].offset);
    }
    // The last one: from the end of the one before, taking the comma with it.
    const previous = children[index - 1];
    return text.slice(0, previous.offset + previous.length) +
      text.slice(found.offset + found.length);
  }
  return text;
}
