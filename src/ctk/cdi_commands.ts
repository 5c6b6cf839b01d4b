/**
 * `xpu-ctk cdi generate | list | validate`: writing a CDI spec for the host's devices (hooks by
 * absolute path, with an explicit `env`), listing the devices the spec dirs offer, and checking
 * spec files; list and validate warn about hooks without `env` that older versions wrote. Also
 * `writeOutputFile`, the `--output` writer `config default` shares.
 *
 * @module
 */

import { writeFileAtomic } from "../core/io/atomic_file.ts";
import { kindProblem } from "../core/cdi/cdi_name.ts";
import { generateCdiSpec } from "../core/cdi/cdi_generate.ts";
import { loadCdiRegistry, readCdiSpecFile } from "../core/cdi/cdi_registry.ts";
import {
  cdiFormatOf,
  type CdiSpec,
  checkCdiSpec,
  formatCdiSpec,
  hooksWithoutEnv,
  hookWithoutEnvWarning,
  parseCdiSpec,
} from "../core/cdi/cdi_spec.ts";
import { loadConfig } from "../core/config/config_file.ts";
import { BUILTIN_PROFILES, findProfile } from "../core/device/device_profile.ts";
import {
  ConfigError,
  errorMessage,
  osErrorReason,
  quoted,
  ToolError,
  UsageError,
  WriteError,
} from "../core/errors.ts";
import {
  chmodSync,
  isNotADirectory,
  isNotFound,
  mkdirSync,
  removeSync,
  statSync,
} from "../core/io/fs.ts";
import { resolveHookProgram } from "../core/io/executable_lookup.ts";
import { type HostFs, realHostFs } from "../core/io/host_fs.ts";
import type { ToolIo } from "../core/io/tool_io.ts";

/** Flags of `cdi generate`. */
export interface GenerateFlags {
  driverRoot?: string;
  devRoot?: string;
  profile?: string;
  kind?: string;
  hookPath?: string;
  output?: string;
  format?: string;
}

/** Writes (or prints) a CDI spec for the host's devices. */
export async function cdiGenerate(
  flags: GenerateFlags,
  io: ToolIo,
  fs: HostFs = realHostFs,
): Promise<void> {
  const { config, path: configPath } = loadConfig(io.env);
  const profileName = flags.profile ?? config.cli.profile;
  const profile = findProfile(config.profiles, profileName);
  if (profile === undefined) {
    const names = [...Object.keys(BUILTIN_PROFILES), ...Object.keys(config.profiles)];
    throw new UsageError(
      `Cannot use --profile "${profileName}": no such device profile: use one of ` +
        `${
          names.map((n) => `"${n}"`).join(", ")
        }, or define [profiles.${profileName}] in the config`,
    );
  }
  const kind = flags.kind ?? config.runtime.modes.cdi.defaultKind;
  const problem = kindProblem(kind);
  if (problem) throw new UsageError(`Cannot use --kind "${kind}": ${problem}`);
  const named = flags.output ? cdiFormatOf(flags.output) : undefined;
  if (flags.output !== undefined && named === undefined) {
    throw new UsageError(
      `Cannot write "${flags.output}": CDI consumers read only *.json and *.yaml files: ` +
        `name the output with one of those extensions`,
    );
  }
  const format = flags.format ?? named ?? "yaml";
  if (format !== "json" && format !== "yaml") {
    throw new UsageError(`Cannot use --format ${quoted(format)}: use json or yaml`);
  }
  if (named !== undefined && format !== named) {
    throw new UsageError(
      `Cannot write ${format} to ${
        quoted(flags.output ?? "")
      }: the name says ${named}: drop --format or ` +
        `rename the output`,
    );
  }
  for (
    const [flag, value] of [["--driver-root", flags.driverRoot], ["--dev-root", flags.devRoot]]
  ) {
    if (value !== undefined && !value.startsWith("/")) {
      throw new UsageError(`Cannot use ${flag} "${value}": expected an absolute path`);
    }
  }
  const hook = flags.hookPath === undefined
    ? ctkPathForSpec(config.ctk.path, configPath, io)
    : flags.hookPath;
  if (!hook.startsWith("/")) {
    throw new UsageError(
      `Cannot use --hook-path "${hook}": a hook's path must be absolute (a relative one is ` +
        `resolved in the container's directory): pass the absolute path of xpu-ctk`,
    );
  }
  const driverRoot = flags.driverRoot ?? config.cli.root;
  const spec = generateCdiSpec({
    profile,
    fs,
    driverRoot,
    devRoot: flags.devRoot ?? driverRoot,
    kind,
    ctkPath: hook,
  });
  const text = await formatCdiSpec(spec, format);
  // What is written must read back: the same parser the shim uses checks it first.
  await parseCdiSpec(text, flags.output ?? `<stdout>.${format}`);
  if (flags.output === undefined) io.stdout(text);
  else writeOutputFile(flags.output, text, { mode: 0o644 });
}

