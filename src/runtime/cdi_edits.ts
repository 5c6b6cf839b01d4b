/**
 * CDI mode: the container's CDI device requests (from `XPU_VISIBLE_DEVICES` and from annotations
 * under the configured prefixes) held to `allowed-kinds`, resolved against the spec dirs and
 * applied to its OCI spec, so engines without CDI support still get CDI devices.
 *
 * @module
 */

import { isQualifiedName } from "../core/cdi/cdi_name.ts";
import { resolveCdiDevices, toContainerEdits } from "../core/cdi/cdi_inject.ts";
import {
  type CdiRegistry,
  type CdiSource,
  devicesOfKind,
  loadCdiRegistry,
} from "../core/cdi/cdi_registry.ts";
import { hooksWithoutEnv, hookWithoutEnvWarning } from "../core/cdi/cdi_spec.ts";
import { applyContainerEdits, removeHooksNamed, setEnv } from "../core/oci/container_edits.ts";
import { hookEnv } from "../core/config/hook_env.ts";
import { type DeviceRequest, VISIBLE_DEVICES_ENV } from "../core/request/device_request.ts";
import { RequestError } from "../core/errors.ts";
import type { Logger } from "../core/io/log.ts";
import { isJsonObject, type OciSpec } from "../core/oci/oci_spec.ts";
import type { CreateFs } from "./create_fs.ts";
import { LEGACY_HOOK_NAMES } from "./legacy_edits.ts";
import type { ModeContext, ModeRequest } from "./mode_edit.ts";

// Read for every request, so it lives apart from the CDI registry this module loads; callers
// that import it from here still can.
export { cdiAnnotationDevices } from "./cdi_annotations.ts";

/** Qualifies the ids of an `XPU_VISIBLE_DEVICES` request with the default kind where needed. */
export function qualifyRequest(devices: DeviceRequest["devices"], defaultKind: string): string[] {
  const ids = devices === "all" ? ["all"] : devices;
  return ids.map((id) => (isQualifiedName(id) ? id : `${defaultKind}=${id}`));
}

/** What the CDI step needs. */
export interface CdiEditOptions {
  /** Requested names, qualified, in request order. */
  names: readonly string[];
  specDirs: readonly string[];
  /** `[xpu-container-runtime.modes.cdi] allowed-kinds`: empty allows every kind. */
  allowedKinds: readonly string[];
  /** The env given to a spec's hook that has none (`hookEnv()`), instead of the container's. */
  hookEnv: readonly string[];
  /** The host: the spec dirs are read through `fs.cdiSpecDirs`. */
  fs: CreateFs;
  logger: Logger;
}

/** The config key that limits the kinds a container may request. */
const ALLOWED_KINDS_KEY = "[xpu-container-runtime.modes.cdi] allowed-kinds";

/**
 * The kinds among qualified `names` that `allowed` does not list (none when `allowed` is
 * empty), in request order.
 *
 * @example
 * ```ts
 * disallowedKinds(["xpu.dev/xpu=0", "other.com/gpu=1"], ["xpu.dev/xpu"]); // ["other.com/gpu"]
 * ```
 */
export function disallowedKinds(names: readonly string[], allowed: readonly string[]): string[] {
  if (allowed.length === 0) return [];
  const kinds = names.map((name) => name.slice(0, name.indexOf("=")));
  return [...new Set(kinds.filter((kind) => !allowed.includes(kind)))];
}

/**
 * Refuses names of kinds the config does not allow, before any spec is read.
 *
 * @throws {RequestError} naming the kinds, the key and the fix
 */
export function checkAllowedKinds(names: readonly string[], allowed: readonly string[]): void {
  const refused = disallowedKinds(names, allowed);
  if (refused.length === 0) return;
  const quoted = (list: readonly string[]) => list.map((k) => `"${k}"`).join(", ");
  throw new RequestError(
    `Cannot start the container: CDI kind${refused.length === 1 ? "" : "s"} ${quoted(refused)} ` +
      `(${quoted(names.filter((n) => refused.some((k) => n.startsWith(`${k}=`))))}) not in ` +
      `${ALLOWED_KINDS_KEY} (${quoted(allowed)}): request a device of an allowed kind, or add ` +
      `the kind to ${ALLOWED_KINDS_KEY}`,
  );
}

/**
 * Refuses kinds the config does not allow, resolves the names and applies their edits (a spec's
 * hook without `env` gets `hookEnv` and a warning, never the container's environment); sets
 * `XPU_VISIBLE_DEVICES=void` so a legacy hook does not inject again, and removes legacy prestart
 * hooks.
 *
 * @throws {RequestError} for a kind not allowed, and naming every unresolvable device, what its
 *   kind offers and the dirs searched
 */
