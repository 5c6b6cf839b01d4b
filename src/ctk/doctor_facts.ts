/**
 * What `xpu-ctk doctor` finds on a host, gathered through one read-only {@link HostFs} with the
 * toolkit's own logic: the config file (`parseConfig`), the profile's devices and driver files
 * (`discoverDevices`, `discoverDriverFiles`), the programs the config names (`lookPath`,
 * `resolveHookProgram`), each engine's files as `xpu-ctk runtime` resolves them
 * (`resolveRuntimeSettings`) with the handlers its revert memory records and whether a configure
 * of them would change anything (the adapter's own `plan`), the CDI spec dirs
 * (`loadCdiRegistry`) with the spec `generateCdiSpec` would write now, the kernel module and the
 * device cgroup (`deviceCgroupOf`). Nothing is judged here: `doctor_report.ts` turns these facts
 * into lines. Nothing is written.
 *
 * @module
 */

import { dirname } from "node:path";
import type { CdiDirReader } from "../core/cdi/cdi_dir_reader.ts";
import { type CdiRegistry, loadCdiRegistry } from "../core/cdi/cdi_registry.ts";
import type { CdiSpec } from "../core/cdi/cdi_spec.ts";
import { generateCdiSpec } from "../core/cdi/cdi_generate.ts";
import { type Config, defaultConfig } from "../core/config/config.ts";
import { CONFIG_PATH_ENV, parseConfig, resolveConfigPath } from "../core/config/config_file.ts";
import { CAPABILITIES } from "../core/device/capabilities.ts";
import { type DeviceCgroup, deviceCgroupOf } from "../core/device/device_cgroup.ts";
import {
  discoverDevices,
  discoverDriverFiles,
  type DriverFile,
  type HostDevices,
  readDriverVersion,
} from "../core/device/device_discovery.ts";
import { type DeviceProfile, findProfile, XPU_PROFILE } from "../core/device/device_profile.ts";
import { ConfigError, errorMessage, osErrorReason, quoted, UsageError } from "../core/errors.ts";
import { findFirstExecutable, resolveHookProgram } from "../core/io/executable_lookup.ts";
import { FILE_KIND_WORDS, FileKindError } from "../core/io/fs.ts";
import type { FileKind, HostFs } from "../core/io/host_fs.ts";
import { resolveCliPath } from "../core/config/cli_path.ts";
import { isCsvPlatform } from "../core/request/mode.ts";
import { decodeFastPathRecord } from "../core/fast_path/fast_path_record.ts";
import { launcherRecordPath } from "../core/fast_path/fast_path_script.ts";
import {
  type CacheDirProblem,
  cacheDirProblem,
  launcherCacheDir,
  launcherWordPath,
} from "../core/fast_path/launcher_cache.ts";
import { journalPath } from "../engines/change_journal.ts";
import { ownUid } from "../core/io/process.ts";
import { socketListens } from "../core/io/unix_stream.ts";
import {
  type PathInfo,
  serverSocketPath,
  socketDistrust,
} from "../runtime/runtime_server_protocol.ts";
import type {
  DefaultRuntime,
  EngineAdapter,
  EngineTarget,
  FileState,
} from "../engines/engine_adapter.ts";
import type { RuntimeHandler } from "../engines/engine_edit.ts";
import { engineChoices, ENGINES, findEngine, memoryValuesOf } from "../engines/engines.ts";
import { memoryPath, parseMemory, type RevertMemory } from "../engines/revert_memory.ts";
import { resolveRuntimeSettings } from "../engines/runtime_command.ts";

/** What the operator asked `doctor` to look at. */
export interface DoctorSettings {
  /** The engine to check (`--runtime`, else `RUNTIME`); unset: every engine whose config exists. */
  runtime?: string;
  /** That engine's config file (`--config`); only with an engine. */
  engineConfig?: string;
  /** Where `xpu-ctk runtime` kept its revert memories (`--state-dir`, else as it resolves it). */
  stateDir?: string;
  /** The driver root (`--driver-root`), instead of `[xpu-container-cli] root`. */
  driverRoot?: string;
  env: Readonly<Record<string, string>>;
  /** Whether a server accepts connections on the unix socket at `path`. */
  probeSocket?: (path: string) => Promise<boolean>;
}

