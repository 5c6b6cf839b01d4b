/**
 * Fuzz targets for daemon.json: `configureDocker`, configure-then-unconfigure, and the
 * byte-preserving `setJsonValue` / `removeJsonValue` under them. Each runs every request (or
 * edit) of its table on the input and checks, against `JSON.parse` as the oracle:
 *
 * - an accepted input is JSON (or blank), and a refusal is a one-line tool error (the worker
 *   checks that) — never a document `JSON.parse` reads with nothing wrong in it;
 * - the output parses and equals the input document with exactly the intended keys set or
 *   removed; a second configure changes nothing;
 * - configure → unconfigure gives the input back: byte for byte when the file was not touched in
 *   between, as a document when an unrelated key was edited in between — except that a default
 *   runtime the file did not name comes back as an explicit `"runc"` (dockerd keeps a default
 *   whose key vanished).
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import { findDepthExcess } from "../../src/core/text/json_depth.ts";
import { findJsonSyntaxError } from "../../src/core/text/json_syntax.ts";
import { configureDocker, unconfigureDocker } from "../../src/engines/docker.ts";
import { type ConfigureRequest, operatorHandlers } from "../../src/engines/engine_edit.ts";
import { removeJsonValue, setJsonValue } from "../../src/engines/json_edit.ts";
import { InvariantError } from "../helpers/fuzz.ts";

const FILE = "/etc/docker/daemon.json";

type Doc = Record<string, unknown>;

/** The requests every configure target runs (names that fixtures use too: xpu, crun, runc). */
export const REQUESTS: readonly ConfigureRequest[] = [
  {
    handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }],
    defaultRuntime: "xpu",
    cdi: true,
  },
  { handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }], cdi: false },
  { handlers: operatorHandlers("/usr/local/xpu/toolkit"), defaultRuntime: "xpu", cdi: false },
  { handlers: [{ name: "crun", path: "/usr/bin/crun" }], defaultRuntime: "crun", cdi: true },
];

/** The edits the json_edit targets run. */
export const EDITS: readonly { path: string[]; value: unknown }[] = [
  { path: ["runtimes", "xpu"], value: { path: "/usr/bin/xpu-container-runtime", runtimeArgs: [] } },
  { path: ["default-runtime"], value: "xpu" },
  { path: ["features", "cdi"], value: true },
  { path: ["a", "b", "c"], value: [1, { d: null }, "\u2028\ud800"] },
  { path: ["__proto__"], value: { polluted: true } },
  { path: [""], value: {} },
];

const isObject = (v: unknown): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v);

const isBlank = (text: string) => /^[ \t\r\n]*$/.test(text);

function fail(what: string, detail?: unknown): never {
  const shown = detail === undefined ? "" : `: ${JSON.stringify(detail)?.slice(0, 400)}`;
  throw new InvariantError(`${what}${shown}`);
}

/** Parses an output the target produced: it must be JSON. */
function parseOutput(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(`${what} is not JSON (${(error as Error).message})`, text.slice(0, 200));
  }
}

/** Defines a key (also `__proto__`) as an own property. */
function define(object: Doc, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Sets `path` in a parsed document, making objects of whatever is in the way. */
function setAt(doc: Doc, path: readonly string[], value: unknown): void {
  let current = doc;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(current, key) ? current[key] : undefined;
    if (!isObject(next)) define(current, key, {});
    current = current[key] as Doc;
  }
  define(current, path[path.length - 1], value);
}

function removeAt(doc: Doc, path: readonly string[]): void {
  let current: unknown = doc;
  for (const key of path.slice(0, -1)) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return;
    current = current[key];
  }
  if (isObject(current)) delete current[path[path.length - 1]];
}

function hasNonFinite(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === "number" && !Number.isFinite(v)) return true;
    if (typeof v === "object" && v !== null) pending.push(...Object.values(v));
  }
  return false;
}

/**
 * What dockerd makes of a text, independently of the code under test: the document, or why it
 * is refused. `undefined` document with `unsure` when only a duplicate key somewhere makes the
 * difference (JSON.parse cannot see where it is).
 */
