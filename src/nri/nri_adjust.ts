/**
 * The NRI plugin's decision for one `CreateContainer` request: the spec the shim would edit is
 * built from the container ({@link ociSpecFromNri}), edited by the shim's own function
 * ({@link editSpecForCreate}: request, unprivileged rule, mode, mode edit), and the difference
 * between the spec before and after becomes NRI's `ContainerAdjustment`.
 *
 * An adjustment can add or replace env entries (by name), mounts (by destination) and device
 * nodes (by path), and append hooks and device cgroup rules; that is everything the mode edits
 * do but two things, which are refused with a message naming them instead of being dropped: the
 * removal of a hook (modes 'cdi' and 'csv' remove a legacy prestart hook the engine added), and
 * any other part of the spec (`process.user.additionalGids`, `linux.intelRdt`,
 * `linux.netDevices` from a CDI spec). The runtime adds a cgroup allow rule of its own for each
 * device node ("rw", "rwm" for a block device), and orders mounts by depth, then destination.
 *
 * The cgroup rules go into `linux.resources.devices`, the field the proto has for them; runtimes
 * built on NRI v0.8 do not apply that field of an adjustment (its generator's `AdjustResources`
 * skips it). Device nodes are unaffected (their rule comes with them), but mode 'legacy', whose
 * rules have no node in the spec (its hook creates the nodes), gets them only where the runtime
 * honours the field; the hook's own cgroup v1 rules are written either way.
 *
 * @module
 */

import { failureMessage, quoted, RequestError } from "../core/errors.ts";
import { HOOK_STAGES, type HookStage } from "../core/oci/container_edits.ts";
import {
  isJsonObject,
  type JsonObject,
  type OciSpec,
  SpecShapeError,
} from "../core/oci/oci_spec.ts";
import type { ResolvedMode } from "../core/request/mode.ts";
import { editSpecForCreate, type SpecEditContext } from "../runtime/create.ts";
import {
  checkRequestSize,
  type NriCreateContainerRequest,
  type NriOptional,
  ociSpecFromNri,
} from "./nri_spec.ts";

/** NRI `KeyValue`. */
export interface NriKeyValue {
  key: string;
  value: string;
}

