/**
 * `xpu-ctk`, the administrator CLI: engine configuration (`runtime`), CDI specs (`cdi`), the hooks
 * runtimes call (`hook create-symlinks`, `hook update-ldcache`), `config default` (stdout or
 * `--output FILE`), `doctor` (the host checked end to end) and `nri-plugin` (the long-running
 * NRI plugin, see `nri_plugin_command.ts`) and `runtime-server` (the warm process a shim hands
 * its `create` work to, see `runtime_server_command.ts`).
 *
 * @module
 */

import { Command, Option } from "commander";
import { attachIo, pathValue, runProgram } from "../core/command/command_line.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { defaultConfig } from "../core/config/config.ts";
import { renderConfigToml } from "../core/config/config_render.ts";
import { loadConfig } from "../core/config/config_file.ts";
import { quoted, SpecError } from "../core/errors.ts";
import {
  cdiGenerate,
  cdiList,
  cdiValidate,
  type GenerateFlags,
  writeOutputFile,
} from "./cdi_commands.ts";
import { addRuntimeCommands } from "../engines/runtime_cli.ts";
import { versionLine } from "../core/version.ts";
import { addDoctorCommand } from "./doctor.ts";
import { runHookCall } from "./hook_commands.ts";
import { deviceAttach, deviceDetach, type DeviceFlags, deviceList } from "./device_commands.ts";
import { addNriPluginCommand, type NriPluginDeps } from "./nri_plugin_command.ts";
import { addRuntimeServerCommand, type RuntimeServerDeps } from "./runtime_server_command.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

/** A repeatable flag, collected into a list; help says "(default: none)", not "[]". */
function repeatable(flags: string, description: string): Option {
  return new Option(flags, description).argParser(collect).default([] as string[], "none");
}

/** A help default that comes from the config: its key, then the built-in value. */
function fromConfig(key: string, builtIn: string): string {
  return `(default: ${key}, else ${quoted(builtIn)})`;
}

