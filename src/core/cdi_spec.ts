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
import { cdiVersionProblem } from "./cdi_version.ts";
import { HOOK_STAGES } from "./container_edits.ts";
import { describePosition, SpecError } from "./errors.ts";
import { findJsonSyntaxError } from "./json_syntax.ts";

/** A device node edit. */
export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}

/** A mount edit. */
export interface CdiMount {
  hostPath: string;
  containerPath: string;
  options?: string[];
  type?: string;
}

/** A hook edit. */
export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** Intel RDT settings. */
export interface CdiIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

/** A network device to move into the container. */
export interface CdiNetDevice {
  hostInterfaceName: string;
  name: string;
}

/** Container edits. */
export interface CdiEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  hooks?: CdiHook[];
  mounts?: CdiMount[];
  intelRdt?: CdiIntelRdt;
  additionalGids?: number[];
  netDevices?: CdiNetDevice[];
}

/** One device of a spec. */
export interface CdiDevice {
  name: string;
  annotations?: Record<string, string>;
  containerEdits: CdiEdits;
}

/** A CDI spec file's content. */
export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  annotations?: Record<string, string>;
  devices: CdiDevice[];
  containerEdits?: CdiEdits;
}

type Field =
  | "string"
  | "integer"
  | "boolean"
  | "strings"
  | "integers"
  | "stringMap"
  | { object: Shape }
  | { list: Shape };
type Shape = Readonly<Record<string, Field>>;

