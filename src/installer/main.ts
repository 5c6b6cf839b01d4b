/**
 * `xpu-ctk-installer`: `install` and `delete` of a toolkit dir, and the daemon form (no
 * subcommand) that a Kubernetes DaemonSet runs.
 *
 * @module
 */

import { Command } from "commander";
import { attachIo, pathValue, runProgram } from "../core/command/command_line.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { quoted, UsageError } from "../core/errors.ts";
import { versionLine } from "../core/version.ts";
import { DEFAULT_ENGINE, engineChoices } from "../engines/engines.ts";
import { parseRuntimeCommand } from "../engines/runtime_cli.ts";
import { runRuntimeAction } from "../engines/runtime_command.ts";
import { type DaemonDeps, processStopSignals, runDaemon } from "./daemon.ts";
import { lstatSync } from "../core/io/fs.ts";
import { startProcess } from "../core/io/process.ts";
import { deleteToolkit, installToolkit } from "./install.ts";
import {
  type DaemonFlags,
  DEFAULT_PID_FILE,
  DEFAULT_ROOT,
  type InstallFlags,
  resolveDaemonSettings,
  resolveInstallOptions,
} from "./installer_args.ts";

/** The installer's name, prefixing its log lines. */
const NAME = "xpu-ctk-installer";

function addInstallOptions(command: Command): Command {
  return command
    .option(
      "--source-dir <dir>",
      "where the executables to install are (default: this one's dir)",
      pathValue,
    )
    .option("--kernel-module <name>", 'module the runtime wrappers check; "" disables the check')
    .option("--driver-root <dir>", "the driver root on the host (env DRIVER_ROOT; default /)")
    .option(
      "--host-root <dir>",
      "where this process sees the host's / (env HOST_ROOT_MOUNT; e.g. /host; default /)",
    )
    .option("--profile <name>", "device profile: xpu, nvidia, amd or intel (env XPU_PROFILE)")
    .option(
      "--low-level-runtimes <list>",
      "runtimes the shim runs, comma list (env XPU_LOW_LEVEL_RUNTIMES; default: the engine's)",
    )
    .option("--cdi-enabled [bool]", "write the management CDI spec (env CDI_ENABLED)")
    .option("--cdi-output-dir <dir>", "where it goes (env CDI_OUTPUT_DIR; default /var/run/cdi)");
}

/** Log lines go to stderr, one per line, prefixed with the installer's name. */
function logger(io: ToolIo): (line: string) => void {
  return (line) => io.stderr(`${NAME}: ${line}\n`);
}

/** The io the in-process `xpu-ctk runtime` commands get: what they print becomes log lines. */
function innerIo(io: ToolIo, log: (line: string) => void): ToolIo {
  const lines = (text: string) => {
    for (const line of text.split("\n")) if (line.trim() !== "") log(line);
  };
  return { ...io, stdout: lines, stderr: lines };
}

/** A regular file at `path` (a final symbolic link not followed). */
function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile;
  } catch {
    return false;
  }
}

/** The real process's daemon dependencies. */
function processDeps(io: ToolIo): DaemonDeps {
  const log = logger(io);
  const inner = innerIo(io, log);
  return {
    log,
    onStopSignal: processStopSignals,
    install: (options) => installToolkit(options, log),
    parseRuntime: (args) => parseRuntimeCommand(args, inner),
    runRuntime: (settings) => runRuntimeAction(settings, inner),
    startNriPlugin: ({ toolkitDir, hostRoot, args }) => {
      const ctk = `${toolkitDir}/xpu-ctk`;
      if (hostRoot === "/") return startProcess(ctk, { args: ["nri-plugin", ...args] });
      if (!isFile(`${hostRoot.replace(/\/+$/, "")}${ctk}`)) {
        throw new Error(
          `${ctk} is not at the same path under the host root ${hostRoot}: mount DESTINATION ` +
            `from the host at the same path in the pod`,
        );
      }
      return startProcess("chroot", { args: [hostRoot, ctk, "nri-plugin", ...args] });
    },
  };
}

