/**
 * How deeply a JSON (or YAML flow) text nests, found without recursion, so that documents nested
 * deeper than any real config are refused with one line before a recursive walker (ours, a
 * library's) runs out of stack on them.
 *
 * @module
 */

import type { LineColumn } from "./line_column.ts";

/** Deeper than any config, spec or state a container engine writes; far below the stack limit. */
export const MAX_JSON_DEPTH = 512;

/** Where a text first nests deeper than allowed. */
export interface DepthExcess extends LineColumn {
  /** The limit that was passed. */
  limit: number;
}

/**
 * Finds the first `[` or `{` (outside strings) that opens level `limit + 1`.
 *
 * @returns where it is, or `undefined` when the text stays within the limit
 * @example
 * ```ts
 * findDepthExcess("[[[1]]]", 2); // { line: 1, column: 3, limit: 2 }
 * ```
 */
export function findDepthExcess(text: string, limit = MAX_JSON_DEPTH): DepthExcess | undefined {
  // No text nests deeper than it has opening brackets; counting them is native work, so a spec of
  // a few kilobytes is not walked character by character on every container create.
  if (openerCount(text, limit + 1) <= limit) return undefined;
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      line++;
      lineStart = i + 1;
      // A YAML/TOML-style single-line string ends at the line's end; JSON's cannot span lines.
      quote = undefined;
      continue;
    }
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"') quote = c;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth > limit) return { line, column: i - lineStart + 1, limit };
    } else if (c === "]" || c === "}") depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** How many `[` and `{` the text holds (inside strings too), counted up to `stop`. */
function openerCount(text: string, stop: number): number {
  const opener = /[[{]/g;
  let count = 0;
  while (count < stop && opener.exec(text) !== null) count++;
  return count;
}
