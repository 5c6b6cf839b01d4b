/**
 * Undoing a change that failed half-way: every step of the undo is tried, whatever the ones
 * before it did, and what could not be undone is added to the error that caused the undo, so an
 * operator learns both why the change failed and what it left behind.
 *
 * @module
 */

import { errorMessage, ExecError } from "../core/errors.ts";

/**
 * Runs each step, on to the next whatever one throws.
 *
 * @returns one message per step that threw, in order
 */
export function runEach(steps: readonly (() => void)[]): string[] {
  const problems: string[] = [];
  for (const step of steps) {
    try {
      step();
    } catch (error) {
      problems.push(errorMessage(error));
    }
  }
  return problems;
}

/**
 * The error to report for a change that failed with `error` and whose undo met `problems`: the
 * error itself when the undo was complete, else one line with both and what to do.
 */
export function withUndoProblems(
  error: unknown,
  problems: readonly string[],
  what: string,
): unknown {
  if (problems.length === 0) return error;
  return new ExecError(
    `${errorMessage(error)}; undoing it failed too (${problems.join("; ")}): ` +
      `${what} may hold part of the change: see "xpu-ctk device list" for it`,
    { cause: error },
  );
}
