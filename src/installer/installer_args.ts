/**
 * The installer's settings from its flags and environment (flags win), checked before anything is
 * touched: where to install, from where, which engine, the runtime arguments split the way a
 * shell would split them (no shell is run), the pid file. Pure.
 *
 * @module
 */

import { BUILTIN_PROFILES, findProfile } from "../core/device/device_profile.ts";
import { quoted, UsageError } from "../core/errors.ts";
import { isFalsy, isTruthy } from "../core/text/truthy.ts";
import { DEFAULT_ENGINE, engineChoices, findEngine } from "../engines/engines.ts";
import { DEFAULT_CDI_OUTPUT_DIR, type InstallOptions } from "./install.ts";

/** Where the daemon form installs unless told otherwise (the toolkit goes to `<root>/toolkit`). */
export const DEFAULT_ROOT = "/usr/local/xpu";
/** The daemon's pid file (flock'ed while it runs). */
export const DEFAULT_PID_FILE = "/run/xpu/toolkit.pid";

/** Flags of `install` (and of the daemon form, which installs too). */
export interface InstallFlags {
  toolkitRoot?: string;
  sourceDir?: string;
  kernelModule?: string;
  driverRoot?: string;
  hostRoot?: string;
  profile?: string;
  lowLevelRuntimes?: string;
  cdiEnabled?: boolean | string;
  cdiOutputDir?: string;
}

/** Flags of the daemon form. */
export interface DaemonFlags extends InstallFlags {
  root?: string;
  noDaemon?: boolean | string;
  runtime?: string;
  runtimeArgs?: string;
  pidFile?: string;
}

