/**
 * The legacy hook's command line, in Go's flag style (one or two dashes, `-flag value` or
 * `-flag=value`, flags before the command): `[-config FILE] [-debug] [-version] COMMAND`.
 *
 * @module
 */

import { quoted, UsageError } from "../core/errors.ts";

/** What the hook was asked to do. */
export interface HookArgs {
  command?: string;
  /** `-config FILE`: this file, which must exist, instead of the usual config resolution. */
  configPath?: string;
  debug: boolean;
  version: boolean;
  help: boolean;
}

/** The usage text printed for `-help`. */
export const HOOK_USAGE = `Usage: xpu-container-runtime-hook [-config FILE] [-debug] COMMAND

Commands:
  prestart    set up the container's XPUs (OCI state on stdin)
  poststart   no-op
  poststop    no-op

Flags:
  -config FILE  config file (default: $XPU_CTK_CONFIG_FILE_PATH, else the standard locations)
  -debug        print what the hook decides on stderr
  -version      print the version (also --version)
  -help         print this text
`;

/** The commands, for messages. */
export const HOOK_COMMANDS = ["prestart", "poststart", "poststop"] as const;

/** Go's strconv.ParseBool, which the flag package uses for `-debug=VALUE`. */
function parseGoBool(value: string): boolean | undefined {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  return undefined;
}

/**
 * Parses the hook's argv as Go's flag package would: an argument that starts with `-` (and is
 * more than `-`) is a flag, up to the first one that is not or `--`.
 *
 * @throws {UsageError} for an unknown flag, bad flag syntax, `-config` without a file or a
 *   `-debug` value that is no boolean
 */
export function parseHookArgs(argv: readonly string[]): HookArgs {
  const result: HookArgs = { debug: false, version: false, help: false };
  const usage = "run with -help for the usage";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      // As in Go's flag package: the end of the flags.
      result.command = argv[i + 1];
      return result;
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      result.command = arg;
      return result;
    }
    const flag = /^--?([^-=][^=]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!flag) throw new UsageError(`Cannot use flag ${quoted(arg)}: bad flag syntax: ${usage}`);
    const [, name, inline] = flag;
    if (name === "config") {
      const value = inline ?? argv[++i];
      if (value === undefined || value === "") {
        throw new UsageError(
          `Cannot use ${quoted(arg)}: it needs a config file: pass -config FILE`,
        );
      }
      result.configPath = value;
    } else if (name === "debug") {
      const value = inline === undefined ? true : parseGoBool(inline);
      if (value === undefined) {
        throw new UsageError(
          `Cannot use flag ${quoted(arg)}: ${quoted(inline!)} is not a boolean: use -debug or ` +
            `-debug=false`,
        );
      }
      result.debug = value;
    } else if (name === "version") result.version = true;
    else if (name === "help" || name === "h") result.help = true;
    else {
      throw new UsageError(`Cannot use flag ${quoted(arg)}: unknown flag: ${usage}`);
    }
  }
  return result;
}