/** The directory part of `path`: `/` for `/x`, `.` for a bare name. */
function parentDir(path: string): string {
  const slash = path.replace(/\/+$/, "").lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/**
 * The directories above `path` that do not exist yet, outermost first.
 *
 * @throws {WriteError} when what is there instead of a directory is a file
 */
function missingDirs(path: string): string[] {
  let missing: string[] = [];
  let dir = parentDir(path);
  for (; dir !== "/" && dir !== "."; dir = parentDir(dir)) {
    let info;
    try {
      // Followed: a link to a directory (/var/run -> /run) is a directory to write in.
      info = statSync(dir);
    } catch (error) {
      if (isNotFound(error)) missing.unshift(dir);
      // A file further up: none of these can be made; the loop reaches that file.
      else if (isNotADirectory(error)) missing = [];
      // Anything else (permissions) is for the write to report.
      else return missing;
      continue;
    }
    if (info.isDirectory) return missing;
    throw new WriteError(
      `Cannot write ${quoted(path)}: ${quoted(dir)} is not a directory: nothing was changed; ` +
        `name a file in a directory, or move ${quoted(dir)} away`,
      { path },
    );
  }
  return missing;
}

/** The reason of a failed write, without the call name or Deno's path suffix. */
function writeFailureReason(error: unknown): string {
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = inner instanceof Error ? inner.message : String(inner);
  return osErrorReason(message.replace(/^[a-z_0-9]+: /, ""));
}

/**
 * Writes a command's `--output` file (a CDI spec, a config.toml): the directories above it that
 * are missing first (mode 0755, as `mkdir -p` would make them for root), then the file
 * atomically with `options.mode`. On failure the directories this call made are removed again,
 * so nothing is left changed.
 *
 * @throws {UsageError} when `path` names a directory, or a symbolic link or other non-regular
 *   file is at `path` (nothing written)
 * @throws {WriteError} when a directory or the file cannot be made
 */
export function writeOutputFile(path: string, text: string, options: { mode: number }): void {
  if (path.endsWith("/")) {
    throw new UsageError(`Cannot write ${quoted(path)}: it names a directory: name the file`);
  }
  const made: string[] = [];
  const undo = () => {
    for (const dir of made.reverse()) {
      try {
        removeSync(dir);
      } catch {
        // Someone put something in it meanwhile: it is theirs now.
      }
    }
  };
  for (const dir of missingDirs(path)) {
    try {
      mkdirSync(dir, { mode: 0o755 });
      made.push(dir);
      // The umask may have taken bits away; spec dirs must be readable by every engine.
      chmodSync(dir, 0o755);
    } catch (error) {
      undo();
      throw new WriteError(
        `Cannot create the directory ${quoted(dir)} for ${quoted(path)}: ` +
          `${writeFailureReason(error)}: nothing was changed; create it, or name another file`,
        { path: dir },
        { cause: error },
      );
    }
  }
  try {
    writeFileAtomic(path, text, { mode: options.mode });
  } catch (error) {
    undo();
    if (error instanceof ToolError) throw error;
    throw new WriteError(
      `Cannot write ${quoted(path)}: ${writeFailureReason(error)}: nothing was changed; ` +
        `make ${quoted(parentDir(path))} writable (or free space) and re-run`,
      { path },
      { cause: error },
    );
  }
}

/**
 * The absolute `xpu-ctk` for a spec's hooks from `[xpu-ctk] path`: a program not found here is
 * named by the path it would have (a spec may be written for another host), with a warning.
 *
 * @throws {ConfigError} for a relative path
 */
function ctkPathForSpec(configured: string, configPath: string, io: ToolIo): string {
  const resolved = resolveHookProgram(configured, { path: io.env.PATH });
  if (resolved.ok) return resolved.path;
  if (resolved.guess === undefined) {
    throw new ConfigError(
      `Cannot write the spec's hooks: [xpu-ctk] path is "${configured}", a relative path ` +
        `(hooks need absolute ones): set it to the absolute path of xpu-ctk in "${configPath}", ` +
        `or pass --hook-path`,
      { path: configPath },
    );
  }
  io.stderr(
    `xpu-ctk: warning: "${configured}" ([xpu-ctk] path) is not an executable in PATH or the ` +
      `standard dirs: the spec's hooks run "${resolved.guess}"; pass --hook-path if it lives ` +
      `elsewhere\n`,
  );
  return resolved.guess;
}

/** Warns about every hook without `env` in the spec `file`. */
function warnHooksWithoutEnv(file: string, spec: CdiSpec, io: ToolIo): void {
  for (const hook of hooksWithoutEnv(spec)) {
    io.stderr(`xpu-ctk: warning: ${hookWithoutEnvWarning(file, hook)}\n`);
  }
}

/** Prints every resolvable device of the spec dirs; problems go to stderr. */
export async function cdiList(specDirs: readonly string[], io: ToolIo): Promise<void> {
  const registry = await loadCdiRegistry(specDirs);
  // A conflict is recorded for each of the two files; say it once.
  for (const message of new Set(registry.errors.map((e) => e.message))) {
    io.stderr(`xpu-ctk: warning: ${message}\n`);
  }
  for (const source of registry.sources) warnHooksWithoutEnv(source.path, source.spec, io);
  for (const s of registry.shadowed) {
    io.stderr(
      `xpu-ctk: warning: "${s.name}" from "${s.winner}" shadows the one in "${s.hidden}"\n`,
    );
  }
  io.stdout([...registry.devices.keys()].sort().map((n) => `${n}\n`).join(""));
}

/** How many problems `cdi validate` reports for one file. */
export const MAX_REPORTED_PROBLEMS = 20;

/**
 * Checks spec files; prints one line per valid file, and for an invalid one a line per problem
 * (up to {@link MAX_REPORTED_PROBLEMS}, then a line saying there are more).
 *
 * @returns the number of invalid files
 */
export async function cdiValidate(files: readonly string[], io: ToolIo): Promise<number> {
  let invalid = 0;
  for (const file of files) {
    try {
      if (cdiFormatOf(file) === undefined) {
        throw new UsageError(`Cannot validate "${file}": CDI spec files end in .json or .yaml`);
      }
      const { spec, errors } = await checkCdiSpec(
        readCdiSpecFile(file),
        file,
        MAX_REPORTED_PROBLEMS + 1,
      );
      if (spec === undefined) {
        invalid++;
        for (const error of errors.slice(0, MAX_REPORTED_PROBLEMS)) {
          io.stderr(`xpu-ctk: ${errorMessage(error)}\n`);
        }
        if (errors.length > MAX_REPORTED_PROBLEMS) {
          io.stderr(
            `xpu-ctk: CDI spec ${JSON.stringify(file)}: more problems than the ` +
              `${MAX_REPORTED_PROBLEMS} above: fix these and validate again\n`,
          );
        }
        continue;
      }
      warnHooksWithoutEnv(file, spec, io);
      io.stdout(
        `${file}: valid, kind ${spec.kind}, cdiVersion ${spec.cdiVersion}, ` +
          `${spec.devices.length} device${spec.devices.length === 1 ? "" : "s"}\n`,
      );
    } catch (error) {
      invalid++;
      io.stderr(`xpu-ctk: ${errorMessage(error)}\n`);
    }
  }
  return invalid;
}
