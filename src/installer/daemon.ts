/**
 * The installer's daemon form, what a Kubernetes DaemonSet runs: take the pid-file lock (a second
 * instance fails fast, touching nothing), install the toolkit, run the engine's `setup` in-process,
 * wait for SIGTERM/SIGINT/SIGHUP/SIGQUIT, run `cleanup`, remove the pid file. A stop signal that
 * arrives during set-up is kept and acted on as soon as set-up is done. One log line per step.
 *
 * @module
 */

import { ConflictError, errorMessage } from "../core/errors.ts";
import { readIfExists } from "../engines/config_transaction.ts";
import { engineDefaultRuntime } from "../engines/engine_default_runtime.ts";
import type { RuntimeSettings } from "../engines/runtime_command.ts";
import type { InstallOptions } from "./install.ts";
import type { DaemonSettings } from "./installer_args.ts";

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
}

/** Stop-signal listeners on the real process. */
export function processStopSignals(handler: (signal: string) => void): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => handler(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}

/** The held pid file: remove it and let go of the lock. */
interface PidFile {
  release(): void;
}

/**
 * Takes an exclusive, non-blocking lock on the pid file and writes this process's PID into it.
 *
 * @throws {ConflictError} when another process holds it (the file is left as it is)
 */
export function acquirePidFile(path: string, pid = Deno.pid): PidFile {
  const slash = path.lastIndexOf("/");
  if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true, mode: 0o755 });
  const file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o644 });
  if (!file.tryLockSync(true)) {
    file.close();
    const holder = (readIfExists(path) ?? "").trim();
    throw new ConflictError(
      `Cannot start: another xpu-ctk-installer is already running (pid file "${path}"` +
        `${holder ? `, pid ${holder}` : ""}): stop it first, or pass a different --pid-file`,
    );
  }
  file.truncateSync(0);
  file.writeSync(new TextEncoder().encode(`${pid}\n`));
  return {
    release() {
      try {
        Deno.removeSync(path);
      } finally {
        file.close();
      }
    },
  };
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
  const { log } = deps;
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
    log(`started (pid ${Deno.pid}, pid file ${settings.pidFile})`);
    const tail = ["--runtime", settings.engine, ...settings.runtimeArgs, settings.toolkitDir];
    const setup = await deps.parseRuntime(["setup", ...tail]);
    const cleanup = await deps.parseRuntime(["cleanup", ...tail]);
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
