/**
 * `xpu-ctk runtime configure | unconfigure | setup | cleanup`: wiring a container engine (docker,
 * containerd, cri-o) to the toolkit's runtime and taking it off again — flags first, then their
 * environment variables, then each engine's defaults; every file planned, then written under a
 * lock (or diffed for `--dry-run`), then the engine restarted.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { quoted, UsageError } from "../core/errors.ts";
import { isFalsy, isTruthy } from "../core/text/truthy.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import {
  commitChanges,
  diffChange,
  finishInterrupted,
  readIfExists,
  withDirLock,
} from "./config_transaction.ts";
import {
  CONFIG_MODES,
  type ConfigMode,
  type EngineAdapter,
  type EngineTarget,
  type FileState,
  RESTART_MODES,
  type RestartMode,
  type RuntimeAction,
} from "./engine_adapter.ts";
import { operatorHandlers, type RuntimeHandler } from "./engine_edit.ts";
import { engineChoices, findEngine, memoryValuesOf } from "./engines.ts";
import type { FileChange } from "./file_change.ts";
import { planRestart, restartEngine } from "./restart.ts";
import { DEFAULT_STATE_DIR, readMemory } from "./revert_memory.ts";
import { journalPath } from "./change_journal.ts";
import { missingPrograms } from "./missing_programs.ts";

/** The command's flags as commander gives them. */
export interface RuntimeFlags {
  runtime?: string;
  config?: string;
  dropInConfig?: string;
  runtimeName?: string;
  xpuRuntimeName?: string;
  runtimeClass?: string;
  runtimePath?: string;
  runtimeDir?: string;
  setAsDefault?: boolean | string;
  cdiEnabled?: boolean | string;
  restartMode?: string;
  socket?: string;
  hostRoot?: string;
  configMode?: string;
  hooksDir?: string;
  hookFilename?: string;
  hookPath?: string;
  stateDir?: string;
  dryRun?: boolean;
}

/** Each setting's environment variables, generic first. */
export const RUNTIME_ENV: Readonly<Record<string, (engine: string) => string[]>> = {
  config: (e) => ["RUNTIME_CONFIG", `${e.toUpperCase()}_CONFIG`],
  dropInConfig: (e) => ["RUNTIME_DROP_IN_CONFIG", `${e.toUpperCase()}_DROP_IN_CONFIG`],
  socket: (e) => ["RUNTIME_SOCKET", `${e.toUpperCase()}_SOCKET`],
  restartMode: (e) => ["RUNTIME_RESTART_MODE", `${e.toUpperCase()}_RESTART_MODE`],
  hostRoot: () => ["HOST_ROOT_MOUNT"],
  runtimeName: () => ["XPU_RUNTIME_NAME", "CONTAINERD_RUNTIME_CLASS"],
  runtimeDir: () => ["RUNTIME_DIR"],
  setAsDefault: () => ["XPU_RUNTIME_SET_AS_DEFAULT", "RUNTIME_SET_AS_DEFAULT"],
  cdiEnabled: () => ["RUNTIME_ENABLE_CDI", "CDI_ENABLED"],
  configMode: () => ["CRIO_CONFIG_MODE"],
  stateDir: () => ["XPU_CTK_STATE_DIR"],
  hooksDir: () => ["CRIO_HOOKS_DIR"],
  hookFilename: () => ["CRIO_HOOK_FILENAME"],
};

/** Where hook mode writes its OCI hook file unless told: the hooks dir cri-o and podman read. */
export const HOOKS_DIR = "/usr/share/containers/oci/hooks.d";
/** The hook file's name unless told. */
export const HOOK_FILENAME = "oci-xpu-hook.json";
/** The runtime a configured handler runs unless `--runtime-path` says. */
export const DEFAULT_RUNTIME_PATH = "/usr/bin/xpu-container-runtime";
/** The handler name (setup: the base name) unless told. */
export const DEFAULT_HANDLER_NAME = "xpu";
/** The legacy hook's program's name; configure puts it in `/usr/bin`, setup in RUNTIME_DIR. */
export const HOOK_PROGRAM = "xpu-container-runtime-hook";

/**
 * The spellings a boolean flag or variable takes (Go's `strconv.ParseBool`, as the NVIDIA
 * toolkit's flags and variables read them), for help and errors.
 */
