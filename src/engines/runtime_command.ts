/**
 * `xpu-ctk runtime configure | unconfigure | setup | cleanup`: wiring a container engine (docker,
 * containerd, cri-o) to the toolkit's runtime and taking it off again — flags first, then their
 * environment variables, then each engine's defaults; every file planned, then written under a
 * lock (or diffed for `--dry-run`), then the engine restarted.
 *
 * @module
 */

import { quoted, UsageError } from "../core/errors.ts";
import { isFalsy, isTruthy } from "../core/text/truthy.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import {
  commitChanges,
  diffChange,
  dirOf,
  finishInterrupted,
  readIfExists,
  withDirLock,
} from "./config_transaction.ts";
import {
  configureContainerd,
  CONTAINERD_CONFIG,
  CONTAINERD_DROP_IN,
  type ContainerdOptions,
  unconfigureContainerd,
} from "./containerd.ts";
import { detectConfigVersion } from "./containerd_version.ts";
import { loadConfig } from "../core/config/config_file.ts";
import {
  configureCrioDropIn,
  configureCrioHook,
  CRIO_CONFIG,
  CRIO_DROP_IN,
  CRIO_HOOK_FILENAME,
  CRIO_HOOKS_DIR,
  unconfigureCrioDropIn,
  unconfigureCrioHook,
} from "./crio.ts";
import {
  configureDocker,
  DOCKER_CONFIG,
  dockerStartOnlyChanges,
  unconfigureDocker,
} from "./docker.ts";
import { type FileChange, operatorHandlers, type RuntimeHandler } from "./engine_edit.ts";
import {
  type Engine,
  planRestart,
  RESTART_MODES,
  restartEngine,
  type RestartMode,
} from "./restart.ts";
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

/** The four actions. */
export type RuntimeAction = "configure" | "unconfigure" | "setup" | "cleanup";

