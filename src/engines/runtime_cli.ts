/**
 * The `runtime` command tree (`configure`, `unconfigure`, `setup`, `cleanup` with their flags),
 * shared by `xpu-ctk runtime …` and the installer, which runs `setup`/`cleanup` in-process.
 *
 * @module
 */

import { Command, Option } from "commander";
import { attachIo, runProgram } from "../core/command/command_line.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { isFalsy, isTruthy } from "../core/text/truthy.ts";
import type { EngineDefaults, RuntimeAction } from "./engine_adapter.ts";
import { engineChoices, ENGINES } from "./engines.ts";
import {
  DEFAULT_HANDLER_NAME,
  DEFAULT_RUNTIME_PATH,
  HOOK_FILENAME,
  HOOK_PROGRAM,
  HOOKS_DIR,
  resolveRuntimeSettings,
  runRuntimeAction,
  RUNTIME_ENV,
  type RuntimeFlags,
  type RuntimeSettings,
} from "./runtime_command.ts";
import { quoted, UsageError } from "../core/errors.ts";
import { DEFAULT_STATE_DIR } from "./revert_memory.ts";

/** What the commands do with their resolved settings (by default: run them). */
export type RuntimeRunner = (settings: RuntimeSettings) => Promise<void>;

/** What each command does, as its help's first line says. */
const ACTIONS: readonly [RuntimeAction, string][] = [
  [
    "configure",
    "add a runtime handler to the engine's config, keeping what it replaces for unconfigure",
  ],
  ["unconfigure", "remove the handler again and restore what configure replaced"],
  [
    "setup",
    "add the handlers NAME, NAME-cdi and NAME-legacy for the toolkit in RUNTIME_DIR and make NAME " +
    "the default runtime",
  ],
  ["cleanup", "remove the handlers setup added and restore what it replaced"],
];

const ADDING: readonly RuntimeAction[] = ["configure", "setup"];
const ALL: readonly RuntimeAction[] = ["configure", "unconfigure", "setup", "cleanup"];
const OPERATOR: readonly RuntimeAction[] = ["setup", "cleanup"];

/** The environment variables of a setting, as help lists them (`DOCKER_CONFIG` as `<ENGINE>_…`). */
function envOf(key: string): string {
  return `env ${RUNTIME_ENV[key]("<engine>").join(", ")}`;
}

/**
 * An engine default as help says it, engines with the same value together: `signal for docker,
 * systemd for containerd and crio`. Engines without a value (`""`) are left out.
 */
function perEngine(value: (defaults: EngineDefaults) => string): string {
  const byValue = new Map<string, string[]>();
  for (const engine of ENGINES) {
    const v = value(engine.defaults);
    if (v === "") continue;
    byValue.set(v, [...(byValue.get(v) ?? []), engine.name]);
  }
  const list = (items: string[]) =>
    items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
  return [...byValue].map(([v, names]) => `${v} for ${list(names)}`).join(", ");
}

/** One flag of the commands: how help shows it, and to which commands it belongs. */
interface RuntimeOption {
  flags: string;
  /** Its description with its default, per command (the commands it is listed for). */
  help: Partial<Record<RuntimeAction, string>>;
}

/** The same text for each of `actions`. */
function forActions(actions: readonly RuntimeAction[], text: string) {
  return Object.fromEntries(actions.map((a) => [a, text])) as Partial<
    Record<RuntimeAction, string>
  >;
}

/**
 * Every flag, with the commands whose help lists it. Each command accepts them all, so one set of
 * flags serves a command and its reverse — the installer passes setup's flags to cleanup as they
 * are — but a command's help lists only the flags it reads.
 */
