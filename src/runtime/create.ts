/**
 * What the shim does on `create`: read the bundle's spec, decide whether the container asked for
 * devices and in which mode to serve it, plan every edit, and write the spec back atomically only
 * when it changed. Any error happens before anything is written.
 *
 * Loaded only for `create`, so pass-through commands never pay for it.
 *
 * @module
 */

import { writeFileAtomic } from "../core/io/atomic_file.ts";
import type { Config } from "../core/config/config.ts";
import { SYSTEM_CONFIG_PATH } from "../core/config/config_file.ts";
import { applyContainerEdits, removeHooksNamed } from "../core/oci/container_edits.ts";
import {
  describeDevices,
  discoverDevices,
  selectDevices,
} from "../core/device/device_discovery.ts";
import { findProfile, XPU_PROFILE } from "../core/device/device_profile.ts";
import {
  type DeviceRequest,
  parseDeviceRequest,
  requestAnnotations,
} from "../core/request/device_request.ts";
import { ConfigError, quoted, RequestError, SpecError } from "../core/errors.ts";
import { resolveHookProgram, STANDARD_BIN_DIRS } from "../core/io/executable_lookup.ts";
import { hookEnv } from "../core/config/hook_env.ts";
import type { HostFs } from "../core/io/host_fs.ts";
import type { Logger } from "../core/io/log.ts";
import {
  describeMode,
  isCsvPlatform,
  type ResolvedMode,
  resolveMode,
} from "../core/request/mode.ts";
import {
  isPrivileged,
  type OciSpec,
  parseOciSpec,
  serializeOciSpec,
  specAnnotations,
  specEnv,
  specMounts,
} from "../core/oci/oci_spec.ts";
import { FileKindError } from "../core/io/open_no_follow.ts";
import { readRegularFile } from "../core/io/regular_file.ts";
import { applyCdiDevices, cdiAnnotationDevices, qualifyRequest } from "./cdi_edits.ts";
import { csvContainerEdits } from "./csv_edits.ts";
import { parseCsvMountSpec } from "./csv_mount_spec.ts";
import { applyLegacyEdits, LEGACY_HOOK_NAMES } from "./legacy_edits.ts";

/** Everything the create step needs; all host access goes through `fs` and `readTextFile`. */
export interface CreateContext {
  /** Absolute bundle directory. */
  bundle: string;
  config: Config;
  /** Mode pinned by the executable name. */
  pinnedMode?: ResolvedMode;
  /** The shim's own environment (for `PATH`). */
  env: Readonly<Record<string, string>>;
  /**
   * The absolute config file the shim loaded because its own environment named it: the hooks it
   * writes get it as `XPU_CTK_CONFIG_FILE_PATH`, so they read the same config.
   */
  configPath?: string;
  logger: Logger;
  fs: HostFs;
}

/** What the create step did. */
export interface CreateOutcome {
  /** `undefined` when the container asked for no devices. */
  mode?: ResolvedMode;
  written: boolean;
}

/**
 * Edits `<bundle>/config.json` for the container's device request.
 *
 * @throws {SpecError} for an unreadable or malformed spec
 * @throws {RequestError} for a request this host cannot serve
 */
export async function editBundleForCreate(ctx: CreateContext): Promise<CreateOutcome> {
  const specPath = `${ctx.bundle.replace(/\/+$/, "")}/config.json`;
  let original: Uint8Array;
  try {
    // A regular file, checked on the open descriptor: a FIFO there would block the read forever.
    original = readRegularFile(specPath);
  } catch (error) {
    throw new SpecError(
      error instanceof FileKindError
        ? `Cannot read OCI spec ${
          quoted(specPath)
        }: ${error.detail}: config.json must be a regular ` +
          `file in the bundle; recreate the container`
        : `Cannot read OCI spec ${quoted(specPath)}: ${
          error instanceof Error ? error.message : error
        }: ` +
          `pass the bundle directory with --bundle`,
      { path: specPath },
      { cause: error },
    );
  }
  const spec = parseOciSpec(original, specPath);
  const { config, logger } = ctx;
  const { request, annotated } = containerRequest(spec, ctx);
  if (request === undefined && annotated.length === 0) {
    logger.debug("No XPU devices requested: leaving the spec unchanged");
    return { written: false };
  }
  const resolved = resolveMode({
    configured: config.runtime.mode,
    pinned: ctx.pinnedMode,
    requested: request?.devices === "all" ? "all" : [...(request?.devices ?? []), ...annotated],
    isCsvPlatform: () => isCsvPlatform(ctx.fs, config.cli.root),
  });
  logger.info(describeMode(resolved));

  const before = JSON.stringify(spec);
  try {
    await MODE_EDITS[resolved.mode](spec, { devices: request, annotated }, ctx);
  } catch (error) {
    if (error instanceof SpecError && error.path === "") {
      throw new SpecError(
        `Cannot update OCI spec ${quoted(specPath)}: ${error.message}: ` +
          `the engine wrote an unexpected config.json; recreate the container`,
        { path: specPath },
        { cause: error },
      );
    }
    throw error;
  }
  if (JSON.stringify(spec) === before) {
    logger.debug("The spec already holds every edit: not rewriting it");
    return { mode: resolved.mode, written: false };
  }
  writeFileAtomic(specPath, serializeOciSpec(spec, original));
  logger.debug(`Updated "${specPath}" for mode '${resolved.mode}'`);
  return { mode: resolved.mode, written: true };
}

/** What a container asked for: devices by env or volume mounts, and CDI names by annotation. */
interface ContainerRequest {
  devices?: DeviceRequest;
  annotated: string[];
}

