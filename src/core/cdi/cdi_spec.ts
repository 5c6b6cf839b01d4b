/**
 * CDI spec files: the document model, strict parsing of JSON and YAML (unknown fields are errors,
 * as in the CDI reference), and validation — every problem reported once, with the file, the line
 * and column where the file has one, and the field's path (`devices[0].containerEdits.env[1]`).
 * Beyond the reference, hook paths and container paths (device nodes, mount destinations) must be
 * absolute: a relative one would be resolved wherever the runtime happens to be.
 *
 * @module
 */

import { classNameProblem, deviceNameProblem, vendorNameProblem } from "./cdi_name.ts";
import { cdiVersionProblem, declaresAtLeast } from "./cdi_version.ts";
import { HOOK_STAGES } from "../oci/container_edits.ts";
import { describePosition, errorMessage, SpecError } from "../errors.ts";
import { findDepthExcess, MAX_JSON_DEPTH } from "../text/json_depth.ts";
import { findJsonSyntaxError } from "../text/json_syntax.ts";
import { type LineColumn, lineColumn } from "../text/line_column.ts";

export type {
  CdiDevice,
  CdiDeviceNode,
  CdiEdits,
  CdiHook,
  CdiIntelRdt,
  CdiMount,
  CdiNetDevice,
  CdiSpec,
} from "./cdi_document.ts";
import type { CdiEdits, CdiSpec } from "./cdi_document.ts";

/**
 * A field's type. Integers are the Go types of the CDI reference's spec structs: `uint32` (uid,
 * gid, file mode, additional gids) and `int64` (major, minor, hook timeout), so a value the
 * reference refuses is refused here too, with its field path, instead of reaching the runtime.
 */
type Field =
  | "string"
  | "uint32"
  | "int64"
  | "boolean"
  | "strings"
  | "uint32s"
  | "stringMap"
  | { object: Shape }
  | { list: Shape };
type Shape = Readonly<Record<string, Field>>;

const NODE: Shape = {
  path: "string",
  hostPath: "string",
  type: "string",
  major: "int64",
  minor: "int64",
  fileMode: "uint32",
  permissions: "string",
  uid: "uint32",
  gid: "uint32",
};
const MOUNT: Shape = {
  hostPath: "string",
  containerPath: "string",
  options: "strings",
  type: "string",
};
const HOOK: Shape = {
  hookName: "string",
  path: "string",
  args: "strings",
  env: "strings",
  timeout: "int64",
};
const RDT: Shape = {
  closID: "string",
  l3CacheSchema: "string",
  memBwSchema: "string",
  schemata: "strings",
  enableMonitoring: "boolean",
  enableCMT: "boolean",
  enableMBM: "boolean",
};
const NET: Shape = { hostInterfaceName: "string", name: "string" };
const EDITS: Shape = {
  env: "strings",
  deviceNodes: { list: NODE },
  hooks: { list: HOOK },
  mounts: { list: MOUNT },
  intelRdt: { object: RDT },
  additionalGids: "uint32s",
  netDevices: { list: NET },
};
const DEVICE: Shape = {
  name: "string",
  annotations: "stringMap",
  containerEdits: { object: EDITS },
};
const SPEC: Shape = {
  cdiVersion: "string",
  kind: "string",
  annotations: "stringMap",
  devices: { list: DEVICE },
  containerEdits: { object: EDITS },
};

/** A path into the document: keys and list indexes. */
export type FieldPath = (string | number)[];

/** A problem in a spec, located by field path. */
export interface CdiProblem {
  at: FieldPath;
  message: string;
  /** The problem is the key itself (an unknown field), not its value. */
  onKey?: boolean;
}