export const BOOLEAN_SPELLINGS = "true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)";

/** Every setting resolved: where the engine's files are (the target its adapter plans) and more. */
export interface RuntimeSettings extends EngineTarget {
  /** The engine's name (`engines.ts`). */
  engine: string;
  action: RuntimeAction;
  handlers: RuntimeHandler[];
  defaultRuntime?: string;
  cdi: boolean;
  restartMode: RestartMode;
  socket: string;
  hostRoot?: string;
  /** Where revert memories are kept. */
  stateDir: string;
  dryRun: boolean;
}

/** The flags that name files or directories. */
const PATH_FLAGS = [
  "config",
  "dropInConfig",
  "runtimePath",
  "runtimeDir",
  "socket",
  "hostRoot",
  "hooksDir",
  "hookPath",
  "stateDir",
] as const satisfies readonly (keyof RuntimeFlags)[];

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** A setting's value and where it came from (`--config`, `RUNTIME_CONFIG`, `RUNTIME_DIR`). */
interface Given {
  value: string;
  from: string;
}

/**
 * A boolean flag's or variable's value, in the spellings of {@link BOOLEAN_SPELLINGS}.
 *
 * @throws {UsageError} naming the flag or variable, the value and the spellings
 */
function parseBoolean(value: boolean | string | undefined, from: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  if (isTruthy(value)) return true;
  if (isFalsy(value)) return false;
  throw new UsageError(
    `Cannot use ${from} ${quoted(value)}: it is not a boolean: use ${BOOLEAN_SPELLINGS}`,
  );
}

/**
 * Refuses a relative path: it would be written into an engine's config (which the engine reads
 * from its own working directory), or name a file target that depends on where xpu-ctk was
 * started (and revert memories and journals record absolute paths only).
 *
 * @throws {UsageError} naming the flag or variable and the value
 */
function assertAbsolute(given: Given | undefined): void {
  if (given === undefined || given.value.startsWith("/")) return;
  throw new UsageError(
    `Cannot use ${given.from} ${quoted(given.value)}: it is a relative path, and the paths ` +
      `written into an engine's config or used as files must be absolute: pass it as an ` +
      `absolute path (e.g. ${quoted(`$PWD/${given.value}`)})`,
  );
}

/** The adapter of the engine `name`, or the usage error that names the choice. */
function engineNamed(name: string | undefined, action: string): EngineAdapter<unknown> {
  const adapter = name === undefined ? undefined : findEngine(name);
  if (adapter !== undefined) return adapter;
  throw new UsageError(
    `Cannot ${action}: ${
      name === undefined ? "no --runtime given" : `unknown runtime ${quoted(name)}`
    }: ` +
      `pass --runtime ${engineChoices()}`,
  );
}

/**
 * Resolves flags, environment and defaults (pure).
 *
 * @throws {UsageError} for an unknown engine, restart mode or config mode, a boolean that is not
 *   one, a missing RUNTIME_DIR, a relative path (each naming the flag or variable it came from),
 *   or settings the engine cannot be wired with
 */
