/**
 * The fuzz worker: runs one target on one input per message and says how it ended — `ok`,
 * `typed` (a tool error, the closed set the tools report as one line), `invariant` (the target
 * found a broken property) or `crash` (anything else: TypeError, RangeError, SyntaxError, …).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { ToolError } from "../../src/core/errors.ts";
import { type CaseOutcome, InvariantError } from "./fuzz.ts";

type Target = (input: string) => unknown;
const loaded = new Map<string, Target>();

self.onmessage = async (
  event: MessageEvent<{ id: number; module: string; exportName: string; input: string }>,
) => {
  const { id, module, exportName, input } = event.data;
  const key = `${module}#${exportName}`;
  let target = loaded.get(key);
  if (target === undefined) {
    const exports = await import(module) as Record<string, unknown>;
    if (typeof exports[exportName] !== "function") {
      self.postMessage({ id, outcome: "crash", detail: `${key} is not a function` });
      return;
    }
    target = exports[exportName] as Target;
    loaded.set(key, target);
  }
  let answer: CaseOutcome;
  try {
    await target(input);
    answer = { id, outcome: "ok" };
  } catch (error) {
    if (error instanceof InvariantError) {
      answer = { id, outcome: "invariant", detail: error.message };
    } else if (error instanceof ToolError) {
      const lines = error.message.split("\n").length;
      answer = lines === 1
        ? { id, outcome: "typed" }
        : { id, outcome: "invariant", detail: `a ${lines}-line message: ${error.message}` };
    } else {
      const detail = error instanceof Error
        ? `${error.name}: ${error.message.split("\n")[0]}`
        : String(error);
      answer = { id, outcome: "crash", detail };
    }
  }
  self.postMessage(answer);
};
