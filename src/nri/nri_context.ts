/**
 * The host side of the NRI plugin's decision: the {@link SpecEditContext} the shim builds for
 * `create` (config, the process's env for `PATH`, the config file handed to hooks, logger, host
 * file system), built the same way for each request, and the `decide(request)` function the
 * plugin's session calls. The shim builds its context inline in `runShim`; this is the same
 * construction from the same parts (`loadConfig`, `configPathForHooks`, `realCreateFs`).
 *
 * The config is read again for every request, as the shim reads it for every `create`: an
 * operator's edit of `config.toml` applies to the next container without restarting the plugin,
 * and a broken config fails containers with the shim's message rather than the plugin. The CDI
 * spec files are read again too, but parsed again only when their text changed: the parsed specs
 * live in the decide function's cache (`CdiDirReader.parseCache`).
 *
 * @module
 */

import { loadConfig } from "../core/config/config_file.ts";
import { failureMessage } from "../core/errors.ts";
import { readTextFileSync } from "../core/io/fs.ts";
import type { Logger } from "../core/io/log.ts";
import type { SpecEditContext } from "../runtime/create.ts";
import { type CreateFs, realCreateFs } from "../runtime/create_fs.ts";
import { configPathForHooks } from "../runtime/shim.ts";
import { decideAdjustment, type NriDecision } from "./nri_adjust.ts";
import type { NriCreateContainerRequest } from "./nri_spec.ts";

/** What the plugin process was started with. */
export interface NriHost {
  /** The plugin's own environment: the config file it names, `PATH` for hook programs. */
  env: Readonly<Record<string, string>>;
  /** The plugin's absolute working directory (a relative config path is made absolute on it). */
  cwd: string;
  logger: Logger;
  /** The host's file system; the real one by default. */
  fs?: CreateFs;
  /** How the config file is read; the real file by default. */
  readTextFile?: (path: string) => string;
}

/** The longest error message handed back to the runtime (it ends up in the kubelet's events). */
export const MAX_ERROR_LENGTH = 4096;

/**
 * The context the mode edits get for one request: the config as `loadConfig` reads it now (its
 * warnings logged), no pinned mode (the plugin has no executable-name suffix), and the config file
 * for hooks exactly as the shim decides it.
 *
 * @throws {ConfigError} for a config file that is named but missing, unreadable or invalid
 */
export function nriModeContext(host: NriHost): SpecEditContext {
  const loaded = loadConfig(host.env, host.readTextFile ?? readTextFileSync);
  for (const warning of loaded.warnings) host.logger.warn(warning);
  return {
    config: loaded.config,
    env: host.env,
    configPath: configPathForHooks(loaded.path, host),
    logger: host.logger,
    fs: host.fs ?? realCreateFs,
  };
}

/**
 * The function the plugin's session calls for each `CreateContainer` request: the adjustment, or
 * the one-line message (cut at {@link MAX_ERROR_LENGTH}) that fails the container; the session
 * logs it. It never throws.
 */
export function nriDecide(
  host: NriHost,
): (request: NriCreateContainerRequest) => Promise<NriDecision> {
  const fs = host.fs ?? realCreateFs;
  const cached: NriHost = {
    ...host,
    fs: { ...fs, cdiSpecDirs: { ...fs.cdiSpecDirs, parseCache: new Map() } },
  };
  return async (request) => {
    let decision: NriDecision;
    try {
      decision = await decideAdjustment(request, nriModeContext(cached));
    } catch (error) {
      decision = { error: failureMessage(error) };
    }
    if ("adjustment" in decision || decision.error.length <= MAX_ERROR_LENGTH) return decision;
    return {
      error: `${decision.error.slice(0, MAX_ERROR_LENGTH)}… (${decision.error.length} characters)`,
    };
  };
}
