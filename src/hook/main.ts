/**
 * `xpu-container-runtime-hook` (also installed as `xpu-container-toolkit`): the OCI prestart hook
 * of legacy mode. It reads the OCI state, decides from the container's spec whether it asked for
 * XPUs, and hands over to `xpu-container-cli configure`.
 *
 * @module
 */

import type { ToolIo } from "../core/io/tool_io.ts";
import type { Config } from "../core/config/config.ts";
import { CONFIG_PATH_ENV, loadConfig, parseConfig } from "../core/config/config_file.ts";
import {
  ConfigError,
  ExecError,
  osErrorReason,
  quoted,
  SpecError,
  UsageError,
} from "../core/errors.ts";
import { readDeviceCgroup } from "../core/device/device_cgroup.ts";
import { isExecutableFile } from "../core/io/executable_lookup.ts";
import { readTextFileSync } from "../core/io/fs.ts";
import { assertHookEnv } from "../core/config/hook_env.ts";
import { realHostFs } from "../core/io/host_fs.ts";
import { isCsvPlatform } from "../core/request/mode.ts";
import { parseOciState, readBundleSpec } from "../core/oci/oci_state.ts";
import { specRootfs } from "../core/oci/oci_spec.ts";
import type { ExecRequest } from "../core/io/process.ts";
import { versionLine } from "../core/version.ts";
import { HOOK_COMMANDS, HOOK_USAGE, parseHookArgs } from "./hook_args.ts";
import { decidePrestart } from "./prestart_plan.ts";
import { resolveCliPath } from "../core/config/cli_path.ts";

/** The outside world as the hook sees it. */
export type HookIo = ToolIo;

/** How the hook ends: with an exit status, or by exec'ing the cli. */
export type HookOutcome = { exitCode: number } | { exec: ExecRequest };

function readConfig(
  configPath: string | undefined,
  io: HookIo,
): { config: Config; warnings: string[] } {
  if (configPath === undefined) return loadConfig(io.env);
  let text: string;
  try {
    text = readTextFileSync(configPath);
  } catch (error) {
    throw new ConfigError(
      `Cannot read ${quoted(configPath)} (-config): ${osErrorReason(error)}: ` +
        `pass an existing config file, or drop -config to use ${CONFIG_PATH_ENV} or the defaults`,
      { path: configPath },
      { cause: error },
    );
  }
  return parseConfig(text, configPath);
}

/**
 * Runs the hook with `args` (without argv[0]).
 *
 * @throws {UsageError} for bad flags and a missing or unknown command; {ConfigError}, {SpecError}, {RequestError} for bad input;
 *   {ExecError} when started with loader variables (an environment from the container)
 */
export async function hookMain(args: readonly string[], io: HookIo): Promise<HookOutcome> {
  const parsed = parseHookArgs(args);
  const debug = (text: string) => {
    if (parsed.debug) io.stderr(`xpu-container-runtime-hook: debug: ${text}\n`);
  };
  if (parsed.version) {
    io.stdout(`${versionLine("xpu-container-runtime-hook")}\n`);
    return { exitCode: 0 };
  }
  if (parsed.help) {
    io.stdout(HOOK_USAGE);
    return { exitCode: 0 };
  }
  switch (parsed.command) {
    case "poststart":
    case "poststop":
      return { exitCode: 0 };
    case "prestart":
      break;
    default: {
      // One line, as every error; the usage text is for -help.
      const commands = `${HOOK_COMMANDS.slice(0, -1).join(", ")} or ${HOOK_COMMANDS.at(-1)}`;
      throw new UsageError(
        parsed.command === undefined
          ? `Cannot run the hook: no command given: pass ${commands} (-help for the usage)`
          : `Cannot run the hook: unknown command ${quoted(parsed.command)}: use ${commands} ` +
            `(-help for the usage)`,
      );
    }
  }

  // Before anything is read: an environment that came from the container decides nothing here.
  assertHookEnv(io.env, "xpu-container-runtime-hook prestart");
  const { config, warnings } = readConfig(parsed.configPath, io);
  warnings.forEach(debug);
  const state = parseOciState(await io.readStdin(), io.cwd);
  if (state.pid === undefined) {
    throw new SpecError(
      `Cannot set up the container: the OCI state on stdin has no "pid": ` +
        `run this hook as a prestart hook of an OCI runtime`,
      { path: "<stdin>" },
    );
  }
  const { spec, path } = readBundleSpec(state.bundle);
  const rootfs = specRootfs(spec, state.bundle);
  if (rootfs === undefined) {
    throw new SpecError(
      `Cannot set up the container: ${
        quoted(path)
      } has no root.path: the engine wrote an invalid spec`,
      { path },
    );
  }
  const decision = decidePrestart({
    spec,
    rootfs,
    bundle: cgroupV2(state.pid) ? state.bundle : undefined,
    pid: state.pid,
    config,
    isCsvPlatform: () => isCsvPlatform(realHostFs, config.cli.root),
  });
  switch (decision.action) {
    case "skip":
      debug(`nothing to do: ${decision.reason}`);
      return { exitCode: 0 };
    case "refuse":
      io.stderr(decision.lines.join("\n") + "\n");
      return { exitCode: 1 };
    case "configure": {
      const cli = resolveCliPath(config, { path: io.env.PATH, isExecutable: isExecutableFile });
      if (!isExecutableFile(cli)) {
        throw new ExecError(
          `Cannot set up the container's XPUs: xpu-container-cli is not at ${
            quoted(cli)
          }: install it ` +
            `there or set [xpu-container-cli] path`,
        );
      }
      const env = { ...io.env };
      for (const entry of config.cli.environment) {
        const eq = entry.indexOf("=");
        if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
      debug(`exec ${cli} ${decision.args.join(" ")}`);
      return { exec: { path: cli, argv: [cli, ...decision.args], env } };
    }
  }
}

/** Whether the container's device access is a cgroup v2 eBPF program (no v1 devices cgroup). */
function cgroupV2(pid: number): boolean {
  try {
    return readDeviceCgroup(pid).version === 2;
  } catch {
    // The cli reads the cgroup again and reports a failure to do so.
    return false;
  }
}