/** `devices[0].containerEdits.env[1]` */
export function formatFieldPath(at: FieldPath): string {
  return at.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** A value from the document in double quotes, escaped (as in JSON) so a message stays one line. */
function quote(value: string | undefined): string {
  return JSON.stringify(value ?? "");
}

/**
 * A plain object, as JSON and YAML maps give: not an array, and not what a YAML tag makes (a
 * `Set` from `!!set`, a `Map` from `!!omap`, a `Date`, the bytes of `!!binary`), whose content
 * would otherwise pass as an empty or odd-keyed object.
 */
function isObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const prototype = Object.getPrototypeOf(v);
  return prototype === Object.prototype || prototype === null;
}

/** The largest value of Go's `uint32`: uids, gids and file modes. */
const UINT32_MAX = 4294967295;

function isUint32(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= UINT32_MAX;
}

/**
 * An `int64` beyond 2^53: the reference takes it, but a JavaScript number holds it rounded, and a
 * rounded major, minor or timeout would reach the runtime as another value than the spec's.
 */
function inexact(at: FieldPath): CdiProblem {
  return {
    at,
    message: `${formatFieldPath(at)} is beyond ±${Number.MAX_SAFE_INTEGER}, which this toolkit ` +
      `cannot carry exactly: use a smaller value`,
  };
}

function describeType(field: Field): string {
  if (typeof field !== "string") return "list" in field ? "a list" : "an object";
  return {
    string: "a string",
    uint32: `an integer from 0 to ${UINT32_MAX}`,
    int64: "an integer",
    boolean: "true or false",
    strings: "a list of strings",
    uint32s: `a list of integers from 0 to ${UINT32_MAX}`,
    stringMap: "a map of strings",
  }[field];
}

/**
 * The document's shape problems, in document order: unknown fields, and fields of the wrong JSON
 * type (null = absent); a field of the wrong type is not looked into.
 */
function* shapeProblems(value: unknown, shape: Shape, at: FieldPath): Generator<CdiProblem> {
  if (!isObject(value)) {
    yield { at, message: `${formatFieldPath(at) || "the document"} must be an object` };
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const here = [...at, key];
    const field = shape[key];
    if (field === undefined) {
      yield {
        at: here,
        onKey: true,
        message: `unknown field ${quote(key)}${at.length ? ` in ${formatFieldPath(at)}` : ""}`,
      };
      continue;
    }
    if (item === null || item === undefined) continue;
    const wrong = () => ({
      at: here,
      message: `${formatFieldPath(here)} must be ${describeType(field)}`,
    });
    if (
      (field === "string" && typeof item !== "string") ||
      (field === "uint32" && !isUint32(item)) ||
      (field === "int64" && !Number.isInteger(item)) ||
      (field === "boolean" && typeof item !== "boolean") ||
      (field === "strings" && !(Array.isArray(item) && item.every((x) => typeof x === "string"))) ||
      (field === "uint32s" && !Array.isArray(item)) ||
      (field === "stringMap" &&
        !(isObject(item) && Object.values(item).every((x) => typeof x === "string"))) ||
      (typeof field === "object" && "list" in field && !Array.isArray(item))
    ) {
      yield wrong();
      continue;
    }
    if (field === "int64" && !Number.isSafeInteger(item)) yield inexact(here);
    if (field === "uint32s") {
      for (const [i, x] of (item as unknown[]).entries()) {
        if (!isUint32(x)) {
          yield {
            at: [...here, i],
            message: `${formatFieldPath([...here, i])} must be ${describeType("uint32")}`,
          };
        }
      }
    }
    if (typeof field === "object" && "object" in field) {
      yield* shapeProblems(item, field.object, here);
    }
    if (typeof field === "object" && "list" in field) {
      for (const [i, entry] of (item as unknown[]).entries()) {
        yield* shapeProblems(entry, field.list, [...here, i]);
      }
    }
  }
}

/**
 * A YAML number or boolean where the spec has a string, written as the reference's YAML reader
 * writes it for a string field (decimal integers, `true`/`false`), so unquoted `name: 0` is the
 * device "0" and `name: yes` is "true". Everything else is left for the shape check; the value is
 * changed in place and returned.
 */
