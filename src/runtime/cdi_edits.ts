/**
 * CDI mode: the container's CDI device requests (from `XPU_VISIBLE_DEVICES` and from annotations
 * under the configured prefixes) resolved against the spec dirs and applied to its OCI spec, so
 * engines without CDI support still get CDI devices.
 *
 * @module
 */

import { isQualifiedName } from "../core/cdi_name.ts";
import { resolveCdiDevices, toContainerEdits } from "../core/cdi_inject.ts";
import { devicesOfKind, loadCdiRegistry } from "../core/cdi_registry.ts";
import { applyContainerEdits, removeHooksNamed, setEnv } from "../core/container_edits.ts";
import { type DeviceRequest, VISIBLE_DEVICES_ENV } from "../core/device_request.ts";
import { RequestError } from "../core/errors.ts";
import type { HostFs } from "../core/host_fs.ts";
import type { Logger } from "../core/log.ts";
import { isJsonObject, type OciSpec } from "../core/oci_spec.ts";
import { LEGACY_HOOK_NAMES } from "./legacy_edits.ts";

/**
 * The CDI device names requested by annotations: every annotation whose key starts with one of
 * `prefixes` holds a comma list of qualified names.
 *
 * @throws {RequestError} for a value that is not a qualified CDI name
 */
export function cdiAnnotationDevices(
  annotations: ReadonlyMap<string, string>,
  prefixes: readonly string[],
): string[] {
  const names: string[] = [];
  for (const [key, value] of [...annotations].sort(([a], [b]) => a.localeCompare(b))) {
    if (!prefixes.some((p) => key.startsWith(p))) continue;
    for (const name of value.split(",").map((n) => n.trim()).filter((n) => n !== "")) {
      if (!isQualifiedName(name)) {
        throw new RequestError(
          `Cannot start the container: annotation "${key}" names "${name}", which is not a CDI ` +
            `device: write vendor/class=name, e.g. xpu.dev/xpu=0`,
        );
      }
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}

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
  fs: HostFs;
  logger: Logger;
}

/**
 * Resolves the names and applies their edits; sets `XPU_VISIBLE_DEVICES=void` so a legacy hook
 * does not inject again, and removes legacy prestart hooks.
 *
 * @throws {RequestError} naming every unresolvable device, what its kind offers and the dirs searched
 */
export async function applyCdiDevices(spec: OciSpec, options: CdiEditOptions): Promise<void> {
  const registry = await loadCdiRegistry(options.specDirs);
  for (const error of registry.errors) options.logger.warn(error.message);
  const resolution = resolveCdiDevices(registry, options.names);
  if (!resolution.ok) {
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
  removeHooksNamed(spec, "prestart", LEGACY_HOOK_NAMES);
  applyContainerEdits(spec, edits);
  setEnv(spec, [`${VISIBLE_DEVICES_ENV}=void`]);
}