function runtimeOptions(): RuntimeOption[] {
  const bool = `true or false; also 1, 0, …`;
  return [
    {
      flags: "--runtime <engine>",
      help: forActions(ALL, `the engine: ${engineChoices()} (env RUNTIME; required)`),
    },
    {
      flags: "--config <file>",
      help: forActions(
        ALL,
        `the engine's config file (${envOf("config")}; default: ${perEngine((d) => d.config)})`,
      ),
    },
    {
      flags: "--drop-in-config <file>",
      help: forActions(
        ALL,
        `our drop-in config file; "" edits containerd's config.toml in place ` +
          `(${envOf("dropInConfig")}; default: ${perEngine((d) => d.dropIn)})`,
      ),
    },
    {
      flags: "--runtime-name <name>",
      help: {
        ...forActions(
          ["configure", "unconfigure"],
          `the handler's name (env XPU_RUNTIME_NAME, CONTAINERD_RUNTIME_CLASS; default: ` +
            `${DEFAULT_HANDLER_NAME})`,
        ),
        ...forActions(
          OPERATOR,
          `the handlers' base name NAME (env XPU_RUNTIME_NAME, CONTAINERD_RUNTIME_CLASS; ` +
            `default: ${DEFAULT_HANDLER_NAME})`,
        ),
      },
    },
    { flags: "--xpu-runtime-name <name>", help: forActions(ALL, "alias of --runtime-name") },
    { flags: "--runtime-class <name>", help: forActions(ALL, "alias of --runtime-name") },
    {
      flags: "--runtime-path <path>",
      help: { configure: `the runtime the handler runs (default: ${DEFAULT_RUNTIME_PATH})` },
    },
    {
      flags: "--runtime-dir <dir>",
      help: forActions(OPERATOR, "RUNTIME_DIR as a flag (env RUNTIME_DIR)"),
    },
    {
      flags: "--set-as-default [bool]",
      help: {
        configure: `make the handler the engine's default runtime (${bool}; ` +
          `env XPU_RUNTIME_SET_AS_DEFAULT, RUNTIME_SET_AS_DEFAULT; default: false)`,
        setup: `make NAME the engine's default runtime (${bool}; env ` +
          `XPU_RUNTIME_SET_AS_DEFAULT, RUNTIME_SET_AS_DEFAULT; default: true)`,
      },
    },
    {
      flags: "--cdi.enabled [bool]",
      help: forActions(
        ADDING,
        `turn on the engine's CDI support (${bool}; env RUNTIME_ENABLE_CDI, CDI_ENABLED; ` +
          `default: false)`,
      ),
    },
    {
      flags: "--restart-mode <mode>",
      help: forActions(
        ALL,
        `none, signal or systemd (${envOf("restartMode")}; default: ` +
          `${perEngine((d) => d.restartMode)})`,
      ),
    },
    {
      flags: "--socket <path>",
      help: forActions(
        ALL,
        `the engine's socket, to find its process (${envOf("socket")}; default: ` +
          `${perEngine((d) => d.socket)})`,
      ),
    },
    {
      flags: "--host-root <dir>",
      help: forActions(
        ALL,
        "where the host's / is, for systemctl through chroot (env HOST_ROOT_MOUNT; default: /)",
      ),
    },
    {
      flags: "--config-mode <mode>",
      help: forActions(ALL, "cri-o: hook or config (env CRIO_CONFIG_MODE; default: config)"),
    },
    {
      flags: "--hooks-dir <dir>",
      help: forActions(
        ALL,
        `cri-o hook mode: the hooks dir (env CRIO_HOOKS_DIR; default: ${HOOKS_DIR})`,
      ),
    },
    {
      flags: "--hook-filename <name>",
      help: forActions(
        ALL,
        `cri-o hook mode: the hook file's name (env CRIO_HOOK_FILENAME; default: ` +
          `${HOOK_FILENAME})`,
      ),
    },
    {
      flags: "--hook-path <path>",
      help: {
        configure: `cri-o hook mode: the legacy hook program (default: /usr/bin/${HOOK_PROGRAM})`,
        setup: `cri-o hook mode: the legacy hook program (default: RUNTIME_DIR/${HOOK_PROGRAM})`,
      },
    },
    {
      flags: "--state-dir <dir>",
      help: forActions(
        ALL,
        `where what configure replaced is kept (env XPU_CTK_STATE_DIR; default: ` +
          `${DEFAULT_STATE_DIR})`,
      ),
    },
    {
      flags: "--dry-run",
      help: forActions(ALL, "print a unified diff of each file that would change; write nothing"),
    },
  ];
}

/** Adds `runtime configure|unconfigure|setup|cleanup` to a program. */
export function addRuntimeCommands(
  program: Command,
  io: ToolIo,
  run: RuntimeRunner = (settings) => runRuntimeAction(settings, io),
): void {
  const runtime = program
    .command("runtime")
    .description("wire a container engine (docker, containerd, cri-o) to the toolkit")
    .exitOverride();
  const options = runtimeOptions();
  for (const [action, description] of ACTIONS) {
    const command = runtime.command(action).description(description).exitOverride();
    if (action === "setup" || action === "cleanup") {
      command.argument(
        "[runtime-dir]",
        "where the toolkit's executables are installed (absolute; env RUNTIME_DIR)",
      );
    }
    for (const option of options) {
      const help = option.help[action];
      const added = new Option(option.flags, help ?? "");
      command.addOption(help === undefined ? added.hideHelp() : added);
    }
    command.action(async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      let positional = typeof args[0] === "string" ? args[0] : undefined;
      const options = command.opts() as RuntimeFlags & Record<string, unknown>;
      const flags: RuntimeFlags = {
        ...options,
        cdiEnabled: options["cdi.enabled"] as boolean | string,
      };
      // `--set-as-default /dir`: an optional flag value that is no boolean but an absolute path is
      // RUNTIME_DIR — for the commands that take one, and only as a separate argument: `=maybe`
      // is a value (refused as no boolean), never a directory, and so is a separate `maybe`.
      let root: Command = command;
      while (root.parent !== null) root = root.parent;
      // Commander keeps the argv it parsed on the root (untyped).
      const raw = (root as unknown as { rawArgs?: unknown }).rawArgs;
      const given = Array.isArray(raw) ? raw : [];
      for (
        const [key, flag] of [["setAsDefault", "--set-as-default"], [
          "cdiEnabled",
          "--cdi.enabled",
        ]] as const
      ) {
        const value = flags[key];
        if (
          typeof value === "string" && !isTruthy(value) && !isFalsy(value) &&
          value.startsWith("/") &&
          positional === undefined && (action === "setup" || action === "cleanup") &&
          !given.includes(`${flag}=${value}`)
        ) {
          positional = value;
          flags[key] = true;
        }
      }
      await run(resolveRuntimeSettings(action, flags, io.env, positional));
    });
  }
}

/**
 * Parses `runtime <args…>` exactly as `xpu-ctk runtime <args…>` would, without running it: the
 * installer resolves its setup and cleanup before it touches anything.
 *
 * @throws {UsageError} for bad flags or values
 */
export async function parseRuntimeCommand(
  args: readonly string[],
  io: ToolIo,
): Promise<RuntimeSettings> {
  let parsed: RuntimeSettings | undefined;
  const program = attachIo(new Command("xpu-ctk"), io);
  addRuntimeCommands(program, io, (settings) => {
    parsed = settings;
    return Promise.resolve();
  });
  await runProgram(program, ["runtime", ...args]);
  if (parsed === undefined) {
    throw new UsageError(
      `Cannot run ${quoted(`runtime ${args.join(" ")}`)}: it asks for help, not an action: ` +
        `drop --help`,
    );
  }
  return parsed;
}
