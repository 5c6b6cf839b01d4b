/**
 * Where a JSON document's first syntax error is. V8's `JSON.parse` messages do not always carry a
 * position and quote multi-line snippets; this scanner gives a line, a column and a one-line
 * description instead. It runs only after `JSON.parse` has failed.
 *
 * @module
 */

/** The first syntax error of a JSON text. */
export interface JsonSyntaxError {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  /** One line, e.g. `unexpected ","` or `unexpected end of the document`. */
  detail: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Finds the first syntax error of `text` (strict JSON: no comments, no trailing commas); with
 * `uniqueKeys`, a key repeated in one object is an error too (JSON.parse keeps the last silently).
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
      i += c === "\\" ? 2 : 1;
    }
    fail();
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      skipSpace();
      if (text[i] === close) {
        i++;
        return;
      }
      const keys = new Set<string>();
      for (;;) {
        if (close === "}") {
          skipSpace();
          if (text[i] !== '"') fail();
          const start = i;
          string();
          if (options.uniqueKeys) {
            const key = JSON.parse(text.slice(start, i)) as string;
            if (keys.has(key)) throw new JsonStop(start, `duplicate key ${JSON.stringify(key)}`);
            keys.add(key);
          }
          skipSpace();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        skipSpace();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '"') return string();
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
  try {
    value();
    skipSpace();
    if (i < text.length) fail();
    return undefined;
  } catch (error) {
    if (!(error instanceof JsonStop)) throw error;
    const before = text.slice(0, error.offset);
    const line = before.split("\n").length;
    const column = error.offset - before.lastIndexOf("\n");
    const detail = error.detail ??
      (error.offset >= text.length
        ? "unexpected end of the document"
        : `unexpected ${JSON.stringify(text[error.offset])}`);
    return { line, column, detail };
  }
}

class JsonStop {
  constructor(readonly offset: number, readonly detail?: string) {}
}