/** A fact that could not be read, and whether for lack of permission (not root). */
export interface Failure {
  reason: string;
  denied: boolean;
}

/** A fact, or why it could not be had. */
export type Probe<T> = { ok: true; value: T } | { ok: false; failure: Failure };

/** The toolkit's config file. */
export interface ConfigFacts {
  path: string;
  found: boolean;
  /** What the checks use: the file's settings, or the defaults when it is missing or invalid. */
  config: Config;
  warnings: string[];
  /** Why the file could not be used. */
  failure?: Failure;
}

/** A program the config names. */
export interface ProgramFacts {
  /** The config key, as messages name it: `[xpu-ctk] path`. */
  key: string;
  configured: string;
  /** The executable it resolves to; unset when there is none. */
  found?: string;
  /** Why there is none: a relative path, or nothing executable there. */
  problem?: "relative" | "missing";
  /** Where a bare name was looked for, for the message. */
  searched?: string;
}

/** The handlers and files `xpu-ctk runtime` left in an engine's config. */
export interface EngineFiles {
  /** The engine's default runtime as its config names it. */
  defaultRuntime?: DefaultRuntime;
  /**
   * The handlers the revert memory records as configured, each with whether it can run and, when
   * it can, what its launcher's fast path would do now.
   */
  handlers: (RuntimeHandler & {
    executable: boolean;
    fastPath?: FastPathFacts;
    moduleCache?: ModuleCacheFacts;
  })[];
  /** The file whose memory records them. */
  recordedIn?: string;
  /** Files a configure of the recorded handlers would change: they are not as it left them. */
  drift: string[];
  /** A hook file xpu-ctk wrote (hook mode), and whether it is as written. */
  hookFile?: { path: string; state: "as-written" | "edited" | "missing" };
  /** An interrupted change waiting in the state dir. */
  pendingJournal?: string;
  stateDir: string;
}

/** A runtime handler's pass-through fast path (see `core/fast_path/`). */
export type FastPathFacts =
  /** The program is no launcher with a fast path (a binary, a plain wrapper). */
  | { kind: "none" }
  /** A fast path whose record path cannot be told from the script. */
  | { kind: "unknown" }
  /** The program or the record could not be read. */
  | { kind: "unreadable"; failure: Failure }
  | {
    kind: "record";
    record: string;
    /** Whether the record's dir exists (the shim creates no dirs). */
    dirExists: boolean;
    state: "current" | "stale" | "missing" | "garbled" | "off";
    /** `off`: why the shim takes every call. */
    offReason?: string;
    /** The config file the record is about (`current`, `stale`, `off`). */
    configPath?: string;
  };

/**
 * The module cache dir a handler's bundled launcher gives Deno (behind the installer's wrapper
 * too), and what is wrong with it for the root-run runtime (see `core/fast_path/launcher_cache.ts`).
 */
export interface ModuleCacheFacts {
  dir: string;
  problem?: CacheDirProblem;
}

/** One engine's facts. */
export interface EngineFacts {
  engine: string;
  /** Its main config file. */
  config: string;
  /** Whether the operator named it (otherwise it was found by its config file). */
  chosen: boolean;
  /** `undefined`: the config file does not exist. */
  files: Probe<EngineFiles | undefined>;
}

/** One CDI spec dir. */
export interface CdiDirFacts {
  path: string;
  state: "dir" | "missing" | "not a directory" | "unreadable";
}

/** The CDI spec dirs and the spec this host would get now. */
export interface CdiFacts {
  dirs: CdiDirFacts[];
  registry: CdiRegistry;
  /** The config's default kind: specs of it are compared with {@link expected}. */
  kind: string;
  /** What `xpu-ctk cdi generate` would write now for that kind (or why it would refuse). */
  expected: Probe<CdiSpec>;
}

