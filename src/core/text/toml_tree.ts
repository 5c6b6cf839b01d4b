/**
 * Building parsed TOML trees: setting the value at a key path and copying a tree, with every key
 * an own key (`__proto__` too) and TOML's date values kept. Only the engines build trees, so this
 * is kept apart from `toml_table.ts`, which the runtime shim loads for every container operation.
 *
 * @module
 */

import { isTable, type Table } from "./toml_table.ts";

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
