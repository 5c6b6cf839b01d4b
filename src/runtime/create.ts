/**
 * What the shim does on `create`: read the bundle's spec, decide whether the container asked for
 * devices and in which mode to serve it, let that mode's edit plan and apply every change, and
 * write the spec back atomically only when it changed. Any error happens before anything is
 * written. Every read and write goes through the context's {@link CreateFs}.
 *
 * The decision and the edit, without the bundle, are {@link editSpecForCreate}: the NRI plugin
 * runs the same function on the spec it builds from the container the runtime describes, so both
 * ways into a container follow one set of rules.
 *
 * Loaded only for `create`, so pass-through commands never pay for it.
 *
 * @module
 */

import { quoted, RequestError, SpecError } from "../core/errors.ts";
import type { Logger } from "../core/io/log.ts";
import { FileKindError } from "../core/io/fs.ts";
import {
  hasUserNamespace,
  isPrivileged,
  type OciSpec,
  parseOciSpec,
  serializeOciSpec,
  specAnnotations,
  specEnv,
  specMounts,
  specRootfs,
  SpecShapeError,
} from "../core/oci/oci_spec.ts";
import { parseDeviceRequest, requestAnnotations } from "../core/request/device_request.ts";
import {
  describeMode,
  isCsvPlatform,
  type ResolvedMode,
  resolveMode,
} from "../core/request/mode.ts";
import { normalizeInRoot } from "../core/path/root_path.ts";
import { cdiAnnotationDevices } from "./cdi_annotations.ts";
import type { CreateFs } from "./create_fs.ts";
import type { ModeContext, ModeEdit, ModeRequest } from "./mode_edit.ts";

/** What {@link editSpecForCreate} needs besides the spec; all host access goes through `fs`. */
export interface SpecEditContext extends ModeContext {
  /** Mode pinned by the executable name. */
  pinnedMode?: ResolvedMode;
}

/** Everything the create step needs; all host access goes through `fs`. */
export interface CreateContext extends SpecEditContext {
  /** The bundle directory as runc was given it: absolute, or relative to `cwd`. */
  bundle: string;
  /** The shim's absolute working directory. */
  cwd: string;
}

/** What {@link editSpecForCreate} did to the spec. */
export interface SpecEditOutcome {
  /** `undefined` when the container asked for no devices. */
  mode?: ResolvedMode;
  /** Whether the spec differs from what it was (an already-edited spec stays equal). */
  changed: boolean;
}

/** What the create step did. */
export interface CreateOutcome {
  /** `undefined` when the container asked for no devices. */
  mode?: ResolvedMode;
  written: boolean;
}

/**
 * Each mode's edit, loaded when that mode serves a container: a `csv` create does not load the
 * CDI registry and spec parser, a `cdi` one not the CSV mount specs (each module a process does
 * not load is start-up it does not pay).
 */
const MODE_EDITS: Readonly<Record<ResolvedMode, () => Promise<ModeEdit>>> = {
  legacy: async () => (await import("./legacy_edits.ts")).editForLegacy,
  csv: async () => (await import("./csv_edits.ts")).editForCsv,
  cdi: async () => (await import("./cdi_edits.ts")).editForCdi,
};

/**
 * Edits `<bundle>/config.json` for the container's device request.
 *
 * @throws {SpecError} for an unreadable or malformed spec
 * @throws {RequestError} for a request this host cannot serve
 * @throws {ConfigError} for a hook program the config does not name absolutely
 */
export async function editBundleForCreate(ctx: CreateContext): Promise<CreateOutcome> {
  // `cwd` is absolute, so normalising lexically from `/` is what node:path's `resolve` and
  // `join` would give; node:path itself would cost every create Deno's Node start-up.
  const bundle = ctx.bundle.startsWith("/") ? ctx.bundle : `${ctx.cwd}/${ctx.bundle}`;
  const specPath = normalizeInRoot(`${bundle}/config.json`);
  const original = readBundleSpec(ctx.fs, specPath);
  const spec = parseOciSpec(original, specPath);
  const mountsBefore = hasUserNamespace(spec) ? mountKeysOf(spec) : undefined;
  let outcome: SpecEditOutcome;
  try {
    outcome = await editSpecForCreate(spec, ctx);
  } catch (error) {
    if (error instanceof SpecShapeError) {
      throw new SpecError(
        `Cannot update OCI spec ${quoted(specPath)}: ${error.message}: ` +
          `the engine wrote an unexpected config.json; recreate the container`,
        { path: specPath },
        { cause: error },
      );
    }
    throw error;
  }
  if (outcome.mode === undefined) return { written: false };
  if (!outcome.changed) {
    ctx.logger.debug("The spec already holds every edit: not rewriting it");
    return { mode: outcome.mode, written: false };
  }
  if (mountsBefore !== undefined) await prepareMountTargetsFor(spec, bundle, mountsBefore, ctx);
  ctx.fs.writeFileAtomic(specPath, serializeOciSpec(spec, original));
  ctx.logger.debug(`Updated "${specPath}" for mode '${outcome.mode}'`);
  return { mode: outcome.mode, written: true };
}

