/**
 * CSV mode: reads the platform's mount specs and turns their entries into container edits —
 * device nodes (with cgroup rules) for `dev`, read-only binds for `lib` and `dir`, the final
 * target plus a `create-symlinks` hook for `sym`, and an `update-ldcache` hook for the library
 * directories.
 *
 * @module
 */

import { hookEnv } from "../core/config/hook_env.ts";
import {
  applyContainerEdits,
  type ContainerEdits,
  type DeviceNodeEdit,
  type MountEdit,
  READ_ONLY_BIND_OPTIONS,
  removeHooksNamed,
} from "../core/oci/container_edits.ts";
import { readDeviceNode } from "../core/device/device_discovery.ts";
import { ctkHooks, type LinkSpec } from "../core/device/driver_file_layout.ts";
import { RequestError } from "../core/errors.ts";
import { type HostFs, withRememberedLookups } from "../core/io/host_fs.ts";
import type { OciSpec } from "../core/oci/oci_spec.ts";
import {
  dirnameInRoot,
  expandGlobInRoot,
  followSymlinkChain,
  hostPath,
  normalizeInRoot,
  resolveInRoot,
} from "../core/path/root_path.ts";
import { type CsvEntry, parseCsvMountSpec } from "./csv_mount_spec.ts";
import { hookProgram } from "./hook_program.ts";
import { LEGACY_HOOK_NAMES } from "./legacy_edits.ts";
import type { ModeContext, ModeRequest } from "./mode_edit.ts";

/** Options of {@link csvContainerEdits}. */
export interface CsvEditOptions {
  fs: HostFs;
  /** Root the entries' paths are read under. */
  driverRoot: string;
  /** False for an `XPU_VISIBLE_DEVICES=none` request: driver files only. */
  includeDevices: boolean;
  /** Absolute path of `xpu-ctk`, the program the hooks run; asked only when a hook is needed. */
  ctkPath: () => string;
  /** The hooks' explicit environment (`hookEnv()`). */
  hookEnv: readonly string[];
}

/**
 * Builds the edits for the entries; entries that match nothing on the host are returned in
 * `missing` (CSV files list every file a platform may have).
 */
export function csvContainerEdits(
  entries: readonly CsvEntry[],
  options: CsvEditOptions,
): { edits: ContainerEdits; missing: string[] } {
  const { driverRoot } = options;
  // Every entry resolves its path from the root again: each dir on the way is looked up once.
  const fs = withRememberedLookups(options.fs);
  const deviceNodes: DeviceNodeEdit[] = [];
  const mounts: MountEdit[] = [];
  const links: LinkSpec[] = [];
  const libraryDirs: string[] = [];
  const missing: string[] = [];
  const mounted = new Set<string>();
  const mount = (containerPath: string, realPath: string) => {
    if (mounted.has(containerPath)) return;
    mounted.add(containerPath);
    mounts.push({
      hostPath: hostPath(driverRoot, realPath),
      containerPath,
      type: "bind",
      options: [...READ_ONLY_BIND_OPTIONS],
    });
  };

  for (const entry of entries) {
    if (entry.type === "dev" && !options.includeDevices) continue;
    const paths = expandGlobInRoot(fs, driverRoot, entry.path);
    if (paths.length === 0) missing.push(entry.path);
    for (const path of paths) {
      switch (entry.type) {
        case "dev": {
          const node = readDeviceNode(fs, driverRoot, path);
          if (node === undefined) {
            missing.push(path);
            break;
          }
          const { hostPath: host, type, major, minor, fileMode } = node;
          if (!deviceNodes.some((d) => d.path === path)) {
            deviceNodes.push({ path, hostPath: host, type, major, minor, fileMode });
          }
          break;
        }
        case "lib":
        case "dir": {
          const real = resolveInRoot(fs, driverRoot, path);
          if (fs.stat(hostPath(driverRoot, real)) === undefined) {
            missing.push(path);
            break;
          }
          mount(path, real);
          if (entry.type === "lib") libraryDirs.push(dirnameInRoot(path));
          break;
        }
        case "sym": {
          const chain = followSymlinkChain(fs, driverRoot, path);
          if (chain.final === undefined) {
            missing.push(path);
            break;
          }
          mount(chain.final, resolveInRoot(fs, driverRoot, chain.final));
          libraryDirs.push(dirnameInRoot(chain.final));
          for (const hop of chain.hops) {
            if (!links.some((l) => l.path === hop.link && l.target === hop.target)) {
              links.push({ target: hop.target, path: hop.link });
            }
          }
          break;
        }
      }
    }
  }

  const hooks = ctkHooks(
    { links, libraryDirs: [...new Set(libraryDirs)] },
    { ctkPath: options.ctkPath, env: options.hookEnv },
  );
  return { edits: { deviceNodes, mounts, hooks }, missing };
}

/**
 * CSV mode's edit: the platform's mount specs (`*.csv` in `[xpu-container-runtime.modes.csv]
 * mount-spec-path`) read and applied ({@link csvContainerEdits}), legacy prestart hooks removed.
 * Without an `XPU_VISIBLE_DEVICES` or volume-mount request there is nothing to do.
 *
 * @throws {RequestError} when the dir holds no mount spec
 * @throws {ConfigError} when a hook is needed and `xpu-ctk` has no absolute path
 */
export function editForCsv(spec: OciSpec, request: ModeRequest, ctx: ModeContext): void {
  const { devices } = request;
  if (devices === undefined) return;
  const { config, logger } = ctx;
  const dir = config.runtime.modes.csv.mountSpecPath;
  const names = ctx.fs.readDir(dir)?.filter((n) => n.endsWith(".csv"));
  if (names === undefined || names.length === 0) {
    throw new RequestError(
      `Cannot serve the container in mode 'csv': no *.csv mount specs in "${dir}": ` +
        `install the platform's mount specs or set ` +
        `[xpu-container-runtime.modes.csv] mount-spec-path`,
    );
  }
  const entries = names.flatMap((name) => {
    // `dir` is absolute (the config checks it): normalised from `/`, as node:path would.
    const path = normalizeInRoot(`${dir}/${name}`);
    const parsed = parseCsvMountSpec(ctx.fs.readTextFile(path) ?? "");
    for (const s of parsed.skipped) {
      logger.debug(`Skipping line ${s.line} of "${path}": ${s.reason}: ${JSON.stringify(s.text)}`);
    }
    return parsed.entries;
  });
  let ctkPath: string | undefined;
  const { edits, missing } = csvContainerEdits(entries, {
    fs: ctx.fs,
    driverRoot: config.cli.root,
    includeDevices: devices.devices === "all" || devices.devices.length > 0,
    ctkPath: () => (ctkPath ??= hookProgram(config.ctk.path, "[xpu-ctk] path", ctx)),
    hookEnv: hookEnv({ configPath: ctx.configPath }),
  });
  for (const path of missing) logger.debug(`Mount spec entry "${path}" is not on this host`);
  removeHooksNamed(spec, "prestart", LEGACY_HOOK_NAMES);
  applyContainerEdits(spec, edits);
}
