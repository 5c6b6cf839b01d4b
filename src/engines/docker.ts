/**
 * docker's `daemon.json`: runtimes, `default-runtime` and `features.cdi`, edited in place so key
 * order, indentation and every other key stay as they are; and the revert rule that keeps dockerd
 * alive — a default runtime is never left pointing at a runtime that is gone.
 *
 * @module
 */

import { type Node, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import { ConfigError, describePosition } from "../core/errors.ts";
import {
  type ConfigureRequest,
  type FileChange,
  mergeRequests,
  type UnconfigureRequest,
  withoutHandlers,
} from "./engine_edit.ts";
import { removeJsonValue, setJsonValue } from "./json_edit.ts";
import { beginMemory, rememberChange, type RevertMemory } from "./revert_memory.ts";

/** jsonc-parser's error codes in words. */
const PARSE_ERRORS: Record<string, string> = {
  InvalidSymbol: "unexpected character",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "a property name was expected (a trailing comma?)",
  ValueExpected: "a value was expected",
  ColonExpected: "a colon was expected",
  CommaExpected: "a comma was expected",
  CloseBraceExpected: "a closing brace was expected",
  CloseBracketExpected: "a closing bracket was expected",
  EndOfFileExpected: "text after the end of the document",
  InvalidCommentToken: "comments are not allowed in daemon.json",
  UnexpectedEndOfComment: "unterminated comment",
  UnexpectedEndOfString: "unterminated string",
  UnexpectedEndOfNumber: "unterminated number",
  InvalidUnicode: "invalid unicode escape",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character in a string",
};

/** dockerd's config file. */
export const DOCKER_CONFIG = "/etc/docker/daemon.json";

type Json = unknown;

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
}

/**
 * Parses daemon.json (strict JSON, as dockerd reads it).
 *
 * @throws {ConfigError} with line and column for a syntax error, and for keys of the wrong type
 */
export function parseDaemonJson(text: string, file: string): Record<string, Json> {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length > 0 || tree === undefined) {
    const error = errors[0];
    const where = { path: file, ...lineColumn(text, error?.offset ?? 0) };
    const code = error ? printParseErrorCode(error.error) : "ValueExpected";
    throw new ConfigError(
      `Cannot parse ${describePosition(where)}: ${PARSE_ERRORS[code] ?? code}: fix the JSON ` +
        `(dockerd rejects it too) and re-run`,
      where,
    );
  }
  const value = nodeValue(tree) as Record<string, Json>;
  const fail = (key: string, expected: string): never => {
    const node = findNode(tree, key.split("."));
    const where = { path: file, ...(node ? lineColumn(text, node.offset) : {}) };
    throw new ConfigError(
      `Cannot update ${describePosition(where)}: "${key}" is not ${expected}: fix or remove that ` +
        `key and re-run`,
      where,
    );
  };
  if (tree.type !== "object") fail("", "an object");
  const isObject = (v: Json) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (value.runtimes !== undefined && !isObject(value.runtimes)) fail("runtimes", "an object");
  for (const [name, runtime] of Object.entries((value.runtimes ?? {}) as Record<string, Json>)) {
    if (!isObject(runtime)) fail(`runtimes.${name}`, "an object");
  }
  if (value["default-runtime"] !== undefined && typeof value["default-runtime"] !== "string") {
    fail("default-runtime", "a string");
  }
  if (value.features !== undefined && !isObject(value.features)) fail("features", "an object");
  return value;
}

function findNode(tree: Node, path: string[]): Node | undefined {
  let node: Node | undefined = tree;
  for (const key of path.filter((p) => p !== "")) {
    const property: Node | undefined = node?.children?.find((p) => p.children?.[0]?.value === key);
    node = property?.children?.[1];
  }
  return node;
}

function nodeValue(node: Node): Json {
  switch (node.type) {
    case "object":
      return Object.fromEntries(
        (node.children ?? []).map((p) => [p.children![0].value, nodeValue(p.children![1])]),
      );
    case "array":
      return (node.children ?? []).map(nodeValue);
    default:
      return node.value;
  }
}

function getAt(value: Record<string, Json>, path: string[]): Json {
  let current: Json = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, Json>)[key];
  }
  return current;
}