function coerceToStrings(value: unknown, shape: Shape): unknown {
  if (!isObject(value)) return value;
  const text = (item: unknown) =>
    typeof item === "number" || typeof item === "boolean" ? String(item) : item;
  for (const [key, item] of Object.entries(value)) {
    const field = shape[key];
    if (field === "string") value[key] = text(item);
    else if (field === "strings" && Array.isArray(item)) value[key] = item.map(text);
    else if (field === "stringMap" && isObject(item)) {
      for (const [k, v] of Object.entries(item)) item[k] = text(v);
    } else if (typeof field === "object" && "object" in field) coerceToStrings(item, field.object);
    else if (typeof field === "object" && "list" in field && Array.isArray(item)) {
      for (const entry of item) coerceToStrings(entry, field.list);
    }
  }
  return value;
}

function* envProblems(env: readonly string[] | undefined, at: FieldPath): Generator<CdiProblem> {
  for (const [i, entry] of (env ?? []).entries()) {
    if (!(entry.indexOf("=") > 0)) {
      yield {
        at: [...at, i],
        message: `${formatFieldPath([...at, i])} ${quote(entry)} is not NAME=VALUE`,
      };
    }
  }
}

/**
 * A path that must be absolute: a relative hook program is resolved by the runtime in the
 * container's directory, and a relative container path in whatever directory it happens to be in.
 */
function relativeProblem(path: string, at: FieldPath): CdiProblem | undefined {
  return path.startsWith("/") ? undefined : {
    at,
    message: `${formatFieldPath(at)} ${quote(path)} is not an absolute path`,
  };
}

/** Linux's limits: a path (with its NUL) and one name in it, in bytes. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

/**
 * A path that cannot name a file on Linux: one with a NUL byte (the C library reads a path only
 * up to it, so the runtime would act on another file than the one the spec names), or one longer
 * than the kernel takes, or with a longer name in it.
 */
function unusablePathProblem(
  path: string | null | undefined,
  at: FieldPath,
): CdiProblem | undefined {
  // null is an absent field here, as in the shape check.
  if (path === undefined || path === null) return undefined;
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  const problem = path.includes("\0")
    ? "contains a NUL byte"
    : bytes(path) >= PATH_MAX
    ? `is longer than ${PATH_MAX - 1} bytes`
    : path.split("/").some((name) => bytes(name) > NAME_MAX)
    ? `has a name longer than ${NAME_MAX} bytes`
    : undefined;
  if (problem === undefined) return undefined;
  const shown = path.length > 80 ? `${quote(path.slice(0, 80))}…` : quote(path);
  return { at, message: `${formatFieldPath(at)} ${shown} ${problem}` };
}

/** A hook of a spec that has no `env`, so runtimes start it with the container's environment. */
export interface HookWithoutEnv {
  /** Where it is, e.g. `containerEdits.hooks[0]`. */
  at: string;
  path: string;
}

/**
 * The hooks of a spec without `env` (specs written by older versions, or by hand), spec edits
 * first, then each device's.
 */
export function hooksWithoutEnv(spec: CdiSpec): HookWithoutEnv[] {
  const found: HookWithoutEnv[] = [];
  const scan = (edits: CdiEdits | undefined, at: FieldPath) => {
    for (const [i, hook] of (edits?.hooks ?? []).entries()) {
      if (hook.env == null) {
        found.push({ at: formatFieldPath([...at, "hooks", i]), path: hook.path });
      }
    }
  };
  scan(spec.containerEdits ?? undefined, ["containerEdits"]);
  for (const [i, device] of spec.devices.entries()) {
    scan(device.containerEdits ?? undefined, ["devices", i, "containerEdits"]);
  }
  return found;
}

/** The warning about a hook without `env` in the spec file `file`: one line, file and hook named. */
export function hookWithoutEnvWarning(file: string, hook: HookWithoutEnv): string {
  return `CDI spec ${quote(file)}: ${hook.at} (${quote(hook.path)}) has no env, so runtimes ` +
    `start it with the container's environment: regenerate the spec ("xpu-ctk cdi generate") ` +
    `or give the hook an explicit env`;
}

