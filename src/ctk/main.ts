/**
 * `xpu-ctk`, the administrator CLI: the CDI hooks runtimes call (`hook create-symlinks`,
 * `hook update-ldcache`) and the configuration commands (`config default`).
 *
 * @module
 */

import { Command } from "commander";
import { attachIo, runProgram } from "../core/command_line.ts";
import type { ToolIo } from "../core/tool_io.ts";
import { defaultConfig } from "../core/config.ts";
import { renderConfigToml } from "../core/config_render.ts";
import { loadConfig } from "../core/config_file.ts";
import { SpecError } from "../core/errors.ts";
import { isFalsy, isTruthy } from "../core/truthy.ts";
import { cdiGenerate, cdiList, cdiValidate, type GenerateFlags } from "./cdi_commands.ts";
import {
  resolveRuntimeSettings,
  runRuntimeAction,
  type RuntimeAction,
  type RuntimeFlags,
} from "./runtime_command.ts";
import { VERSION } from "../core/version.ts";
import { containerRootFromState } from "../core/oci_state.ts";
import { createSymlinks, parseLinkArgument } from "./create_symlinks.ts";
import { updateLdcache } from "./update_ldcache.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

/** Builds the command tree; actions run against `io`. */
export function buildCtkProgram(io: ToolIo): Command {
  const program = new Command("xpu-ctk")
    .description("XPU Container Toolkit administration: hooks, configuration")
    .version(VERSION, "-v, --version");
  attachIo(program, io);

  const hook = program
    .command("hook")
    .description("hooks an OCI runtime runs for a container (OCI state on stdin)")
    .exitOverride();
  hook.on("command:*", (operands: string[]) => {
    io.stderr(`xpu-ctk: warning: unknown hook "${operands[0]}": ignoring it\n`);
  });

  hook
    .command("create-symlinks")
    .description("create symlinks in the container's rootfs")
    .option("--link <target::link>", "a symlink to create (repeatable)", collect, [])
    .exitOverride()
    .action(async (options: { link: string[] }) => {
      const links = options.link.map(parseLinkArgument);
      const rootfs = containerRootFromState(await io.readStdin(), { cwd: io.cwd });
      const outcome = createSymlinks(rootfs, links);
      for (const link of outcome.blocked) {
        io.stderr(`xpu-ctk: warning: not creating "${link}": a file is already there\n`);
      }
    });

  hook
    .command("update-ldcache")
    .description("refresh the container's ld cache for the given folders")
    .option("--folder <dir>", "a library folder in the container (repeatable)", collect, [])
    .exitOverride()
    .action(async (options: { folder: string[] }) => {
      const rootfs = containerRootFromState(await io.readStdin(), { cwd: io.cwd });
      await updateLdcache(rootfs, options.folder, { pathEnv: io.env.PATH });
    });

  const cdi = program
    .command("cdi")
    .description("Container Device Interface specs")
    .exitOverride();
  cdi
    .command("generate")
    .description("write a CDI spec for the host's devices")
    .option(
      "--driver-root <dir>",
      "where driver files are read (default: [xpu-container-cli] root)",
    )
    .option("--dev-root <dir>", "where device nodes are read (default: the driver root)")
    .option("--profile <name>", "device profile (default: [xpu-container-cli] profile)")
    .option(
      "--kind <vendor/class>",
      "CDI kind (default: [xpu-container-runtime.modes.cdi] default-kind)",
    )
    .option("--hook-path <path>", "xpu-ctk for the spec's hooks (default: [xpu-ctk] path)")
    .option("--output <file>", "write here (atomically, mode 0644) instead of stdout")
    .option("--format <json|yaml>", "output format (default: from the --output name, else yaml)")
    .exitOverride()
    .action(async (options: GenerateFlags) => await cdiGenerate(options, io));
  cdi
    .command("list")
    .description("the CDI devices the spec dirs offer, one qualified name per line")
    .option("--spec-dir <dir>", "a spec dir, lowest priority first (repeatable)", collect, [])
    .exitOverride()
    .action(async (options: { specDir: string[] }) => {
      const dirs = options.specDir.length > 0
        ? options.specDir
        : loadConfig(io.env).config.runtime.modes.cdi.specDirs;
      await cdiList(dirs, io);
    });
  cdi
    .command("validate")
    .description("check CDI spec files")
    .argument("<file...>", "spec files (.json or .yaml)")
    .exitOverride()
    .action(async (files: string[]) => {
      const invalid = await cdiValidate(files, io);
      if (invalid > 0) {
        throw new SpecError(
          `Cannot accept ${invalid} of ${files.length} spec file${
            files.length === 1 ? "" : "s"
          }: ` +
            `see the errors above`,
          { path: files[0] },
        );
      }
    });

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
      .option("--runtime <engine>", "docker, containerd or crio (env RUNTIME)")
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
        // `--set-as-default /dir`: an optional flag value that is no boolean is RUNTIME_DIR.
        for (const key of ["setAsDefault", "cdiEnabled"] as const) {
          const value = flags[key];
          if (
            typeof value === "string" && !isTruthy(value) && !isFalsy(value) &&
            positional === undefined
          ) {
            positional = value;
            flags[key] = true;
          }
        }
        await runRuntimeAction(resolveRuntimeSettings(action, flags, io.env, positional), io);
      });
  }

  const config = program
    .command("config")
    .description("the toolkit's config.toml")
    .exitOverride();
  config
    .command("default")
    .description("print the default configuration")
    .exitOverride()
    .action(() => io.stdout(renderConfigToml(defaultConfig())));

  return program;
}

/**
 * Runs `xpu-ctk` with `args` (without argv[0]).
 *
 * @returns the exit status for help and version output (0)
 * @throws {UsageError} for command-line mistakes; other tool errors from the actions
 */
export async function ctkMain(args: readonly string[], io: ToolIo): Promise<number> {
  return await runProgram(buildCtkProgram(io), args);
}
