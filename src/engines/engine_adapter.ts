/**
 * What xpu-ctk knows of one container engine, as one value: where its files are by default, how
 * it picks up a change, how to plan adding and removing the toolkit's runtime handlers, and which
 * runtime it runs by default. Each engine's module (`docker.ts`, `containerd.ts`, `crio.ts`)
 * exports one {@link EngineAdapter}; `engines.ts` lists them, and every other module looks an
 * engine up there by name instead of knowing it.
 *
 * NVIDIA's `pkg/config/engine` interface is the model, with named fields instead of positional
 * booleans, and plans (pure: files in, changes out) instead of edits of a loaded config.
 *
 * @module
 */

import type { ConfigureRequest, UnconfigureRequest } from "./engine_edit.ts";
import type { FileChange } from "./file_change.ts";
import type { RevertMemory } from "./revert_memory.ts";

/** How to make an engine pick up its new config. */
export const RESTART_MODES = ["none", "signal", "systemd"] as const;
/** One restart mode. */
export type RestartMode = typeof RESTART_MODES[number];

/** The four actions of `xpu-ctk runtime`. */
export type RuntimeAction = "configure" | "unconfigure" | "setup" | "cleanup";

/** How an engine is wired (`--config-mode`). */
export const CONFIG_MODES = ["config", "hook"] as const;
/** Through its config files, or through an OCI hook file in a hooks dir. */
export type ConfigMode = typeof CONFIG_MODES[number];

/** An engine's defaults: what xpu-ctk uses where no flag or environment variable says. */
export interface EngineDefaults {
  /** Its main config file (`--config`). */
  config: string;
  /** Our drop-in config file (`--drop-in-config`); `""` for an engine that reads none. */
  dropIn: string;
  /** Its API socket (`--socket`): the daemon is found (and signalled) through it. */
  socket: string;
  /** How it is restarted after a change (`--restart-mode`). */
  restartMode: RestartMode;
  /** Its systemd unit, for `systemctl restart <unit>`. */
  systemdUnit: string;
  /** Its daemon's process name (`/proc/<pid>/comm`), to tell whether it runs. */
  processName: string;
}

/** What SIGHUP does to an engine's daemon, as `--restart-mode signal` and `none` need it. */
export interface SignalRestart {
  /**
   * The message `--restart-mode signal` is refused with, for a daemon that does not reload on
   * SIGHUP; unset: a signal is sent.
   */
  refusal?: string;
  /** Whether `--restart-mode none` advises `kill -HUP` (a reload applies what configure sets). */
  advised: boolean;
}

/** Where an engine's files are and how to wire it: the resolved settings a plan reads. */
export interface EngineTarget {
  /** The engine's main config file. */
  config: string;
  /** Our drop-in, or `""`: edit the main file in place. */
  dropIn: string;
  /** Config files or a hook file; an engine that reads no hook files uses its config files. */
  configMode: ConfigMode;
  /** The hook file hook mode writes. */
  hookFile: string;
  /** The program that hook file runs (absolute). */
  hookPath: string;
}

/**
 * The files a plan reads, as they are when it runs (under the lock): each file's text and the
 * revert memory kept for it.
 */
export interface FileState {
  /**
   * A file's text; `null` when it does not exist.
   *
   * @throws {ConfigError} when it cannot be read or is not UTF-8 text
   */
  text(path: string): string | null;
  /**
   * The revert memory of a file, if any.
   *
   * @throws {ConfigError} for a memory that cannot be read or is damaged
   */
  memory(path: string): RevertMemory | undefined;
}

/** What {@link EngineAdapter.plan} is asked. */
export interface PlanRequest<Host = undefined> {
  /** Where the engine's files are and how to wire it. */
  target: EngineTarget;
  /** The handlers to add, the default runtime, CDI. */
  configure: ConfigureRequest;
  /** What {@link EngineAdapter.inspectHost} found (`undefined` for an adapter without it). */
  host: Host;
}

/** What {@link EngineAdapter.unplan} is asked. */
export interface UnplanRequest<Host = undefined> {
  /** Where the engine's files are and how it was wired. */
  target: EngineTarget;
  /** The handlers to remove. */
  unconfigure: UnconfigureRequest;
  /** What {@link EngineAdapter.inspectHost} found (`undefined` for an adapter without it). */
  host: Host;
}

/** What {@link EngineAdapter.inspectHost} is given. */
export interface HostRequest {
  /** Where the engine's files are and how to wire it. */
  target: EngineTarget;
  /** Whether the action adds handlers (configure, setup) rather than removing them. */
  adds: boolean;
  /** The environment (the toolkit's own config is found through it). */
  env: Readonly<Record<string, string>>;
  /** Where the host's `/` is mounted, for commands run on the host; unset: here. */
  hostRoot?: string;
}

