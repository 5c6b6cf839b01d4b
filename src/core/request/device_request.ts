/**
 * Which devices a container asks for: from `XPU_VISIBLE_DEVICES` (or the configured swarm
 * variables) and, when enabled, from volume-mount requests; with the rule for unprivileged
 * containers, which covers CDI annotations too.
 *
 * @module
 */

import { splitCommaList } from "../device/capabilities.ts";

/** The request variable. */
export const VISIBLE_DEVICES_ENV = "XPU_VISIBLE_DEVICES";
/** Volume-mount requests are binds onto `<prefix><id>`. */
export const VOLUME_MOUNT_PREFIX = "/var/run/xpu-container-devices/";

/**
 * A container's device request. `devices: []` is `none`: no device, but the driver files.
 * Ids are indexes, UUIDs or fully-qualified CDI names, in request order, without duplicates.
 */
export interface DeviceRequest {
  devices: "all" | string[];
  source: "env" | "volume-mounts";
}

/** The config keys that shape request parsing. */
export interface RequestRules {
  /** Comma list of variables that replace `XPU_VISIBLE_DEVICES` (first one set wins). */
  swarmResource: string;
  acceptEnvvarUnprivileged: boolean;
  acceptVolumeMounts: boolean;
}

/** What the container's spec offers. */
export interface RequestInput {
  env: ReadonlyMap<string, string>;
  mounts: readonly { destination: string }[];
  privileged: boolean;
}

/**
 * Reads a `XPU_VISIBLE_DEVICES` value: unset, empty or `void` → no request; `none` → no devices;
 * `all` anywhere in the list → every device; otherwise the listed ids.
 *
 * @example
 * ```ts
 * parseVisibleDevices("0, XPU-1234,0"); // { devices: ["0", "XPU-1234"] }
 * parseVisibleDevices("void"); // undefined
 * ```
 */
export function parseVisibleDevices(
  value: string | undefined,
): { devices: "all" | string[] } | undefined {
  if (value === undefined) return undefined;
  const ids = splitCommaList(value);
  if (ids.length === 0 || (ids.length === 1 && ids[0] === "void")) return undefined;
  if (ids.includes("all")) return { devices: "all" };
  return { devices: ids.filter((id) => id !== "none" && id !== "void") };
}

/** Device ids requested through volume mounts (`/var/run/xpu-container-devices/<id>`). */
export function volumeMountDeviceIds(mounts: readonly { destination: string }[]): string[] {
  const ids: string[] = [];
  for (const { destination } of mounts) {
    if (!destination.startsWith(VOLUME_MOUNT_PREFIX)) continue;
    const id = destination.slice(VOLUME_MOUNT_PREFIX.length).replace(/\/+$/, "");
    if (id !== "" && !id.includes("/") && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * Decides a container's request. Volume mounts (when accepted) win over the environment; the
 * environment of an unprivileged container is ignored when the config says so.
 *
 * @returns the request (`undefined` = not an XPU container) and notes worth logging
 */
export function parseDeviceRequest(
  input: RequestInput,
  rules: RequestRules,
): { request: DeviceRequest | undefined; notes: string[] } {
  const notes: string[] = [];
  if (rules.acceptVolumeMounts) {
    const ids = volumeMountDeviceIds(input.mounts);
    if (ids.length > 0) {
      return {
        request: { devices: ids.includes("all") ? "all" : ids, source: "volume-mounts" },
        notes,
      };
    }
  }
  const variable = splitCommaList(rules.swarmResource).find((name) => input.env.has(name)) ??
    VISIBLE_DEVICES_ENV;
  const parsed = parseVisibleDevices(input.env.get(variable));
  if (parsed === undefined) return { request: undefined, notes };
  if (!input.privileged && !rules.acceptEnvvarUnprivileged) {
    notes.push(
      `Ignoring devices requested by ${variable} in an unprivileged container: ` +
        `accept-xpu-visible-devices-envvar-when-unprivileged is false`,
    );
    return { request: undefined, notes };
  }
  return { request: { ...parsed, source: "env" }, notes };
}

/**
 * The unprivileged rule for CDI annotations: with `acceptEnvvarUnprivileged` false, the
 * annotations under `prefixes` of an unprivileged container are dropped like its environment
 * (an engine forwards annotations any user may set); volume-mount requests are not affected.
 *
 * @returns the annotations to read requests from, and a note when some were dropped
 */
export function requestAnnotations(
  input: {
    annotations: ReadonlyMap<string, string>;
    privileged: boolean;
    prefixes: readonly string[];
  },
  rules: RequestRules,
): { annotations: ReadonlyMap<string, string>; notes: string[] } {
  const { annotations } = input;
  if (input.privileged || rules.acceptEnvvarUnprivileged) return { annotations, notes: [] };
  const isRequest = (key: string) => input.prefixes.some((p) => key.startsWith(p));
  const dropped = [...annotations.keys()].filter(isRequest).sort();
  if (dropped.length === 0) return { annotations, notes: [] };
  return {
    annotations: new Map([...annotations].filter(([key]) => !isRequest(key))),
    notes: [
      `Ignoring CDI devices requested by annotation${dropped.length === 1 ? "" : "s"} ` +
      `${dropped.map((k) => `"${k}"`).join(", ")} in an unprivileged container: ` +
      `accept-xpu-visible-devices-envvar-when-unprivileged is false` +
      (rules.acceptVolumeMounts ? " (volume-mount requests still count)" : ""),
    ],
  };
}
