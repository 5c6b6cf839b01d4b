/**
 * Golden files: an output compared byte for byte with a file under `fixtures/`; `null` output
 * means "no file". `XPU_UPDATE_GOLDEN=1` rewrites (or removes) the files instead.
 *
 * @module
 */

import { strictEqual } from "node:assert/strict";

const UPDATE = Deno.env.get("XPU_UPDATE_GOLDEN") === "1";

function read(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Compares `actual` with the golden file at `path` (or updates it). */
export function assertGolden(path: string, actual: string | null): void {
  if (UPDATE) {
    if (actual === null) {
      try {
        Deno.removeSync(path);
      } catch {
        // Already absent.
      }
    } else Deno.writeTextFileSync(path, actual);
  }
  strictEqual(actual, read(path), `golden file "${path}"`);
}

/** Reads a fixture, `null` when absent. */
export function readFixture(path: string): string | null {
  return read(path);
}
