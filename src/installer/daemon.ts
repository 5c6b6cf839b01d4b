/**
 * The installer's daemon form, what a Kubernetes DaemonSet runs: take the pid-file lock (a second
 * instance fails fast, touching nothing), install the toolkit, run the engine's `setup` in-process,
 * wait for SIGTERM/SIGINT/SIGHUP/SIGQUIT, run `cleanup`, remove the pid file. A stop signal that
 * arrives during set-up is kept and acted on as soon as set-up is done. One log line per step.
 *
 * With `RUNTIME=nri` no engine config is touched: after the install it runs the installed
 * `xpu-ctk nri-plugin` (with `RUNTIME_ARGS` as its flags) in the host's root (`chroot` to
 * `--host-root` when that is not `/`), so the plugin reads the driver files, devices and CDI specs
 * as a host service would, until a stop signal, which it passes on. A plugin that exits by itself
 * ends the daemon with status 1, for the pod to be restarted.
 *
 * @module
 */

import { ConflictError, errorMessage, UsageError } from "../core/errors.ts";
import { check, ERRNO, errno, libc, OsCallError } from "../core/io/libc.ts";
import { dirname } from "node:path";
import {
  closeFd,
  FileKindError,
  mkdirSync,
  openNoFollow,
  readAll,
  removeSync,
  statFd,
  writeAll,
} from "../core/io/fs.ts";
import { listenForSignals, ownPid } from "../core/io/process.ts";
import { readIfExists } from "../engines/config_transaction.ts";
import { engineDefaultRuntime } from "../engines/engine_default_runtime.ts";
import type { RuntimeSettings } from "../engines/runtime_command.ts";
import type { InstallOptions } from "./install.ts";
import { type DaemonSettings, NRI_RUNTIME } from "./installer_args.ts";
import type { RunningProcess } from "../core/io/process.ts";

/** The signals that stop the daemon. */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"] as const;

/** What the daemon does to the outside world; tests pass fakes. */
export interface DaemonDeps {
  log(line: string): void;
  /** Calls `handler` on any stop signal until the returned function is called. */
  onStopSignal(handler: (signal: string) => void): () => void;
  install(options: InstallOptions): Promise<void>;
  /** Parses `runtime <args…>` as `xpu-ctk runtime` would. */
  parseRuntime(args: readonly string[]): Promise<RuntimeSettings>;
  runRuntime(settings: RuntimeSettings): Promise<void>;
  /** Starts the installed `xpu-ctk nri-plugin ARGS…` in the host's root. */
  startNriPlugin(request: NriPluginRequest): RunningProcess;
}

/** What the daemon runs with `RUNTIME=nri`. */
export interface NriPluginRequest {
  toolkitDir: string;
  /** Where this process sees the host's `/`. */
  hostRoot: string;
  /** The plugin's flags (`RUNTIME_ARGS`). */
  args: readonly string[];
}

/** Stop-signal listeners on the real process. */
export function processStopSignals(handler: (signal: string) => void): () => void {
  return listenForSignals(STOP_SIGNALS, handler);
}

/** The held pid file: remove it and let go of the lock. */
interface PidFile {
  release(): void;
}

/**
 * Takes an exclusive, non-blocking `flock` on the pid file and writes this process's PID into it.
 * The file is opened without following a final symbolic link and must be a regular file: the
 * installer runs as root, and a link planted at the path would otherwise have it truncate and
 * overwrite the link's target.
 *
 * @throws {ConflictError} when another process holds it (the file is left as it is)
 * @throws {UsageError} when the path is a symbolic link or not a regular file (nothing is touched)
 */
