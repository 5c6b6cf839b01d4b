/**
 * The `runtime` command tree (`configure`, `unconfigure`, `setup`, `cleanup` with their flags),
 * shared by `xpu-ctk runtime …` and the installer, which runs `setup`/`cleanup` in-process.
 *
 * @module
 */

import { Command } from "commander";
import { attachIo, runProgram } from "../core/command/command_line.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { isFalsy, isTruthy } from "../core/text/truthy.ts";
import type { RuntimeAction } from "./engine_adapter.ts";
import { engineChoices } from "./engines.ts";
import {
  resolveRuntimeSettings,
  runRuntimeAction,
  type RuntimeFlags,
  type RuntimeSettings,
} from "./runtime_command.ts";
import { quoted, UsageError } from "../core/errors.ts";

/** What the commands do with their resolved settings (by default: run them). */
export type RuntimeRunner = (settings: RuntimeSettings) => Promise<void>;

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
  const actions: [RuntimeAction, string][] = [
    ["configure", "add the runtime handler to the engine's config"],
    ["unconfigure", "remove it and restore what configure replaced"],
    [
      "setup",
      "add the xpu, xpu-cdi and xpu-legacy handlers for RUNTIME_DIR (default runtime: xpu)",
    ],
    ["cleanup", "remove the handlers setup added"],
  ];
  for (const [action, description] of actions) {
    const command = runtime.command(action).description(description).exitOverride();
    if (action === "setup" || action === "cleanup") {
      command.argument("[runtime-dir]", "where the toolkit's executables are installed");
    }
    command
      .option("--runtime <engine>", `${engineChoices()} (env RUNTIME)`)
      .option("--config <file>", "the engine's config file (env RUNTIME_CONFIG)")
      .option(
        "--drop-in-config <file>",
        'containerd/cri-o drop-in; "" edits containerd\'s file in place',
      )
      .option("--runtime-name <name>", "handler name (default xpu; env XPU_RUNTIME_NAME)")
      .option("--xpu-runtime-name <name>", "alias of --runtime-name")
      .option("--runtime-class <name>", "alias of --runtime-name")
      .option("--runtime-path <path>", "the runtime the handler runs (configure)")
      .option("--runtime-dir <dir>", "RUNTIME_DIR as a flag (setup, cleanup)")
      .option("--set-as-default [bool]", "make the handler the engine's default runtime")
      .option("--cdi.enabled [bool]", "turn on the engine's CDI support")
      .option("--restart-mode <mode>", "none, signal or systemd (env RUNTIME_RESTART_MODE)")
      .option("--socket <path>", "the engine's socket, to find its process (env RUNTIME_SOCKET)")
      .option("--host-root <dir>", "host root for systemctl through chroot (env HOST_ROOT_MOUNT)")
      .option("--config-mode <mode>", "cri-o: hook or config (default config)")
      .option("--hooks-dir <dir>", "cri-o hook mode: the hooks dir")
      .option("--hook-filename <name>", "cri-o hook mode: the hook file's name")
      .option("--hook-path <path>", "cri-o hook mode: the legacy hook program")
      .option("--state-dir <dir>", "where what configure replaced is kept (env XPU_CTK_STATE_DIR)")
      .option("--dry-run", "print a unified diff of each file that would change; write nothing")
      .action(async (...args: unknown[]) => {
        const command = args[args.length - 1] as Command;
        let positional = typeof args[0] === "string" ? args[0] : undefined;
        const options = command.opts() as RuntimeFlags & Record<string, unknown>;
        const flags: RuntimeFlags = {
          ...options,
          cdiEnabled: options["cdi.enabled"] as boolean | string,
        };
        // `--set-as-default /dir`: an optional flag value that is no boolean is RUNTIME_DIR —
        // for the commands that take one, and only as a separate argument: `=maybe` is a value
        // (refused as no boolean), never a directory.
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
