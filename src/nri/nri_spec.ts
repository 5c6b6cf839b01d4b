/**
 * The OCI spec the mode edits see, built from the container an NRI runtime (containerd, CRI-O)
 * describes in a `CreateContainer` request, so the NRI plugin decides with the shim's own
 * functions. NRI's message names are NRI's proto fields in lowerCamelCase (`nri/pkg/api/api.proto`,
 * v0.8); only the fields the decision reads are declared, so the transport's own types match
 * structurally.
 *
 * What the spec holds, and why:
 *
 * - `process.env`, `mounts`, `hooks`, `linux.devices` and `linux.resources.devices` as NRI gives
 *   them: the runtime copies them from the OCI spec it is about to hand to runc, the same spec
 *   the shim would read from `config.json`.
 * - `annotations`: the container's only. The runtimes fill `Container.annotations` from that OCI
 *   spec, which is what the shim sees (containerd copies a pod's annotations into it only when
 *   the runtime handler's `pod_annotations` lets them through); containerd adds the CRI
 *   container config's annotations, which the kubelet sets (device plugins' `cdi.k8s.io/` ones
 *   among them), not the pod's author. `PodSandbox.annotations` holds every annotation of the
 *   pod, set by whoever may create pods, and applies to each of its containers: reading it would
 *   serve requests the shim never sees, so it is not read.
 * - privileged-ness: NRI carries no privileged flag and no capabilities. The runtimes give a
 *   privileged container, and only it, a device cgroup that allows every device; that rule
 *   ({@link isNriPrivileged}) stands for the shim's test (`CAP_SYS_ADMIN` in the bounding set),
 *   written into `process.capabilities.bounding` so the shared rule reads it unchanged. A
 *   container that only adds `SYS_ADMIN` is privileged to the shim, not to the plugin: the
 *   plugin is the stricter of the two.
 * - no `process.user`: NRI v0.8 does not say who the container runs as, so a CDI device node
 *   without an owner keeps none (the shim gives it the container's uid and gid).
 *
 * Everything here is attacker-reachable (SPEC section 15: env and annotations come from users),
 * so every field is checked for its type, and the values a request is read from are bounded
 * ({@link checkRequestSize}) before any rule looks at them.
 *
 * @module
 */

import type { Config } from "../core/config/config.ts";
import { splitCommaList } from "../core/device/capabilities.ts";
import { quoted, RequestError } from "../core/errors.ts";
import { HOOK_STAGES, type HookStage } from "../core/oci/container_edits.ts";
import {
  type JsonObject,
  type OciSpec,
  specAnnotations,
  specEnv,
  specMounts,
} from "../core/oci/oci_spec.ts";
import { VISIBLE_DEVICES_ENV, VOLUME_MOUNT_PREFIX } from "../core/request/device_request.ts";

/** NRI's wrappers of an optional scalar (`OptionalInt`, `OptionalInt64`, `OptionalUInt32`, …). */
export interface NriOptional<T> {
  value: T;
}

/** A protobuf `int64` as a decoder may give it. */
export type NriInt64 = number | bigint;

/** A protobuf `map<string, string>` as a decoder may give it. */
export type NriStringMap = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/** NRI `Mount`. */
export interface NriMount {
  destination: string;
  type?: string;
  source?: string;
  options?: readonly string[];
}

/** NRI `Hook`. */
export interface NriHook {
  path: string;
  args?: readonly string[];
  env?: readonly string[];
  timeout?: NriOptional<NriInt64> | null;
}

/** NRI `Hooks`: one list per OCI stage. */
export type NriHooks = { readonly [stage in HookStage]?: readonly NriHook[] };

/** NRI `LinuxDevice`. */
export interface NriLinuxDevice {
  path: string;
  type: string;
  major: NriInt64;
  minor: NriInt64;
  fileMode?: NriOptional<number> | null;
  uid?: NriOptional<number> | null;
  gid?: NriOptional<number> | null;
}

