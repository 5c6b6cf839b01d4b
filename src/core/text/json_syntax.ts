/**
 * Where a JSON document's first syntax error is. V8's `JSON.parse` messages do not always carry a
 * position and quote multi-line snippets; this scanner gives a line, a column and a one-line
 * description instead. It runs only after `JSON.parse` has failed, or to check for repeated keys.
 *
 * The scanner keeps its own stack of open objects and arrays instead of recursing, so a document
 * nested a hundred thousand levels deep is scanned like any other.
 *
 * @module
 */

import { type LineColumn, lineColumn } from "./line_column.ts";

/** The first syntax error of a JSON text. */
export interface JsonSyntaxError extends LineColumn {
  /** One line, e.g. `unexpected ","` or `unexpected end of the document`. */
  detail: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9A-Fa-f]{4}/y;
/** The characters JSON allows after a backslash, besides `u`. */
const SIMPLE_ESCAPES = '"\\/bfnrt';

/** An object or array that is open at the scanner's position. */
interface OpenContainer {
  close: "}" | "]";
  /** The keys seen so far (objects, with `uniqueKeys`). */
  keys?: Set<string>;
}

/**
 * Finds the first syntax error of `text` (strict JSON: no comments, no trailing commas, only the
 * escapes JSON defines); with `uniqueKeys`, a key repeated in one object is an error too
 * (JSON.parse keeps the last silently).
 *
 * @returns the error, or `undefined` when the text is valid JSON
 * @example
 * ```ts
 * findJsonSyntaxError('{\n  "a": ,\n}'); // { line: 2, column: 8, detail: 'unexpected ","' }
 * ```
 */
export function findJsonSyntaxError(
  text: string,
  options: { uniqueKeys?: boolean } = {},
): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const skipSpace = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c < " ") fail();
      if (c === "\\") escape();
      else i++;
    }
    fail();
  };
  const escape = () => {
    const next = text[i + 1];
    if (next === undefined) throw new JsonStop(i + 1);
    if (SIMPLE_ESCAPES.includes(next)) {
      i += 2;
      return;
    }
    if (next === "u") {
      HEX4.lastIndex = i + 2;
      if (HEX4.test(text)) {
        i += 6;
        return;
      }
      const digits = /^[0-9A-Fa-f]*/.exec(text.slice(i + 2, i + 6))![0];
      throw new JsonStop(i, `invalid escape "\\u${digits}": "\\u" takes four hex digits`);
    }
    throw new JsonStop(i, `invalid escape "\\${showable(next)}"`);
  };
  /** A key and its colon; `i` is at the key's opening quote (after spaces). */
  const key = (open: OpenContainer) => {
    skipSpace();
    if (text[i] !== '"') fail();
    const start = i;
    string();
    if (open.keys !== undefined) {
      const name = JSON.parse(text.slice(start, i)) as string;
      if (open.keys.has(name)) throw new JsonStop(start, `duplicate key ${JSON.stringify(name)}`);
      open.keys.add(name);
    }
    skipSpace();
    if (text[i] !== ":") fail();
    i++;
  };
  const scalar = () => {
    if (text[i] === '"') return string();
    NUMBER.lastIndex = i;
    if (NUMBER.test(text)) {
      i = NUMBER.lastIndex;
      return;
    }
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    fail();
  };
  const stack: OpenContainer[] = [];
  try {
    for (;;) {
      // A value is due here.
      skipSpace();
      const c = text[i];
      if (c === "{" || c === "[") {
        const close = c === "{" ? "}" : "]";
        i++;
        skipSpace();
        if (text[i] !== close) {
          const open: OpenContainer = {
            close,
            keys: options.uniqueKeys && close === "}" ? new Set() : undefined,
          };
          stack.push(open);
          if (close === "}") key(open);
          continue;
        }
        i++;
      } else scalar();
      // After a value: close what ends here, then go on with the next member or element.
      for (;;) {
        const open = stack.at(-1);
        skipSpace();
        if (open === undefined) {
          if (i < text.length) fail();
          return undefined;
        }
        if (text[i] === open.close) {
          i++;
          stack.pop();
          continue;
        }
        if (text[i] !== ",") fail();
        i++;
        if (open.close === "}") key(open);
        break;
      }
    }
  } catch (error) {
    if (!(error instanceof JsonStop)) throw error;
    const detail = error.detail ??
      (error.offset >= text.length
        ? "unexpected end of the document"
        : `unexpected "${showable(text[error.offset])}"`);
    return { ...lineColumn(text, error.offset), detail };
  }
}

/**
 * `text` as it can stand between double quotes in a one-line message: control characters, line
 * and paragraph separators, quotes, backslashes and lone surrogates escaped as in JSON.
 */
function showable(text: string): string {
  return JSON.stringify(text).slice(1, -1).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

class JsonStop {
  constructor(readonly offset: number, readonly detail?: string) {}
}