export function acquirePidFile(path: string, pid = ownPid()): PidFile {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const refuse = (error: FileKindError) =>
    new UsageError(
      `Cannot start with the pid file "${path}": ${error.detail}: remove it, or pass a ` +
        `different --pid-file`,
    );
  let fd: number;
  try {
    fd = openNoFollow(path, "read-write", 0o644);
  } catch (error) {
    if (error instanceof FileKindError) throw refuse(error);
    if (!(error instanceof OsCallError)) throw error;
    throw new Error(`Cannot open the pid file "${path}": ${error.message}`, { cause: error });
  }
  try {
    const { kind } = statFd(fd);
    if (kind !== "regular file") throw refuse(new FileKindError(path, kind));
    if (!tryLock(fd)) {
      const holder = new TextDecoder().decode(readAll(fd)).trim();
      throw new ConflictError(
        `Cannot start: another xpu-ctk-installer is already running (pid file "${path}"` +
          `${holder ? `, pid ${holder}` : ""}): stop it first, or pass a different --pid-file`,
      );
    }
    check("ftruncate", libc().ftruncate(fd, 0n));
    writeAll(fd, new TextEncoder().encode(`${pid}\n`));
  } catch (error) {
    closeFd(fd);
    throw error;
  }
  return {
    release() {
      try {
        removeSync(path);
      } finally {
        closeFd(fd);
      }
    },
  };
}

const LOCK_EX = 2;
const LOCK_NB = 4;