/** NRI `LinuxDeviceCgroup`: an absent major or minor means every one. */
export interface NriLinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: NriOptional<NriInt64> | null;
  minor?: NriOptional<NriInt64> | null;
  access?: string;
}

/** NRI `LinuxContainer`, the parts the decision reads. */
export interface NriLinuxContainer {
  devices?: readonly NriLinuxDevice[];
  resources?: { devices?: readonly NriLinuxDeviceCgroup[] } | null;
}

/** NRI `Container`, the parts the decision reads. */
export interface NriContainer {
  id?: string;
  podSandboxId?: string;
  name?: string;
  annotations?: NriStringMap;
  args?: readonly string[];
  env?: readonly string[];
  mounts?: readonly NriMount[];
  hooks?: NriHooks | null;
  linux?: NriLinuxContainer | null;
}

/** NRI `PodSandbox`, the parts a message names. */
export interface NriPodSandbox {
  id?: string;
  name?: string;
  namespace?: string;
  annotations?: NriStringMap;
}

/** NRI `CreateContainerRequest`. */
export interface NriCreateContainerRequest {
  pod?: NriPodSandbox | null;
  container?: NriContainer | null;
}

/**
 * The most bytes the values a request is read from may hold together: the request variables
 * (`XPU_VISIBLE_DEVICES`, `swarm-resource`), the annotations under `annotation-prefixes` and the
 * volume-mount destinations. 64 devices by 80-character CDI names take 5 KiB; the bound keeps a
 * hostile request from costing the plugin, which serves every container of the node, more than
 * linear time, and keeps error messages that list ids short.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** A CreateContainer request whose shape is not NRI's: the runtime's fault, not the user's. */
function malformed(field: string, problem: string): RequestError {
  return new RequestError(
    `Cannot read the NRI CreateContainer request: ${quoted(field)} ${problem}: the runtime sent ` +
      `a message this plugin does not understand; update containerd or CRI-O and the toolkit`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A repeated string field (absent = empty). */
function strings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(field, "is not a list");
  return value.map((item, i) => {
    if (typeof item !== "string") throw malformed(`${field}[${i}]`, "is not a string");
    return item;
  });
}

/** A string field (absent = empty, as proto3 has it). */
function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw malformed(field, "is not a string");
  return value;
}

/** A list of messages (absent = empty). */
function messages(value: unknown, field: string): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(field, "is not a list");
  return value.map((item, i) => {
    if (!isObject(item)) throw malformed(`${field}[${i}]`, "is not a message");
    return item;
  });
}

/** An integer field (`int64` as a number or bigint), held to the safe range. */
function integer(value: unknown, field: string): number {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw malformed(field, "is not an integer");
  }
  return n;
}

/** An optional wrapper's integer, or `undefined` when absent. */
function optionalInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw malformed(field, "is not a message");
  return integer(value.value, `${field}.value`);
}

/** A `map<string, string>` as entries (a plain object or a Map). */
function stringMap(value: unknown, field: string): [string, string][] {
  if (value === undefined || value === null) return [];
  const entries = value instanceof Map
    ? [...value]
    : isObject(value)
    ? Object.entries(value)
    : null;
  if (entries === null) throw malformed(field, "is not a map");
  for (const [key, v] of entries) {
    if (typeof key !== "string" || typeof v !== "string") {
      throw malformed(`${field}[${JSON.stringify(String(key))}]`, "is not a string");
    }
  }
  return entries as [string, string][];
}

/** A cgroup rule's major or minor that means every number: absent, or runc's wildcard -1. */
function isWildcard(value: number | undefined): boolean {
  return value === undefined || value === -1;
}

/**
 * Whether a container is privileged as far as NRI can tell: its device cgroup allows every
 * device (a rule of type "a" or none, no major, no minor, access "rwm") and no deny rule follows.
 * containerd and CRI-O give exactly that to privileged containers, and a deny-all start plus
 * named devices to every other one.
 *
 * @throws {RequestError} for rules not shaped like NRI's
 */
