/**
 * Which mode serves a container: pinned by the shim's own name, set in the config, or chosen by
 * the `auto` rules (CDI names → `cdi`, a CSV-style platform → `csv`, else `legacy`).
 *
 * @module
 */

import { isQualifiedName } from "../cdi/cdi_name.ts";
import type { Mode } from "../config/config.ts";
import type { HostFs } from "../io/host_fs.ts";
import { hostPath } from "../path/root_path.ts";

/** A concrete mode (never `auto`). */
export type ResolvedMode = Exclude<Mode, "auto">;

/** How a mode was chosen, for the log line. */
export type ModeSource = "executable-name" | "config" | "auto";

/** Executable names that pin a mode: `xpu-container-runtime.<mode>`. */
const PINNED_SUFFIXES: Readonly<Record<string, ResolvedMode>> = {
  cdi: "cdi",
  legacy: "legacy",
  csv: "csv",
};

/**
 * The mode pinned by the shim's executable name (`xpu-container-runtime.cdi` → `cdi`); a
 * `.real` suffix (the installer's copies) is ignored.
 */
export function modeFromExecutableName(name: string): ResolvedMode | undefined {
  const base = name.slice(name.lastIndexOf("/") + 1).replace(/\.real$/, "");
  const match = /^xpu-container-runtime\.([a-z]+)$/.exec(base);
  return match && Object.hasOwn(PINNED_SUFFIXES, match[1]) ? PINNED_SUFFIXES[match[1]] : undefined;
}

/** Inputs of {@link resolveMode}. */
export interface ModeInput {
  configured: Mode;
  pinned?: ResolvedMode;
  /** The request's device ids (`all` is never CDI). */
  requested: "all" | readonly string[];
  /** Called only when the `auto` rules need to look at the platform. */
  isCsvPlatform: () => boolean;
}

/**
 * Decides the mode.
 *
 * @example
 * ```ts
 * resolveMode({ configured: "auto", requested: ["xpu.dev/xpu=0"], isCsvPlatform: () => false });
 * // { mode: "cdi", source: "auto" }
 * ```
 */
export function resolveMode(input: ModeInput): { mode: ResolvedMode; source: ModeSource } {
  if (input.pinned) return { mode: input.pinned, source: "executable-name" };
  if (input.configured !== "auto") return { mode: input.configured, source: "config" };
  const ids = input.requested;
  if (ids !== "all" && ids.length > 0 && ids.every(isQualifiedName)) {
    return { mode: "cdi", source: "auto" };
  }
  if (input.isCsvPlatform()) return { mode: "csv", source: "auto" };
  return { mode: "legacy", source: "auto" };
}

/** The log line naming the mode, as operators grep for it. */
export function describeMode(resolved: { mode: ResolvedMode; source: ModeSource }): string {
  switch (resolved.source) {
    case "auto":
      return `Auto-detected mode as '${resolved.mode}'`;
    case "config":
      return `Using requested mode '${resolved.mode}'`;
    case "executable-name":
      return `Using mode '${resolved.mode}' pinned by the executable name`;
  }
}

/**
 * Whether the host is a CSV-style (Tegra) platform: `/etc/nv_tegra_release` under the driver root,
 * or `/sys/devices/soc0/family` starting with `tegra`.
 */
export function isCsvPlatform(fs: HostFs, driverRoot: string): boolean {
  if (fs.lstat(hostPath(driverRoot, "/etc/nv_tegra_release")) !== undefined) return true;
  const family = fs.readTextFile(hostPath(driverRoot, "/sys/devices/soc0/family"));
  return family !== undefined && family.trim().toLowerCase().startsWith("tegra");
}
