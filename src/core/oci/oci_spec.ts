/**
 * An OCI runtime spec (`config.json`) as a raw JSON object: parsed so every unknown or future field
 * survives untouched (integers beyond 2^53 included), serialised in the file's own indentation,
 * with small typed views of the parts the toolkit reads.
 *
 * @module
 */

import { describePosition, SpecError } from "../errors.ts";
import { findDepthExcess, MAX_JSON_DEPTH } from "../text/json_depth.ts";
import { findJsonSyntaxError } from "../text/json_syntax.ts";

/** A JSON object as parsed: the toolkit edits only the keys it owns. */
export type JsonObject = Record<string, unknown>;

/** A raw OCI spec. */
export type OciSpec = JsonObject;

// JSON.rawJSON and the reviver's source context (TC39 "JSON.parse source text access") are in V8
// but not yet in TypeScript's lib.
type RawJson = (text: string) => unknown;
type ReviverContext = { source?: string };

const UNSAFE_INTEGER = /\d{16,}/;

/**
 * Parses JSON keeping integers that a double cannot hold exactly (rlimits, memory limits) as raw
 * text, so writing the object back reproduces them digit for digit.
 *
 * @throws {SyntaxError} from `JSON.parse`
 */
export function parseJsonPreservingIntegers(text: string): unknown {
  if (!UNSAFE_INTEGER.test(text)) return JSON.parse(text);
  const rawJSON = (JSON as unknown as { rawJSON: RawJson }).rawJSON;
  return JSON.parse(
    text,
    function (_key, value, context?: ReviverContext) {
      if (
        typeof value === "number" && !Number.isSafeInteger(value) &&
        context?.source !== undefined &&
        /^-?\d+$/.test(context.source)
      ) {
        return rawJSON(context.source);
      }
      return value;
    } as (this: unknown, key: string, value: unknown) => unknown,
  );
}

/**
 * Parses an OCI spec file: its bytes as read (invalid UTF-8 becomes U+FFFD in the values, and
 * {@link serializeOciSpec} writes the original bytes back), or its text. A document nested deeper
 * than {@link MAX_JSON_DEPTH} levels is refused before anything walks it (the splice and every
 * edit recurse).
 *
 * @throws {SpecError} naming the file, line and column when the text is not a JSON object
 */