export function isNriPrivileged(container: NriContainer): boolean {
  const linux = container.linux;
  if (linux === undefined || linux === null) return false;
  if (!isObject(linux)) throw malformed("container.linux", "is not a message");
  const resources = linux.resources;
  if (resources === undefined || resources === null) return false;
  if (!isObject(resources)) throw malformed("container.linux.resources", "is not a message");
  let allowsAll = false;
  messages(resources.devices, "container.linux.resources.devices").forEach((rule, i) => {
    const field = `container.linux.resources.devices[${i}]`;
    const type = text(rule.type, `${field}.type`);
    const access = text(rule.access, `${field}.access`);
    const everyDevice = (type === "" || type === "a") &&
      isWildcard(optionalInteger(rule.major, `${field}.major`)) &&
      isWildcard(optionalInteger(rule.minor, `${field}.minor`));
    if (rule.allow !== true) allowsAll = false;
    else if (everyDevice && [..."rwm"].every((c) => access.includes(c))) allowsAll = true;
  });
  return allowsAll;
}

/**
 * The OCI spec the mode edits see for an NRI container (see the module comment for what it holds
 * and why). The spec is new; the request is not changed.
 *
 * @throws {RequestError} for a request not shaped like NRI's
 */
export function ociSpecFromNri(container: NriContainer): OciSpec {
  if (!isObject(container)) throw malformed("container", "is missing");
  const c = container as Record<string, unknown>;
  const spec: OciSpec = {
    process: {
      args: strings(c.args, "container.args"),
      env: strings(c.env, "container.env"),
      // The shim's privileged test, fed with NRI's one signal of it.
      capabilities: { bounding: isNriPrivileged(container) ? ["CAP_SYS_ADMIN"] : [] },
    },
    mounts: messages(c.mounts, "container.mounts").map((m, i) => ociMount(m, i)),
  };
  const hooks = ociHooks(c.hooks);
  if (hooks !== undefined) spec.hooks = hooks;
  // Own properties from entries, so a key such as "__proto__" stays a key.
  spec.annotations = Object.fromEntries(stringMap(c.annotations, "container.annotations"));
  spec.linux = ociLinux(c.linux);
  return spec;
}

function ociMount(m: Record<string, unknown>, i: number): JsonObject {
  const field = `container.mounts[${i}]`;
  const mount: JsonObject = { destination: text(m.destination, `${field}.destination`) };
  const type = text(m.type, `${field}.type`);
  if (type !== "") mount.type = type;
  const source = text(m.source, `${field}.source`);
  if (source !== "") mount.source = source;
  const options = strings(m.options, `${field}.options`);
  if (options.length > 0) mount.options = options;
  return mount;
}

function ociHooks(value: unknown): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw malformed("container.hooks", "is not a message");
  const hooks: JsonObject = {};
  for (const stage of HOOK_STAGES) {
    const list = messages(value[stage], `container.hooks.${stage}`).map((h, i) => {
      const field = `container.hooks.${stage}[${i}]`;
      const hook: JsonObject = { path: text(h.path, `${field}.path`) };
      const args = strings(h.args, `${field}.args`);
      if (args.length > 0) hook.args = args;
      const env = strings(h.env, `${field}.env`);
      if (env.length > 0) hook.env = env;
      const timeout = optionalInteger(h.timeout, `${field}.timeout`);
      if (timeout !== undefined) hook.timeout = timeout;
      return hook;
    });
    if (list.length > 0) hooks[stage] = list;
  }
  return Object.keys(hooks).length > 0 ? hooks : undefined;
}