/** Whether edits hold nothing (a device's edits must hold something). */
export function isEmptyEdits(edits: CdiEdits | undefined): boolean {
  if (!edits) return true;
  return !(edits.env?.length || edits.deviceNodes?.length || edits.hooks?.length ||
    edits.mounts?.length || edits.additionalGids?.length || edits.intelRdt ||
    edits.netDevices?.length);
}

/** The semantic problems of a set of edits, each element's first, in document order. */
function* editsProblems(edits: CdiEdits | undefined, at: FieldPath): Generator<CdiProblem> {
  if (!edits) return;
  yield* envProblems(edits.env, [...at, "env"]);
  for (const [i, node] of (edits.deviceNodes ?? []).entries()) {
    const here = [...at, "deviceNodes", i];
    if (!node.path) {
      yield { at: [...here, "path"], message: `${formatFieldPath(here)} has no path` };
      continue;
    }
    const nodePath = unusablePathProblem(node.path, [...here, "path"]) ??
      unusablePathProblem(node.hostPath, [...here, "hostPath"]) ??
      relativeProblem(node.path, [...here, "path"]);
    if (nodePath) yield nodePath;
    if (!["", "b", "c", "u", "p"].includes(node.type ?? "")) {
      yield {
        at: [...here, "type"],
        message: `device node ${quote(node.path)} has type ${quote(node.type)}: ` +
          `use "c", "b", "u" or "p"`,
      };
    }
    if (!/^[rwm]*$/.test(node.permissions ?? "")) {
      yield {
        at: [...here, "permissions"],
        message: `device node ${quote(node.path)} has permissions ` +
          `${quote(node.permissions)}: use r, w and m`,
      };
    }
  }
  for (const [i, hook] of (edits.hooks ?? []).entries()) {
    const here = [...at, "hooks", i];
    if (!(HOOK_STAGES as readonly string[]).includes(hook.hookName ?? "")) {
      yield {
        at: [...here, "hookName"],
        message:
          `${formatFieldPath(here)} has hookName ${quote(hook.hookName ?? "")}: use one of ` +
          HOOK_STAGES.join(", "),
      };
      continue;
    }
    if (!hook.path) {
      yield { at: [...here, "path"], message: `${formatFieldPath(here)} has no path` };
      continue;
    }
    const hookPath = unusablePathProblem(hook.path, [...here, "path"]) ??
      relativeProblem(hook.path, [...here, "path"]);
    if (hookPath) {
      yield hookPath;
      continue;
    }
    yield* envProblems(hook.env, [...here, "env"]);
  }
  for (const [i, mount] of (edits.mounts ?? []).entries()) {
    const here = [...at, "mounts", i];
    if (!mount.hostPath || !mount.containerPath) {
      const missing = mount.hostPath ? "containerPath" : "hostPath";
      yield { at: here, message: `${formatFieldPath(here)} has no ${missing}` };
      continue;
    }
    const mountPath = unusablePathProblem(mount.hostPath, [...here, "hostPath"]) ??
      unusablePathProblem(mount.containerPath, [...here, "containerPath"]) ??
      relativeProblem(mount.containerPath, [...here, "containerPath"]);
    if (mountPath) yield mountPath;
  }
  // null is an absent field, as in the shape check (the reference reads it as "").
  const closID = edits.intelRdt?.closID;
  if (
    closID != null && closID !== "/" &&
    (closID === "." || closID === ".." || /[/\n]/.test(closID) ||
      closID.length >= 4096)
  ) {
    yield {
      at: [...at, "intelRdt", "closID"],
      message: `intelRdt.closID ${quote(closID)} is not a valid name`,
    };
  }
  const hosts = new Set<string>();
  const names = new Set<string>();
  for (const [i, net] of (edits.netDevices ?? []).entries()) {
    const here = [...at, "netDevices", i];
    if (!net.hostInterfaceName) {
      yield { at: here, message: `${formatFieldPath(here)} has no hostInterfaceName` };
      continue;
    }
    if (!net.name) {
      yield { at: here, message: `${formatFieldPath(here)} has no name` };
      continue;
    }
    if (hosts.has(net.hostInterfaceName) || names.has(net.name)) {
      yield { at: here, message: `${formatFieldPath(here)} repeats a host interface or a name` };
    }
    hosts.add(net.hostInterfaceName);
    names.add(net.name);
  }
}

