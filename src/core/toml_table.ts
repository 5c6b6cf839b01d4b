/**
 * Walking parsed TOML (and JSON) documents: what counts as a table, and the value at a key path.
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

/** The value at `path` under `doc`, `undefined` when a step is missing or not a table. */
export function getAt(doc: unknown, path: readonly string[]): unknown {
  let current = doc;
  for (const key of path) current = isTable(current) ? current[key] : undefined;
  return current;
}

/** The first line of a smol-toml error, without its generic prefix (`Invalid TOML document: `). */
export function tomlErrorDetail(error: Error): string {
  return error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
}