const NODE: Shape = {
  path: "string",
  hostPath: "string",
  type: "string",
  major: "integer",
  minor: "integer",
  fileMode: "integer",
  permissions: "string",
  uid: "integer",
  gid: "integer",
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
  timeout: "integer",
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
  additionalGids: "integers",
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describeType(field: Field): string {
  if (typeof field !== "string") return "list" in field ? "a list" : "an object";
  return {
    string: "a string",
    integer: "an integer",
    boolean: "true or false",
    strings: "a list of strings",
    integers: "a list of integers",
    stringMap: "a map of strings",
  }[field];
}

/** Checks the document's shape: known fields only, each of the right JSON type (null = absent). */
function shapeProblem(value: unknown, shape: Shape, at: FieldPath): CdiProblem | undefined {
  if (!isObject(value)) {
    return { at, message: `${formatFieldPath(at) || "the document"} must be an object` };
  }
  for (const [key, item] of Object.entries(value)) {
    const here = [...at, key];
    const field = shape[key];
    if (field === undefined) {
      return {
        at: here,
        onKey: true,
        message: `unknown field "${key}"${at.length ? ` in ${formatFieldPath(at)}` : ""}`,
      };
    }
    if (item === null || item === undefined) continue;
    const wrong = () => ({
      at: here,
      message: `${formatFieldPath(here)} must be ${describeType(field)}`,
    });
    if (field === "string" && typeof item !== "string") return wrong();
    if (field === "integer" && !Number.isInteger(item)) return wrong();
    if (field === "boolean" && typeof item !== "boolean") return wrong();
    if (field === "strings" && !(Array.isArray(item) && item.every((x) => typeof x === "string"))) {
      return wrong();
    }
    if (field === "integers" && !(Array.isArray(item) && item.every((x) => Number.isInteger(x)))) {
      return wrong();
    }
    if (
      field === "stringMap" &&
      !(isObject(item) && Object.values(item).every((x) => typeof x === "string"))
    ) {
      return wrong();
    }
    if (typeof field === "object" && "object" in field) {
      const problem = shapeProblem(item, field.object, here);
      if (problem) return problem;
    }
    if (typeof field === "object" && "list" in field) {
      if (!Array.isArray(item)) return wrong();
      for (let i = 0; i < item.length; i++) {
        const problem = shapeProblem(item[i], field.list, [...here, i]);
        if (problem) return problem;
      }
    }
  }
  return undefined;
}

function envProblem(env: readonly string[] | undefined, at: FieldPath): CdiProblem | undefined {
  const i = (env ?? []).findIndex((e) => !(e.indexOf("=") > 0));
  return i < 0 ? undefined : {
    at: [...at, i],
    message: `${formatFieldPath([...at, i])} "${env![i]}" is not NAME=VALUE`,
  };
}

/**
 * A path that must be absolute: a relative hook program is resolved by the runtime in the
 * container's directory, and a relative container path in whatever directory it happens to be in.
 */
function relativeProblem(path: string, at: FieldPath): CdiProblem | undefined {
  return path.startsWith("/") ? undefined : {
    at,
    message: `${formatFieldPath(at)} "${path}" is not an absolute path`,
  };
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
  return `CDI spec "${file}": ${hook.at} ("${hook.path}") has no env, so runtimes start it with ` +
    `the container's environment: regenerate the spec ("xpu-ctk cdi generate") or give the ` +
    `hook an explicit env`;
}

/** Whether edits hold nothing (a device's edits must hold something). */
export function isEmptyEdits(edits: CdiEdits | undefined): boolean {
  if (!edits) return true;
  return !(edits.env?.length || edits.deviceNodes?.length || edits.hooks?.length ||
    edits.mounts?.length || edits.additionalGids?.length || edits.intelRdt ||
    edits.netDevices?.length);
}

function editsProblem(edits: CdiEdits | undefined, at: FieldPath): CdiProblem | undefined {
  if (!edits) return undefined;
  const env = envProblem(edits.env, [...at, "env"]);
  if (env) return env;
  for (const [i, node] of (edits.deviceNodes ?? []).entries()) {
    const here = [...at, "deviceNodes", i];
    if (!node.path) {
      return { at: [...here, "path"], message: `${formatFieldPath(here)} has no path` };
    }
    const relativeNode = relativeProblem(node.path, [...here, "path"]);
    if (relativeNode) return relativeNode;
    if (!["", "b", "c", "u", "p"].includes(node.type ?? "")) {
      return {
        at: [...here, "type"],
        message: `device node "${node.path}" has type "${node.type}": use "c", "b", "u" or "p"`,
      };
    }
    if (!/^[rwm]*$/.test(node.permissions ?? "")) {
      return {
        at: [...here, "permissions"],
        message: `device node "${node.path}" has permissions "${node.permissions}": use r, w and m`,
      };
    }
  }
  for (const [i, hook] of (edits.hooks ?? []).entries()) {
    const here = [...at, "hooks", i];
    if (!(HOOK_STAGES as readonly string[]).includes(hook.hookName ?? "")) {
      return {
        at: [...here, "hookName"],
        message: `${formatFieldPath(here)} has hookName "${hook.hookName ?? ""}": use one of ` +
          HOOK_STAGES.join(", "),
      };
    }
    if (!hook.path) {
      return { at: [...here, "path"], message: `${formatFieldPath(here)} has no path` };
    }
    const relativeHook = relativeProblem(hook.path, [...here, "path"]);
    if (relativeHook) return relativeHook;
    const env = envProblem(hook.env, [...here, "env"]);
    if (env) return env;
  }
  for (const [i, mount] of (edits.mounts ?? []).entries()) {
    const here = [...at, "mounts", i];
    if (!mount.hostPath) return { at: here, message: `${formatFieldPath(here)} has no hostPath` };
    if (!mount.containerPath) {
      return { at: here, message: `${formatFieldPath(here)} has no containerPath` };
    }
    const relativeMount = relativeProblem(mount.containerPath, [...here, "containerPath"]);
    if (relativeMount) return relativeMount;
  }
  const closID = edits.intelRdt?.closID;
  if (
    closID !== undefined && closID !== "/" &&
    (closID === "." || closID === ".." || /[/\n]/.test(closID) ||
      closID.length >= 4096)
  ) {
    return {
      at: [...at, "intelRdt", "closID"],
      message: `intelRdt.closID "${closID}" is not a valid name`,
    };
  }
  const hosts = new Set<string>();
  const names = new Set<string>();
  for (const [i, net] of (edits.netDevices ?? []).entries()) {
    const here = [...at, "netDevices", i];
    if (!net.hostInterfaceName) {
      return { at: here, message: `${formatFieldPath(here)} has no hostInterfaceName` };
    }
    if (!net.name) return { at: here, message: `${formatFieldPath(here)} has no name` };
    if (hosts.has(net.hostInterfaceName) || names.has(net.name)) {
      return { at: here, message: `${formatFieldPath(here)} repeats a host interface or a name` };
    }
    hosts.add(net.hostInterfaceName);
    names.add(net.name);
  }
  return undefined;
}

/** The first problem of a parsed document, in the CDI reference's order; `undefined` if valid. */
export function cdiSpecProblem(document: unknown): CdiProblem | undefined {
  const shape = shapeProblem(document, SPEC, []);
  if (shape) return shape;
  const spec = document as CdiSpec;
  if (!spec.cdiVersion) return { at: ["cdiVersion"], message: "cdiVersion is missing" };
  const version = cdiVersionProblem(spec);
  if (version) return { at: ["cdiVersion"], message: version };
  if (!spec.kind) return { at: ["kind"], message: "kind is missing" };
  const slash = spec.kind.indexOf("/");
  if (slash <= 0 || slash === spec.kind.length - 1) {
    return { at: ["kind"], message: `kind "${spec.kind}" must have the form "vendor/class"` };
  }
  const kindProblem = vendorNameProblem(spec.kind.slice(0, slash)) ??
    classNameProblem(spec.kind.slice(slash + 1));
  if (kindProblem) return { at: ["kind"], message: kindProblem };
  const global = editsProblem(spec.containerEdits ?? undefined, ["containerEdits"]);
  if (global) return global;
  const seen = new Set<string>();
  for (const [i, device] of (spec.devices ?? []).entries()) {
    const here = ["devices", i];
    const nameProblem = device.name ? deviceNameProblem(device.name) : "device name is missing";
    if (nameProblem) return { at: [...here, "name"], message: nameProblem };
    if (isEmptyEdits(device.containerEdits ?? undefined)) {
      return {
        at: [...here, "containerEdits"],
        message: `device "${device.name}" has no containerEdits`,
      };
    }
    const edits = editsProblem(device.containerEdits, [...here, "containerEdits"]);
    if (edits) return edits;
    if (seen.has(device.name)) {
      return { at: [...here, "name"], message: `device "${device.name}" is defined twice` };
    }
    seen.add(device.name);
  }
  if (seen.size === 0) return { at: ["devices"], message: "the spec has no devices" };
  return undefined;
}

/** Whether a file name is a CDI spec by its extension. */
export function cdiFormatOf(path: string): "json" | "yaml" | undefined {
  if (path.endsWith(".json")) return "json";
  if (path.endsWith(".yaml")) return "yaml";
  return undefined;
}

type YamlModule = typeof import("yaml");

async function yamlModule(): Promise<YamlModule> {
  return await import("yaml");
}

/** Finds the line and column of a field (or of its key) in the text, through YAML's syntax tree. */
async function locate(
  text: string,
  problem: CdiProblem,
): Promise<{ line?: number; column?: number }> {
  const yaml = await yamlModule();
  const lineCounter = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter });
  const rangeOf = (node: unknown): number | undefined =>
    yaml.isNode(node) && node.range ? node.range[0] : undefined;
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
}
/**
 * Parses and validates a CDI spec file's text (JSON for `.json`, YAML otherwise).
 *
 * @throws {SpecError} naming the file, the line and column when known, and the problem
 */