/**
 * Reads the request from every source (env, volume mounts, annotations); the unprivileged rule
 * applies to the environment and the annotations alike, and what it drops is logged.
 */
function containerRequest(
  spec: OciSpec,
  ctx: CreateContext,
): { request?: DeviceRequest; annotated: string[] } {
  const { config, logger } = ctx;
  const privileged = isPrivileged(spec);
  const { request, notes } = parseDeviceRequest(
    { env: specEnv(spec), mounts: specMounts(spec), privileged },
    config,
  );
  notes.forEach((note) => logger.info(note));
  const prefixes = config.runtime.modes.cdi.annotationPrefixes;
  const accepted = requestAnnotations(
    { annotations: specAnnotations(spec), privileged, prefixes },
    config,
  );
  accepted.notes.forEach((note) => logger.info(note));
  return { request, annotated: cdiAnnotationDevices(accepted.annotations, prefixes) };
}

/** The explicit env of every hook the shim writes: `PATH`, and the config it loaded. */
function shimHookEnv(ctx: CreateContext): string[] {
  return hookEnv({ configPath: ctx.configPath });
}

type ModeEdit = (
  spec: OciSpec,
  request: ContainerRequest,
  ctx: CreateContext,
) => void | Promise<void>;

const MODE_EDITS: Readonly<Record<ResolvedMode, ModeEdit>> = {
  legacy: (spec, request, ctx) =>
    onlyDevices(request, ctx, (devices) => editForLegacy(spec, devices, ctx)),
  csv: (spec, request, ctx) =>
    onlyDevices(request, ctx, (devices) => editForCsv(spec, devices, ctx)),
  cdi: editForCdi,
};

/** Legacy and csv modes serve `XPU_VISIBLE_DEVICES`; CDI annotations need cdi mode. */
function onlyDevices(
  request: ContainerRequest,
  ctx: CreateContext,
  edit: (devices: DeviceRequest) => void,
): void {
  if (request.annotated.length > 0) {
    ctx.logger.warn(
      `Ignoring CDI annotations (${
        request.annotated.join(", ")
      }): they are served in mode 'cdi' only`,
    );
  }
  if (request.devices !== undefined) edit(request.devices);
}

async function editForCdi(spec: OciSpec, request: ContainerRequest, ctx: CreateContext) {
  const cdi = ctx.config.runtime.modes.cdi;
  const fromEnv = request.devices ? qualifyRequest(request.devices.devices, cdi.defaultKind) : [];
  const names = [...new Set([...fromEnv, ...request.annotated])];
  await applyCdiDevices(spec, {
    names,
    specDirs: cdi.specDirs,
    allowedKinds: cdi.allowedKinds,
    hookEnv: shimHookEnv(ctx),
    fs: ctx.fs,
    logger: ctx.logger,
  });
}

/**
 * The absolute path of a hook's program, looked up in the shim's own `PATH` and the standard
 * dirs: a hook is never written with a relative path or a program that is not there.
 *
 * @throws {ConfigError} naming the key and the fix
 */
function hookProgram(ctx: CreateContext, configured: string, key: string): string {
  const resolved = resolveHookProgram(configured, { path: ctx.env.PATH });
  if (resolved.ok) return resolved.path;
  const file = ctx.configPath ?? SYSTEM_CONFIG_PATH;
  const problem = resolved.problem === "relative"
    ? `${key} is "${configured}", a relative path, which runc would resolve in the ` +
      `container's directory`
    : configured.startsWith("/")
    ? `${key} is "${configured}", which is not an executable file`
    : `${key} is "${configured}", which is not an executable in PATH or ` +
      STANDARD_BIN_DIRS.join(", ");
  throw new ConfigError(
    `Cannot add the container's hook: ${problem}: set ${key} in "${file}" to the absolute ` +
      `path of the installed program`,
    { path: file },
  );
}

function editForLegacy(spec: OciSpec, request: DeviceRequest, ctx: CreateContext): void {
  const { config } = ctx;
  const ids = request.devices;
  if (ids !== "all") {
    const cdiNames = ids.filter((id) => id.includes("="));
    if (cdiNames.length > 0) {
      throw new RequestError(
        `Cannot serve CDI devices ${cdiNames.map(quoted).join(", ")} in mode 'legacy': ` +
          `request devices by index or UUID, or request only CDI names`,
      );
    }
  }
  const profile = findProfile(config.profiles, config.cli.profile) ?? XPU_PROFILE;
  const host = discoverDevices(ctx.fs, profile, { driverRoot: config.cli.root });
  const selection = selectDevices(host.devices, ids);
  if (!selection.ok) {
    throw new RequestError(
      `Cannot give the container XPU ${selection.unknown.map(quoted).join(", ")}: ` +
        `no such device under "${config.cli.root}" (devices: ${describeDevices(host.devices)}): ` +
        `request an existing index or UUID, or "all"`,
    );
  }
  applyLegacyEdits(spec, {
    hookPath: hookProgram(ctx, config.hook.path, "[xpu-container-runtime-hook] path"),
    hookEnv: shimHookEnv(ctx),
    devices: selection.devices,
    controlNodes: host.controlNodes,
  });
}

function editForCsv(spec: OciSpec, request: DeviceRequest, ctx: CreateContext): void {
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
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
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
    includeDevices: request.devices === "all" || request.devices.length > 0,
    ctkPath: () => (ctkPath ??= hookProgram(ctx, config.ctk.path, "[xpu-ctk] path")),
    hookEnv: shimHookEnv(ctx),
  });
  for (const path of missing) logger.debug(`Mount spec entry "${path}" is not on this host`);
  removeHooksNamed(spec, "prestart", LEGACY_HOOK_NAMES);
  applyContainerEdits(spec, edits);
}
