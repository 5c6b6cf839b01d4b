/**
 * docker's `daemon.json`: runtimes, `default-runtime` and `features.cdi`, edited in place so key
 * order, indentation and every other key stay as they are; and the revert rule that keeps dockerd
 * alive — a default runtime is never left pointing at a runtime that is gone.
 *
 * @module
 */

import type { Node } from "jsonc-parser";
import { ConfigError, describePosition, quoted } from "../core/errors.ts";
import { lineColumn } from "../core/text/line_column.ts";
import { type DefaultRuntime, type EngineAdapter, stateInspectQuery } from "./engine_adapter.ts";
import {
  type ConfigureRequest,
  mergeRequests,
  type UnconfigureRequest,
  withoutHandlers,
} from "./engine_edit.ts";
import type { FileChange } from "./file_change.ts";
import {
  assertUniquePath,
  describeType,
  type JsonTextOptions,
  parseJsonDocument,
  removeJsonValue,
  setJsonValue,
} from "./json_edit.ts";
import { beginMemory, rememberChange, type RevertMemory } from "./revert_memory.ts";

/** dockerd's config file. */
export const DOCKER_CONFIG = "/etc/docker/daemon.json";

type Json = unknown;

/** dockerd reads an empty (or all-blank) daemon.json as no settings at all. */
function isBlank(text: string): boolean {
  return /^[ \t\r\n]*$/.test(text);
}

/** Options of {@link parseDaemonJson}. */
export interface DaemonJsonOptions {
  /**
   * The handlers an edit is about to set or remove: then none of the keys the edit reads or
   * writes (`runtimes`, `runtimes.<handler>`, `default-runtime`, `features`, `features.cdi`) may
   * appear twice in its object.
   */
  editing?: readonly string[];
}

/** The key paths an edit of `handlers` reads or writes. */
function editedPaths(handlers: readonly string[]): string[][] {
  return [
    ["default-runtime"],
    ["features", "cdi"],
    ["runtimes"],
    ...handlers.map((name) => ["runtimes", name]),
  ];
}

/**
 * Parses daemon.json (strict JSON, as dockerd reads it; blank = no settings).
 *
 * Refused, each with the line and column: a byte-order mark (Go's encoding/json rejects one),
 * nesting deeper than any config needs, a syntax error, a number Go cannot hold (dockerd fails
 * on `1e999`), the document or `runtimes`, a handler, `features` or `default-runtime` of the
 * wrong type — and, with `editing`, a key the edit touches that appears twice in its object:
 * dockerd (Go) keeps the last of two equal keys while the edit would change the first, so
 * `--set-as-default` would silently do nothing. Duplicates elsewhere stay: the edit does not
 * touch them, and dockerd reads them as before.
 *
 * @throws {ConfigError} naming the file, line and column
 */
export function parseDaemonJson(
  text: string,
  file: string,
  options: DaemonJsonOptions = {},
): Record<string, Json> {
  if (isBlank(text)) return {};
  const json: JsonTextOptions = { file, reader: "dockerd" };
  if (text.startsWith("\uFEFF")) {
    const where = { path: file, line: 1, column: 1 };
    throw new ConfigError(
      `Cannot parse ${describePosition(where)}: the file starts with a byte-order mark ` +
        `(U+FEFF), which Go's encoding/json rejects (dockerd before 23.0 fails to start on it): ` +
        `save the file as UTF-8 without a BOM and re-run`,
      where,
    );
  }
  const { tree, value: parsed } = parseJsonDocument(text, json);
  const at = (node: Node | undefined) => ({
    path: file,
    ...(node ? lineColumn(text, node.offset) : {}),
  });
  const outOfRange = findNonFiniteNumber(tree);
  if (outOfRange !== undefined) {
    const where = at(outOfRange);
    const spelled = text.slice(outOfRange.offset, outOfRange.offset + outOfRange.length);
    throw new ConfigError(
      `Cannot parse ${describePosition(where)}: the number ${quoted(spelled)} is too large ` +
        `for dockerd, which reads numbers as Go float64s and rejects it: fix the number and re-run`,
      where,
    );
  }
  if (tree.type !== "object") {
    const where = at(tree);
    throw new ConfigError(
      `Cannot update ${describePosition(where)}: the document is ${describeType(tree)}, ` +
        `expected an object: fix the file (dockerd rejects it too) and re-run`,
      where,
    );
  }
  if (options.editing !== undefined) {
    for (const path of editedPaths(options.editing)) assertUniquePath(text, path, json);
  }
  const value = parsed as Record<string, Json>;
  const fail = (path: string[], expected: string): never => {
    const node = findNode(tree, path);
    const where = at(node);
    throw new ConfigError(
      `Cannot update ${describePosition(where)}: ${quoted(path.join("."))} is ` +
        `${node ? describeType(node) : "of the wrong type"}, expected ${expected}: fix or ` +
        `remove that key and re-run`,
      where,
    );
  };
  if (value.runtimes !== undefined && !isObject(value.runtimes)) fail(["runtimes"], "an object");
  for (const [name, runtime] of Object.entries((value.runtimes ?? {}) as Record<string, Json>)) {
    if (!isObject(runtime)) fail(["runtimes", name], "an object");
  }
  if (value["default-runtime"] !== undefined && typeof value["default-runtime"] !== "string") {
    fail(["default-runtime"], "a string");
  }
  if (value.features !== undefined && !isObject(value.features)) fail(["features"], "an object");
  return value;
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The first number Go's float64 cannot hold (`1e999`: JSON.parse makes it Infinity, Go's
 * encoding/json an error). Without recursion; the depth was checked anyway.
 */
