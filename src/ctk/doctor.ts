/**
 * `xpu-ctk doctor [--runtime ENGINE] [--config FILE] [--state-dir DIR] [--driver-root DIR]
 * [--json]`: checks a host end to end — the config file and the programs it names, the driver
 * root, devices and driver files, the kernel module, each engine's handlers, the CDI specs
 * (valid, and fresh for this host), the device cgroup — one line per check, `OK`, `WARN` or
 * `FIX` with the fix. Exit 0 when nothing needs fixing, 1 otherwise. Reads only.
 *
 * @module
 */

import type { Command } from "commander";
import { pathValue } from "../core/command/command_line.ts";
import { quoted, RequestError, UsageError } from "../core/errors.ts";
import { type HostFs, realHostFs } from "../core/io/host_fs.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { engineChoices } from "../engines/engines.ts";
import { gatherDoctorFacts } from "./doctor_facts.ts";
import { doctorReport, renderDoctorReport } from "./doctor_report.ts";

/** The command's flags as commander gives them. */
export interface DoctorFlags {
  runtime?: string;
  config?: string;
  stateDir?: string;
  driverRoot?: string;
  json?: boolean;
}

/** What the command reads the host through (tests give a fixture tree). */
export interface DoctorOptions {
  fs?: HostFs;
  /** Whether a server accepts connections on a unix socket (tests replace it). */
  probeSocket?: (path: string) => Promise<boolean>;
}

/**
 * Checks the host and prints the report on stdout.
 *
 * @throws {UsageError} for a relative `--driver-root`, an unknown engine, `--config` without one
 * @throws {RequestError} after the report, when any check needs a fix (exit 1)
 */
export async function runDoctor(
  flags: DoctorFlags,
  io: ToolIo,
  options: DoctorOptions = {},
): Promise<void> {
  if (flags.driverRoot !== undefined && !flags.driverRoot.startsWith("/")) {
    throw new UsageError(
      `Cannot use --driver-root ${quoted(flags.driverRoot)}: expected an absolute path`,
    );
  }
  const facts = await gatherDoctorFacts({
    runtime: flags.runtime,
    engineConfig: flags.config,
    stateDir: flags.stateDir,
    driverRoot: flags.driverRoot,
    env: io.env,
    probeSocket: options.probeSocket,
  }, options.fs ?? realHostFs);
  const lines = doctorReport(facts);
  io.stdout(renderDoctorReport(lines, { json: flags.json === true }));
  const fixes = lines.filter((l) => l.status === "fix").length;
  if (fixes > 0) {
    throw new RequestError(
      `Cannot call this host ready: ${fixes === 1 ? "1 check needs" : `${fixes} checks need`} ` +
        `a fix: apply the ${fixes === 1 ? "fix" : "fixes"} reported and re-run "xpu-ctk doctor"`,
    );
  }
}

/** Adds `doctor` to the `xpu-ctk` program. */
export function addDoctorCommand(
  program: Command,
  io: ToolIo,
  options: DoctorOptions = {},
): void {
  program
    .command("doctor")
    .description("check this host end to end: one line per check, OK or the fix")
    .option(
      "--runtime <engine>",
      `the engine to check: ${engineChoices()} (env RUNTIME; default: each whose config exists)`,
    )
    .option("--config <file>", "that engine's config file (env RUNTIME_CONFIG)", pathValue)
    .option(
      "--state-dir <dir>",
      "where xpu-ctk runtime kept its revert memories (env XPU_CTK_STATE_DIR)",
      pathValue,
    )
    .option(
      "--driver-root <dir>",
      "where driver files and devices are read (default: [xpu-container-cli] root)",
      pathValue,
    )
    .option("--json", "print the report as one JSON document")
    .exitOverride()
    .action(async (flags: DoctorFlags) => await runDoctor(flags, io, options));
}