/** Each setting's environment variables, generic first. */
export const RUNTIME_ENV: Readonly<Record<string, (engine: Engine) => string[]>> = {
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

/** Engine defaults. */
const DEFAULTS: Record<
  Engine,
  { config: string; dropIn: string; socket: string; restart: RestartMode }
> = {
  docker: { config: DOCKER_CONFIG, dropIn: "", socket: "/var/run/docker.sock", restart: "signal" },
  containerd: {
    config: CONTAINERD_CONFIG,
    dropIn: CONTAINERD_DROP_IN,
    socket: "/run/containerd/containerd.sock",
    restart: "systemd",
  },
  crio: {
    config: CRIO_CONFIG,
    dropIn: CRIO_DROP_IN,
    socket: "/var/run/crio/crio.sock",
    restart: "systemd",
  },
};

/** Every setting resolved. */
export interface RuntimeSettings {
  engine: Engine;
  action: RuntimeAction;
  config: string;
  dropIn: string;
  handlers: RuntimeHandler[];
  defaultRuntime?: string;
  cdi: boolean;
  restartMode: RestartMode;
  socket: string;
  hostRoot?: string;
  crioMode: "hook" | "config";
  hookFile: string;
  hookPath: string;
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

/**
 * Resolves flags, environment and defaults (pure).
 *
 * @throws {UsageError} for an unknown engine, restart mode or config mode, or a missing RUNTIME_DIR
 */
export function resolveRuntimeSettings(
  action: RuntimeAction,
  flags: RuntimeFlags,
  env: Readonly<Record<string, string | undefined>>,
  positional?: string,
): RuntimeSettings {
  const engine = flags.runtime ?? env.RUNTIME;
  if (engine !== "docker" && engine !== "containerd" && engine !== "crio") {
    throw new UsageError(
      `Cannot ${action}: ${
        engine === undefined ? "no --runtime given" : `unknown runtime ${quoted(engine)}`
      }: ` +
        `pass --runtime docker, containerd or crio`,
    );
  }
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
  const defaults = DEFAULTS[engine];
  const restartMode = pick("restartMode") ?? defaults.restart;
  if (!(RESTART_MODES as readonly string[]).includes(restartMode)) {
    throw new UsageError(
      `Cannot use --restart-mode ${quoted(restartMode)}: use none, signal or systemd`,
    );
  }
  const crioMode = pick("configMode") ?? "config";
  if (crioMode !== "hook" && crioMode !== "config") {
    throw new UsageError(`Cannot use --config-mode ${quoted(crioMode)}: use hook or config`);
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
  const hookDir = operator ? runtimeDir!.replace(/\/+$/, "") : "/usr/bin";
  const hookPath = flags.hookPath ?? `${hookDir}/xpu-container-runtime-hook`;
  const adds = action === "configure" || action === "setup";
  if (engine === "crio" && crioMode === "hook" && adds && !hookPath.startsWith("/")) {
    throw new UsageError(
      `Cannot ${action}: the cri-o hook's path "${hookPath}" is relative, and a hook's path ` +
        `must be absolute: pass --hook-path (or RUNTIME_DIR) as an absolute path`,
    );
  }
  return {
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
    crioMode,
    hookFile: `${(pick("hooksDir") ?? CRIO_HOOKS_DIR).replace(/\/+$/, "")}/${
      pick("hookFilename") ?? CRIO_HOOK_FILENAME
    }`,
    hookPath,
    stateDir: pick("stateDir") ?? DEFAULT_STATE_DIR,
    dryRun: flags.dryRun === true,
  };
}

/** What a plan takes besides the settings: facts found on the host. */
export interface PlanContext {
  containerd?: ContainerdOptions;
}

/** Plans every file change of the action (reads the files; writes nothing). */
export function planRuntimeChanges(s: RuntimeSettings, context: PlanContext = {}): FileChange[] {
  const memoryOf = (file: string) => readMemory(file, s.stateDir);
  const configure = s.action === "configure" || s.action === "setup";
  const request = { handlers: s.handlers, defaultRuntime: s.defaultRuntime, cdi: s.cdi };
  const names = s.handlers.map((h) => h.name);
  switch (s.engine) {
    case "docker": {
      const text = readIfExists(s.config);
      const memory = memoryOf(s.config);
      return [
        configure
          ? configureDocker(s.config, text, request, memory)
          : unconfigureDocker(s.config, text, { names }, memory),
      ];
    }
    case "containerd": {
      const texts = {
        config: readIfExists(s.config),
        dropIn: s.dropIn ? readIfExists(s.dropIn) : null,
        configMemory: memoryOf(s.config),
        dropInMemory: s.dropIn ? memoryOf(s.dropIn) : undefined,
      };
      const files = { config: s.config, dropIn: s.dropIn };
      return configure
        ? configureContainerd(files, texts, request, context.containerd)
        : unconfigureContainerd(files, texts, { names }, context.containerd);
    }
    case "crio": {
      if (s.crioMode === "hook") {
        const text = readIfExists(s.hookFile);
        const memory = memoryOf(s.hookFile);
        const change = configure
          ? configureCrioHook(s.hookFile, text, s.hookPath, memory)
          : unconfigureCrioHook(s.hookFile, text, memory);
        return change ? [change] : [];
      }
      const text = readIfExists(s.dropIn);
      const memory = memoryOf(s.dropIn);
      const main = { path: s.config, text: readIfExists(s.config) };
      const change = configure
        ? configureCrioDropIn(s.dropIn, text, main, request, memory)
        : unconfigureCrioDropIn(s.dropIn, text, main, { names }, memory);
      return change ? [change] : [];
    }
  }
}

/** The directory whose lock serialises changes to the files of `settings`. */
export function lockDirOf(settings: RuntimeSettings): string {
  return dirOf(
    settings.engine === "crio" && settings.crioMode === "hook"
      ? settings.hookFile
      : settings.config,
  );
}

/**
 * The host facts a containerd plan needs: the annotation prefixes the shim reads (from the
 * toolkit's config), and, where there is no config file yet, the config version the installed
 * containerd reads.
 */
async function planContext(settings: RuntimeSettings, io: ToolIo): Promise<PlanContext> {
  if (settings.engine !== "containerd") return {};
  const annotationPrefixes = loadConfig(io.env).config.runtime.modes.cdi.annotationPrefixes;
  const adds = settings.action === "configure" || settings.action === "setup";
  if (!adds || readIfExists(settings.config) !== null) {
    return { containerd: { annotationPrefixes } };
  }
  const choice = await detectConfigVersion(settings.hostRoot);
  io.stdout(choice.note + "\n");
  return { containerd: { annotationPrefixes, newFileVersion: choice.configVersion } };
}

/** Runs the action: finish an interrupted change, plan under the lock, write or diff, restart. */
export async function runRuntimeAction(settings: RuntimeSettings, io: ToolIo): Promise<void> {
  const lockDir = lockDirOf(settings);
  // A restart plan that cannot work (signal for containerd) fails before anything is written.
  const restart = settings.engine === "crio" && settings.crioMode === "hook"
    ? undefined
    : planRestart(settings.engine, settings.restartMode, {
      socket: settings.socket,
      hostRoot: settings.hostRoot,
    });
  const context = await planContext(settings, io);
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
    const changes = planRuntimeChanges(settings, context);
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
  if (restart === undefined) {
    io.stdout("No restart needed: cri-o reads hook files for every new container\n");
  } else if (settings.dryRun) {
    io.stdout(
      `Dry run: nothing written; a real run would then restart with mode "${settings.restartMode}"\n`,
    );
  } else {
    const startOnly = settings.engine === "docker"
      ? [...new Set(effective.flatMap((c) => dockerStartOnlyChanges(c.path, c.before, c.after)))]
      : [];
    const plan = planRestart(settings.engine, settings.restartMode, {
      socket: settings.socket,
      hostRoot: settings.hostRoot,
      startOnly,
    });
    io.stdout((await restartEngine(plan)) + "\n");
  }
}