function findNonFiniteNumber(tree: Node): Node | undefined {
  const pending = [tree];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (node.type === "number" && !Number.isFinite(node.value)) return node;
    if (node.children) pending.push(...node.children);
  }
  return undefined;
}

/**
 * The value node at `path`, as dockerd sees it: the last of equal keys (jsonc-parser's
 * `findNodeAtLocation` takes the first).
 */
function findNode(tree: Node, path: readonly string[]): Node | undefined {
  let node: Node | undefined = tree;
  for (const key of path) {
    const property: Node | undefined = node?.children?.findLast((p) =>
      p.children?.[0]?.value === key
    );
    node = property?.children?.[1];
  }
  return node;
}

/** The value at `path`, own keys only (a handler named `constructor` is not Object's). */
function getAt(value: Record<string, Json>, path: string[]): Json {
  let current: Json = value;
  for (const key of path) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

function same(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

class JsonDocument {
  constructor(
    public text: string,
    readonly file: string,
    /** The handlers being edited (their keys must not be duplicated). */
    readonly editing: readonly string[],
  ) {}
  /** The document as dockerd reads it; every read checks it again (see parseDaemonJson). */
  get value(): Record<string, Json> {
    return parseDaemonJson(this.text, this.file, { editing: this.editing });
  }
  /** Refuses a document the edit cannot make truthfully, before anything is planned. */
  check(): void {
    parseDaemonJson(this.text, this.file, { editing: this.editing });
  }
  /** Sets (or, for `undefined`, removes) a key, touching no other byte. */
  set(path: string[], value: Json): void {
    const options = { file: this.file, reader: "dockerd" };
    this.text = value === undefined
      ? removeJsonValue(this.text, path, options)
      : setJsonValue(this.text, path, value, options);
  }
}

/** Plans a configure of daemon.json (`text` null: the file does not exist). */
export function configureDocker(
  file: string,
  text: string | null,
  request: ConfigureRequest,
  previous: RevertMemory | undefined,
): FileChange {
  const base = text === null || isBlank(text) ? "{}\n" : text;
  const doc = new JsonDocument(base, file, request.handlers.map((h) => h.name));
  // Also when nothing is to change: a duplicate of a key we would edit is refused either way.
  doc.check();
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
    if (same(existing, value)) {
      // Already as asked: remembered as it was, so a revert leaves it (it was there before us).
      if (existing !== undefined) rememberChange(memory, { path, had: true, value: existing });
      continue;
    }
    if (path.length > 1 && getAt(current, path.slice(0, 1)) === undefined) {
      if (!memory.created.some((c) => same(c, path.slice(0, 1)))) {
        memory.created.push(path.slice(0, 1));
      }
    }
    rememberChange(memory, { path, had: existing !== undefined, value: existing });
    doc.set(path, value);
  }
  const after = doc.text === base ? text : doc.text;
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
  const reverted = revertDocker(file, text, { ...request, names: all }, memory);
  const remaining = withoutHandlers(configured, request.names);
  if (remaining === undefined) return reverted;
  const again = configureDocker(file, reverted.after, remaining, undefined);
  return { ...again, before: text };
}

/**
 * Reverts our edits of `names`: an untouched file comes back byte for byte; otherwise our keys are
 * removed or restored one by one. Unless dockerd is restarted to apply it (`fullRestart`), the
 * revert keeps what dockerd's reload (SIGHUP) needs to undo the configure: a default runtime that
 * pointed at a removed handler is set explicitly to what it was before, or `runc` — dockerd keeps
 * a default whose key vanished and crashes on reload when that runtime is gone — and
 * `"runtimes": {}` stays where handlers were taken out, since the reload keeps its runtime table
 * when the key is absent (and a missing file changes nothing on reload either). A dockerd that
 * restarts reads the file afresh, so then the file goes back to what it was, or goes.
 */
function revertDocker(
  file: string,
  text: string | null,
  request: UnconfigureRequest,
  memory: RevertMemory | undefined,
): FileChange {
  const restart = request.fullRestart === true;
  // An untouched file comes back byte for byte — unless we made a runtime the default where the
  // file named none and dockerd only reloads: it keeps a default whose key vanished, so the
  // default must be written explicitly.
  const defaultWasImplicit = !restart &&
    memory?.changes.some((c) => same(c.path, ["default-runtime"]) && !c.had);
  if (text === null) return { path: file, before: null, after: null, memory: undefined };
  // A blank file holds nothing of ours (dockerd reads it as no settings): it stays as it is.
  if (isBlank(text)) return { path: file, before: text, after: text, memory: undefined };
  const doc = new JsonDocument(text, file, request.names);
  doc.check();
  const taken = takenHandlers(doc.value, request.names, memory);
  const live = !restart && taken.length > 0;
  const done = (after: string | null): FileChange => ({
    path: file,
    before: text,
    after,
    memory: undefined,
    report: revertReport(file, { after, memory, taken }),
  });
  if (memory && text === memory.after && !defaultWasImplicit) {
    return done(live ? withRuntimesKey(memory.before, file) : memory.before);
  }
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
  // named explicitly for a reload (dockerd keeps a default whose key vanished), and the key goes
  // for a restart. Without memory, a default that names a removed handler becomes runc.
  const defaultChange = recorded(["default-runtime"]);
  const current = doc.value["default-runtime"];
  const runtimes = (doc.value.runtimes ?? {}) as Record<string, Json>;
  if (defaultChange) {
    const previous = defaultChange.had && typeof defaultChange.value === "string"
      ? defaultChange.value
      : undefined;
    const usable = previous !== undefined &&
      (previous === "runc" || Object.hasOwn(runtimes, previous));
    if (usable) doc.set(["default-runtime"], previous);
    else if (restart && !defaultChange.had) doc.set(["default-runtime"], undefined);
    else doc.set(["default-runtime"], "runc");
  } else if (typeof current === "string" && removed.has(current)) {
    doc.set(["default-runtime"], "runc");
  }
  const cdi = recorded(["features", "cdi"]);
  if (cdi) doc.set(["features", "cdi"], cdi.had ? cdi.value : undefined);
  // Objects we created go when they are empty again — except `runtimes` when dockerd only
  // reloads: its reload keeps the whole runtime table when the key is absent, so an emptied one
  // stays as `{}` (and a re-run after an interrupted revert keeps it too, converging on the same
  // file).
  for (const path of memory?.created ?? []) {
    if (same(path, ["runtimes"]) && !restart) continue;
    const value = getAt(doc.value, path);
    if (typeof value === "object" && value !== null && Object.keys(value).length === 0) {
      doc.set(path, undefined);
    }
  }
  const result = Object.keys(doc.value).length === 0 ? null : doc.text;
  return done(live ? withRuntimesKey(result, file) : result);
}

/** The keys a revert keeps only for dockerd's reload. */
const RELOAD_KEYS = ["runtimes", "default-runtime"] as const;

/**
 * The line that reports a revert, where the plain `Updated`/`Removed` would hide something: a file
 * configure created that goes again, or keys kept only so dockerd's reload applies the revert
 * (the operator may delete them once dockerd has restarted).
 */
function revertReport(
  file: string,
  { after, memory, taken }: {
    after: string | null;
    memory: RevertMemory | undefined;
    taken: readonly string[];
  },
): string | undefined {
  if (memory === undefined) return undefined;
  if (after === null) {
    return memory.before === null
      ? `Removed "${file}": configure created it and nothing else is in it`
      : undefined;
  }
  const read = (text: string | null) => {
    try {
      return text === null || isBlank(text) ? {} : parseDaemonJson(text, file);
    } catch {
      return {};
    }
  };
  const [old, now] = [read(memory.before), read(after)];
  const kept = RELOAD_KEYS.filter((k) => Object.hasOwn(now, k) && !Object.hasOwn(old, k));
  if (kept.length === 0) return undefined;
  const shown = kept.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(now[k])}`);
  const names = taken.map((n) => quoted(n));
  const drops = names.length === 0
    ? "applies the revert"
    : `drops ${
      names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`
    }`;
  if (memory.before === null && Object.keys(now).every((k) => kept.some((c) => c === k))) {
    return `Kept "${file}" as {${shown.join(", ")}} so dockerd's reload ${drops}: delete it ` +
      `after the next dockerd restart (configure created it)`;
  }
  return `Updated "${file}": kept ${shown.join(" and ")} so dockerd's reload ${drops}: remove ` +
    `${kept.length === 1 ? "it" : "them"} after the next dockerd restart`;
}

/**
 * The handlers the revert takes away that dockerd may have loaded: those of `names` in the file
 * that were not there before we configured them.
 */
function takenHandlers(
  value: Record<string, Json>,
  names: readonly string[],
  memory: RevertMemory | undefined,
): string[] {
  const runtimes = isObject(value.runtimes) ? value.runtimes : {};
  return names.filter((name) =>
    Object.hasOwn(runtimes, name) &&
    !memory?.changes.some((c) => same(c.path, ["runtimes", name]) && c.had)
  );
}

/**
 * `text` with a `"runtimes"` key, added as `{}` where it has none. dockerd's reload (SIGHUP)
 * replaces its runtime table only when daemon.json has the key; without it the removed handlers
 * stay registered until dockerd restarts. A missing file is the same to dockerd as one without
 * the key, so it becomes `{"runtimes": {}}`.
 */
function withRuntimesKey(text: string | null, file: string): string {
  const base = text === null || isBlank(text) ? "{}\n" : text;
  const value = parseDaemonJson(base, file);
  if (isObject(value.runtimes)) return base;
  return setJsonValue(base, ["runtimes"], {}, { file, reader: "dockerd" });
}

/**
 * The settings a change of daemon.json touches that dockerd reads only when it starts: every
 * `features` flag (the CDI driver is registered at start) and `cdi-spec-dirs`. Its SIGHUP reload
 * applies `runtimes` and `default-runtime`, not these.
 */
function dockerStartOnlyChanges(
  file: string,
  before: string | null,
  after: string | null,
): string[] {
  const read = (text: string | null) =>
    text === null || isBlank(text) ? {} : parseDaemonJson(text, file);
  const [old, now] = [read(before), read(after)];
  const changed: string[] = [];
  const oldFeatures = isObject(old.features) ? old.features : {};
  const newFeatures = isObject(now.features) ? now.features : {};
  const keys = [...new Set([...Object.keys(oldFeatures), ...Object.keys(newFeatures)])].sort();
  for (const key of keys) {
    if (!same(getAt(oldFeatures, [key]), getAt(newFeatures, [key]))) {
      changed.push(`features.${key}`);
    }
  }
  if (!same(old["cdi-spec-dirs"], now["cdi-spec-dirs"])) changed.push("cdi-spec-dirs");
  return changed;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** dockerd runs "runc" unless told otherwise; other runtimes are declared with a path. */
function dockerDefaultRuntime(text: string | null, path: string): DefaultRuntime {
  const doc = text === null ? {} : parseDaemonJson(text, path);
  const name = nonEmpty(doc["default-runtime"]) ?? "runc";
  const declared = nonEmpty(getAt(doc, ["runtimes", name, "path"]));
  const builtin = name === "runc" || name === "io.containerd.runc.v2" ? "runc" : undefined;
  return { name, program: declared ?? builtin };
}

/**
 * docker: our handlers in daemon.json (no drop-in: dockerd reads one file), applied by SIGHUP —
 * dockerd reloads `runtimes` and `default-runtime` on it; what it reads only at start is named.
 */
export const DOCKER: EngineAdapter = {
  name: "docker",
  containerPid: stateInspectQuery("docker"),
  defaults: {
    config: DOCKER_CONFIG,
    dropIn: "",
    socket: "/var/run/docker.sock",
    restartMode: "signal",
    systemdUnit: "docker",
    processName: "dockerd",
  },
  signal: { advised: true },
  memoryValues: "json",
  lockFile: (target) => target.config,
  plan(files, { target: { config }, configure }) {
    return [configureDocker(config, files.text(config), configure, files.memory(config))];
  },
  unplan(files, { target: { config }, unconfigure }) {
    return [unconfigureDocker(config, files.text(config), unconfigure, files.memory(config))];
  },
  startOnlyChanges: (change) => dockerStartOnlyChanges(change.path, change.before, change.after),
  defaultRuntime: dockerDefaultRuntime,
};