export function parseOciSpec(source: string | Uint8Array, path: string): OciSpec {
  const text = typeof source === "string" ? source : decodeUtf8(source);
  const deep = findDepthExcess(text, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    const where = { path, line: deep.line, column: deep.column };
    throw new SpecError(
      `Cannot parse OCI spec ${describePosition(where)}: the document nests deeper than ` +
        `${deep.limit} levels: the engine wrote an invalid config.json; recreate the container`,
      where,
    );
  }
  let value: unknown;
  try {
    value = parseJsonPreservingIntegers(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const found = findJsonSyntaxError(text);
    const where = { path, line: found?.line, column: found?.column };
    const detail = found?.detail ?? error.message.split("\n")[0];
    throw new SpecError(
      `Cannot parse OCI spec ${describePosition(where)}: ${detail}: ` +
        `the engine wrote an invalid config.json; recreate the container`,
      where,
      { cause: error },
    );
  }
  if (!isJsonObject(value)) {
    throw new SpecError(
      `Cannot parse OCI spec "${path}": the document is not a JSON object: ` +
        `the engine wrote an invalid config.json; recreate the container`,
      { path },
    );
  }
  return value;
}

/**
 * Serialises an edited spec as a splice of `original`, the document {@link parseOciSpec} parsed
 * it from (so nested at most {@link MAX_JSON_DEPTH} levels: the splice recurses): every
 * value the edits left equal to the original is copied byte for byte — invalid UTF-8, escapes
 * (`\u0026`), number spellings and whitespace included — and only the objects and arrays that
 * changed are rewritten, in the indentation `original` used (compact when it had no newlines),
 * with their unchanged members still copied. New values are UTF-8.
 *
 * Why a splice: re-serialising the whole object would turn every invalid UTF-8 byte into U+FFFD
 * and every escape into its character, i.e. change bytes the toolkit never edited; decoding the
 * file as latin1 instead would keep the bytes but hand mis-decoded text to every reader of the
 * spec and could not tell an inserted "é" from an original byte 0xE9.
 *
 * @example
 * ```ts
 * const bytes = Deno.readFileSync("config.json");
 * const spec = parseOciSpec(bytes, "config.json");
 * (spec.process as { env: string[] }).env.push("A=1");
 * Deno.writeFileSync("config.json", serializeOciSpec(spec, bytes));
 * ```
 */
export function serializeOciSpec(spec: OciSpec, original: Uint8Array): Uint8Array;
/** Serialises an edited spec as a splice of the text `original` it was parsed from. */
export function serializeOciSpec(spec: OciSpec, original: string): string;
export function serializeOciSpec(
  spec: OciSpec,
  original: string | Uint8Array,
): string | Uint8Array {
  if (typeof original === "string") {
    return decodeUtf8(spliceJson(spec, new TextEncoder().encode(original)));
  }
  return spliceJson(spec, original);
}

function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** A JSON value's place in the original bytes, [start, end). */
type SourceNode =
  | { kind: "object"; start: number; end: number; members: SourceMember[] }
  | { kind: "array"; start: number; end: number; items: SourceNode[] }
  | { kind: "scalar"; start: number; end: number };

interface SourceMember {
  key: string;
  keyStart: number;
  keyEnd: number;
  value: SourceNode;
}

/** How changed containers are laid out: the file's indent unit and newline, or compact. */
interface Layout {
  indent?: string;
  newline: string;
}

function spliceJson(value: unknown, original: Uint8Array): Uint8Array {
  const text = decodeUtf8(original);
  const layout = layoutOf(text);
  const before = parseJsonPreservingIntegers(text);
  const written = writtenAsStringifyWrites(value, before, text, original, layout);
  return written ?? spliceScanned(value, before, text, original, layout);
}

/** The indent unit and newline of a document's text: those of its first member, else compact. */
function layoutOf(text: string): Layout {
  const match = /^\{(\r?\n)([ \t]+)"/.exec(text);
  return { indent: match?.[2], newline: match?.[1] ?? "\n" };
}

/** `JSON.stringify` in a layout (the newline is always `\n`). */
function stringifyIn(value: unknown, layout: Layout): string {
  return layout.indent === undefined
    ? JSON.stringify(value)
    : JSON.stringify(value, null, layout.indent);
}

/**
 * The splice's result without scanning, for the common original that is byte for byte what
 * `JSON.stringify` writes of it in its layout (then so is every value in it, at its depth, and the
 * splice of any edit is what `JSON.stringify` writes of the edited value), with at most a newline
 * after it; `undefined` for any other original: a byte order mark, invalid UTF-8 (U+FFFD after
 * decoding), escapes such as Go's `\u0026`, other number spellings, duplicate keys, `\r\n`.
 * Native code, on the create path of every container.
 */
function writtenAsStringifyWrites(
  value: unknown,
  before: unknown,
  text: string,
  original: Uint8Array,
  layout: Layout,
): Uint8Array | undefined {
  if (original[0] === 0xef || layout.newline !== "\n" || text.includes("\uFFFD")) {
    return undefined;
  }
  const canonical = stringifyIn(before, layout);
  const tail = text.length === canonical.length + 1 ? "\n" : "";
  if (text !== canonical + tail) return undefined;
  return new TextEncoder().encode(stringifyIn(value, layout) + tail);
}

/** The splice: copies every unchanged value's bytes from where a scan of `original` found it. */
function spliceScanned(
  value: unknown,
  before: unknown,
  text: string,
  original: Uint8Array,
  layout: Layout,
): Uint8Array {
  let root: SourceNode;
  try {
    root = scanJson(original);
  } catch {
    // Not reached for a document JSON.parse accepted; written fresh all the same.
    const fresh = stringifyIn(value, layout);
    return new TextEncoder().encode(/\n$/.test(text) ? fresh + "\n" : fresh);
  }
  const chunks: (string | Uint8Array)[] = [original.subarray(0, root.start)];
  emitSpliced(value, before, root, 0, { original, layout, chunks });
  chunks.push(original.subarray(root.end));
  return concatChunks(chunks);
}

/**
 * The splice of `spec` over `original` as a scan makes it, whatever the original: what
 * {@link serializeOciSpec} writes, by the longer way. For the tests that hold the two equal.
 *
 * @internal
 */
export function spliceOciSpecScanned(spec: OciSpec, original: Uint8Array): Uint8Array {
  const text = decodeUtf8(original);
  return spliceScanned(spec, parseJsonPreservingIntegers(text), text, original, layoutOf(text));
}

interface SpliceContext {
  original: Uint8Array;
  layout: Layout;
  chunks: (string | Uint8Array)[];
}

/** Emits `value`, copying from `node` (whose parsed value is `before`) what did not change. */
function emitSpliced(
  value: unknown,
  before: unknown,
  node: SourceNode,
  depth: number,
  ctx: SpliceContext,
): void {
  const { chunks, original, layout } = ctx;
  if (jsonText(value) === jsonText(before)) {
    chunks.push(original.subarray(node.start, node.end));
    return;
  }
  const pretty = layout.indent !== undefined;
  const open = (d: number) => pretty ? layout.newline + layout.indent!.repeat(d) : "";
  if (
    node.kind === "object" && isJsonObject(value) && isJsonObject(before)
  ) {
    const entries = Object.entries(value).filter(([, v]) => isSerializable(v));
    if (entries.length === 0) return void chunks.push("{}");
    chunks.push("{");
    entries.forEach(([key, v], i) => {
      chunks.push((i > 0 ? "," : "") + open(depth + 1));
      const member = Object.hasOwn(before, key)
        ? node.members.findLast((m) => m.key === key)
        : undefined;
      if (member === undefined) {
        chunks.push(JSON.stringify(key) + (pretty ? ": " : ":"));
        emitFresh(v, depth + 1, ctx);
      } else {
        chunks.push(original.subarray(member.keyStart, member.keyEnd), pretty ? ": " : ":");
        emitSpliced(v, before[key], member.value, depth + 1, ctx);
      }
    });
    chunks.push(open(depth) + "}");
    return;
  }
  if (node.kind === "array" && Array.isArray(value) && Array.isArray(before)) {
    if (value.length === 0) return void chunks.push("[]");
    chunks.push("[");
    const used = new Set<number>();
    const beforeTexts = before.map(jsonText);
    value.forEach((v, i) => {
      chunks.push((i > 0 ? "," : "") + open(depth + 1));
      // An element equal to an original one (the first not yet used) is copied from it, so
      // appending to or removing from a list keeps every other element's bytes.
      const text = jsonText(v);
      const same = beforeTexts.findIndex((b, j) => !used.has(j) && b === text);
      if (same >= 0) {
        used.add(same);
        chunks.push(original.subarray(node.items[same].start, node.items[same].end));
      } else if (i < before.length) {
        emitSpliced(v, before[i], node.items[i], depth + 1, ctx);
      } else {
        emitFresh(isSerializable(v) ? v : null, depth + 1, ctx);
      }
    });
    chunks.push(open(depth) + "]");
    return;
  }
  emitFresh(value, depth, ctx);
}

/** Emits a value the original does not hold, laid out at `depth`. */
function emitFresh(value: unknown, depth: number, ctx: SpliceContext): void {
  const { indent, newline } = ctx.layout;
  const text = indent === undefined
    ? JSON.stringify(value) ?? "null"
    : (JSON.stringify(value, null, indent) ?? "null").replace(
      /\n/g,
      newline + indent.repeat(depth),
    );
  ctx.chunks.push(text);
}

const isRawJson = (JSON as unknown as { isRawJSON: (value: unknown) => boolean }).isRawJSON;

/** Whether JSON.stringify writes the value (an object member that is not, it leaves out). */
function isSerializable(value: unknown): boolean {
  return value !== undefined && typeof value !== "function" && typeof value !== "symbol";
}

/**
 * The compact text JSON.stringify writes for a value (raw integers as their digits): two values
 * that give the same text serialise the same, so the original bytes of one stand for the other.
 * Native, which matters on every container create.
 */
function jsonText(value: unknown): string | undefined {
  return JSON.stringify(value);
}

function concatChunks(chunks: readonly (string | Uint8Array)[]): Uint8Array {
  const encoder = new TextEncoder();
  // Runs of text (separators, indents, fresh values) are encoded once each, not piece by piece.
  const parts: Uint8Array[] = [];
  let text = "";
  for (const chunk of chunks) {
    if (typeof chunk === "string") text += chunk;
    else {
      if (text !== "") parts.push(encoder.encode(text));
      text = "";
      parts.push(chunk);
    }
  }
  if (text !== "") parts.push(encoder.encode(text));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Where each value of a JSON document is, in bytes. Strings are skipped byte by byte, so
 * invalid UTF-8 inside them is no obstacle; the document is one `JSON.parse` accepted.
 *
 * @throws {Error} for a document that is not JSON after all
 */
function scanJson(bytes: Uint8Array): SourceNode {
  // TextDecoder drops a leading byte order mark, so JSON.parse accepted the document with one.
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const fail = (): never => {
    throw new Error(`unexpected byte at ${i}`);
  };
  const at = () => i < bytes.length ? bytes[i] : fail();
  const space = () => {
    while (i < bytes.length && isJsonSpace(bytes[i])) i++;
  };
  // Strings are most of a spec's bytes: the closing quote is found by the native `indexOf`, and
  // it closes the string when an even number of backslashes precedes it.
  const string = () => {
    if (at() !== QUOTE) fail();
    let from = i + 1;
    for (;;) {
      const quote = bytes.indexOf(QUOTE, from);
      if (quote < 0) {
        i = bytes.length;
        fail();
      }
      let escapes = 0;
      while (bytes[quote - 1 - escapes] === BACKSLASH) escapes++;
      from = quote + 1;
      if (escapes % 2 === 0) break;
    }
    i = from;
  };
  const expect = (byte: number) => {
    space();
    if (at() !== byte) fail();
    i++;
  };
  const value = (): SourceNode => {
    space();
    const start = i;
    const c = at();
    if (c === 0x7b) {
      i++;
      const members: SourceMember[] = [];
      space();
      if (at() === 0x7d) i++;
      else {
        for (;;) {
          space();
          const keyStart = i;
          string();
          const keyEnd = i;
          expect(0x3a);
          const key = keyText(bytes.subarray(keyStart + 1, keyEnd - 1));
          members.push({ key, keyStart, keyEnd, value: value() });
          space();
          if (at() === 0x2c) i++;
          else if (at() === 0x7d) {
            i++;
            break;
          } else fail();
        }
      }
      return { kind: "object", start, end: i, members };
    }
    if (c === 0x5b) {
      i++;
      const items: SourceNode[] = [];
      space();
      if (at() === 0x5d) i++;
      else {
        for (;;) {
          items.push(value());
          space();
          if (at() === 0x2c) i++;
          else if (at() === 0x5d) {
            i++;
            break;
          } else fail();
        }
      }
      return { kind: "array", start, end: i, items };
    }
    if (c === QUOTE) string();
    else {
      while (i < bytes.length && !isScalarEnd(bytes[i])) i++;
      if (i === start) fail();
    }
    return { kind: "scalar", start, end: i };
  };
  const root = value();
  space();
  if (i !== bytes.length) fail();
  return root;
}

function withQuotes(inner: Uint8Array): Uint8Array {
  const out = new Uint8Array(inner.length + 2);
  out[0] = QUOTE;
  out.set(inner, 1);
  out[inner.length + 1] = QUOTE;
  return out;
}

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x09 || byte === 0x0d;
}

/** Whether a scalar (number, `true`, `false`, `null`) ends before `byte`. */
function isScalarEnd(byte: number): boolean {
  return byte === 0x2c || byte === 0x5d || byte === 0x7d || isJsonSpace(byte);
}

/** The text of a key's bytes between its quotes: plain ASCII as it is, anything else decoded. */
function keyText(inner: Uint8Array): string {
  if (inner.length <= 64 && inner.every((b) => b >= 0x20 && b < 0x7f && b !== BACKSLASH)) {
    return String.fromCharCode(...inner);
  }
  // The quotes stay on: TextDecoder drops a byte order mark at the start of what it decodes.
  return JSON.parse(decodeUtf8(withQuotes(inner))) as string;
}

/**
 * Whether a value is a plain JSON object: not an array, not null, and not the frozen holder of an
 * integer beyond 2^53 that {@link parseJsonPreservingIntegers} keeps as raw text (`JSON.rawJSON`)
 * — an edit would otherwise take `"process": 9007199254740993` for an object and fail to write
 * into it.
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !isRawJson(value);
}

/**
 * A part of an OCI spec with the wrong JSON type (`"linux" is not an object`), found by an edit
 * that holds the parsed spec but not its file: the caller that read the file rethrows it as a
 * {@link SpecError} naming the file. It is a `SpecError` without a path (`path` is empty), so code
 * that only asks "was the spec bad?" still sees one. (Defined here rather than in `errors.ts`,
 * which every command loads: only the commands that edit a spec need it.)
 */
export class SpecShapeError extends SpecError {
  constructor(detail: string, options?: ErrorOptions) {
    super(detail, { path: "" }, options);
  }
}

/**
 * The object at `parent[key]`, created when missing.
 *
 * @throws {SpecShapeError} with a bare detail (`"linux" is not an object`) for the caller to place
 */
export function objectAt(parent: JsonObject, key: string, where: string): JsonObject {
  const value = parent[key];
  if (value === undefined || value === null) {
    const created: JsonObject = {};
    parent[key] = created;
    return created;
  }
  if (!isJsonObject(value)) {
    throw new SpecShapeError(`"${where}" is not an object`);
  }
  return value;
}

/**
 * The array at `parent[key]`, created when missing.
 *
 * @throws {SpecShapeError} with a bare detail for the caller to place
 */
export function arrayAt(parent: JsonObject, key: string, where: string): unknown[] {
  const value = parent[key];
  if (value === undefined || value === null) {
    const created: unknown[] = [];
    parent[key] = created;
    return created;
  }
  if (!Array.isArray(value)) {
    throw new SpecShapeError(`"${where}" is not an array`);
  }
  return value;
}

/** The container's environment (`process.env`) as a map; later entries win. */
export function specEnv(spec: OciSpec): Map<string, string> {
  const env = new Map<string, string>();
  const process = spec.process;
  if (!isJsonObject(process) || !Array.isArray(process.env)) return env;
  for (const entry of process.env) {
    if (typeof entry !== "string") continue;
    const eq = entry.indexOf("=");
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** The mount destinations and sources of a spec. */
export function specMounts(spec: OciSpec): { destination: string; source?: string }[] {
  if (!Array.isArray(spec.mounts)) return [];
  return spec.mounts.filter(isJsonObject).filter((m) => typeof m.destination === "string").map(
    (m) => ({
      destination: m.destination as string,
      source: typeof m.source === "string" ? m.source : undefined,
    }),
  );
}

/** Whether the container is privileged: CAP_SYS_ADMIN in its bounding set. */
export function isPrivileged(spec: OciSpec): boolean {
  const process = spec.process;
  if (!isJsonObject(process) || !isJsonObject(process.capabilities)) return false;
  const bounding = process.capabilities.bounding;
  return Array.isArray(bounding) && bounding.includes("CAP_SYS_ADMIN");
}

/**
 * Whether the container gets a user namespace of its own (`linux.namespaces` has `user`): its
 * root is not the host's, so nothing can be created in it with `mknod`, and runtimes bind-mount
 * device nodes from the host instead.
 */
export function hasUserNamespace(spec: OciSpec): boolean {
  const linux = spec.linux;
  if (!isJsonObject(linux) || !Array.isArray(linux.namespaces)) return false;
  return linux.namespaces.some((ns) => isJsonObject(ns) && ns.type === "user");
}

/**
 * The host ids of the container's root from `linux.uidMappings` and `linux.gidMappings`, when
 * the spec has a user namespace that maps it; `undefined` otherwise (no user namespace, one
 * joined by path, or a root left unmapped).
 */
export function specRootIds(spec: OciSpec): { uid: number; gid: number } | undefined {
  if (!hasUserNamespace(spec) || !isJsonObject(spec.linux)) return undefined;
  const uid = mappedRoot(spec.linux.uidMappings);
  const gid = mappedRoot(spec.linux.gidMappings);
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}

function mappedRoot(mappings: unknown): number | undefined {
  if (!Array.isArray(mappings)) return undefined;
  for (const m of mappings) {
    if (!isJsonObject(m)) continue;
    const { containerID, hostID, size } = m;
    if (
      typeof containerID === "number" && typeof hostID === "number" && typeof size === "number" &&
      containerID === 0 && size > 0
    ) {
      return hostID;
    }
  }
  return undefined;
}

/** The spec's annotations (string values only). */
export function specAnnotations(spec: OciSpec): Map<string, string> {
  const out = new Map<string, string>();
  if (!isJsonObject(spec.annotations)) return out;
  for (const [key, value] of Object.entries(spec.annotations)) {
    if (typeof value === "string") out.set(key, value);
  }
  return out;
}

/** The rootfs path of a bundle: `root.path`, relative to the bundle when not absolute. */
export function specRootfs(spec: OciSpec, bundle: string): string | undefined {
  const root = spec.root;
  if (!isJsonObject(root) || typeof root.path !== "string" || root.path === "") return undefined;
  return root.path.startsWith("/") ? root.path : `${bundle.replace(/\/+$/, "")}/${root.path}`;
}