export async function applyCdiDevices(spec: OciSpec, options: CdiEditOptions): Promise<void> {
  checkAllowedKinds(options.names, options.allowedKinds);
  const registry = await loadCdiRegistry(options.specDirs, options.fs.cdiSpecDirs);
  for (const error of registry.errors) options.logger.warn(error.message);
  const resolution = resolveCdiDevices(registry, options.names);
  if (!resolution.ok) {
    // A device two specs of one dir define is named with its files: that is what to fix.
    const conflicting = resolution.unresolvable.flatMap((name) => {
      const files = registry.conflicts.get(name);
      return files === undefined ? [] : [
        `"${name}" is defined by more than one spec of the same dir ` +
        `(${files.map((f) => JSON.stringify(f)).join(", ")}): remove or rename one`,
      ];
    });
    if (conflicting.length > 0) {
      throw new RequestError(
        `Cannot start the container: conflicting CDI devices: ${conflicting.join("; ")}`,
      );
    }
    const kinds = [...new Set(resolution.unresolvable.map((n) => n.slice(0, n.indexOf("="))))];
    const known = kinds.map((kind) => {
      const names = devicesOfKind(registry, kind);
      return names.length === 0
        ? `no spec defines kind "${kind}"`
        : `${kind} has ${names.map((n) => `"${n}"`).join(", ")}`;
    });
    throw new RequestError(
      `Cannot start the container: unresolvable CDI devices ` +
        `${resolution.unresolvable.map((n) => `"${n}"`).join(", ")}: ${known.join("; ")} ` +
        `(spec dirs searched: ${options.specDirs.join(", ")}): request a listed device, or ` +
        `generate a spec with "xpu-ctk cdi generate"`,
    );
  }
  options.logger.debug(`Injecting CDI devices ${options.names.join(", ")}`);
  const process = isJsonObject(spec.process) ? spec.process : undefined;
  const user = process && isJsonObject(process.user) ? process.user : {};
  const edits = toContainerEdits(resolution.edits, {
    fs: options.fs,
    user: {
      uid: typeof user.uid === "number" ? user.uid : undefined,
      gid: typeof user.gid === "number" ? user.gid : undefined,
    },
  });
  for (const warning of requestedHooksWithoutEnv(registry, options.names)) {
    options.logger.warn(`${warning} (meanwhile it gets an explicit minimal env here)`);
  }
  edits.hooks = edits.hooks?.map((hook) =>
    hook.env == null ? { ...hook, env: [...options.hookEnv] } : hook
  );
  removeHooksNamed(spec, "prestart", LEGACY_HOOK_NAMES);
  applyContainerEdits(spec, edits);
  setEnv(spec, [`${VISIBLE_DEVICES_ENV}=void`]);
}

/**
 * CDI mode's edit: the names of the `XPU_VISIBLE_DEVICES` request (qualified with the default
 * kind) and of the annotations, once each, applied by {@link applyCdiDevices}.
 *
 * @throws {RequestError} for a kind not allowed or a device no spec defines
 */
export async function editForCdi(
  spec: OciSpec,
  request: ModeRequest,
  ctx: ModeContext,
): Promise<void> {
  const cdi = ctx.config.runtime.modes.cdi;
  const fromEnv = request.devices ? qualifyRequest(request.devices.devices, cdi.defaultKind) : [];
  await applyCdiDevices(spec, {
    names: [...new Set([...fromEnv, ...request.annotated])],
    specDirs: cdi.specDirs,
    allowedKinds: cdi.allowedKinds,
    hookEnv: hookEnv({ configPath: ctx.configPath }),
    fs: ctx.fs,
    logger: ctx.logger,
  });
}

/** One warning per hook without `env` among the edits of the requested devices and their specs. */
function requestedHooksWithoutEnv(registry: CdiRegistry, names: readonly string[]): string[] {
  const requested = new Map<CdiSource, Set<number>>();
  for (const name of names) {
    const entry = registry.devices.get(name);
    if (entry === undefined) continue;
    const indexes = requested.get(entry.source) ?? new Set();
    indexes.add(entry.source.spec.devices.indexOf(entry.device));
    requested.set(entry.source, indexes);
  }
  return [...requested].flatMap(([source, indexes]) =>
    hooksWithoutEnv(source.spec)
      .filter((hook) =>
        hook.at.startsWith("containerEdits.") ||
        [...indexes].some((i) => hook.at.startsWith(`devices[${i}].`))
      )
      .map((hook) => hookWithoutEnvWarning(source.path, hook))
  );
}