function oracle(input: string): { doc?: Doc; refused?: string; unsure?: boolean } {
  if (isBlank(input)) return { doc: {} };
  if (input.startsWith("\uFEFF")) return { refused: "BOM" };
  if (findDepthExcess(input) !== undefined) return { refused: "depth" };
  let doc: unknown;
  try {
    doc = JSON.parse(input);
  } catch {
    return { refused: "syntax" };
  }
  if (!isObject(doc)) return { refused: "not an object" };
  if (hasNonFinite(doc)) return { refused: "number out of range" };
  const runtimes = doc.runtimes;
  if (runtimes !== undefined && !isObject(runtimes)) return { refused: "runtimes" };
  if (isObject(runtimes) && !Object.values(runtimes).every(isObject)) return { refused: "handler" };
  const d = doc["default-runtime"];
  if (d !== undefined && typeof d !== "string") return { refused: "default-runtime" };
  if (doc.features !== undefined && !isObject(doc.features)) return { refused: "features" };
  const unsure = findJsonSyntaxError(input, { uniqueKeys: true }) !== undefined;
  return { doc, unsure };
}

/** The input document with a request configured. */
function configured(input: string, request: ConfigureRequest): Doc {
  const doc = isBlank(input) ? {} : JSON.parse(input) as Doc;
  for (const h of request.handlers) {
    setAt(doc, ["runtimes", h.name], { path: h.path, runtimeArgs: [] });
  }
  if (request.defaultRuntime) setAt(doc, ["default-runtime"], request.defaultRuntime);
  if (request.cdi) setAt(doc, ["features", "cdi"], true);
  return doc;
}

/** Runs `attempt`; a refusal of a document the oracle accepts (for sure) is an invariant. */
function expectAccepted<T>(input: string, attempt: () => T): T | undefined {
  const verdict = oracle(input);
  try {
    const result = attempt();
    if (verdict.refused) fail(`accepted a document dockerd refuses (${verdict.refused})`);
    return result;
  } catch (error) {
    if (error instanceof InvariantError) throw error;
    if (verdict.doc !== undefined && !verdict.unsure) {
      fail(`refused a document dockerd accepts: ${(error as Error).message}`);
    }
    throw error;
  }
}

/** `configureDocker` on the input: the output is the input plus the request, and stable. */
export function configure(input: string): void {
  let refusal: unknown;
  for (const request of REQUESTS) {
    try {
      const change = expectAccepted(input, () => configureDocker(FILE, input, request, undefined))!;
      const text = change.after ?? fail("configure removed the file");
      const after = isBlank(text) ? {} : parseOutput(text, "the configured file");
      if (!isDeepStrictEqual(after, configured(input, request))) {
        fail("the configured document is not the input plus the request", text);
      }
      const again = configureDocker(FILE, text, request, change.memory);
      if (again.after !== text) fail("a second configure changed the file again", again.after);
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      refusal = error;
    }
  }
  if (refusal !== undefined) throw refusal;
}

/**
 * Whether the revert leaves `"runtimes": {}` where the input had no runtimes: configure added a
 * handler there, and dockerd's reload keeps its runtime table when the key is absent.
 */
function keepsEmptyTable(inputDoc: Doc, names: readonly string[]): boolean {
  if (isObject(inputDoc.runtimes)) return false;
  return names.length > 0;
}

/** The input document after configure, an unrelated edit (or none) and unconfigure. */
function reverted(input: string, request: ConfigureRequest, unrelated: boolean): Doc {
  const doc = isBlank(input) ? {} : JSON.parse(input) as Doc;
  if (unrelated) setAt(doc, [UNRELATED], 1);
  const names = request.handlers.map((h) => h.name);
  if (keepsEmptyTable(doc, names)) setAt(doc, ["runtimes"], {});
  const runtimes = isObject(doc.runtimes) ? doc.runtimes : {};
  const current = doc["default-runtime"] as string | undefined;
  let next = current;
  if (request.defaultRuntime !== undefined && current !== request.defaultRuntime) {
    // What configure replaced comes back if dockerd can still run it; else runc, explicitly.
    const usable = current === "runc" ||
      (current !== undefined && Object.hasOwn(runtimes, current));
    next = usable ? current : "runc";
  } else if (
    current !== undefined && names.includes(current) && !Object.hasOwn(runtimes, current)
  ) {
    next = "runc";
  }
  if (next !== current) setAt(doc, ["default-runtime"], next);
  return doc;
}

const UNRELATED = "xpu-fuzz-unrelated";

/**
 * configure → unconfigure, with and without an unrelated edit in between: the input comes back
 * (byte for byte when untouched and no implicit default was named).
 */