/** Each flag's environment variable. */
export const INSTALLER_ENV = {
  kernelModule: "XPU_KERNEL_MODULE",
  driverRoot: "DRIVER_ROOT",
  hostRoot: "HOST_ROOT_MOUNT",
  profile: "XPU_PROFILE",
  lowLevelRuntimes: "XPU_LOW_LEVEL_RUNTIMES",
  cdiEnabled: "CDI_ENABLED",
  cdiOutputDir: "CDI_OUTPUT_DIR",
  root: "ROOT",
  noDaemon: "NO_DAEMON",
  runtime: "RUNTIME",
  runtimeArgs: "RUNTIME_ARGS",
  pidFile: "TOOLKIT_PID_FILE",
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function pick<K extends keyof typeof INSTALLER_ENV>(
  flags: DaemonFlags,
  key: K,
  env: Env,
): string | boolean | undefined {
  const value = flags[key];
  if (value !== undefined) return value;
  const fromEnv = env[INSTALLER_ENV[key]];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

function flagName(key: keyof typeof INSTALLER_ENV): string {
  return "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

function boolean(flags: DaemonFlags, key: "cdiEnabled" | "noDaemon", env: Env): boolean {
  const value = pick(flags, key, env);
  if (value === undefined || typeof value === "boolean") return value ?? false;
  if (isTruthy(value)) return true;
  if (isFalsy(value)) return false;
  const from = flags[key] === undefined ? INSTALLER_ENV[key] : flagName(key);
  throw new UsageError(`Cannot use ${from} ${quoted(value)}: expected true or false`);
}

function absolute(value: string, from: string): string {
  if (!value.startsWith("/")) {
    throw new UsageError(`Cannot use ${from} ${quoted(value)}: expected an absolute path`);
  }
  return value.length > 1 ? value.replace(/\/+$/, "") : value;
}

function text(flags: DaemonFlags, key: keyof typeof INSTALLER_ENV, env: Env): string | undefined {
  const value = pick(flags, key, env);
  return typeof value === "string" ? value : undefined;
}

function absoluteSetting(
  flags: DaemonFlags,
  key: keyof typeof INSTALLER_ENV,
  env: Env,
): string | undefined {
  const value = text(flags, key, env);
  if (value === undefined) return undefined;
  return absolute(value, flags[key] === undefined ? INSTALLER_ENV[key] : flagName(key));
}

/**
 * The install options for `toolkitRoot`.
 *
 * @param defaultSourceDir where the running executable is (`--source-dir`'s default)
 * @param cwd what a relative `--source-dir` is relative to
 * @throws {UsageError} for an unknown profile, a relative path or a bad boolean
 */
export function resolveInstallOptions(
  flags: InstallFlags,
  env: Env,
  toolkitRoot: string,
  defaultSourceDir: string,
  cwd: string,
): InstallOptions {
  const profileName = text(flags, "profile", env) ?? "xpu";
  const profile = findProfile({}, profileName);
  if (profile === undefined) {
    const names = Object.keys(BUILTIN_PROFILES).map(quoted).join(", ");
    throw new UsageError(`Cannot use --profile ${quoted(profileName)}: use one of ${names}`);
  }
  const source = flags.sourceDir ?? defaultSourceDir;
  const driverRoot = absoluteSetting(flags, "driverRoot", env) ?? "/";
  const lowLevel = text(flags, "lowLevelRuntimes", env) ?? "";
  const kernelModule = flags.kernelModule ?? text(flags, "kernelModule", env) ??
    profile.kernelModule;
  // Letters, digits, - and _, at most 55 of them (the kernel's MODULE_NAME_LEN), as the kernel
  // names modules; not starting with "-", a flag taken for the name (`--kernel-module -n`).
  if (!/^(?:[A-Za-z0-9_][A-Za-z0-9_-]{0,54})?$/.test(kernelModule)) {
    const from = flags.kernelModule === undefined ? "XPU_KERNEL_MODULE" : "--kernel-module";
    throw new UsageError(
      `Cannot use ${from} ${quoted(kernelModule)}: a module name has at most 55 letters, ` +
        `digits, - and _, and does not start with -`,
    );
  }
  const options: InstallOptions = {
    toolkitRoot,
    sourceDir: source.startsWith("/") ? source : `${cwd.replace(/\/+$/, "")}/${source}`,
    profile,
    kernelModule,
    driverRoot,
    hostRoot: absoluteSetting(flags, "hostRoot", env) ?? "/",
    lowLevelRuntimes: lowLevel.split(",").map((r) => r.trim()).filter((r) => r !== ""),
  };
  if (boolean(flags, "cdiEnabled", env)) {
    options.cdiOutputDir = absoluteSetting(flags, "cdiOutputDir", env) ?? DEFAULT_CDI_OUTPUT_DIR;
  }
  return options;
}

/** The `RUNTIME` that runs the NRI plugin instead of configuring an engine's handlers. */
export const NRI_RUNTIME = "nri";

/** The daemon form's settings. */
export interface DaemonSettings {
  /** DESTINATION; the toolkit goes to `<root>/toolkit`. */
  root: string;
  toolkitDir: string;
  noDaemon: boolean;
  /** The engine's name (`src/engines/engines.ts`). */
  engine: string;
  /** `RUNTIME_ARGS`, split into flags. */
  runtimeArgs: string[];
  pidFile: string;
  install: InstallOptions;
}

/**
 * Resolves the daemon form.
 *
 * @param positionals the arguments that are not flags (DESTINATION)
 * @throws {UsageError} for more than one DESTINATION, an unknown engine, unbalanced quotes
 */
export function resolveDaemonSettings(
  flags: DaemonFlags,
  positionals: readonly string[],
  env: Env,
  defaultSourceDir: string,
  cwd: string,
): DaemonSettings {
  if (positionals.length > 1) {
    const extra = positionals.slice(1).map(quoted).join(", ");
    throw new UsageError(
      `Cannot start: unexpected argument${positionals.length > 2 ? "s" : ""} ${extra}: pass ` +
        `exactly one DESTINATION (got ${quoted(positionals[0])} first)`,
    );
  }
  const root = positionals[0] !== undefined
    ? absolute(positionals[0], "DESTINATION")
    : absoluteSetting(flags, "root", env) ?? DEFAULT_ROOT;
  const engine = text(flags, "runtime", env) ?? DEFAULT_ENGINE.name;
  if (findEngine(engine) === undefined && engine !== NRI_RUNTIME) {
    const from = flags.runtime === undefined ? "RUNTIME" : "--runtime";
    throw new UsageError(
      `Cannot use ${from} ${quoted(engine)}: use ${engineChoices()}, or ${NRI_RUNTIME} for the ` +
        `NRI plugin`,
    );
  }
  // --host-root serves the engine's set-up too (systemctl through chroot); the environment
  // variable reaches it by itself; RUNTIME_ARGS, coming later, may still say otherwise.
  const runtimeArgs = [
    ...(flags.hostRoot === undefined ? [] : ["--host-root", flags.hostRoot]),
    ...splitArgs(
      text(flags, "runtimeArgs", env) ?? "",
      flags.runtimeArgs === undefined ? "RUNTIME_ARGS" : "--runtime-args",
    ),
  ];
  const toolkitDir = `${root === "/" ? "" : root}/toolkit`;
  return {
    root,
    toolkitDir,
    noDaemon: boolean(flags, "noDaemon", env),
    engine,
    runtimeArgs,
    pidFile: absoluteSetting(flags, "pidFile", env) ?? DEFAULT_PID_FILE,
    install: resolveInstallOptions(flags, env, toolkitDir, defaultSourceDir, cwd),
  };
}

/**
 * Splits a command line into arguments the way `sh` does for words: blanks separate, `'…'` is
 * literal, `"…"` keeps blanks (with `\"`, `\\`, `\$` and `` \` `` escapes), `\` escapes outside
 * quotes. Nothing is expanded.
 *
 * @param from the flag or variable it came from, for the error
 * @throws {UsageError} for an unterminated quote or a trailing backslash
 * @example
 * ```ts
 * splitArgs(`--config '/etc/my docker/daemon.json' --set-as-default=false`, "RUNTIME_ARGS");
 * // ["--config", "/etc/my docker/daemon.json", "--set-as-default=false"]
 * ```
 */
export function splitArgs(line: string, from: string): string[] {
  const args: string[] = [];
  let current = "";
  let started = false;
  let i = 0;
  const fail = (problem: string): never => {
    throw new UsageError(
      `Cannot use ${from} ${quoted(line)}: ${problem}: write it as sh would read it`,
    );
  };
  while (i < line.length) {
    const c = line[i];
    if (c === " " || c === "\t" || c === "\n") {
      if (started) args.push(current);
      current = "";
      started = false;
      i++;
      continue;
    }
    started = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) fail("a ' is never closed");
      current += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) i++;
        current += line[i++];
      }
      if (i >= line.length) fail('a " is never closed');
      i++;
    } else if (c === "\\") {
      if (i + 1 >= line.length) fail("it ends with a backslash");
      current += line[i + 1];
      i += 2;
    } else {
      current += c;
      i++;
    }
  }
  if (started) args.push(current);
  return args;
}