function mountKeysOf(spec: OciSpec): Set<string> {
  return new Set(Array.isArray(spec.mounts) ? spec.mounts.map((m) => JSON.stringify(m)) : []);
}

/**
 * In a container with its own user namespace, creates the targets of the bind mounts the edit
 * added, owned by the container's root (see `mount_targets.ts`), before the spec that names them
 * is written; a target that cannot be made is logged and left to the runtime to report.
 */
async function prepareMountTargetsFor(
  spec: OciSpec,
  bundle: string,
  before: ReadonlySet<string>,
  ctx: CreateContext,
): Promise<void> {
  const { mountTargetsToPrepare } = await import("./mount_targets.ts");
  const plan = mountTargetsToPrepare(spec, before);
  const rootfs = specRootfs(spec, bundle);
  if (plan === undefined || rootfs === undefined) return;
  const problems = await ctx.fs.prepareMountTargets(rootfs, plan);
  ctx.logger.debug(
    `User namespace (root is host ${plan.owner.uid}:${plan.owner.gid}): prepared ` +
      `${plan.targets.length - problems.length} of ${plan.targets.length} mount target(s)`,
  );
  for (const problem of problems) ctx.logger.warn(problem);
}

/**
 * The in-memory part of the create step, on a spec object that no file needs to hold (the shim's
 * bundle, the NRI plugin's container): the request from every source with the unprivileged rule,
 * the mode, and that mode's edit of `spec` in place. A container that asks for nothing is left
 * as it is (`mode` undefined). Errors are raised before the spec is touched, but for a part of
 * the spec of the wrong JSON type, which the caller names.
 *
 * @throws {RequestError} for a request this host cannot serve
 * @throws {ConfigError} for a hook program the config does not name absolutely
 * @throws {SpecShapeError} for a part of the spec of the wrong JSON type
 */
export async function editSpecForCreate(
  spec: OciSpec,
  ctx: SpecEditContext,
): Promise<SpecEditOutcome> {
  const { config, logger } = ctx;
  const request = containerRequest(spec, ctx);
  if (request.devices === undefined && request.annotated.length === 0) {
    logger.debug("No XPU devices requested: leaving the spec unchanged");
    return { changed: false };
  }
  const resolved = resolveMode({
    configured: config.runtime.mode,
    pinned: ctx.pinnedMode,
    requested: request.devices?.devices === "all"
      ? "all"
      : [...(request.devices?.devices ?? []), ...request.annotated],
    isCsvPlatform: () => isCsvPlatform(ctx.fs, config.cli.root),
  });
  logger.info(describeMode(resolved));

  const before = JSON.stringify(spec);
  const edit = await MODE_EDITS[resolved.mode]();
  await edit(spec, servedRequest(resolved.mode, request, logger), ctx);
  return { mode: resolved.mode, changed: JSON.stringify(spec) !== before };
}

/**
 * The bytes of the bundle's spec: a regular file, checked on the open descriptor, since a FIFO
 * there would block the read forever.
 *
 * @throws {SpecError} naming the file and the fix
 */
function readBundleSpec(fs: CreateFs, specPath: string): Uint8Array {
  try {
    return fs.readRegularFile(specPath);
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
}

/**
 * Reads the request from every source (env, volume mounts, annotations); the unprivileged rule
 * applies to the environment and the annotations alike, and what it drops is logged.
 */
function containerRequest(spec: OciSpec, ctx: SpecEditContext): ModeRequest {
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
  try {
    return { devices: request, annotated: cdiAnnotationDevices(accepted.annotations, prefixes) };
  } catch (error) {
    // A mode that never serves annotations does not fail a container over one it would ignore.
    const fixed = ctx.pinnedMode ?? config.runtime.mode;
    if (!(error instanceof RequestError) || fixed === "auto" || fixed === "cdi") throw error;
    logger.warn(`Ignoring CDI annotations: they are served in mode 'cdi' only (${error.message})`);
    return { devices: request, annotated: [] };
  }
}

/** The part of the request `mode` serves: CDI annotations need mode 'cdi', else a warning. */
function servedRequest(mode: ResolvedMode, request: ModeRequest, logger: Logger): ModeRequest {
  if (mode === "cdi" || request.annotated.length === 0) return request;
  logger.warn(
    `Ignoring CDI annotations (${
      request.annotated.join(", ")
    }): they are served in mode 'cdi' only`,
  );
  return { devices: request.devices, annotated: [] };
}