export async function parseCdiSpec(text: string, path: string): Promise<CdiSpec> {
  const fix = "fix the spec or remove the file";
  if (text.trim() === "") {
    throw new SpecError(`Cannot load CDI spec "${path}": the file is empty: ${fix}`, { path });
  }
  let document: unknown;
  if (cdiFormatOf(path) === "json") {
    // The scanner also rejects repeated keys, as the reference's strict reader does.
    const found = findJsonSyntaxError(text, { uniqueKeys: true });
    if (found) {
      const where = { path, line: found.line, column: found.column };
      throw new SpecError(
        `Cannot load CDI spec ${describePosition(where)}: ${found.detail}: ${fix}`,
        where,
      );
    }
    document = JSON.parse(text);
  } else {
    const yaml = await yamlModule();
    const lineCounter = new yaml.LineCounter();
    const doc = yaml.parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
    const error = doc.errors[0];
    if (error) {
      const pos = lineCounter.linePos(error.pos[0]);
      const where = { path, line: pos.line, column: pos.col };
      const detail = error.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "");
      throw new SpecError(
        `Cannot load CDI spec ${describePosition(where)}: ${detail}: ${fix}`,
        where,
        {
          cause: error,
        },
      );
    }
    document = doc.toJS();
  }
  if (document === null || document === undefined) {
    throw new SpecError(`Cannot load CDI spec "${path}": the file is empty: ${fix}`, { path });
  }
  const problem = cdiSpecProblem(document);
  if (problem) {
    const where = { path, ...(await locate(text, problem)) };
    throw new SpecError(
      `Cannot load CDI spec ${describePosition(where)}: ${problem.message}: ${fix}`,
      where,
    );
  }
  return document as CdiSpec;
}

/** Serialises a spec as JSON (2-space indent) or YAML, with a trailing newline. */
export async function formatCdiSpec(spec: CdiSpec, format: "json" | "yaml"): Promise<string> {
  if (format === "json") return JSON.stringify(spec, null, 2) + "\n";
  const yaml = await yamlModule();
  return yaml.stringify(spec, { lineWidth: 0 });
}
