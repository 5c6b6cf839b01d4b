/**
 * The runtime shim's main path: read runc's argv (printing its own version line first for
 * `--version`), load the config, pick the low-level runtime, edit the bundle on `create` (loaded
 * on demand), then hand the unchanged argv over by exec.
 *
 * This path runs on every container operation; it imports only what every command needs.
 *
 * @module
 */

import type { Config } from "../core/config/config.ts";
import { CONFIG_PATH_ENV, loadConfig } from "../core/config/config_file.ts";
import { errorMessage, ExecError, UsageError } from "../core/errors.ts";
import { findFirstExecutable, STANDARD_BIN_DIRS } from "../core/io/executable_lookup.ts";
import { createLogger, type Logger, type LogSink } from "../core/io/log.ts";
import type { ExecRequest } from "../core/io/process.ts";

export { asksForVersion };
import { asksForVersion, parseRuncArgs, type RuncArgs } from "../core/oci/runc_args.ts";
import { versionLine } from "../core/version.ts";
import { FAST_PATH_RECORD_ENV } from "../core/fast_path/fast_path_record.ts";

/** What the shim was started with. */
export interface ShimInput {
  /** runc's argv, without argv[0]. */
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** The name the shim was started as (argv[0]); a `.cdi`/`.legacy`/`.csv` suffix pins the mode. */
  executableName: string;
  /**
   * Where `--version` writes the shim's own version line, the one thing the shim ever writes to
   * stdout (the entry module gives the process's stdout). Without it the line is left out and
   * the low-level runtime's output is all there is.
   */
  stdout?: (text: string) => void;
  /** Why a runtime server did not serve this create (logged at debug level). */
  serverNote?: string;
}

/** The loggers' sinks: the engine's `--log` file and the config's `debug` file. */
export function shimLogSinks(runc: RuncArgs, config: Config | undefined): LogSink[] {
  const format = runc.logFormat === "json" ? "json" : "text";
  const sinks: LogSink[] = [];
  if (runc.log) sinks.push({ path: runc.log, format });
  const debugFile = config?.runtime.debug;
  if (debugFile && debugFile !== "/dev/null") sinks.push({ path: debugFile, format });
  return sinks;
}

function shimLogger(runc: RuncArgs, config: Config | undefined): Logger {
  const level = runc.debug ? "debug" : config?.runtime.logLevel ?? "info";
  return createLogger({ level, sinks: shimLogSinks(runc, config) });
}

/**
 * The config file to hand to the hooks the shim writes: the one it loaded, made absolute, when its
 * own environment chose it (`XPU_CTK_CONFIG_FILE_PATH` or `XDG_CONFIG_HOME`); the system file is
 * what a hook reads anyway.
 */
export function configPathForHooks(
  loaded: string,
  input: Pick<ShimInput, "env" | "cwd">,
): string | undefined {
  if (!input.env[CONFIG_PATH_ENV] && !input.env.XDG_CONFIG_HOME) return undefined;
  return loaded.startsWith("/") ? loaded : `${input.cwd.replace(/\/+$/, "")}/${loaded}`;
}

/**
 * Runs the shim: on success `exec` replaces the process and this never returns. Every failure is
 * logged once to the log files and rethrown for the entry module to report and exit 1.
 *
 * When the argv asks for the version ({@link asksForVersion}), the shim's version line goes to
 * `input.stdout` first; then the same argv is handed over as for any other command, so the
 * low-level runtime's own version follows.
 */
export async function runShim(
  input: ShimInput,
  exec: (request: ExecRequest) => never,
): Promise<never> {
  return exec(await prepareShimExec(input));
}

/**
 * Everything the shim does but the exec: the config loaded, the low-level runtime chosen, the
 * bundle edited on `create`; what to exec is returned. The runtime server
 * (`runtime_server.ts`) runs this for a shim that asked it to, so both take one path.
 *
 * Relative paths (the bundle, runc's `--log`, the config file's variable) are read from this
 * process's working directory, which must be `input.cwd`.
 *
 * @throws what {@link runShim} throws, logged once to the log files
 */
export async function prepareShimExec(input: ShimInput): Promise<ExecRequest> {
  const runc = parseRuncArgs(input.args);
  let logger = shimLogger(runc, undefined);
  try {
    if (input.stdout !== undefined && asksForVersion(input.args)) {
      input.stdout(`${versionLine("xpu-container-runtime")}\n`);
    }
    const loaded = loadConfig(input.env);
    const { config } = loaded;
    logger = shimLogger(runc, config);
    for (const warning of loaded.warnings) logger.warn(warning);
    if (input.serverNote !== undefined) logger.debug(`Runtime server: ${input.serverNote}`);
    const runtime = findFirstExecutable(config.runtime.runtimes, { path: input.env.PATH });
    if (runtime === undefined) {
      const names = config.runtime.runtimes.map((r) => `"${r}"`).join(", ");
      throw new ExecError(
        `Cannot find a low-level runtime: none of ${names} is an executable in PATH or ` +
          `${STANDARD_BIN_DIRS.join(", ")}: install runc, or set [xpu-container-runtime] ` +
          `runtimes in "${loaded.path}"`,
      );
    }
    if (runc.isCreate) {
      if (runc.bundleError) {
        throw new UsageError(`Cannot create the container: ${runc.bundleError}`);
      }
      // Loaded together: one round of module loading, not three.
      const [{ editBundleForCreate }, { realCreateFs }, { modeFromExecutableName }] = await Promise
        .all([import("./create.ts"), import("./create_fs.ts"), import("../core/request/mode.ts")]);
      await editBundleForCreate({
        bundle: runc.bundle ?? input.cwd,
        cwd: input.cwd,
        config,
        pinnedMode: modeFromExecutableName(input.executableName),
        env: input.env,
        configPath: configPathForHooks(loaded.path, input),
        logger,
        fs: realCreateFs,
      });
    }
    const env = await refreshFastPath(input.env, logger);
    if (logger.enabled("debug")) {
      logger.debug(`Handing over to "${runtime}" with ${JSON.stringify(input.args)}`);
    }
    return { path: runtime, argv: [runtime, ...input.args], env };
  } catch (error) {
    logger.error(errorMessage(error));
    throw error;
  }
}

/**
 * When a launcher named its fast-path record as out of date (`XPU_FAST_PATH_RECORD`), writes it
 * again (a failure is only logged: the call goes on); returns the environment to hand over,
 * without that variable.
 */
async function refreshFastPath(
  env: Readonly<Record<string, string>>,
  logger: Logger,
): Promise<Readonly<Record<string, string>>> {
  const record = env[FAST_PATH_RECORD_ENV];
  if (record === undefined) return env;
  const { [FAST_PATH_RECORD_ENV]: _, ...rest } = env;
  try {
    const { refreshFastPathRecord } = await import("./fast_path_refresh.ts");
    logger.debug(refreshFastPathRecord(record, rest));
  } catch (error) {
    logger.debug(`Cannot write the fast-path record "${record}": ${errorMessage(error)}`);
  }
  return rest;
}