function ociLinux(value: unknown): JsonObject {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw malformed("container.linux", "is not a message");
  const linux: JsonObject = {};
  const devices = messages(value.devices, "container.linux.devices").map((d, i) => {
    const field = `container.linux.devices[${i}]`;
    const device: JsonObject = {
      path: text(d.path, `${field}.path`),
      type: text(d.type, `${field}.type`),
      major: integer(d.major ?? 0, `${field}.major`),
      minor: integer(d.minor ?? 0, `${field}.minor`),
    };
    for (const key of ["fileMode", "uid", "gid"] as const) {
      const n = optionalInteger(d[key], `${field}.${key}`);
      if (n !== undefined) device[key] = n;
    }
    return device;
  });
  if (devices.length > 0) linux.devices = devices;
  const resources = value.resources;
  if (resources !== undefined && resources !== null) {
    if (!isObject(resources)) throw malformed("container.linux.resources", "is not a message");
    const rules = messages(resources.devices, "container.linux.resources.devices").map((r, i) => {
      const field = `container.linux.resources.devices[${i}]`;
      const rule: JsonObject = { allow: r.allow === true };
      const type = text(r.type, `${field}.type`);
      if (type !== "") rule.type = type;
      const major = optionalInteger(r.major, `${field}.major`);
      if (major !== undefined) rule.major = major;
      const minor = optionalInteger(r.minor, `${field}.minor`);
      if (minor !== undefined) rule.minor = minor;
      const access = text(r.access, `${field}.access`);
      if (access !== "") rule.access = access;
      return rule;
    });
    if (rules.length > 0) linux.resources = { devices: rules };
  }
  return linux;
}

/** The spec's `process.env` entries that are strings. */
function rawEnv(spec: OciSpec): string[] {
  const env = (spec.process as { env?: unknown } | undefined)?.env;
  return Array.isArray(env) ? env.filter((e): e is string => typeof e === "string") : [];
}

/**
 * Refuses a request whose values together exceed {@link MAX_REQUEST_BYTES}: the request
 * variables, the annotations under the prefixes and (when accepted) the volume-mount
 * destinations, counted whether or not the unprivileged rule would drop them; and a request
 * variable set more than once.
 *
 * @throws {RequestError} naming the size, the sources and the fix
 */
export function checkRequestSize(spec: OciSpec, config: Config): void {
  const env = specEnv(spec);
  const variables = [...new Set([...splitCommaList(config.swarmResource), VISIBLE_DEVICES_ENV])];
  const prefixes = config.runtime.modes.cdi.annotationPrefixes;
  const sources: string[] = [];
  let bytes = 0;
  const count = (source: string, value: string) => {
    bytes += value.length;
    if (!sources.includes(source)) sources.push(source);
  };
  const raw = rawEnv(spec);
  for (const name of variables) {
    const value = env.get(name);
    if (value !== undefined) count(name, value);
    // The shim reads the last entry of a name and the edits replace the first: with two, the
    // adjustment could not say what the container ends up with.
    const times = raw.filter((entry) => entry.startsWith(`${name}=`)).length;
    if (times > 1) {
      throw new RequestError(
        `Cannot start the container: ${name} is set ${times} times in its environment: set it ` +
          `once`,
      );
    }
  }
  for (const [key, value] of specAnnotations(spec)) {
    const prefix = prefixes.find((p) => key.startsWith(p));
    if (prefix !== undefined) count(`annotations under "${prefix}"`, key + value);
  }
  if (config.acceptVolumeMounts) {
    for (const { destination } of specMounts(spec)) {
      if (destination.startsWith(VOLUME_MOUNT_PREFIX)) {
        count(`volume mounts under "${VOLUME_MOUNT_PREFIX}"`, destination);
      }
    }
  }
  if (bytes <= MAX_REQUEST_BYTES) return;
  throw new RequestError(
    `Cannot start the container: its device request is ${bytes} characters (${
      sources.join(", ")
    }), more than ${MAX_REQUEST_BYTES}: request fewer devices, or "all"`,
  );
}
