/**
 * Container edits (the shape CDI calls `containerEdits`) and how they are applied to a raw OCI
 * spec: env replaced by name, device nodes keyed by container path with a cgroup allow rule each,
 * mounts de-duplicated by destination, hooks appended by stage, never twice.
 *
 * Every function here is idempotent: applying the same edits again leaves the spec as it is.
 *
 * @module
 */

import {
  arrayAt,
  hasUserNamespace,
  isJsonObject,
  type JsonObject,
  objectAt,
  type OciSpec,
} from "./oci_spec.ts";

/** OCI hook stages, in the order runtimes run them. */
export const HOOK_STAGES = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;
/** One hook stage. */
export type HookStage = typeof HOOK_STAGES[number];

/** A device node to create in the container. */
export interface DeviceNodeEdit {
  /** Path in the container. */
  path: string;
  /** Path on the host, when it differs from `path`. */
  hostPath?: string;
  type: "c" | "b" | "p" | "u";
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
  /** cgroup access (`rwm` when absent). */
  permissions?: string;
}

/** A mount to add: written as given (no type or options are assumed). */
export interface MountEdit {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}

/** A hook to add. */
export interface HookEdit {
  hookName: HookStage;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** Everything an injection adds to a spec. */
export interface ContainerEdits {
  env?: string[];
  deviceNodes?: DeviceNodeEdit[];
  mounts?: MountEdit[];
  hooks?: HookEdit[];
  additionalGids?: number[];
  /** Intel RDT settings (`linux.intelRdt`), replaced as a whole. */
  intelRdt?: Record<string, unknown>;
  /** Network devices to move in (`linux.netDevices`, keyed by host interface name). */
  netDevices?: { hostInterfaceName: string; name: string }[];
}

/** Mount options of a read-only driver file. */
export const READ_ONLY_BIND_OPTIONS: readonly string[] = ["ro", "nosuid", "nodev", "bind"];

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Sets `NAME=value` entries in `process.env`, replacing an existing entry of the same name. */
export function setEnv(spec: OciSpec, entries: readonly string[]): void {
  if (entries.length === 0) return;
  const env = arrayAt(objectAt(spec, "process", "process"), "env", "process.env");
  for (const entry of entries) {
    const name = entry.slice(0, entry.indexOf("="));
    const at = env.findIndex((e) => typeof e === "string" && e.startsWith(`${name}=`));
    if (at >= 0) env[at] = entry;
    else env.push(entry);
  }
}

/** Adds a device cgroup allow rule unless an identical one is present. */
export function addDeviceCgroupRule(
  spec: OciSpec,
  rule: { type: string; major: number; minor: number; access?: string },
): void {
  const resources = objectAt(objectAt(spec, "linux", "linux"), "resources", "linux.resources");
  const rules = arrayAt(resources, "devices", "linux.resources.devices");
  const wanted = {
    allow: true,
    type: rule.type,
    major: rule.major,
    minor: rule.minor,
    access: rule.access ?? "rwm",
  };
  if (!rules.some((r) => sameJson(r, wanted))) rules.push(wanted);
}

/** Mount options of a device node bound from the host into a user-namespaced container. */
export const DEVICE_BIND_OPTIONS: readonly string[] = ["bind", "nosuid", "noexec"];

/**
 * Adds (or replaces, by container path) a device node, with its cgroup allow rule.
 *
 * In a spec with a user namespace a runtime cannot `mknod` and binds the node from the host at
 * the node's container path instead; a node whose host path differs (a driver root other than
 * "/") is therefore added as a bind mount of its host path, which is what runc would do with the
 * right source. Its mode and owner are then the host node's, seen through the id map.
 *
 * @returns whether a mount was added (the caller orders the mounts)
 */
export function addDeviceNode(spec: OciSpec, node: DeviceNodeEdit): boolean {
  const linux = objectAt(spec, "linux", "linux");
  const bound = node.hostPath !== undefined && node.hostPath !== node.path &&
    (node.type === "c" || node.type === "b") && hasUserNamespace(spec);
  let mounted = false;
  if (bound) {
    if (Array.isArray(linux.devices)) {
      const kept = linux.devices.filter((d) => !(isJsonObject(d) && d.path === node.path));
      if (kept.length !== linux.devices.length) linux.devices = kept;
    }
    mounted = addMount(spec, {
      hostPath: node.hostPath!,
      containerPath: node.path,
      type: "bind",
      options: [...DEVICE_BIND_OPTIONS],
    });
  } else {
    const devices = arrayAt(linux, "devices", "linux.devices");
    const entry: JsonObject = {
      path: node.path,
      type: node.type,
      major: node.major,
      minor: node.minor,
    };
    if (node.fileMode !== undefined) entry.fileMode = node.fileMode;
    if (node.uid !== undefined) entry.uid = node.uid;
    if (node.gid !== undefined) entry.gid = node.gid;
    const at = devices.findIndex((d) => isJsonObject(d) && d.path === node.path);
    if (at < 0) devices.push(entry);
    else if (!sameJson(devices[at], entry)) devices[at] = entry;
  }
  if (node.type === "c" || node.type === "b") {
    addDeviceCgroupRule(spec, { ...node, access: node.permissions });
  }
  return mounted;
}

/**
 * Adds a mount; one already at the same destination is replaced unless it is identical.
 *
 * @returns whether the mounts changed
 */
export function addMount(spec: OciSpec, mount: MountEdit): boolean {
  const mounts = arrayAt(spec, "mounts", "mounts");
  const entry: JsonObject = { destination: mount.containerPath };
  if (mount.type !== undefined) entry.type = mount.type;
  entry.source = mount.hostPath;
  if (mount.options !== undefined) entry.options = mount.options;
  const same = (m: unknown) => isJsonObject(m) && m.destination === mount.containerPath;
  if (mounts.some((m) => same(m) && sameJson(m, entry))) return false;
  const at = mounts.findIndex(same);
  if (at >= 0) mounts.splice(at, 1);
  mounts.push(entry);
  return true;
}

/**
 * Orders mounts by the depth of their destination (stable), so a parent is always mounted
 * before what is mounted inside it — what the CDI reference does after adding mounts.
 */
export function sortMountsByDepth(spec: OciSpec): void {
  if (!Array.isArray(spec.mounts)) return;
  // As the reference: the number of separators of the cleaned destination ("/" and "/a" are 1).
  const depth = (m: unknown) =>
    isJsonObject(m) && typeof m.destination === "string"
      ? Math.max(1, m.destination.split("/").filter((p) => p !== "" && p !== ".").length)
      : 0;
  const sorted = spec.mounts.map((m, i) => ({ m, i, d: depth(m) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.m);
  if (sorted.some((m, i) => m !== (spec.mounts as unknown[])[i])) spec.mounts = sorted;
}

/** Adds a hook at its stage unless an identical one (path, args, env, timeout) is present. */
export function addHook(spec: OciSpec, hook: HookEdit): void {
  const stage = arrayAt(objectAt(spec, "hooks", "hooks"), hook.hookName, `hooks.${hook.hookName}`);
  const entry: JsonObject = { path: hook.path };
  if (hook.args !== undefined) entry.args = hook.args;
  if (hook.env !== undefined) entry.env = hook.env;
  if (hook.timeout !== undefined) entry.timeout = hook.timeout;
  if (!stage.some((h) => sameJson(h, entry))) stage.push(entry);
}

/** Removes the hooks of a stage whose program basename is one of `names`. */
export function removeHooksNamed(spec: OciSpec, stage: HookStage, names: readonly string[]): void {
  if (!isJsonObject(spec.hooks) || !Array.isArray(spec.hooks[stage])) return;
  const hooks = spec.hooks[stage] as unknown[];
  const kept = hooks.filter((h) =>
    !(isJsonObject(h) && typeof h.path === "string" && names.includes(basename(h.path)))
  );
  if (kept.length !== hooks.length) spec.hooks[stage] = kept;
}

/** Whether a stage has a hook whose program basename is one of `names`. */
export function hasHookNamed(spec: OciSpec, stage: HookStage, names: readonly string[]): boolean {
  if (!isJsonObject(spec.hooks) || !Array.isArray(spec.hooks[stage])) return false;
  return (spec.hooks[stage] as unknown[]).some((h) =>
    isJsonObject(h) && typeof h.path === "string" && names.includes(basename(h.path))
  );
}

/** Adds group ids to `process.user.additionalGids` (0 and ids already there are skipped). */
export function addAdditionalGids(spec: OciSpec, gids: readonly number[]): void {
  if (gids.every((gid) => gid === 0)) return;
  const user = objectAt(objectAt(spec, "process", "process"), "user", "process.user");
  const list = arrayAt(user, "additionalGids", "process.user.additionalGids");
  for (const gid of gids) if (gid !== 0 && !list.includes(gid)) list.push(gid);
}

/**
 * Applies container edits to a spec in place.
 *
 * @throws {SpecError} when a part of the spec the edits touch has the wrong JSON type
 */
export function applyContainerEdits(spec: OciSpec, edits: ContainerEdits): void {
  setEnv(spec, edits.env ?? []);
  let mounted = false;
  for (const node of edits.deviceNodes ?? []) mounted = addDeviceNode(spec, node) || mounted;
  for (const net of edits.netDevices ?? []) {
    const devices = objectAt(objectAt(spec, "linux", "linux"), "netDevices", "linux.netDevices");
    devices[net.hostInterfaceName] = { name: net.name };
  }
  for (const mount of edits.mounts ?? []) mounted = addMount(spec, mount) || mounted;
  if (mounted) sortMountsByDepth(spec);
  for (const hook of edits.hooks ?? []) addHook(spec, hook);
  if (edits.intelRdt !== undefined) objectAt(spec, "linux", "linux").intelRdt = edits.intelRdt;
  addAdditionalGids(spec, edits.additionalGids ?? []);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