export function resolveRuntimeSettings(
  action: RuntimeAction,
  flags: RuntimeFlags,
  env: Readonly<Record<string, string | undefined>>,
  positional?: string,
): RuntimeSettings {
  const adapter = engineNamed(flags.runtime ?? env.RUNTIME, action);
  const engine = adapter.name;
  const fromEnv = (key: string): Given | undefined => {
    for (const name of RUNTIME_ENV[key](engine)) {
      const value = env[name];
      if (value !== undefined && value !== "") return { value, from: name };
    }
    return undefined;
  };
  const flag = (key: keyof RuntimeFlags): Given | undefined => {
    const value = flags[key];
    return typeof value === "string" ? { value, from: `--${kebab(key)}` } : undefined;
  };
  const given = (key: keyof RuntimeFlags): Given | undefined => flag(key) ?? fromEnv(key);
  const pick = (key: keyof RuntimeFlags): string | undefined => given(key)?.value;
  // A path flag whose value is the next flag (`--config --restart-mode=none`) is a slip, not a
  // file name to create.
  for (const key of PATH_FLAGS) {
    const value = flags[key];
    if (typeof value === "string" && value.startsWith("-")) {
      throw new UsageError(
        `Cannot use --${kebab(key)} ${quoted(value)}: it looks like a flag, not a path: ` +
          `give --${kebab(key)} a path`,
      );
    }
  }
  const defaults = adapter.defaults;
  const restartMode = pick("restartMode") ?? defaults.restartMode;
  if (!(RESTART_MODES as readonly string[]).includes(restartMode)) {
    throw new UsageError(
      `Cannot use --restart-mode ${quoted(restartMode)}: use none, signal or systemd`,
    );
  }
  const configMode = pick("configMode") ?? "config";
  if (!(CONFIG_MODES as readonly string[]).includes(configMode)) {
    throw new UsageError(`Cannot use --config-mode ${quoted(configMode)}: use hook or config`);
  }
  const name = flags.runtimeName ?? flags.xpuRuntimeName ?? flags.runtimeClass ??
    pick("runtimeName") ?? DEFAULT_HANDLER_NAME;
  const operator = action === "setup" || action === "cleanup";
  const setAsDefault = parseBoolean(flags.setAsDefault, "--set-as-default") ??
    parseBooleanGiven(fromEnv("setAsDefault")) ?? operator;
  const cdi = parseBoolean(flags.cdiEnabled, "--cdi.enabled") ??
    parseBooleanGiven(fromEnv("cdiEnabled")) ?? false;
  const runtimeDir: Given | undefined = positional !== undefined
    ? { value: positional, from: "RUNTIME_DIR" }
    : given("runtimeDir");
  if (operator && !runtimeDir?.value) {
    throw new UsageError(`Cannot ${action}: the runtime directory is missing: pass RUNTIME_DIR`);
  }
  const handlers = operator
    ? operatorHandlers(runtimeDir!.value, name)
    : [{ name, path: flags.runtimePath ?? DEFAULT_RUNTIME_PATH }];
  const hookFilename = pick("hookFilename") ?? HOOK_FILENAME;
  if (hookFilename.includes("/")) {
    throw new UsageError(
      `Cannot use ${given("hookFilename")!.from} ${quoted(hookFilename)}: it is a path, not a ` +
        `file name: give the name alone, and its directory with --hooks-dir`,
    );
  }
  const settings: RuntimeSettings = {
    engine,
    action,
    config: pick("config") ?? defaults.config,
    dropIn: flags.dropInConfig ?? pick("dropInConfig") ?? defaults.dropIn,
    handlers,
    defaultRuntime: setAsDefault ? name : undefined,
    cdi,
    restartMode: restartMode as RestartMode,
    socket: pick("socket") ?? defaults.socket,
    hostRoot: pick("hostRoot"),
    configMode: configMode as ConfigMode,
    hookFile: join(pick("hooksDir") ?? HOOKS_DIR, hookFilename),
    hookPath: flags.hookPath ??
      join(operator ? runtimeDir!.value : "/usr/bin", HOOK_PROGRAM),
    stateDir: pick("stateDir") ?? DEFAULT_STATE_DIR,
    dryRun: flags.dryRun === true,
  };
  // The engine's own refusals first: they say more about the setting than "relative" does.
  adapter.checkTarget?.(settings, action);
  const dropIn = flags.dropInConfig !== undefined
    ? { value: flags.dropInConfig, from: "--drop-in-config" }
    : fromEnv("dropInConfig");
  for (
    const path of [
      given("config"),
      dropIn?.value === "" ? undefined : dropIn,
      flag("runtimePath"),
      runtimeDir,
      given("socket"),
      given("hostRoot"),
      given("hooksDir"),
      flag("hookPath"),
      given("stateDir"),
    ]
  ) {
    assertAbsolute(path);
  }
  return settings;
}

/** A boolean variable's value (see {@link parseBoolean}). */
function parseBooleanGiven(given: Given | undefined): boolean | undefined {
  return given === undefined ? undefined : parseBoolean(given.value, given.from);
}

/** The files as they are now, each with its revert memory from `stateDir`. */
function currentFiles(stateDir: string): FileState {
  return {
    text: readIfExists,
    memory: (path) => readMemory(path, stateDir, { valuesOf: memoryValuesOf }),
  };
}

