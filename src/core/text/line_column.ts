/**
 * Where an offset of a text is, as messages name it: line and column. Parsers and scanners give
 * offsets (jsonc-parser's nodes and errors, the JSON scanner's stop, `yaml`'s lexemes); this is
 * the one conversion to the position a message names.
 *
 * @module
 */

/** A position in a text, as messages give it. */
export interface LineColumn {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

/**
 * The line and column of `offset` in `text` (lines end at `\n`).
 *
 * @example
 * ```ts
 * lineColumn('{\n  "a": ,\n}', 9); // { line: 2, column: 8 }
 * ```
 */
export function lineColumn(text: string, offset: number): LineColumn {
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
}