export function configureThenUnconfigure(input: string): void {
  let refusal: unknown;
  for (const request of REQUESTS) {
    const names = request.handlers.map((h) => h.name);
    try {
      const change = expectAccepted(input, () => configureDocker(FILE, input, request, undefined))!;
      // Nothing changed, nothing remembered: unconfigure then removes the handlers the file
      // already had — what it is for — so there is no input to come back.
      if (change.after === input) continue;
      for (const unrelated of [false, true]) {
        const between = unrelated ? setJsonValue(change.after!, [UNRELATED], 1) : change.after;
        const back = unconfigureDocker(FILE, between, { names }, change.memory);
        if (back.memory !== undefined) fail("unconfigure kept a memory");
        // Byte for byte unless a default the file did not name had to be written explicitly.
        const inputDoc = isBlank(input) ? {} : JSON.parse(input) as Doc;
        const implicitDefault = request.defaultRuntime !== undefined &&
          !Object.hasOwn(inputDoc, "default-runtime");
        if (!unrelated && !implicitDefault && !keepsEmptyTable(inputDoc, names)) {
          if (back.after !== input) {
            fail("an untouched file did not come back byte for byte", back.after);
          }
          continue;
        }
        if (!unrelated && !implicitDefault) {
          // Untouched, but the runtimes key stays (empty): the input plus `"runtimes": {}`.
          const doc = back.after === null ? {} : parseOutput(back.after, "the unconfigured file");
          if (!isDeepStrictEqual(doc, { ...inputDoc, runtimes: {} })) {
            fail("an untouched file did not come back with an empty runtimes table", back.after);
          }
          continue;
        }
        const expected = reverted(input, request, unrelated);
        const doc = back.after === null
          ? {}
          : isBlank(back.after)
          ? {}
          : parseOutput(back.after, "the unconfigured file");
        if (!isDeepStrictEqual(doc, expected)) {
          fail(
            `unconfigure${unrelated ? " after an unrelated edit" : ""} did not restore the input`,
            back.after,
          );
        }
      }
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      refusal = error;
    }
  }
  if (refusal !== undefined) throw refusal;
}

/** `setJsonValue` of each edit: the output is the input with that key set, and stable. */
export function setValue(input: string): void {
  let refusal: unknown;
  for (const edit of EDITS) {
    try {
      const out = expectJsonAccepted(input, () => setJsonValue(input, edit.path, edit.value));
      const expected = JSON.parse(input) as Doc;
      setAt(expected, edit.path, edit.value);
      if (!isDeepStrictEqual(parseOutput(out, "the edited text"), expected)) {
        fail(`setting ${JSON.stringify(edit.path)} changed more (or less) than that key`, out);
      }
      if (setJsonValue(out, edit.path, edit.value) !== out) fail("a second set changed the text");
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      refusal = error;
    }
  }
  if (refusal !== undefined) throw refusal;
}

/** `removeJsonValue` of each edit's key: the output is the input without it. */
export function removeValue(input: string): void {
  let refusal: unknown;
  for (const edit of EDITS) {
    try {
      const out = expectJsonAccepted(input, () => removeJsonValue(input, edit.path), {
        anyRoot: true,
      });
      const expected = JSON.parse(input);
      if (isObject(expected)) removeAt(expected, edit.path);
      if (!isDeepStrictEqual(parseOutput(out, "the edited text"), expected)) {
        fail(`removing ${JSON.stringify(edit.path)} changed more (or less) than that key`, out);
      }
      if (removeJsonValue(out, edit.path) !== out) fail("a second remove changed the text");
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      refusal = error;
    }
  }
  if (refusal !== undefined) throw refusal;
}

/** For the json_edit targets: accepted only if JSON.parse agrees; refused only with a reason. */
function expectJsonAccepted(
  input: string,
  attempt: () => string,
  options: { anyRoot?: boolean } = {},
): string {
  let parsed: unknown;
  let valid = true;
  try {
    parsed = JSON.parse(input);
  } catch {
    valid = false;
  }
  try {
    const out = attempt();
    if (!valid) fail("edited a text that is not JSON");
    return out;
  } catch (error) {
    if (error instanceof InvariantError) throw error;
    const acceptable = valid && (options.anyRoot || isObject(parsed)) &&
      findDepthExcess(input) === undefined &&
      findJsonSyntaxError(input, { uniqueKeys: true }) === undefined;
    if (acceptable) fail(`refused valid JSON: ${(error as Error).message}`);
    throw error;
  }
}