/** What an inspection of the host found, and the lines that tell the operator so. */
export interface HostFacts<Host> {
  /** What the plans are given as their `host`. */
  facts: Host;
  /** Lines for the operator, printed before the plan (one line each, no newline). */
  notes: string[];
}

/** The runtime an engine runs containers with by default, as its config names it. */
export interface DefaultRuntime {
  /** Its name in the config. */
  name: string;
  /** What it runs: a name looked up in PATH, or a path; `undefined` when that is not known. */
  program: string | undefined;
}

/**
 * One container engine. Adding an engine is writing one module that exports a value of this
 * type, and naming it in `engines.ts`.
 *
 * @typeParam Host what {@link inspectHost} finds for the plans (`undefined` without it)
 */
/** How a running container's pid is asked of an engine's own CLI (`xpu-ctk device`). */
export interface ContainerPidQuery {
  /** The program and its arguments that print what {@link ContainerPidQuery.pid} reads. */
  command(id: string, namespace: string): { program: string; args: string[] };
  /** The pid in the program's output, or why there is none ("its task is STOPPED"). */
  pid(id: string, namespace: string, stdout: string): number | string;
}

/**
 * The pid query of an engine whose CLI inspects a container as docker's does: `PROGRAM inspect
 * --type container --format {{.State.Pid}} ID`, which prints 0 for a container that is not running
 * (docker, podman).
 */
export function stateInspectQuery(program: string): ContainerPidQuery {
  return {
    command: (id) => ({
      program,
      args: ["inspect", "--type", "container", "--format", "{{.State.Pid}}", id],
    }),
    pid: (_id, _namespace, stdout) => {
      const pid = Number(stdout.trim());
      return Number.isSafeInteger(pid) && pid > 0 ? pid : "it has no running process";
    },
  };
}

export interface EngineAdapter<Host = undefined> {
  /** `--runtime`'s value, also the prefix of the engine's variables (`DOCKER_CONFIG`). */
  readonly name: string;
  /** Where its files and socket are, and how it is restarted, unless told otherwise. */
  readonly defaults: EngineDefaults;
  /** What SIGHUP does to the engine's daemon. */
  readonly signal: SignalRestart;
  /**
   * How a revert memory of the engine's files keeps what a key held: as the JSON value, or as
   * the TOML text after `=` (a hand-edited memory is checked for it).
   */
  readonly memoryValues: "json" | "toml";
  /**
   * Refuses settings the engine cannot be wired with, before anything is read.
   *
   * @throws {UsageError} saying which setting and what to pass instead
   */
  checkTarget?(target: EngineTarget, action: RuntimeAction): void;
  /** How a running container's pid is found by its id, where the engine's CLI tells it. */
  readonly containerPid?: ContainerPidQuery;
  /** The file whose directory's lock serialises changes to the engine's files. */
  lockFile(target: EngineTarget): string;
  /** Looks at the host for what a plan needs besides the files (before the lock is taken). */
  inspectHost?(files: FileState, request: HostRequest): Promise<HostFacts<Host>>;
  /**
   * Plans a configure: the change of every file it touches, in the order to write them (pure
   * over `files`; writes nothing).
   *
   * @throws {ConfigError} naming the file, for a config the edit cannot make truthfully
   */
  plan(files: FileState, request: PlanRequest<Host>): FileChange[];
  /**
   * Plans an unconfigure: what the configures put in goes, what they replaced comes back.
   *
   * @throws {ConfigError} naming the file, for a config the edit cannot make truthfully
   */
  unplan(files: FileState, request: UnplanRequest<Host>): FileChange[];
  /**
   * Why no restart is needed after a change of `target`'s files (the line that says so), where
   * the engine picks it up by itself; `undefined`: restart as `--restart-mode` says.
   */
  restartNotNeeded?(target: EngineTarget): string | undefined;
  /**
   * The settings a change touches that the engine reads only when it starts, so that a reload
   * (SIGHUP) does not apply them.
   */
  startOnlyChanges?(change: FileChange): string[];
  /**
   * The runtime the engine runs by default, read from its main config.
   *
   * @param text the config's text (`null`: missing, so the engine's built-in default)
   * @returns `undefined` when the config does not say and the engine's default is not known
   * @throws {ConfigError} when the config does not parse
   */
  defaultRuntime(text: string | null, path: string): DefaultRuntime | undefined;
}