/** Builds the command tree; actions run against `io` (and `deps.nriPlugin`, for tests). */
export function buildCtkProgram(
  io: ToolIo,
  deps: { nriPlugin?: NriPluginDeps; runtimeServer?: RuntimeServerDeps } = {},
): Command {
  const defaults = defaultConfig();
  const program = new Command("xpu-ctk")
    .description("XPU Container Toolkit administration: hooks, configuration")
    .version(versionLine("xpu-ctk"), "-v, --version", "print the version");
  attachIo(program, io);

  const hook = program
    .command("hook")
    .description("hooks an OCI runtime runs for a container (OCI state on stdin)")
    .exitOverride();
  hook.on("command:*", (operands: string[]) => {
    io.stderr(`xpu-ctk: warning: unknown hook ${quoted(operands[0])}: ignoring it\n`);
  });

  hook
    .command("create-symlinks")
    .description("create symlinks in the container's rootfs")
    .addOption(repeatable("--link <target::link>", "a symlink to create (repeatable)"))
    .exitOverride()
    .action(async (options: { link: string[] }) => {
      await runHookCall({ hook: "create-symlinks", links: options.link }, io);
    });

  hook
    .command("update-ldcache")
    .description("refresh the container's ld cache for the given folders")
    .addOption(repeatable("--folder <dir>", "a library folder in the container (repeatable)"))
    .exitOverride()
    .action(async (options: { folder: string[] }) => {
      await runHookCall({ hook: "update-ldcache", folders: options.folder }, io);
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
      `where driver files are read ${fromConfig("[xpu-container-cli] root", defaults.cli.root)}`,
      pathValue,
    )
    .option(
      "--dev-root <dir>",
      "where device nodes are read (default: the driver root)",
      pathValue,
    )
    .option(
      "--profile <name>",
      `device profile ${fromConfig("[xpu-container-cli] profile", defaults.cli.profile)}`,
    )
    .option(
      "--kind <vendor/class>",
      `CDI kind ${
        fromConfig(
          "[xpu-container-runtime.modes.cdi] default-kind",
          defaults.runtime.modes.cdi.defaultKind,
        )
      }`,
    )
    .option(
      "--hook-path <path>",
      `absolute path of xpu-ctk for the spec's hooks (default: [xpu-ctk] path, else ` +
        `${quoted(defaults.ctk.path)}, looked up in PATH)`,
      pathValue,
    )
    .option(
      "--output <file>",
      "write the spec here: atomically, mode 0644, missing directories created (default: stdout)",
      pathValue,
    )
    .option(
      "--format <json|yaml>",
      'output format (default: from the --output name, else "yaml")',
    )
    .exitOverride()
    .action(async (options: GenerateFlags) => await cdiGenerate(options, io));
  cdi
    .command("list")
    .description("the CDI devices the spec dirs offer, one qualified name per line")
    .addOption(
      new Option("--spec-dir <dir>", "a spec dir, lowest priority first (repeatable)")
        .argParser(pathValue)
        .default(
          [] as string[],
          `[xpu-container-runtime.modes.cdi] spec-dirs, else ${
            defaults.runtime.modes.cdi.specDirs.map(quoted).join(", ")
          }`,
        ),
    )
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

  addRuntimeCommands(program, io);

  const config = program
    .command("config")
    .description("the toolkit's config.toml")
    .exitOverride();
  config
    .command("default")
    .description("print the default configuration, or write it to a file")
    .option(
      "--output <file>",
      "write it here: atomically, mode 0644, missing directories created (default: stdout)",
      pathValue,
    )
    .exitOverride()
    .action((options: { output?: string }) => {
      const text = renderConfigToml(defaultConfig());
      if (options.output === undefined) io.stdout(text);
      else writeOutputFile(options.output, text, { mode: 0o644 });
    });

  const device = program
    .command("device")
    .description("XPUs into and out of a running container, without a restart")
    .exitOverride();
  const targetOptions = (command: Command) =>
    command
      .option("--pid <pid>", "the container by the pid of one of its processes")
      .option("--runtime-root <dir>", "the container by its runc/crun state dir (--root) and id")
      .option(
        "--engine <engine>",
        "the container by its docker or containerd id (podman: --runtime-root)",
      )
      .option("--namespace <ns>", "containerd's namespace for --engine containerd", "default")
      .option("--runtime <program>", "the runtime for --runtime-root (default: first of runtimes)")
      .option("--profile <name>", "device profile (default: [xpu-container-cli] profile)")
      .exitOverride();
  targetOptions(
    device.command("attach").argument("<target-and-devices...>").description(
      "give the container the devices' nodes and access (and the control nodes)",
    ),
  ).action(async (operands: string[], flags: DeviceFlags) =>
    await deviceAttach(flags, operands, io)
  );
  targetOptions(
    device.command("detach").argument("<target-and-devices...>").description(
      "take the devices' nodes and access away from the container",
    ),
  ).action(async (operands: string[], flags: DeviceFlags) =>
    await deviceDetach(flags, operands, io)
  );
  targetOptions(
    device.command("list").argument("[target...]").description(
      "show which of the host's XPUs the container has",
    ),
  ).action(async (operands: string[], flags: DeviceFlags) => await deviceList(flags, operands, io));

  addDoctorCommand(program, io);
  addNriPluginCommand(program, io, deps.nriPlugin);
  addRuntimeServerCommand(program, io, deps.runtimeServer);
  return program;
}

/**
 * Runs `xpu-ctk` with `args` (without argv[0]).
 *
 * @returns the exit status for help and version output (0)
 * @throws {UsageError} for command-line mistakes; other tool errors from the actions
 */
export async function ctkMain(
  args: readonly string[],
  io: ToolIo,
  deps: { nriPlugin?: NriPluginDeps; runtimeServer?: RuntimeServerDeps } = {},
): Promise<number> {
  return await runProgram(buildCtkProgram(io, deps), args);
}
