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
const HOOKS_DIR = "/usr/share/containers/oci/hooks.d";
/** The hook file's name unless told. */
const HOOK_FILENAME = "oci-xpu-hook.json";

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

function parseBoolean(value: boolean | string | undefined, name: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  if (isTruthy(value)) return true;
  if (isFalsy(value)) return false;
  throw new UsageError(`Cannot use ${name} ${quoted(value)}: expected true or false`);
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
 * @throws {UsageError} for an unknown engine, restart mode or config mode, a missing RUNTIME_DIR,
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
  const fromEnv = (key: string): string | undefined => {
    for (const name of RUNTIME_ENV[key](engine)) {
      if (env[name] !== undefined && env[name] !== "") return env[name];
    }
    return undefined;
  };
  const pick = (key: keyof RuntimeFlags): string | undefined => {
    const value = flags[key];
    return typeof value === "string" ? value : fromEnv(key);
  };
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
    fromEnv("runtimeName") ?? "xpu";
  const operator = action === "setup" || action === "cleanup";
  const runtimeDir = positional ?? pick("runtimeDir");
  if (operator && !runtimeDir) {
    throw new UsageError(`Cannot ${action}: the runtime directory is missing: pass RUNTIME_DIR`);
  }
  const handlers = operator
    ? operatorHandlers(runtimeDir!, name)
    : [{ name, path: flags.runtimePath ?? "/usr/bin/xpu-container-runtime" }];
  const setAsDefault = parseBoolean(flags.setAsDefault, "--set-as-default") ??
    parseBoolean(fromEnv("setAsDefault"), "XPU_RUNTIME_SET_AS_DEFAULT") ?? operator;
  const cdi = parseBoolean(flags.cdiEnabled, "--cdi.enabled") ??
    parseBoolean(fromEnv("cdiEnabled"), "RUNTIME_ENABLE_CDI") ?? false;
  const settings: RuntimeSettings = {
    engine,
    action,
    config: pick("config") ?? defaults.config,
    dropIn: flags.dropInConfig ?? fromEnv("dropInConfig") ?? defaults.dropIn,
    handlers,
    defaultRuntime: setAsDefault ? name : undefined,
    cdi,
    restartMode: restartMode as RestartMode,
    socket: pick("socket") ?? defaults.socket,
    hostRoot: pick("hostRoot"),
    configMode: configMode as ConfigMode,
    hookFile: join(pick("hooksDir") ?? HOOKS_DIR, pick("hookFilename") ?? HOOK_FILENAME),
    hookPath: flags.hookPath ??
      join(operator ? runtimeDir! : "/usr/bin", "xpu-container-runtime-hook"),
    stateDir: pick("stateDir") ?? DEFAULT_STATE_DIR,
    dryRun: flags.dryRun === true,
  };
  adapter.checkTarget?.(settings, action);
  return settings;
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
      unconfigure: { names: handlers.map((h) => h.name) },
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
  const { effective, finished } = await withDirLock(lockDir, () => {
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
    if (settings.dryRun) {
      for (const change of effective) io.stdout(diffChange(change));
      return { effective, finished };
    }
    const command = `xpu-ctk runtime ${settings.action} --runtime ${settings.engine}`;
    const lines = commitChanges(changes, { stateDir: settings.stateDir, lockDir, command });
    for (const line of lines) io.stdout(line + "\n");
    return { effective, finished };
  });
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
