/**
 * What the shim does on `create`: read the bundle's spec, decide whether the container asked for
 * devices and in which mode to serve it, let that mode's edit plan and apply every change, and
 * write the spec back atomically only when it changed. Any error happens before anything is
 * written. Every read and write goes through the context's {@link CreateFs}.
 *
 * Loaded only for `create`, so pass-through commands never pay for it.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { quoted, RequestError, SpecError } from "../core/errors.ts";
import type { Logger } from "../core/io/log.ts";
import { FileKindError } from "../core/io/fs.ts";
import {
  isPrivileged,
  type OciSpec,
  parseOciSpec,
  serializeOciSpec,
  specAnnotations,
  specEnv,
  specMounts,
  SpecShapeError,
} from "../core/oci/oci_spec.ts";
import { parseDeviceRequest, requestAnnotations } from "../core/request/device_request.ts";
import {
  describeMode,
  isCsvPlatform,
  type ResolvedMode,
  resolveMode,
} from "../core/request/mode.ts";
import { cdiAnnotationDevices, editForCdi } from "./cdi_edits.ts";
import type { CreateFs } from "./create_fs.ts";
import { editForCsv } from "./csv_edits.ts";
import { editForLegacy } from "./legacy_edits.ts";
import type { ModeContext, ModeEdit, ModeRequest } from "./mode_edit.ts";

/** Everything the create step needs; all host access goes through `fs`. */
export interface CreateContext extends ModeContext {
  /** The bundle directory as runc was given it: absolute, or relative to `cwd`. */
  bundle: string;
  /** The shim's absolute working directory. */
  cwd: string;
  /** Mode pinned by the executable name. */
  pinnedMode?: ResolvedMode;
}

/** What the create step did. */
export interface CreateOutcome {
  /** `undefined` when the container asked for no devices. */
  mode?: ResolvedMode;
  written: boolean;
}

/** Each mode's edit. */
const MODE_EDITS: Readonly<Record<ResolvedMode, ModeEdit>> = {
  legacy: editForLegacy,
  csv: editForCsv,
  cdi: editForCdi,
};

/**
 * Edits `<bundle>/config.json` for the container's device request.
 *
 * @throws {SpecError} for an unreadable or malformed spec
 * @throws {RequestError} for a request this host cannot serve
 * @throws {ConfigError} for a hook program the config does not name absolutely
 */
export async function editBundleForCreate(ctx: CreateContext): Promise<CreateOutcome> {
  const specPath = join(resolve(ctx.cwd, ctx.bundle), "config.json");
  const original = readBundleSpec(ctx.fs, specPath);
  const spec = parseOciSpec(original, specPath);
  const { config, logger } = ctx;
  const request = containerRequest(spec, ctx);
  if (request.devices === undefined && request.annotated.length === 0) {
    logger.debug("No XPU devices requested: leaving the spec unchanged");
    return { written: false };
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
  try {
    await MODE_EDITS[resolved.mode](spec, servedRequest(resolved.mode, request, logger), ctx);
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
  if (JSON.stringify(spec) === before) {
    logger.debug("The spec already holds every edit: not rewriting it");
    return { mode: resolved.mode, written: false };
  }
  ctx.fs.writeFileAtomic(specPath, serializeOciSpec(spec, original));
  logger.debug(`Updated "${specPath}" for mode '${resolved.mode}'`);
  return { mode: resolved.mode, written: true };
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
function containerRequest(spec: OciSpec, ctx: CreateContext): ModeRequest {
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
