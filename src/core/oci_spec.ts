/**
 * An OCI runtime spec (`config.json`) as a raw JSON object: parsed so every unknown or future field
 * survives untouched (integers beyond 2^53 included), serialised in the file's own indentation,
 * with small typed views of the parts the toolkit reads.
 *
 * @module
 */

import { describePosition, SpecError } from "./errors.ts";
import { findJsonSyntaxError } from "./json_syntax.ts";

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
 * Parses an OCI spec file's text.
 *
 * @throws {SpecError} naming the file, line and column when the text is not a JSON object
 */
export function parseOciSpec(text: string, path: string): OciSpec {
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

/** Serialises a spec in the indentation `original` used (compact when it had no newlines). */
export function serializeOciSpec(spec: OciSpec, original: string): string {
  const indent = /^\{\r?\n([ \t]+)"/.exec(original)?.[1];
  const text = indent === undefined ? JSON.stringify(spec) : JSON.stringify(spec, null, indent);
  return original.endsWith("\n") ? text + "\n" : text;
}

/** Whether a value is a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The object at `parent[key]`, created when missing.
 *
 * @throws {SpecError} with a bare detail (`"linux" is not an object`) for the caller to place
 */
export function objectAt(parent: JsonObject, key: string, where: string): JsonObject {
  const value = parent[key];
  if (value === undefined || value === null) {
    const created: JsonObject = {};
    parent[key] = created;
    return created;
  }
  if (!isJsonObject(value)) {
    throw new SpecError(`"${where}" is not an object`, { path: "" });
  }
  return value;
}

/**
 * The array at `parent[key]`, created when missing.
 *
 * @throws {SpecError} with a bare detail for the caller to place
 */
export function arrayAt(parent: JsonObject, key: string, where: string): unknown[] {
  const value = parent[key];
  if (value === undefined || value === null) {
    const created: unknown[] = [];
    parent[key] = created;
    return created;
  }
  if (!Array.isArray(value)) {
    throw new SpecError(`"${where}" is not an array`, { path: "" });
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