function same(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

class JsonDocument {
  constructor(public text: string, readonly file: string) {}
  get value(): Record<string, Json> {
    return parseDaemonJson(this.text, this.file);
  }
  /** Sets (or, for `undefined`, removes) a key, touching no other byte. */
  set(path: string[], value: Json): void {
    this.text = value === undefined
      ? removeJsonValue(this.text, path)
      : setJsonValue(this.text, path, value);
  }
}

/** Plans a configure of daemon.json (`text` null: the file does not exist). */
export function configureDocker(
  file: string,
  text: string | null,
  request: ConfigureRequest,
  previous: RevertMemory | undefined,
): FileChange {
  const doc = new JsonDocument(text ?? "{}\n", file);
  const memory = beginMemory(previous, { engine: "docker", file, before: text });
  const desired: [string[], Json][] = request.handlers.map((h) => [
    ["runtimes", h.name],
    { path: h.path, runtimeArgs: [] },
  ]);
  if (request.defaultRuntime) desired.push([["default-runtime"], request.defaultRuntime]);
  if (request.cdi) desired.push([["features", "cdi"], true]);
  for (const [path, value] of desired) {
    const current = doc.value;
    const existing = getAt(current, path);
    if (same(existing, value)) continue;
    if (path.length > 1 && getAt(current, path.slice(0, 1)) === undefined) {
      if (!memory.created.some((c) => same(c, path.slice(0, 1)))) {
        memory.created.push(path.slice(0, 1));
      }
    }
    rememberChange(memory, { path, had: existing !== undefined, value: existing });
    doc.set(path, value);
  }
  const after = doc.text === (text ?? "{}\n") ? text : doc.text;
  if (after === text) {
    const kept = previous
      ? { ...previous, request: mergeRequests(previous.request, request) }
      : undefined;
    return { path: file, before: text, after: text, memory: kept };
  }
  memory.after = after;
  memory.request = mergeRequests(previous?.request, request);
  return { path: file, before: text, after, memory, mode: 0o644 };
}

/**
 * Plans an unconfigure of `names`. Handlers other configures added stay: everything we added is
 * reverted, then what remains is configured again — the file ends as if only those had been
 * configured.
 */
export function unconfigureDocker(
  file: string,
  text: string | null,
  request: UnconfigureRequest,
  memory: RevertMemory | undefined,
): FileChange {
  const configured = memory?.request;
  if (configured === undefined) return revertDocker(file, text, request, memory);
  const all = [...new Set([...configured.handlers.map((h) => h.name), ...request.names])];
  const reverted = revertDocker(file, text, { names: all }, memory);
  const remaining = withoutHandlers(configured, request.names);
  if (remaining === undefined) return reverted;
  const again = configureDocker(file, reverted.after, remaining, undefined);
  return { ...again, before: text };
}

/**
 * Reverts our edits of `names`: an untouched file comes back byte for byte; otherwise our keys are
 * removed or restored one by one. A default runtime that pointed at a removed handler is set
 * explicitly to what it was before, or `runc` — dockerd keeps a default whose key vanished and
 * crashes on reload when that runtime is gone.
 */
function revertDocker(
  file: string,
  text: string | null,
  request: UnconfigureRequest,
  memory: RevertMemory | undefined,
): FileChange {
  // An untouched file comes back byte for byte — unless we made a runtime the default where the
  // file named none: dockerd keeps a default whose key vanished, so it must be written explicitly.
  const defaultWasImplicit = memory?.changes.some((c) =>
    same(c.path, ["default-runtime"]) && !c.had
  );
  if (memory && text === memory.after && !defaultWasImplicit) {
    return { path: file, before: text, after: memory.before, memory: undefined };
  }
  if (text === null) return { path: file, before: null, after: null, memory: undefined };
  const doc = new JsonDocument(text, file);
  const recorded = (path: string[]) => memory?.changes.find((c) => same(c.path, path));
  const removed = new Set(request.names);
  for (const name of request.names) {
    const path = ["runtimes", name];
    const before = recorded(path);
    if (before?.had) doc.set(path, before.value);
    else if (getAt(doc.value, path) !== undefined) doc.set(path, undefined);
    if (before?.had) removed.delete(name);
  }
  // The default runtime: what configure replaced comes back; where the file named none, runc is
  // named explicitly (dockerd keeps a default whose key vanished). Without memory, a default that
  // names a removed handler becomes runc.
  const defaultChange = recorded(["default-runtime"]);
  const current = doc.value["default-runtime"];
  const runtimes = (doc.value.runtimes ?? {}) as Record<string, Json>;
  if (defaultChange) {
    const previous = defaultChange.had && typeof defaultChange.value === "string"
      ? defaultChange.value
      : undefined;
    const usable = previous !== undefined &&
      (previous === "runc" || runtimes[previous] !== undefined);
    doc.set(["default-runtime"], usable ? previous : "runc");
  } else if (typeof current === "string" && removed.has(current)) {
    doc.set(["default-runtime"], "runc");
  }
  const cdi = recorded(["features", "cdi"]);
  if (cdi) doc.set(["features", "cdi"], cdi.had ? cdi.value : undefined);
  // An emptied runtimes map means nothing to dockerd; objects we created go too.
  const created = [...(memory?.created ?? [])];
  if (!created.some((c) => same(c, ["runtimes"]))) created.push(["runtimes"]);
  for (const path of created) {
    const value = getAt(doc.value, path);
    if (typeof value === "object" && value !== null && Object.keys(value).length === 0) {
      doc.set(path, undefined);
    }
  }
  const empty = Object.keys(doc.value).length === 0;
  return {
    path: file,
    before: text,
    after: empty ? null : doc.text,
    memory: undefined,
  };
}