/** An NRI `Mount` the plugin adds (proto3: an absent string is "", an absent list empty). */
export interface NriMountOut {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** An NRI `Hook` the plugin adds. */
export interface NriHookOut {
  path: string;
  args: string[];
  env: string[];
  timeout?: NriOptional<number>;
}

/** An NRI `LinuxDevice` the plugin adds. */
export interface NriLinuxDeviceOut {
  path: string;
  type: string;
  major: number;
  minor: number;
  fileMode?: NriOptional<number>;
  uid?: NriOptional<number>;
  gid?: NriOptional<number>;
}

/** An NRI `LinuxDeviceCgroup` the plugin adds. */
export interface NriLinuxDeviceCgroupOut {
  allow: boolean;
  type: string;
  major?: NriOptional<number>;
  minor?: NriOptional<number>;
  access: string;
}

/** NRI `ContainerAdjustment`, the parts the plugin fills; `{}` changes nothing. */
export interface NriContainerAdjustment {
  annotations?: Record<string, string>;
  mounts?: NriMountOut[];
  env?: NriKeyValue[];
  hooks?: { [stage in HookStage]?: NriHookOut[] };
  linux?: {
    devices?: NriLinuxDeviceOut[];
    resources?: { devices?: NriLinuxDeviceCgroupOut[] };
  };
}

/** The plugin's answer: the adjustment, or the one-line message that fails the container. */
export type NriDecision = { adjustment: NriContainerAdjustment } | { error: string };

/**
 * Decides one `CreateContainer` request with the shim's rules. Never throws: every failure, the
 * shim's own (unknown device, unresolvable CDI name, hook program not found, bad config) with
 * the shim's message, is an `error`.
 */
export async function decideAdjustment(
  request: NriCreateContainerRequest,
  ctx: SpecEditContext,
): Promise<NriDecision> {
  try {
    const container = request?.container;
    const spec = ociSpecFromNri(container!);
    checkRequestSize(spec, ctx.config);
    const before = structuredClone(spec);
    let outcome;
    try {
      outcome = await editSpecForCreate(spec, ctx);
    } catch (error) {
      if (!(error instanceof SpecShapeError)) throw error;
      // Not reached for a spec ociSpecFromNri built; named all the same.
      throw new RequestError(
        `Cannot update container ${quoted(container?.name ?? "")}: ${error.message}: the ` +
          `runtime sent an unexpected container; recreate it`,
        { cause: error },
      );
    }
    if (outcome.mode === undefined || !outcome.changed) return { adjustment: {} };
    return { adjustment: adjustmentBetween(before, spec, { mode: outcome.mode }) };
  } catch (error) {
    return { error: failureMessage(error) };
  }
}

/** The refusal of an edit an adjustment cannot carry. */
function inexpressible(mode: ResolvedMode, what: string, fix: string): RequestError {
  return new RequestError(
    `Cannot serve the container through NRI: mode '${mode}' ${what}, which an NRI container ` +
      `adjustment cannot express: ${fix}`,
  );
}

const SHIM_FIX = "run this container with the runtime shim (xpu-container-runtime) instead";

/**
 * The adjustment that turns `before` into `after` (the same spec before and after a mode's
 * edit), applied as the runtime applies one.
 *
 * @throws {RequestError} naming a change an adjustment cannot express
 */
export function adjustmentBetween(
  before: OciSpec,
  after: OciSpec,
  options: { mode: ResolvedMode },
): NriContainerAdjustment {
  const { mode } = options;
  const adjustment: NriContainerAdjustment = {};
  const env = envAdjustment(
    list(before, ["process", "env"]),
    list(after, ["process", "env"]),
    mode,
  );
  if (env.length > 0) adjustment.env = env;
  const mounts = mountAdjustment(list(before, ["mounts"]), list(after, ["mounts"]), mode);
  if (mounts.length > 0) adjustment.mounts = mounts;
  const hooks = hookAdjustment(before, after, mode);
  if (Object.keys(hooks).length > 0) adjustment.hooks = hooks;
  const devices = deviceAdjustment(
    list(before, ["linux", "devices"]),
    list(after, ["linux", "devices"]),
    mode,
  );
  const rules = appended(
    list(before, ["linux", "resources", "devices"]),
    list(after, ["linux", "resources", "devices"]),
  );
  if (rules === undefined) {
    throw inexpressible(mode, 'changes the existing "linux.resources.devices" rules', SHIM_FIX);
  }
  if (devices.length > 0 || rules.length > 0) {
    adjustment.linux = {};
    if (devices.length > 0) adjustment.linux.devices = devices;
    if (rules.length > 0) {
      adjustment.linux.resources = { devices: rules.map((r) => cgroupRuleOut(r, mode)) };
    }
  }
  const found = firstDifference(withoutAdjustable(before), withoutAdjustable(after), "");
  if (found !== undefined) {
    const other = NAMED_PARTS.find((part) => isWithin(found, part)) ?? found;
    throw inexpressible(
      mode,
      `sets ${quoted(other)}`,
      `remove what needs it from the CDI spec, or ${SHIM_FIX}`,
    );
  }
  return adjustment;
}

/** The parts of a spec a CDI edit may set that no adjustment carries, named whole in messages. */
const NAMED_PARTS: readonly string[] = [
  "process.user.additionalGids",
  "linux.intelRdt",
  "linux.netDevices",
];

/** Whether the dotted path `path` is `part` or lies inside it. */
function isWithin(path: string, part: string): boolean {
  return path === part || (path.startsWith(part) && /^[.[]/.test(path.slice(part.length)));
}

/** The array at `path` (empty when absent). */
function list(spec: OciSpec, path: readonly string[]): unknown[] {
  let value: unknown = spec;
  for (const key of path) value = isJsonObject(value) ? value[key] : undefined;
  return Array.isArray(value) ? value : [];
}

function same(a: unknown, b: unknown): boolean {
  return firstDifference(a, b, "") === undefined;
}

/** The items `after` adds at the end of `before`, or `undefined` when it is not an extension. */
function appended(before: readonly unknown[], after: readonly unknown[]): unknown[] | undefined {
  if (after.length < before.length) return undefined;
  if (!before.every((item, i) => same(item, after[i]))) return undefined;
  return after.slice(before.length);
}

/** `NAME=value` entries changed in place (by name) or appended, as NRI applies `env`. */
function envAdjustment(
  before: readonly unknown[],
  after: readonly unknown[],
  mode: ResolvedMode,
): NriKeyValue[] {
  const name = (entry: unknown) => typeof entry === "string" ? entry.split("=", 1)[0] : undefined;
  if (after.length < before.length) {
    throw inexpressible(mode, 'removes "process.env" entries', SHIM_FIX);
  }
  const out: NriKeyValue[] = [];
  after.forEach((entry, i) => {
    if (i < before.length && entry === before[i]) return;
    const key = name(entry);
    const eq = typeof entry === "string" ? entry.indexOf("=") : -1;
    if (key === undefined || eq <= 0 || (i < before.length && name(before[i]) !== key)) {
      throw inexpressible(
        mode,
        `writes the "process.env" entry ${quoted(String(entry))}`,
        `write NAME=value entries in the CDI spec, or ${SHIM_FIX}`,
      );
    }
    out.push({ key, value: (entry as string).slice(eq + 1) });
  });
  return out;
}

const MOUNT_KEYS = ["destination", "type", "source", "options"];

/** Mounts added or replaced (by destination). */
function mountAdjustment(
  before: readonly unknown[],
  after: readonly unknown[],
  mode: ResolvedMode,
): NriMountOut[] {
  const unused = [...before];
  const added: NriMountOut[] = [];
  for (const mount of after) {
    const at = unused.findIndex((b) => same(b, mount));
    if (at >= 0) {
      unused.splice(at, 1);
      continue;
    }
    if (
      !isJsonObject(mount) || typeof mount.destination !== "string" ||
      Object.keys(mount).some((k) => !MOUNT_KEYS.includes(k))
    ) {
      throw inexpressible(mode, `adds the mount ${quoted(JSON.stringify(mount))}`, SHIM_FIX);
    }
    added.push({
      destination: mount.destination,
      type: typeof mount.type === "string" ? mount.type : "",
      source: typeof mount.source === "string" ? mount.source : "",
      options: Array.isArray(mount.options) ? mount.options.map(String) : [],
    });
  }
  for (const gone of unused) {
    const destination = isJsonObject(gone) ? String(gone.destination) : "";
    if (!added.some((m) => m.destination === destination)) {
      throw inexpressible(mode, `removes the mount at ${quoted(destination)}`, SHIM_FIX);
    }
  }
  return added;
}

const DEVICE_KEYS = ["path", "type", "major", "minor", "fileMode", "uid", "gid"];

/** Device nodes added or replaced (by path). */
function deviceAdjustment(
  before: readonly unknown[],
  after: readonly unknown[],
  mode: ResolvedMode,
): NriLinuxDeviceOut[] {
  const pathOf = (d: unknown) => isJsonObject(d) ? d.path : undefined;
  const out: NriLinuxDeviceOut[] = [];
  for (const device of after) {
    const old = before.find((b) => pathOf(b) === pathOf(device));
    if (old !== undefined && same(old, device)) continue;
    if (
      !isJsonObject(device) || typeof device.path !== "string" ||
      typeof device.type !== "string" || typeof device.major !== "number" ||
      typeof device.minor !== "number" ||
      Object.keys(device).some((k) => !DEVICE_KEYS.includes(k))
    ) {
      throw inexpressible(mode, `adds the device ${quoted(JSON.stringify(device))}`, SHIM_FIX);
    }
    const node: NriLinuxDeviceOut = {
      path: device.path,
      type: device.type,
      major: device.major,
      minor: device.minor,
    };
    for (const key of ["fileMode", "uid", "gid"] as const) {
      if (typeof device[key] === "number") node[key] = { value: device[key] };
    }
    out.push(node);
  }
  for (const gone of before) {
    if (!after.some((d) => pathOf(d) === pathOf(gone))) {
      throw inexpressible(mode, `removes the device ${quoted(String(pathOf(gone)))}`, SHIM_FIX);
    }
  }
  return out;
}

function cgroupRuleOut(rule: unknown, mode: ResolvedMode): NriLinuxDeviceCgroupOut {
  if (!isJsonObject(rule) || typeof rule.allow !== "boolean") {
    throw inexpressible(mode, `adds the device rule ${quoted(JSON.stringify(rule))}`, SHIM_FIX);
  }
  const out: NriLinuxDeviceCgroupOut = {
    allow: rule.allow,
    type: typeof rule.type === "string" ? rule.type : "a",
    access: typeof rule.access === "string" ? rule.access : "rwm",
  };
  if (typeof rule.major === "number") out.major = { value: rule.major };
  if (typeof rule.minor === "number") out.minor = { value: rule.minor };
  return out;
}

/** Hooks appended per stage; a hook the edit removed cannot be. */
function hookAdjustment(
  before: OciSpec,
  after: OciSpec,
  mode: ResolvedMode,
): { [stage in HookStage]?: NriHookOut[] } {
  const out: { [stage in HookStage]?: NriHookOut[] } = {};
  for (const stage of HOOK_STAGES) {
    const was = list(before, ["hooks", stage]);
    const now = list(after, ["hooks", stage]);
    const added = appended(was, now);
    if (added === undefined) {
      const gone = was.find((h) => !now.some((n) => same(n, h)));
      const path = isJsonObject(gone) ? String(gone.path) : "";
      throw inexpressible(
        mode,
        `removes the ${stage} hook ${quoted(path)}`,
        `remove that hook from the engine's configuration (for CRI-O the hooks.d file ` +
          `"/usr/share/containers/oci/hooks.d/oci-xpu-hook.json"), or ${SHIM_FIX}`,
      );
    }
    if (added.length === 0) continue;
    out[stage] = added.map((hook) => {
      if (!isJsonObject(hook) || typeof hook.path !== "string") {
        throw inexpressible(
          mode,
          `adds the ${stage} hook ${quoted(JSON.stringify(hook))}`,
          SHIM_FIX,
        );
      }
      const h: NriHookOut = {
        path: hook.path,
        args: Array.isArray(hook.args) ? hook.args.map(String) : [],
        env: Array.isArray(hook.env) ? hook.env.map(String) : [],
      };
      if (typeof hook.timeout === "number") h.timeout = { value: hook.timeout };
      return h;
    });
  }
  return out;
}

/** A copy of the spec without what an adjustment carries, and without emptied objects and lists. */
function withoutAdjustable(spec: OciSpec): unknown {
  const copy = structuredClone(spec) as JsonObject;
  const drop = (path: readonly string[]) => {
    let parent: unknown = copy;
    for (const key of path.slice(0, -1)) parent = isJsonObject(parent) ? parent[key] : undefined;
    if (isJsonObject(parent)) delete parent[path[path.length - 1]];
  };
  drop(["process", "env"]);
  drop(["mounts"]);
  drop(["linux", "devices"]);
  drop(["linux", "resources", "devices"]);
  for (const stage of HOOK_STAGES) drop(["hooks", stage]);
  return pruned(copy);
}

/** The value without empty objects and lists (an edit creates them on the way to a key). */
function pruned(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pruned);
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    const p = pruned(v);
    const empty = (Array.isArray(p) && p.length === 0) ||
      (isJsonObject(p) && Object.keys(p).length === 0);
    if (!empty) out[key] = p;
  }
  return out;
}

/** The dotted path of the first place two JSON values differ (key order aside), if any. */
function firstDifference(a: unknown, b: unknown, at: string): string | undefined {
  const here = at === "" ? "(the spec)" : at;
  // A part only one side has is named down to its first leaf ("process.user.additionalGids").
  if (a === undefined && (isJsonObject(b) || Array.isArray(b))) a = Array.isArray(b) ? [] : {};
  if (b === undefined && (isJsonObject(a) || Array.isArray(a))) b = Array.isArray(a) ? [] : {};
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return here;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${here}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[key], b[key], at === "" ? key : `${at}.${key}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return a === b ? undefined : here;
}