/** The `intelRdt` fields cdiVersion 1.1.0 dropped for `enableMonitoring`. */
const DROPPED_IN_1_1 = ["enableCMT", "enableMBM"] as const;

/**
 * A field the spec's declared version no longer has: the reference's 1.1.0 structs have no
 * `enableCMT` or `enableMBM`, so its strict parse refuses them as unknown fields.
 */
function droppedFieldProblem(spec: CdiSpec): CdiProblem | undefined {
  if (!declaresAtLeast(spec.cdiVersion, "1.1.0")) return undefined;
  const scopes: [CdiEdits | undefined, FieldPath][] = [
    [spec.containerEdits ?? undefined, ["containerEdits"]],
    ...(spec.devices ?? []).map((d, i): [CdiEdits | undefined, FieldPath] => [
      d.containerEdits ?? undefined,
      ["devices", i, "containerEdits"],
    ]),
  ];
  for (const [edits, at] of scopes) {
    const rdt = edits?.intelRdt as Record<string, unknown> | null | undefined;
    const field = DROPPED_IN_1_1.find((name) => rdt != null && name in rdt);
    if (field !== undefined) {
      return {
        at: [...at, "intelRdt", field],
        onKey: true,
        message: `unknown field "${field}" in ${formatFieldPath([...at, "intelRdt"])}: ` +
          `cdiVersion ${spec.cdiVersion} dropped it; use enableMonitoring`,
      };
    }
  }
  return undefined;
}

/**
 * Every problem of a parsed document, in the CDI reference's order (its first is the one the
 * reference reports), at most `limit`. Shape problems come alone: the rules after them need a
 * document of the right types.
 */
export function cdiSpecProblems(document: unknown, limit = Infinity): CdiProblem[] {
  const problems: CdiProblem[] = [];
  for (const problem of shapeProblems(document, SPEC, [])) {
    if (problems.push(problem) >= limit) return problems;
  }
  if (problems.length > 0) return problems;
  for (const problem of ruleProblems(document as CdiSpec)) {
    if (problems.push(problem) >= limit) break;
  }
  return problems;
}

/** The first problem of a parsed document, in the CDI reference's order; `undefined` if valid. */
export function cdiSpecProblem(document: unknown): CdiProblem | undefined {
  return cdiSpecProblems(document, 1)[0];
}

/** The problems of a well-typed document: version, kind, edits and devices. */
function* ruleProblems(spec: CdiSpec): Generator<CdiProblem> {
  if (!spec.cdiVersion) yield { at: ["cdiVersion"], message: "cdiVersion is missing" };
  else {
    const version = cdiVersionProblem(spec);
    if (version) yield { at: ["cdiVersion"], message: version };
    else {
      const dropped = droppedFieldProblem(spec);
      if (dropped) yield dropped;
    }
  }
  const slash = spec.kind?.indexOf("/") ?? -1;
  if (!spec.kind) yield { at: ["kind"], message: "kind is missing" };
  else if (slash <= 0 || slash === spec.kind.length - 1) {
    yield {
      at: ["kind"],
      message: `kind ${quote(spec.kind)} must have the form "vendor/class"`,
    };
  } else {
    const kindProblem = vendorNameProblem(spec.kind.slice(0, slash)) ??
      classNameProblem(spec.kind.slice(slash + 1));
    if (kindProblem) yield { at: ["kind"], message: kindProblem };
  }
  yield* editsProblems(spec.containerEdits ?? undefined, ["containerEdits"]);
  const seen = new Set<string>();
  for (const [i, device] of (spec.devices ?? []).entries()) {
    const here = ["devices", i];
    const nameProblem = device.name ? deviceNameProblem(device.name) : "device name is missing";
    if (nameProblem) yield { at: [...here, "name"], message: nameProblem };
    if (isEmptyEdits(device.containerEdits ?? undefined)) {
      yield {
        at: [...here, "containerEdits"],
        message: `device ${quote(device.name)} has no containerEdits`,
      };
    } else yield* editsProblems(device.containerEdits, [...here, "containerEdits"]);
    if (device.name && seen.has(device.name)) {
      yield {
        at: [...here, "name"],
        message: `device ${quote(device.name)} is defined twice`,
      };
    }
    if (device.name) seen.add(device.name);
  }
  if ((spec.devices ?? []).length === 0) {
    yield { at: ["devices"], message: "the spec has no devices" };
  }
}

