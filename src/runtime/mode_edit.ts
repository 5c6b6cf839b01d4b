/**
 * The one shape of every mode's edit (`editForLegacy`, `editForCsv`, `editForCdi`): the spec, the
 * part of the container's request the mode serves, and the host; the spec is edited in place.
 * The create step picks one by mode.
 *
 * @module
 */

import type { Config } from "../core/config/config.ts";
import type { Logger } from "../core/io/log.ts";
import type { OciSpec } from "../core/oci/oci_spec.ts";
import type { DeviceRequest } from "../core/request/device_request.ts";
import type { CreateFs } from "./create_fs.ts";

/** What a container asked for, as far as the mode serves it. */
export interface ModeRequest {
  /** Devices by `XPU_VISIBLE_DEVICES` or volume mounts; `undefined` when it named none. */
  devices?: DeviceRequest;
  /** CDI names requested by annotation, in request order; empty outside mode 'cdi'. */
  annotated: readonly string[];
}

/** The host and settings a mode's edit works with; all host access goes through `fs`. */
export interface ModeContext {
  config: Config;
  /** The shim's own environment (for `PATH`). */
  env: Readonly<Record<string, string>>;
  /**
   * The absolute config file the shim loaded because its own environment named it: the hooks it
   * writes get it as `XPU_CTK_CONFIG_FILE_PATH`, so they read the same config.
   */
  configPath?: string;
  logger: Logger;
  fs: CreateFs;
}

/**
 * A mode's edit of the spec; idempotent, so a spec that already holds it is left equal.
 *
 * @throws {RequestError} for a request the host cannot serve in this mode
 * @throws {ConfigError} for a hook program the config does not name absolutely
 * @throws {SpecShapeError} for a part of the spec of the wrong JSON type
 */
export type ModeEdit = (
  spec: OciSpec,
  request: ModeRequest,
  ctx: ModeContext,
) => void | Promise<void>;
