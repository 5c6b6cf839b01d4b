/**
 * The legacy hook's command line, in Go's flag style (one or two dashes, `-flag value` or
 * `-flag=value`, flags before the command): `[-config FILE] [-debug] [-version] COMMAND`.
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";

/** What the hook was asked to do. */
export interface HookArgs {
  command?: string;
  /** `-config FILE`: this file, which must exist, instead of the usual config resolution. */
  configPath?: string;
  debug: boolean;
  version: boolean;
  help: boolean;
}

/** The usage text printed for a missing or unknown command. */
export const HOOK_USAGE = `Usage: xpu-container-runtime-hook [-config FILE] [-debug] COMMAND

Commands:
  prestart    set up the container's XPUs (OCI state on stdin)
  poststart   no-op
  poststop    no-op

Flags:
  -config FILE  config file (default: $XPU_CTK_CONFIG_FILE_PATH, else the standard locations)
  -debug        print what the hook decides on stderr
  -version      print the version
  -help         print this text
`;

/**
 * Parses the hook's argv.
 *
 * @throws {UsageError} for an unknown flag or `-config` without a file
 */
export function parseHookArgs(argv: readonly string[]): HookArgs {
  const result: HookArgs = { debug: false, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      // As in Go's flag package: the end of the flags.
      result.command = argv[i + 1];
      return result;
    }
    const flag = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!flag) {
      result.command = arg;
      return result;
    }
    const [, name, inline] = flag;
    if (name === "config") {
      const value = inline ?? argv[++i];
      if (value === undefined || value === "") {
        throw new UsageError(`Cannot use "${arg}": it needs a config file: pass -config FILE`);
      }
      result.configPath = value;
    } else if (name === "debug") result.debug = inline === undefined || inline === "true";
    else if (name === "version") result.version = true;
    else if (name === "help" || name === "h") result.help = true;
    else {
      throw new UsageError(`Cannot use flag "${arg}": unknown flag: run with -help for the usage`);
    }
  }
  return result;
}
