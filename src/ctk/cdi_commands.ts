/**
 * `xpu-ctk cdi generate | list | validate`: writing a CDI spec for the host's devices (hooks by
 * absolute path, with an explicit `env`), listing the devices the spec dirs offer, and checking
 * spec files; list and validate warn about hooks without `env` that older versions wrote.
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
  formatCdiSpec,
  hooksWithoutEnv,
  hookWithoutEnvWarning,
  parseCdiSpec,
} from "../core/cdi/cdi_spec.ts";
import { loadConfig } from "../core/config/config_file.ts";
import { BUILTIN_PROFILES, findProfile } from "../core/device/device_profile.ts";
import { ConfigError, errorMessage, quoted, UsageError } from "../core/errors.ts";
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
  else writeFileAtomic(flags.output, text, { mode: 0o644 });
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

/**
 * Checks spec files; prints one line per valid file and one error line per invalid one.
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
      const spec = await parseCdiSpec(readCdiSpecFile(file), file);
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