/** Plans every file change of the action (reads the files; writes nothing). */
function planChanges(
  engine: EngineAdapter<unknown>,
  files: FileState,
  { settings, host }: { settings: RuntimeSettings; host: unknown },
): FileChange[] {
  const { action, handlers, defaultRuntime, cdi } = settings;
  return action === "configure" || action === "setup"
    ? engine.plan(files, { target: settings, configure: { handlers, defaultRuntime, cdi }, host })
    : engine.unplan(files, {
      target: settings,
      unconfigure: {
        names: handlers.map((h) => h.name),
        fullRestart: settings.restartMode === "systemd",
      },
      host,
    });
}

/**
 * Runs the action: finish an interrupted change, plan under the lock, write or diff, restart.
 *
 * @throws {UsageError} for an engine that cannot be restarted as asked (before anything is written)
 */
export async function runRuntimeAction(settings: RuntimeSettings, io: ToolIo): Promise<void> {
  const engine = engineNamed(settings.engine, settings.action);
  const files = currentFiles(settings.stateDir);
  const lockDir = dirname(engine.lockFile(settings));
  const restartOptions = { socket: settings.socket, hostRoot: settings.hostRoot };
  const noRestart = engine.restartNotNeeded?.(settings);
  // A restart plan that cannot work (signal for containerd) fails before anything is written.
  if (noRestart === undefined) planRestart(engine, settings.restartMode, restartOptions);
  const adds = settings.action === "configure" || settings.action === "setup";
  const { facts: host, notes } = engine.inspectHost
    ? await engine.inspectHost(files, {
      target: settings,
      adds,
      env: io.env,
      hostRoot: settings.hostRoot,
    })
    : { facts: undefined, notes: [] };
  for (const note of notes) io.stdout(note + "\n");
  // A dry run writes nothing at all — no lock dir, state dir or journal — so that anyone who can
  // read the files can run it: it takes a shared lock where the config's directory exists and
  // can be opened, and otherwise reads without one.
  const { effective, finished, wired } = await withDirLock(lockDir, () => {
    const journal = journalPath(settings.stateDir, lockDir);
    if (settings.dryRun && readIfExists(journal) !== null) {
      io.stdout(
        `Dry run: an interrupted change is pending in "${journal}": a real run finishes it ` +
          `first; the diff below is against the files as they are now\n`,
      );
    }
    const finished = settings.dryRun ? [] : finishInterrupted(settings.stateDir, lockDir);
    for (const line of finished) io.stdout(line + "\n");
    const changes = planChanges(engine, files, { settings, host });
    const effective = changes.filter((c) => c.before !== c.after);
    // What the engine runs: the hook file's program where the plan wires the engine through it.
    const wired = changes.some((c) => c.path === settings.hookFile) ? "hook" : "handlers";
    if (settings.dryRun) {
      for (const change of effective) io.stdout(diffChange(change));
      return { effective, finished, wired };
    }
    const command = `xpu-ctk runtime ${settings.action} --runtime ${settings.engine}`;
    const lines = commitChanges(changes, { stateDir: settings.stateDir, lockDir, command });
    for (const line of lines) io.stdout(line + "\n");
    return { effective, finished, wired };
  }, { readOnly: settings.dryRun });
  // The handlers and hooks may point at programs the operator installs afterwards: a warning
  // each, once the plan is known to be good, and the change stands.
  if (adds) {
    const hookFile = wired === "hook";
    for (const warning of missingPrograms(settings, { hookFile, env: io.env })) {
      io.stderr(`xpu-ctk: warning: ${warning}\n`);
    }
  }
  if (effective.length === 0 && finished.length === 0) {
    io.stdout(`Nothing to change: the ${settings.engine} configuration already is as asked\n`);
    return;
  }
  if (noRestart !== undefined) {
    io.stdout(noRestart + "\n");
  } else if (settings.dryRun) {
    io.stdout(
      `Dry run: nothing written; a real run would then restart with mode "${settings.restartMode}"\n`,
    );
  } else {
    const startOnly = [...new Set(effective.flatMap((c) => engine.startOnlyChanges?.(c) ?? []))];
    const plan = planRestart(engine, settings.restartMode, { ...restartOptions, startOnly });
    io.stdout((await restartEngine(plan)) + "\n");
  }
}