/** Everything `doctor` judges. */
export interface DoctorFacts {
  config: ConfigFacts;
  profile: DeviceProfile;
  driverRoot: { path: string; fromFlag: boolean; kind: Probe<FileKind | undefined> };
  /** Whether `auto` mode would pick csv on this host. */
  csvPlatform: Probe<boolean>;
  devices: Probe<HostDevices>;
  driverFiles: Probe<{ files: DriverFile[]; version?: string }>;
  /** `[xpu-container-runtime] runtimes`: the first one usable. */
  runtimes: { candidates: readonly string[]; found?: string };
  /** The hook, cli and ctk programs. */
  programs: { hook: ProgramFacts; cli: ProgramFacts; ctk: ProgramFacts };
  engines: EngineFacts[];
  /** Config files looked at when no engine was named and none exists. */
  enginesSearched: string[];
  cdi: CdiFacts;
  kernelModule: Probe<{ name: string; loaded: boolean }>;
  cgroup: Probe<DeviceCgroup>;
  runtimeServer: RuntimeServerFacts;
}

/** The runtime server the shims would ask (`xpu-ctk runtime-server`), as this environment names it. */
export type RuntimeServerFacts =
  | { kind: "off" }
  | { socket: string; kind: "absent" | "stale" | "listening" }
  | { socket: string; kind: "untrusted"; reason: string };

/** Whether an error (or one it was caused by) is EACCES or EPERM. */
function isDenied(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === "EACCES" || code === "EPERM") return true;
  }
  return false;
}

function failureOf(error: unknown): Failure {
  return { reason: errorMessage(error), denied: isDenied(error) };
}

function probe<T>(read: () => T): Probe<T> {
  try {
    return { ok: true, value: read() };
  } catch (error) {
    return { ok: false, failure: failureOf(error) };
  }
}

async function probeAsync<T>(read: () => Promise<T>): Promise<Probe<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return { ok: false, failure: failureOf(error) };
  }
}

/**
 * `fs` with every failure but "not there" turned into one error naming the path (the real
 * file system throws the bare OS error, which does not say which file).
 */
function namingFs(fs: HostFs): HostFs {
  const named = <T>(path: string, read: () => T): T => {
    try {
      return read();
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(
        `Cannot read ${quoted(path)}: ${osErrorReason(error)}`,
        { path },
        { cause: error },
      );
    }
  };
  return {
    stat: (path) => named(path, () => fs.stat(path)),
    lstat: (path) => named(path, () => fs.lstat(path)),
    readDir: (path) => named(path, () => fs.readDir(path)),
    readLink: (path) => named(path, () => fs.readLink(path)),
    readTextFile: (path) => named(path, () => fs.readTextFile(path)),
  };
}

