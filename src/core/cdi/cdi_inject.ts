/**
 * Injecting CDI devices the way the reference consumer does: every requested device is resolved
 * first (one unresolvable fails the whole request), each spec's own edits come once before its
 * first device's, and device nodes get their missing type, numbers and mode from the host.
 *
 * @module
 */

import type { CdiDeviceNode, CdiEdits } from "./cdi_spec.ts";
import type { CdiRegistry } from "./cdi_registry.ts";
import type { ContainerEdits, DeviceNodeEdit, HookStage } from "../oci/container_edits.ts";
import { quoted, RequestError } from "../errors.ts";
import type { HostFs } from "../io/host_fs.ts";

/** The outcome of resolving names against a registry. */
export type CdiResolution =
  | { ok: true; edits: CdiEdits[] }
  | { ok: false; unresolvable: string[] };

/**
 * Resolves qualified names (exact match) and collects their edits in the reference's order: for
 * each device in request order, its spec's edits first (once per spec file), then the device's.
 */
export function resolveCdiDevices(registry: CdiRegistry, names: readonly string[]): CdiResolution {
  const entries = names.map((name) => ({ name, entry: registry.devices.get(name) }));
  const unresolvable = entries.filter((e) => e.entry === undefined).map((e) => e.name);
  if (unresolvable.length > 0) return { ok: false, unresolvable };
  const seenSpecs = new Set<string>();
  const edits: CdiEdits[] = [];
  for (const { entry } of entries) {
    const { source, device } = entry!;
    if (!seenSpecs.has(source.path)) {
      seenSpecs.add(source.path);
      if (source.spec.containerEdits) edits.push(source.spec.containerEdits);
    }
    edits.push(device.containerEdits);
  }
  return { ok: true, edits };
}

/** The container's user, whose ids fill unset device node owners (as the reference does). */
export interface ProcessUser {
  uid?: number;
  gid?: number;
}

/**
 * Completes a device node from the host: `hostPath` defaults to `path`; a node that does not give
 * its type and major gets them (and the minor) from the host device; the mode is the host's when
 * unset.
 *
 * @throws {RequestError} when the host device is missing or of another type
 */
export function fillDeviceNode(
  node: CdiDeviceNode,
  fs: HostFs,
  user: ProcessUser = {},
): DeviceNodeEdit {
  const hostPath = node.hostPath || node.path;
  const type = node.type ?? "";
  const minimal = type !== "" && ((node.major ?? 0) !== 0 || type === "p");
  const info = fs.lstat(hostPath);
  const filled: DeviceNodeEdit = {
    path: node.path,
    type: type as DeviceNodeEdit["type"],
    major: node.major ?? 0,
    minor: node.minor ?? 0,
  };
  if (node.fileMode !== undefined) filled.fileMode = node.fileMode;
  else if (info !== undefined) filled.fileMode = info.mode;
  if (!minimal) {
    const hostType = info?.kind === "char"
      ? "c"
      : info?.kind === "block"
      ? "b"
      : info?.kind === "fifo"
      ? "p"
      : undefined;
    if (hostType === undefined) {
      throw new RequestError(
        `Cannot inject CDI device node ${quoted(node.path)}: ${quoted(hostPath)} is ` +
          `${info === undefined ? "missing" : "not a device node"} on this host and the spec ` +
          `gives no type and major number: load the driver, or regenerate the spec`,
      );
    }
    if (type !== "" && type !== hostType) {
      throw new RequestError(
        `Cannot inject CDI device node ${quoted(node.path)}: the spec says type ${
          quoted(type)
        } but ` +
          `${quoted(hostPath)} has type "${hostType}": regenerate the spec`,
      );
    }
    filled.type = hostType;
    if (hostType !== "p" && filled.major === 0) {
      filled.major = info!.major;
      filled.minor = info!.minor;
    }
  }
  if (node.uid !== undefined) filled.uid = node.uid;
  else if ((user.uid ?? 0) > 0) filled.uid = user.uid;
  if (node.gid !== undefined) filled.gid = node.gid;
  else if ((user.gid ?? 0) > 0) filled.gid = user.gid;
  if (node.permissions) filled.permissions = node.permissions;
  if (hostPath !== node.path) filled.hostPath = hostPath;
  return filled;
}

/** Merges CDI edits, in order, into the edits the OCI spec gets. */
export function toContainerEdits(
  edits: readonly CdiEdits[],
  options: { fs: HostFs; user?: ProcessUser },
): ContainerEdits {
  const merged: ContainerEdits = {
    env: [],
    deviceNodes: [],
    mounts: [],
    hooks: [],
    additionalGids: [],
    netDevices: [],
  };
  for (const e of edits) {
    merged.env!.push(...(e.env ?? []));
    for (const node of e.deviceNodes ?? []) {
      merged.deviceNodes!.push(fillDeviceNode(node, options.fs, options.user));
    }
    for (const m of e.mounts ?? []) {
      merged.mounts!.push({
        hostPath: m.hostPath,
        containerPath: m.containerPath,
        type: m.type,
        options: m.options,
      });
    }
    for (const h of e.hooks ?? []) {
      merged.hooks!.push({
        hookName: h.hookName as HookStage,
        path: h.path,
        args: h.args,
        env: h.env,
        timeout: h.timeout,
      });
    }
    merged.additionalGids!.push(...(e.additionalGids ?? []));
    merged.netDevices!.push(...(e.netDevices ?? []));
    if (e.intelRdt != null) merged.intelRdt = { ...e.intelRdt };
  }
  return merged;
}
