/**
 * `xpu-ctk nri-plugin`: the long-running NRI plugin. It connects to the runtime's NRI socket
 * (containerd ≥ 1.7, cri-o ≥ 1.26), subscribes to container creation, and gives each container
 * the devices it asks for with the shim's own rules (`src/nri/`), so a node needs no runtime
 * handler and no engine restart. It logs one line per decision and per connection change to
 * stderr, reconnects when the runtime restarts, and stops on SIGTERM or SIGINT.
 *
 * ```sh
 * xpu-ctk nri-plugin                                   # /var/run/nri/nri.sock, "10-xpu-container-toolkit"
 * xpu-ctk nri-plugin --socket /run/nri/nri.sock --index 20 --config /etc/xpu/config.toml
 * ```
 *
 * The settings are resolved first (flag, then variable, then default) and checked before the
 * first connection, so a mistake is one usage line, not a plugin retrying forever; the NRI
 * modules are loaded only when the command runs, keeping them off every other `xpu-ctk` call
 * (the hooks among them run for each container).
 *
 * @module
 */

import type { Command } from "commander";
import { pathValue } from "../core/command/command_line.ts";
import { CONFIG_PATH_ENV, loadConfig } from "../core/config/config_file.ts";
import { quoted, UsageError } from "../core/errors.ts";
import { formatLogLine, type Logger } from "../core/io/log.ts";
import { listenForSignals } from "../core/io/process.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import {
  checkPluginIdentity,
  DEFAULT_NRI_SOCKET,
  DEFAULT_PLUGIN_INDEX,
  DEFAULT_PLUGIN_NAME,
} from "../nri/plugin_identity.ts";

/** The defaults of the flags. */
export const NRI_PLUGIN_DEFAULTS = {
  socket: DEFAULT_NRI_SOCKET,
  name: DEFAULT_PLUGIN_NAME,
  index: DEFAULT_PLUGIN_INDEX,
} as const;

/** The variable each flag also reads (the flag wins). */
export const NRI_PLUGIN_ENV = {
  socket: "XPU_NRI_SOCKET",
  name: "XPU_NRI_PLUGIN_NAME",
  index: "XPU_NRI_PLUGIN_INDEX",
  config: CONFIG_PATH_ENV,
} as const;

/** The flags as commander gives them. */
export interface NriPluginFlags {
  socket?: string;
  name?: string;
  index?: string;
  config?: string;
  debug?: boolean;
}

/** What the plugin runs with. */
export interface NriPluginSettings {
  socketPath: string;
  pluginName: string;
  pluginIndex: string;
  /** The environment decisions see: the process's, with `--config` as the config variable. */
  env: Readonly<Record<string, string>>;
  debug: boolean;
}

/**
 * The settings from flags and environment; pure.
 *
 * @throws {UsageError} for an empty socket path, a plugin name or index the runtime would refuse
 */
export function resolveNriPluginSettings(
  flags: NriPluginFlags,
  io: Pick<ToolIo, "env" | "cwd">,
): NriPluginSettings {
  const pick = (key: "socket" | "name" | "index") =>
    flags[key] ?? (io.env[NRI_PLUGIN_ENV[key]] || undefined) ?? NRI_PLUGIN_DEFAULTS[key];
  const socketPath = pick("socket");
  const pluginName = pick("name");
  const pluginIndex = pick("index");
  if (socketPath === "") {
    throw new UsageError(
      `Cannot use NRI socket "": give --socket the runtime's NRI socket path ` +
        `(default ${quoted(NRI_PLUGIN_DEFAULTS.socket)})`,
    );
  }
  checkPluginIdentity(pluginName, pluginIndex);
  const env = { ...io.env };
  if (flags.config !== undefined) {
    if (flags.config === "") {
      throw new UsageError(`Cannot use config file "": give --config a file path`);
    }
    env[CONFIG_PATH_ENV] = flags.config.startsWith("/")
      ? flags.config
      : `${io.cwd.replace(/\/+$/, "")}/${flags.config}`;
  }
  return { socketPath, pluginName, pluginIndex, env, debug: flags.debug === true };
}

