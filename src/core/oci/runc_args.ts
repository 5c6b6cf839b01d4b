/**
 * Reads what the shim needs from a runc command line without changing it: the subcommand, the
 * bundle directory, and the global logging flags.
 *
 * @module
 */

/** What a runc argv says. */
export interface RuncArgs {
  /** The subcommand: the first argument that is neither a flag nor a flag's value. */
  command?: string;
  /** Whether the subcommand is `create` (the only one whose spec the shim edits). */
  isCreate: boolean;
  /** The last `--bundle`/`-bundle`/`-b` value; `undefined` means the working directory. */
  bundle?: string;
  /** Set when a bundle flag has no value; only fatal for `create`. */
  bundleError?: string;
  /** Global `--log FILE`. */
  log?: string;
  /** Global `--log-format json|text`. */
  logFormat?: string;
  /** Global `--debug`. */
  debug: boolean;
}

/** Global flags of runc and crun that take a value. */
const GLOBAL_VALUE_FLAGS = new Set([
  "log",
  "log-format",
  "log-level",
  "root",
  "criu",
  "rootless",
  "cgroup-manager",
]);
const BUNDLE_FLAGS = new Set(["bundle", "b"]);

function flagName(arg: string): { name: string; value?: string } | undefined {
  const match = /^--?([^=-][^=]*)(?:=(.*))?$/s.exec(arg);
  if (!match) return undefined;
  return match[2] === undefined ? { name: match[1] } : { name: match[1], value: match[2] };
}

/**
 * Parses a runc argv. Flags may use one or two dashes and `=` or a separate value.
 *
 * @example
 * ```ts
 * parseRuncArgs(["--log", "/b/log.json", "create", "--bundle", "/b", "id"]);
 * // { command: "create", isCreate: true, bundle: "/b", log: "/b/log.json", debug: false }
 * ```
 */
export function parseRuncArgs(argv: readonly string[]): RuncArgs {
  const result: RuncArgs = { isCreate: false, debug: false };
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const flag = optionsEnded ? undefined : flagName(arg);
    if (arg === "--" && !optionsEnded) {
      optionsEnded = true;
      continue;
    }
    if (flag === undefined) {
      if (result.command === undefined) result.command = arg;
      continue;
    }
    const takesValue = BUNDLE_FLAGS.has(flag.name) ||
      (result.command === undefined && GLOBAL_VALUE_FLAGS.has(flag.name));
    let value = flag.value;
    if (takesValue && value === undefined) {
      if (i + 1 < argv.length) value = argv[++i];
      else if (BUNDLE_FLAGS.has(flag.name)) {
        result.bundleError = `the "${arg}" flag needs a directory argument`;
        continue;
      }
    }
    if (BUNDLE_FLAGS.has(flag.name)) result.bundle = value;
    else if (result.command !== undefined) continue;
    else if (flag.name === "log") result.log = value;
    else if (flag.name === "log-format") result.logFormat = value;
    else if (flag.name === "debug") result.debug = value === undefined || value === "true";
  }
  result.isCreate = result.command === "create";
  return result;
}

/** The spellings of runc's version flag the shim answers too (Go's flag package takes both). */
const VERSION_FLAGS: readonly string[] = ["--version", "-version"];

/** A plain word, for asking runc's argv parser how it would read one position. */
const PROBE = "xpu-version-probe";

/**
 * Whether runc's argv asks for the version: `--version` (or `-version`) among the global flags,
 * that is before the subcommand, not a global flag's value and not after `--`. So
 * `--root /r --version` asks (runc prints its version there too), `--root --version` names a
 * root, and `state --version` is left to the subcommand.
 *
 * @example
 * ```ts
 * asksForVersion(["--root", "/run/runc", "--version"]); // true
 * asksForVersion(["state", "--version"]); // false
 * ```
 */
export function asksForVersion(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    if (!VERSION_FLAGS.includes(args[i])) continue;
    const before = args.slice(0, i);
    if (before.includes("--")) return false;
    // runc's own reading decides: a plain word here would be the subcommand exactly when this
    // position is neither after the subcommand nor a global flag's value.
    if (parseRuncArgs([...before, PROBE]).command === PROBE) return true;
  }
  return false;
}