/** `flock(LOCK_EX | LOCK_NB)`: false when another open file holds the lock. */
function tryLock(fd: number): boolean {
  if (libc().flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const code = errno();
  if (code === ERRNO.EAGAIN) return false;
  throw new OsCallError("flock", code);
}

/** The low-level runtimes to install with: as given, else the engine's default when known. */
function lowLevelRuntimes(
  settings: DaemonSettings,
  setup: RuntimeSettings,
  log: (l: string) => void,
) {
  if (settings.install.lowLevelRuntimes.length > 0) return settings.install.lowLevelRuntimes;
  const ours = setup.handlers.map((h) => h.name);
  const found = engineDefaultRuntime(setup.engine, readIfExists(setup.config), setup.config, ours);
  log(
    found === undefined
      ? `the ${setup.engine} default runtime is not known from ${setup.config}: the shim tries runc, then crun`
      : `the ${setup.engine} default runtime is "${found}" (${setup.config}): the shim runs it`,
  );
  return found === undefined ? [] : [found];
}

/**
 * Runs the daemon form to the end.
 *
 * @returns the exit status: 0 after a clean stop (or set-up with `--no-daemon`), 1 when set-up
 *   or cleanup failed
 * @throws {ConflictError} when another instance runs; usage errors before anything is touched
 */
export async function runDaemon(settings: DaemonSettings, deps: DaemonDeps): Promise<number> {
  if (settings.engine === NRI_RUNTIME) return await runNriDaemon(settings, deps);
  const { log } = deps;
  // RUNTIME_ARGS are checked before the pid file is taken or anything is logged.
  const tail = ["--runtime", settings.engine, ...settings.runtimeArgs, settings.toolkitDir];
  const setup = await deps.parseRuntime(["setup", ...tail]);
  const cleanup = await deps.parseRuntime(["cleanup", ...tail]);
  const pidFile = acquirePidFile(settings.pidFile);
  let stopSignal: string | undefined;
  let settingUp = true;
  let wake = () => {};
  const stopped = new Promise<void>((resolve) => wake = resolve);
  const stopListening = deps.onStopSignal((signal) => {
    if (stopSignal === undefined) {
      stopSignal = signal;
      log(`received ${signal}: ${settingUp ? "cleaning up once set-up is done" : "cleaning up"}`);
    }
    wake();
  });
  try {
    log(`started (pid ${ownPid()}, pid file ${settings.pidFile})`);
    const install = {
      ...settings.install,
      lowLevelRuntimes: lowLevelRuntimes(settings, setup, log),
    };
    await deps.install(install);
    if (stopSignal !== undefined) {
      log(`stopping before ${setup.engine} set-up: nothing to revert`);
      return 0;
    }
    const handlers = setup.handlers.map((h) => h.name).join(", ");
    try {
      await deps.runRuntime(setup);
      log(
        `configured ${setup.engine}: runtimes ${handlers}` +
          (setup.defaultRuntime ? `, default ${setup.defaultRuntime}` : ""),
      );
    } catch (error) {
      log(`set-up of ${setup.engine} failed: ${errorMessage(error)}`);
      await revert(cleanup, deps);
      return 1;
    }
    settingUp = false;
    if (stopSignal === undefined) {
      if (settings.noDaemon) {
        log(`--no-daemon: leaving ${setup.engine} configured and exiting`);
        return 0;
      }
      log(`waiting for ${STOP_SIGNALS.join(", ")}`);
      await stopped;
    }
    return await revert(cleanup, deps) ? 0 : 1;
  } finally {
    stopListening();
    pidFile.release();
    log(`removed ${settings.pidFile}; exiting`);
  }
}

/** Runs the engine cleanup; logs the outcome. */
async function revert(cleanup: RuntimeSettings, deps: DaemonDeps): Promise<boolean> {
  const handlers = cleanup.handlers.map((h) => h.name).join(", ");
  try {
    await deps.runRuntime(cleanup);
    deps.log(`reverted ${cleanup.engine}: runtimes ${handlers} removed`);
    return true;
  } catch (error) {
    deps.log(`cleanup of ${cleanup.engine} failed: ${errorMessage(error)}`);
    return false;
  }
}

/** The stop signal, once one came, and a promise that settles then. */
function stopSignals(deps: DaemonDeps) {
  let signal: string | undefined;
  let wake = () => {};
  const stopped = new Promise<void>((resolve) => wake = resolve);
  const stopListening = deps.onStopSignal((received) => {
    if (signal === undefined) {
      signal = received;
      deps.log(`received ${received}: stopping`);
    }
    wake();
  });
  return { signal: () => signal, stopped, stopListening };
}

/** `RUNTIME=nri`: install, run the NRI plugin until a stop signal, no engine config touched. */
async function runNriDaemon(settings: DaemonSettings, deps: DaemonDeps): Promise<number> {
  const { log } = deps;
  if (settings.noDaemon) {
    throw new UsageError(
      "Cannot use --no-daemon (NO_DAEMON) with RUNTIME=nri: the NRI plugin runs as long as the " +
        'daemon does; install with "xpu-ctk-installer install" and run "xpu-ctk nri-plugin" ' +
        "as a service instead",
    );
  }
  const pidFile = acquirePidFile(settings.pidFile);
  const stop = stopSignals(deps);
  try {
    log(`started (pid ${ownPid()}, pid file ${settings.pidFile})`);
    await deps.install(settings.install);
    if (stop.signal() !== undefined) {
      log("stopping before the NRI plugin started: nothing to revert");
      return 0;
    }
    let plugin: RunningProcess;
    try {
      plugin = deps.startNriPlugin({
        toolkitDir: settings.toolkitDir,
        hostRoot: settings.install.hostRoot,
        args: settings.runtimeArgs,
      });
    } catch (error) {
      log(`cannot start the NRI plugin: ${errorMessage(error)}`);
      return 1;
    }
    log(
      `running the NRI plugin (pid ${plugin.pid}): ${settings.toolkitDir}/xpu-ctk nri-plugin` +
        (settings.runtimeArgs.length > 0 ? ` ${settings.runtimeArgs.join(" ")}` : "") +
        `; no engine config changed; waiting for ${STOP_SIGNALS.join(", ")}`,
    );
    const first = await Promise.race([
      stop.stopped.then(() => undefined),
      plugin.exited,
    ]);
    if (first !== undefined && stop.signal() === undefined) {
      log(`the NRI plugin exited by itself with status ${first}: its lines above say why`);
      return 1;
    }
    plugin.kill("SIGTERM");
    const code = await plugin.exited;
    log(`the NRI plugin stopped (status ${code})`);
    return code === 0 ? 0 : 1;
  } finally {
    stop.stopListening();
    pidFile.release();
    log(`removed ${settings.pidFile}; exiting`);
  }
}