/** A logger writing runc/logrus-style text lines to stderr (the plugin's log is its stderr). */
export function stderrLogger(io: Pick<ToolIo, "stderr">, options: { debug: boolean }): Logger {
  const write = (level: "debug" | "info" | "warning" | "error") => (message: string) =>
    io.stderr(formatLogLine("text", { level, message, time: new Date() }));
  return {
    debug: options.debug ? write("debug") : () => {},
    info: write("info"),
    warn: write("warning"),
    error: write("error"),
    enabled: (level) => options.debug || level !== "debug" && level !== "trace",
  };
}

/** Runs the plugin until `signal` fires. */
export type NriPluginRunner = (
  settings: NriPluginSettings,
  options: { io: ToolIo; log: Logger; signal: AbortSignal },
) => Promise<void>;

/**
 * The decision's logger: its info lines (the mode it picked) become debug lines, so a decision
 * is the one line the session writes; its warnings and errors stay as they are.
 */
function quieter(log: Logger): Logger {
  return { ...log, info: (message) => log.debug(message) };
}

/** The real plugin: the session of `src/nri/`, deciding with the shim's rules. */
const runRealPlugin: NriPluginRunner = async (settings, { io, log, signal }) => {
  const [{ runNriPlugin }, { nriDecide }] = await Promise.all([
    import("../nri/nri_session.ts"),
    import("../nri/nri_context.ts"),
  ]);
  await runNriPlugin({
    decide: nriDecide({ env: settings.env, cwd: io.cwd, logger: quieter(log) }),
    log,
    signal,
    socketPath: settings.socketPath,
    pluginName: settings.pluginName,
    pluginIndex: settings.pluginIndex,
  });
};

/** Stop signals on the real process. */
function processStopSignals(handler: (signal: string) => void): () => void {
  return listenForSignals(["SIGTERM", "SIGINT"], handler);
}

/** What the command reaches the world through; tests replace both. */
export interface NriPluginDeps {
  run?: NriPluginRunner;
  /** Calls `handler` on SIGTERM or SIGINT until the returned function is called. */
  onStopSignal?: (handler: (signal: string) => void) => () => void;
}

/** Adds `nri-plugin` to the `xpu-ctk` program. */
export function addNriPluginCommand(program: Command, io: ToolIo, deps: NriPluginDeps = {}): void {
  program
    .command("nri-plugin")
    .description(
      "run as an NRI plugin: give containers their devices at creation, without a runtime " +
        "handler (containerd >= 1.7, cri-o >= 1.26); stops on SIGTERM/SIGINT",
    )
    .option(
      "--socket <path>",
      `the runtime's NRI socket (env ${NRI_PLUGIN_ENV.socket}; default: ` +
        `${quoted(NRI_PLUGIN_DEFAULTS.socket)})`,
      pathValue,
    )
    .option(
      "--name <name>",
      `the name to register (env ${NRI_PLUGIN_ENV.name}; default: ` +
        `${quoted(NRI_PLUGIN_DEFAULTS.name)})`,
    )
    .option(
      "--index <NN>",
      `two digits, plugins are called in ascending order (env ${NRI_PLUGIN_ENV.index}; ` +
        `default: ${quoted(NRI_PLUGIN_DEFAULTS.index)})`,
    )
    .option(
      "--config <file>",
      `the toolkit's config.toml (env ${NRI_PLUGIN_ENV.config}; default: as every tool finds it)`,
      pathValue,
    )
    .option("--debug", "log debug lines too")
    .exitOverride()
    .action(async (flags: NriPluginFlags) => {
      const settings = resolveNriPluginSettings(flags, io);
      // A config that cannot be read stops the plugin at once, with its one line, rather than
      // failing every container; later edits are read per container, as the shim reads them.
      loadConfig(settings.env);
      const log = stderrLogger(io, { debug: settings.debug });
      const controller = new AbortController();
      const stopListening = (deps.onStopSignal ?? processStopSignals)((signal) => {
        if (!controller.signal.aborted) log.info(`Received ${signal}: stopping`);
        controller.abort();
      });
      try {
        log.info(
          `Starting the NRI plugin ${quoted(`${settings.pluginIndex}-${settings.pluginName}`)} ` +
            `on ${quoted(settings.socketPath)}`,
        );
        await (deps.run ?? runRealPlugin)(settings, { io, log, signal: controller.signal });
      } finally {
        stopListening();
      }
    });
}