/** Whether a file name is a CDI spec by its extension. */
export function cdiFormatOf(path: string): "json" | "yaml" | undefined {
  if (path.endsWith(".json")) return "json";
  if (path.endsWith(".yaml")) return "yaml";
  return undefined;
}

type YamlModule = typeof import("yaml");

async function yamlModule(): Promise<YamlModule> {
  const module = await import("yaml");
  // `yaml` is a CommonJS package: Deno gives its exports as named exports and as the default,
  // the bundle of the offline build (esbuild) as the default only.
  return ("default" in module ? module.default : module) as YamlModule;
}

/**
 * Finds the line and column of a field (or of its key) in the text, through YAML's syntax tree;
 * nothing when the tree does not have it.
 */
async function locator(
  text: string,
): Promise<(problem: CdiProblem) => { line?: number; column?: number }> {
  const yaml = await yamlModule();
  const lineCounter = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter, uniqueKeys: false, logLevel: "error" });
  const rangeOf = (node: unknown): number | undefined =>
    yaml.isNode(node) && node.range ? node.range[0] : undefined;
  return (problem) => {
    let offset: number | undefined;
    if (problem.onKey) {
      const parent = doc.getIn(problem.at.slice(0, -1), true);
      const key = problem.at[problem.at.length - 1];
      if (yaml.isMap(parent)) {
        const pair = parent.items.find((p) => yaml.isScalar(p.key) && p.key.value === key);
        offset = rangeOf(pair?.key);
      }
    } else {
      for (let n = problem.at.length; n >= 0 && offset === undefined; n--) {
        offset = rangeOf(doc.getIn(problem.at.slice(0, n), true));
      }
    }
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
}

/** How often aliases may be expanded in one YAML document (`yaml`'s own default, made explicit). */
const MAX_ALIAS_COUNT = 100;

const FIX = "fix the spec or remove the file";