/**
 * Runs the installer.
 *
 * @param defaultSourceDir `--source-dir`'s default: the dir of the running executable
 * @returns the exit status
 */
export async function installerMain(
  args: readonly string[],
  io: ToolIo,
  defaultSourceDir: string,
  deps: DaemonDeps = processDeps(io),
): Promise<number> {
  let status = 0;
  const log = logger(io);
  const program = attachIo(new Command(NAME), io)
    .description(
      "Install the XPU Container Toolkit into a directory and wire a container engine to it. " +
        "Without a subcommand: install into DESTINATION/toolkit, run the engine's setup, wait " +
        "for SIGTERM/SIGINT/SIGHUP/SIGQUIT, then run its cleanup (the DaemonSet entrypoint).",
    )
    .version(versionLine(NAME), "--version", "print the version")
    .enablePositionalOptions()
    .argument(
      "[destination...]",
      `install into DESTINATION/toolkit (env ROOT; default ${DEFAULT_ROOT})`,
    )
    .option("--root <dir>", "DESTINATION as a flag (env ROOT)")
    .option("-n, --no-daemon", "exit after set-up instead of waiting for a signal (env NO_DAEMON)")
    .option(
      "-r, --runtime <engine>",
      `${engineChoices()}, or nri to run the NRI plugin instead (env RUNTIME; default ` +
        `${DEFAULT_ENGINE.name})`,
    )
    .option(
      "-u, --runtime-args <args>",
      'flags for "xpu-ctk runtime setup/cleanup" (nri: for "xpu-ctk nri-plugin"), split as sh ' +
        "would (env RUNTIME_ARGS)",
    )
    .option(
      "--pid-file <file>",
      `locked while running (env TOOLKIT_PID_FILE; default ${DEFAULT_PID_FILE})`,
    );
  addInstallOptions(program).action(
    async (positionals: string[], options: Record<string, unknown>) => {
      const flags: DaemonFlags = {
        ...(options as DaemonFlags),
        noDaemon: options.daemon === false ? true : undefined,
      };
      const settings = resolveDaemonSettings(flags, positionals, io.env, defaultSourceDir, io.cwd);
      status = await runDaemon(settings, deps);
    },
  );

  // With positional options, a flag before the subcommand is the daemon form's: for `install`
  // or `delete` it would be dropped without a word (`--driver-root /x install …` installing
  // for /). Refused instead, saying where it goes.
  program.hook("preSubcommand", (_root, subcommand) => {
    for (const option of program.options) {
      if (program.getOptionValueSource(option.attributeName()) !== "cli") continue;
      const flag = option.long ?? option.short ?? option.flags;
      const own = subcommand.options.some((o) => o.long === option.long);
      throw new UsageError(
        `Cannot use ${quoted(flag)} before ${quoted(subcommand.name())}: there it is an option ` +
          `of the daemon form: ${
            own
              ? `put it after ${quoted(subcommand.name())}`
              : `${quoted(subcommand.name())} does not take it`
          }`,
      );
    }
  });

  addInstallOptions(
    program.command("install").description(
      "install the toolkit into --toolkit-root (replacing it)",
    ),
  )
    .requiredOption("--toolkit-root <dir>", "the toolkit dir (removed and recreated)", pathValue)
    .action(async (options: InstallFlags & { toolkitRoot: string }) => {
      const install = resolveInstallOptions(
        options,
        io.env,
        options.toolkitRoot,
        defaultSourceDir,
        io.cwd,
      );
      await installToolkit(install, log);
    });

  program.command("delete").description("remove the toolkit dir --toolkit-root")
    .requiredOption("--toolkit-root <dir>", "the toolkit dir", pathValue)
    .action((options: { toolkitRoot: string }) => deleteToolkit(options.toolkitRoot, log));

  const code = await runProgram(program, args);
  return code === 0 ? status : code;
}