/** An executable regular file (any execute bit), as `lookPath` checks, through `fs`. */
function executableIn(fs: HostFs): (path: string) => boolean {
  return (path) => {
    try {
      const info = fs.stat(path);
      return info?.kind === "file" && (info.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  };
}

/** What the launcher at `program` would do with a pass-through call now, read through `fs`. */
export function fastPathFacts(fs: HostFs, program: string): FastPathFacts {
  try {
    return readFastPath(fs, program);
  } catch (error) {
    return { kind: "unreadable", failure: failureOf(error) };
  }
}

/**
 * The module cache of the bundled launcher at `program`, or of the one the installer's wrapper
 * there runs (`exec '…/<name>.real'`); `undefined` for another program (a compiled shim, a
 * plain wrapper) or one that cannot be read.
 */
export function moduleCacheFacts(fs: HostFs, program: string): ModuleCacheFacts | undefined {
  try {
    let path = followLinks(fs, program);
    let text = fs.readTextFile(path) ?? "";
    const wrapped = /^exec ('(?:[^']|'\\'')*\.real') "\$@"$/m.exec(text);
    const inner = wrapped === null ? undefined : launcherWordPath(text, wrapped[1], path);
    if (launcherCacheDir(text, path) === null && inner !== undefined) {
      path = followLinks(fs, inner);
      text = fs.readTextFile(path) ?? "";
    }
    const dir = launcherCacheDir(text, path);
    if (dir === null || dir === undefined) return undefined;
    // The engines run the runtime as root.
    const problem = cacheDirProblem(fs.lstat(dir), 0);
    return problem === undefined ? { dir } : { dir, problem };
  } catch {
    return undefined;
  }
}

/** `path` with its last component's links followed (at most 40, as the kernel does). */
function followLinks(fs: HostFs, path: string): string {
  let current = path;
  for (let hops = 0; hops < 40 && fs.lstat(current)?.kind === "symlink"; hops++) {
    const target = fs.readLink(current);
    current = target.startsWith("/")
      ? target
      : `${current.slice(0, current.lastIndexOf("/"))}/${target}`;
  }
  return current;
}

function readFastPath(fs: HostFs, program: string): FastPathFacts {
  const script = fs.readTextFile(program) ?? "";
  const record = launcherRecordPath(script, program, followLinks(fs, program));
  if (record === null) return { kind: "none" };
  if (record === undefined) return { kind: "unknown" };
  const dirExists = fs.stat(dirname(record))?.kind === "dir";
  const text = fs.readTextFile(record);
  if (text === undefined) return { kind: "record", record, dirExists, state: "missing" };
  const decoded = decodeFastPathRecord(text);
  if (decoded === undefined) return { kind: "record", record, dirExists, state: "garbled" };
  const { configPath, offReason } = decoded;
  if (offReason !== undefined) {
    return { kind: "record", record, dirExists, state: "off", offReason, configPath };
  }
  const now = fs.readTextFile(configPath);
  const current = decoded.present ? now === decoded.configText : now === undefined;
  return { kind: "record", record, dirExists, state: current ? "current" : "stale", configPath };
}

/** The registry's reader over `fs`: files and links listed; only a regular file is read. */
function cdiReaderOf(fs: HostFs): CdiDirReader {
  return {
    listFiles(dir) {
      // As the registry's own reader: a dir that cannot be listed is skipped (its line says so).
      const names = probe(() => fs.readDir(dir));
      if (!names.ok || names.value === undefined) return undefined;
      const base = dir.replace(/\/+$/, "");
      return names.value.filter((name) => {
        const kind = probe(() => fs.lstat(`${base}/${name}`)?.kind);
        return kind.ok && (kind.value === "file" || kind.value === "symlink");
      });
    },
    readTextFile(path) {
      const kind = fs.stat(path)?.kind;
      // A FIFO in a spec dir would block the read.
      if (kind !== undefined && kind !== "file") {
        throw new FileKindError(path, FILE_KIND_WORDS[kind]);
      }
      const text = fs.readTextFile(path);
      if (text === undefined) throw new ConfigError(`${quoted(path)} is gone`, { path });
      return text;
    },
  };
}

function loadConfigFacts(fs: HostFs, env: Readonly<Record<string, string>>): ConfigFacts {
  const path = resolveConfigPath(env);
  try {
    const text = fs.readTextFile(path);
    if (text === undefined && env[CONFIG_PATH_ENV]) {
      // As loadConfig: the file the variable names must exist (a typo would mean the defaults).
      throw new ConfigError(
        `Cannot load the config file ${quoted(path)} that ${CONFIG_PATH_ENV} names: no such ` +
          `file: create it, or unset ${CONFIG_PATH_ENV}`,
        { path },
      );
    }
    if (text === undefined) return { path, found: false, config: defaultConfig(), warnings: [] };
    return { path, found: true, ...parseConfig(text, path) };
  } catch (error) {
    return {
      path,
      found: true,
      config: defaultConfig(),
      warnings: [],
      failure: failureOf(error),
    };
  }
}

/** `xpu-container-cli` where the legacy hook would run it ({@link resolveCliPath}). */
function cliProgram(config: Config, pathEnv: string | undefined, fs: HostFs): ProgramFacts {
  const key = "[xpu-container-cli] path";
  const isExecutable = executableIn(fs);
  const configured = config.cli.path;
  if (configured.includes("/") && !configured.startsWith("/")) {
    return { key, configured, problem: "relative" };
  }
  const path = resolveCliPath(config, { path: pathEnv, isExecutable });
  if (isExecutable(path)) return { key, configured, found: path };
  return { key, configured, problem: "missing", searched: path };
}

function hookStyleProgram(
  key: string,
  configured: string,
  options: { pathEnv: string | undefined; fs: HostFs },
): ProgramFacts {
  const resolved = resolveHookProgram(configured, {
    path: options.pathEnv,
    isExecutable: executableIn(options.fs),
  });
  return resolved.ok
    ? { key, configured, found: resolved.path }
    : { key, configured, problem: resolved.problem, searched: resolved.guess };
}

function readMemoryIn(fs: HostFs, file: string, stateDir: string): RevertMemory | undefined {
  const path = memoryPath(file, stateDir);
  const text = fs.readTextFile(path);
  return text === undefined ? undefined : parseMemory(text, path, { valuesOf: memoryValuesOf });
}

/** The engine's files as `runtime configure` left them (`undefined`: no config file). */
async function engineFiles(
  adapter: EngineAdapter<unknown>,
  settings: DoctorSettings & { chosen: boolean },
  fs: HostFs,
): Promise<{ config: string; files: Probe<EngineFiles | undefined> }> {
  const target = resolveRuntimeSettings("configure", {
    runtime: adapter.name,
    config: settings.chosen ? settings.engineConfig : undefined,
    stateDir: settings.stateDir,
  }, settings.env);
  const files = await probeAsync(async (): Promise<EngineFiles | undefined> => {
    const text = fs.readTextFile(target.config) ?? null;
    const state: FileState = {
      text: (path) => fs.readTextFile(path) ?? null,
      memory: (path) => readMemoryIn(fs, path, target.stateDir),
    };
    // Only this engine's memories: the engines share the default hook file's path.
    const memoryOf = (file: string) => {
      const memory = state.memory(file);
      return memory?.engine === adapter.name ? memory : undefined;
    };
    // Where the configures are recorded: the drop-in first, as the engines merge them.
    let recorded: { file: string; memory: RevertMemory } | undefined;
    let hookMemory: RevertMemory | undefined;
    try {
      for (const file of [target.dropIn, target.config].filter((f) => f !== "")) {
        const memory = memoryOf(file);
        if (memory?.request !== undefined) {
          recorded = { file, memory };
          break;
        }
      }
      hookMemory = memoryOf(target.hookFile);
    } catch (error) {
      // An engine that is not there is not looked for further (a state dir only root may read).
      if (text === null && !settings.chosen) return undefined;
      throw error;
    }
    // A hook-mode engine may have no config file of its own (podman reads the hooks dir too).
    if (text === null && recorded === undefined && hookMemory === undefined) return undefined;
    const result: EngineFiles = {
      defaultRuntime: adapter.defaultRuntime(text, target.config),
      handlers: [],
      drift: [],
      stateDir: target.stateDir,
    };
    const configTarget: EngineTarget = { ...target, configMode: "config" };
    if (recorded !== undefined) {
      const request = recorded.memory.request!;
      const host = adapter.inspectHost
        ? (await adapter.inspectHost(state, {
          target: configTarget,
          adds: true,
          env: settings.env,
        }))
          .facts
        : undefined;
      const changes = adapter.plan(state, { target: configTarget, configure: request, host });
      result.recordedIn = recorded.file;
      result.drift = changes.filter((c) => c.before !== c.after).map((c) => c.path);
      const isExecutable = executableIn(fs);
      result.handlers = request.handlers.map((h) => {
        const executable = isExecutable(h.path);
        if (!executable) return { ...h, executable };
        const moduleCache = moduleCacheFacts(fs, h.path);
        return {
          ...h,
          executable,
          fastPath: fastPathFacts(fs, h.path),
          ...(moduleCache === undefined ? {} : { moduleCache }),
        };
      });
    }
    const lockTargets = [configTarget];
    if (hookMemory !== undefined) {
      const now = fs.readTextFile(target.hookFile);
      result.hookFile = {
        path: target.hookFile,
        state: now === undefined ? "missing" : now === hookMemory.after ? "as-written" : "edited",
      };
      lockTargets.push({ ...target, configMode: "hook" });
    }
    for (const lockTarget of lockTargets) {
      const journal = journalPath(target.stateDir, dirname(adapter.lockFile(lockTarget)));
      if (fs.stat(journal) !== undefined) result.pendingJournal = journal;
    }
    return result;
  });
  return { config: target.config, files };
}

/**
 * The engines to check: the one named (`--runtime`, else `RUNTIME`), or every engine whose config
 * file exists.
 *
 * @throws {UsageError} for an engine no adapter has, or `--config` without an engine
 */
async function engineFacts(
  settings: DoctorSettings,
  fs: HostFs,
): Promise<{ engines: EngineFacts[]; searched: string[] }> {
  const name = settings.runtime ?? (settings.env.RUNTIME || undefined);
  if (name === undefined && settings.engineConfig !== undefined) {
    throw new UsageError(
      `Cannot use --config ${quoted(settings.engineConfig)} without an engine: it names an ` +
        `engine's config file: pass --runtime ${engineChoices()}`,
    );
  }
  const chosen = name === undefined ? undefined : findEngine(name);
  if (name !== undefined && chosen === undefined) {
    throw new UsageError(
      `Cannot check the engine: unknown runtime ${quoted(name)}: pass --runtime ${engineChoices()}`,
    );
  }
  const engines: EngineFacts[] = [];
  const searched: string[] = [];
  for (const adapter of chosen ? [chosen] : ENGINES) {
    const found = await engineFiles(adapter, { ...settings, chosen: chosen !== undefined }, fs);
    if (!chosen && found.files.ok && found.files.value === undefined) {
      searched.push(found.config);
      continue;
    }
    engines.push({ engine: adapter.name, chosen: chosen !== undefined, ...found });
  }
  return { engines, searched: engines.length === 0 ? searched : [] };
}

async function cdiFacts(
  config: Config,
  options: { fs: HostFs; profile: DeviceProfile; driverRoot: string; ctkPath?: string },
): Promise<CdiFacts> {
  const { fs, profile, driverRoot } = options;
  const dirs = config.runtime.modes.cdi.specDirs.map((path): CdiDirFacts => {
    const kind = probe(() => fs.stat(path)?.kind);
    if (!kind.ok) return { path, state: "unreadable" };
    if (kind.value === undefined) return { path, state: "missing" };
    if (kind.value !== "dir") return { path, state: "not a directory" };
    const names = probe(() => fs.readDir(path));
    return { path, state: names.ok && names.value !== undefined ? "dir" : "unreadable" };
  });
  const registry = await loadCdiRegistry(config.runtime.modes.cdi.specDirs, cdiReaderOf(fs));
  const kind = config.runtime.modes.cdi.defaultKind;
  const expected = probe(() =>
    generateCdiSpec({
      profile,
      fs,
      driverRoot,
      kind,
      // The hooks' program is not compared; a host without xpu-ctk still gets its spec checked.
      ctkPath: options.ctkPath ?? "/usr/bin/xpu-ctk",
    })
  );
  return { dirs, registry, kind, expected };
}

function kernelModuleFacts(profile: DeviceProfile, fs: HostFs) {
  return probe(() => {
    // The kernel lists modules with "_" where their names may have "-" (nvidia-uvm: nvidia_uvm).
    const name = profile.kernelModule.replaceAll("-", "_");
    if (name === "") return { name, loaded: true };
    if (fs.stat(`/sys/module/${name}`) !== undefined) return { name, loaded: true };
    const modules = fs.readTextFile("/proc/modules") ?? "";
    return { name, loaded: modules.split("\n").some((line) => line.startsWith(`${name} `)) };
  });
}

function cgroupFacts(fs: HostFs): Probe<DeviceCgroup> {
  return probe(() => {
    const procCgroup = fs.readTextFile("/proc/self/cgroup");
    const mountinfo = fs.readTextFile("/proc/self/mountinfo");
    if (procCgroup === undefined || mountinfo === undefined) {
      throw new ConfigError(
        `Cannot read "/proc/self/cgroup" and "/proc/self/mountinfo": they do not exist (is /proc ` +
          `mounted?)`,
        { path: "/proc/self/cgroup" },
      );
    }
    return deviceCgroupOf(procCgroup, mountinfo);
  });
}

/**
 * Gathers what `doctor` judges, reading the host only through `fs`.
 *
 * @throws {UsageError} for an unknown engine, `--config` without one, or engine settings from
 *   the environment that `xpu-ctk runtime` would refuse
 */
export async function gatherDoctorFacts(
  settings: DoctorSettings,
  hostFs: HostFs,
): Promise<DoctorFacts> {
  const fs = namingFs(hostFs);
  const { env } = settings;
  const configFacts = loadConfigFacts(fs, env);
  const config = configFacts.config;
  // parseConfig refuses a profile it does not know, so only the defaults reach the fallback.
  const profile = findProfile(config.profiles, config.cli.profile) ?? XPU_PROFILE;
  const driverRoot = settings.driverRoot ?? config.cli.root;
  const programs = {
    hook: hookStyleProgram("[xpu-container-runtime-hook] path", config.hook.path, {
      pathEnv: env.PATH,
      fs,
    }),
    cli: cliProgram(config, env.PATH, fs),
    ctk: hookStyleProgram("[xpu-ctk] path", config.ctk.path, { pathEnv: env.PATH, fs }),
  };
  const { engines, searched } = await engineFacts(settings, fs);
  return {
    config: configFacts,
    profile,
    driverRoot: {
      path: driverRoot,
      fromFlag: settings.driverRoot !== undefined,
      kind: probe(() => fs.stat(driverRoot)?.kind),
    },
    csvPlatform: probe(() => isCsvPlatform(fs, driverRoot)),
    devices: probe(() => discoverDevices(fs, profile, { driverRoot })),
    driverFiles: probe(() => ({
      files: discoverDriverFiles(fs, profile, { driverRoot, capabilities: CAPABILITIES }),
      version: readDriverVersion(fs, profile, driverRoot),
    })),
    runtimes: {
      candidates: config.runtime.runtimes,
      found: findFirstExecutable(config.runtime.runtimes, {
        path: env.PATH,
        isExecutable: executableIn(fs),
      }),
    },
    programs,
    engines,
    enginesSearched: searched,
    cdi: await cdiFacts(config, { fs, profile, driverRoot, ctkPath: programs.ctk.found }),
    kernelModule: kernelModuleFacts(profile, fs),
    cgroup: cgroupFacts(fs),
    runtimeServer: await runtimeServerFacts(settings, fs),
  };
}

/** Is there a runtime server the shims would ask, and would they trust it? */
async function runtimeServerFacts(
  settings: DoctorSettings,
  fs: HostFs,
): Promise<RuntimeServerFacts> {
  const socket = serverSocketPath(settings.env);
  if (socket === undefined) return { kind: "off" };
  if (fs.lstat(socket) === undefined) return { socket, kind: "absent" };
  const lookup = (path: string): PathInfo => {
    const info = fs.lstat(path);
    const kind = info?.kind === "socket" ? "socket" : info?.kind === "dir" ? "dir" : "other";
    return { kind, uid: info?.uid ?? -1, mode: info?.mode ?? 0 };
  };
  const reason = socketDistrust(socket, lookup, ownUid());
  if (reason !== undefined) return { socket, kind: "untrusted", reason };
  const listening = await (settings.probeSocket ?? socketListens)(socket);
  return { socket, kind: listening ? "listening" : "stale" };
}