/** A spec that does not load: the file, the position when known, the detail as one line. */
function loadError(
  where: { path: string; line?: number; column?: number },
  detail: string,
  cause?: unknown,
): SpecError {
  return new SpecError(
    singleLine(`Cannot load CDI spec ${describePosition(where)}: ${detail}: ${FIX}`),
    where,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A message as one line: control characters and line separators (from a quoted value, a key, a
 * file name, a library's message) escaped as in JSON.
 */
function singleLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const escaped = JSON.stringify(c).slice(1, -1);
    return escaped.length > 1 ? escaped : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

function parseJsonDocument(text: string, path: string): unknown {
  const deep = findDepthExcess(text, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    throw loadError(
      { path, line: deep.line, column: deep.column },
      `the document nests deeper than ${deep.limit} levels`,
    );
  }
  // The scanner also rejects repeated keys, as the reference's strict reader does.
  const found = findJsonSyntaxError(text, { uniqueKeys: true });
  if (found) throw loadError({ path, line: found.line, column: found.column }, found.detail);
  try {
    return JSON.parse(text);
  } catch (error) {
    // Not reached: the scanner accepts what JSON.parse accepts.
    throw loadError({ path }, errorMessage(error).split("\n")[0], error);
  }
}

/**
 * Where a YAML text first nests deeper than `limit` levels, block collections (`- - - x`,
 * indentation) and flow collections alike. `yaml`'s parser keeps its open nodes on a stack of its
 * own (it does not recurse); its composer and `toJS` do, so this runs before them and stops at the
 * first lexeme past the limit (a hundred thousand `[` cost no more than 513).
 */
function yamlDepthExcess(
  yaml: YamlModule,
  text: string,
  limit: number,
): LineColumn | undefined {
  const parser = new yaml.Parser();
  const collections = new Set(["block-map", "block-seq", "flow-collection"]);
  for (const lexeme of new yaml.Lexer().lex(text)) {
    const offset = parser.offset;
    for (const _ of parser.next(lexeme)) {
      // Finished top-level tokens: only the depth matters here.
    }
    // The stack holds the document, each open collection and a scalar being read; it is short
    // for any real spec, and this stops as soon as it is long.
    if (parser.stack.length > limit) {
      const depth = parser.stack.filter((token) => collections.has(token.type)).length;
      if (depth > limit) return lineColumn(text, offset);
    }
  }
  return undefined;
}

/** An absent key (`? ` with nothing, `: x`): equal to another absent key, as in `yaml`. */
const NO_KEY = Symbol("no key");

/**
 * Where the first key (in the text) is that repeats one before it in the same map: keys are equal
 * as `yaml`'s `uniqueKeys` check has them (scalars by value, other nodes by identity), found with
 * a set per map and without recursion.
 */
function firstRepeatedKey(yaml: YamlModule, root: unknown): number | undefined {
  let first: number | undefined;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (yaml.isMap(node)) {
      const seen = new Set<unknown>();
      for (const { key, value } of node.items) {
        stack.push(key, value);
        // yaml compares values with ===, under which NaN is no repeat of NaN.
        const id = key === null ? NO_KEY : yaml.isScalar(key) ? key.value : key;
        if (typeof id === "number" && Number.isNaN(id)) continue;
        if (!seen.has(id)) {
          seen.add(id);
          continue;
        }
        const at = yaml.isNode(key) ? key.range?.[0] : undefined;
        if (at !== undefined && (first === undefined || at < first)) first = at;
      }
    } else if (yaml.isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return first;
}

async function parseYamlDocument(text: string, path: string): Promise<unknown> {
  const yaml = await yamlModule();
  // Not findDepthExcess: brackets in comments and single-quoted strings would count there.
  const deep = yamlDepthExcess(yaml, text, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    throw loadError(
      { path, line: deep.line, column: deep.column },
      `the document nests deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  const lineCounter = new yaml.LineCounter();
  // logLevel "error": the library's warnings (keys that are collections) would go to stderr.
  // Repeated keys are found below, in one pass: `uniqueKeys: true` compares every key with each
  // one before it, which takes seconds on a map of ten thousand keys.
  // YAML 1.1, as the reference reads specs (sigs.k8s.io/yaml over go-yaml): `0666` is octal,
  // `yes` is true, `1_000` is a number. The same file means the same to every engine and to us.
  const doc = yaml.parseDocument(text, {
    version: "1.1",
    // But not the 1.1 forms go-yaml never resolved: base 60 (`1:20`) and timestamps stay strings.
    customTags: (tags) =>
      tags.filter((tag) =>
        typeof tag === "string"
          ? !["intTime", "floatTime", "timestamp"].includes(tag)
          : !("format" in tag && tag.format === "TIME") &&
            tag.tag !== "tag:yaml.org,2002:timestamp"
      ),
    lineCounter,
    uniqueKeys: false,
    prettyErrors: false,
    logLevel: "error",
  });
  const error = doc.errors[0];
  const repeated = firstRepeatedKey(yaml, doc.contents);
  if (error && (repeated === undefined || error.pos[0] <= repeated)) {
    const pos = lineCounter.linePos(error.pos[0]);
    const detail = error.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "");
    throw loadError({ path, line: pos.line, column: pos.col }, detail, error);
  }
  if (repeated !== undefined) {
    const pos = lineCounter.linePos(repeated);
    throw loadError({ path, line: pos.line, column: pos.col }, "Map keys must be unique");
  }
  try {
    return coerceToStrings(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), SPEC);
  } catch (error) {
    // Resolving aliases is what fails here: an alias before its anchor, or too many expansions.
    if (!(error instanceof Error)) throw error;
    // The alias the message names ("Unresolved alias (…): zz"), else the first one.
    const named = /: (\S+)$/.exec(error.message.split("\n")[0])?.[1];
    let alias: { line: number; column: number } | undefined;
    yaml.visit(doc, {
      Alias(_, node) {
        if (named !== undefined && node.source !== named) return;
        if (node.range) {
          const { line, col } = lineCounter.linePos(node.range[0]);
          alias = { line, column: col };
        }
        return yaml.visit.BREAK;
      },
    });
    const detail = /excessive alias count/i.test(error.message)
      ? `its aliases expand more than ${MAX_ALIAS_COUNT} times (an alias bomb)`
      : error.message.split("\n")[0];
    throw loadError({ path, ...alias }, detail, error);
  }
}

/** What {@link checkCdiSpec} found: the spec when valid, else every error, one line each. */
export interface CdiSpecCheck {
  spec?: CdiSpec;
  errors: SpecError[];
}

/**
 * Parses and validates a CDI spec file's text (JSON for `.json`, YAML otherwise), reporting up to
 * `limit` problems, each with the file, its line and column when known, and its field. A file that
 * does not parse has one error. A document nested deeper than {@link MAX_JSON_DEPTH} levels, or
 * whose YAML aliases expand more than 100 times, is refused before it is built.
 */
export async function checkCdiSpec(
  text: string,
  path: string,
  limit = Infinity,
): Promise<CdiSpecCheck> {
  let document: unknown;
  try {
    if (text.trim() === "") throw loadError({ path }, "the file is empty");
    // The reference reads JSON through its YAML reader, so a JSON number where a string goes is
    // that string for it too.
    document = cdiFormatOf(path) === "json"
      ? coerceToStrings(parseJsonDocument(text, path), SPEC)
      : await parseYamlDocument(text, path);
    if (document === null || document === undefined) {
      throw loadError({ path }, "the file is empty");
    }
  } catch (error) {
    if (error instanceof SpecError) return { errors: [error] };
    throw error;
  }
  const problems = cdiSpecProblems(document, limit);
  if (problems.length === 0) return { spec: document as CdiSpec, errors: [] };
  let locate: (problem: CdiProblem) => { line?: number; column?: number } = () => ({});
  try {
    locate = await locator(text);
  } catch {
    // The position is a help; the problems are reported without it.
  }
  return {
    errors: problems.map((problem) => {
      let position: { line?: number; column?: number } = {};
      try {
        position = locate(problem);
      } catch {
        // As above: reported without a position.
      }
      return loadError({ path, ...position }, problem.message);
    }),
  };
}

/**
 * Parses and validates a CDI spec file's text; see {@link checkCdiSpec}.
 *
 * @throws {SpecError} for the first problem: the file, the line and column when known, the problem
 */
export async function parseCdiSpec(text: string, path: string): Promise<CdiSpec> {
  const { spec, errors } = await checkCdiSpec(text, path, 1);
  if (spec === undefined) throw errors[0];
  return spec;
}

/** Serialises a spec as JSON (2-space indent) or YAML, with a trailing newline. */
export async function formatCdiSpec(spec: CdiSpec, format: "json" | "yaml"): Promise<string> {
  if (format === "json") return JSON.stringify(spec, null, 2) + "\n";
  const yaml = await yamlModule();
  // YAML 1.1 quoting, so that a string such as "yes" or "1_000" reads back (here and in the
  // reference) as the string it is.
  return yaml.stringify(spec, { lineWidth: 0, version: "1.1" });
}
