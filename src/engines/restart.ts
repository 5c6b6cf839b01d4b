/**
 * Making an engine pick up its new config: `signal` (SIGHUP to the process that owns the engine's
 * socket — docker reloads its runtimes), `systemd` (`systemctl restart <unit>`, through
 * `chroot <host-root>` when the host is mounted elsewhere), or `none` (say what to run).
 *
 * @module
 */

import { join } from "node:path";
import { ExecError, UsageError } from "../core/errors.ts";
import {
  type DirEntry,
  readDirSync,
  readLinkSync,
  readTextFileSync,
  realPathSync,
} from "../core/io/fs.ts";
import { runProcess } from "../core/io/process.ts";
import { sendSignal } from "../core/io/send_signal.ts";
import { connectUnixSocket } from "../core/io/unix_socket.ts";
import type { EngineAdapter, RestartMode } from "./engine_adapter.ts";

/** What a restart needs to know of an engine: its unit and daemon, and what SIGHUP does to it. */
export type RestartTarget = Pick<EngineAdapter<unknown>, "defaults" | "signal">;

/** What a restart will do. */
export type RestartPlan =
  | { kind: "none"; advice: string }
  | {
    kind: "signal";
    /** The engine daemon's process name. */
    process: string;
    socket: string;
    /** The command that restarts the engine, for what a reload does not apply. */
    restartCommand: string;
    /** Settings of the change the engine reads only when it starts. */
    startOnly: readonly string[];
  }
  | {
    kind: "systemd";
    /** The engine daemon's process name. */
    process: string;
    socket: string;
    argv: string[];
  };

/** `a`, `a and b`, `a, b and c`. */
function listed(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/**
 * Decides the restart. `startOnly` names the settings of the change that the engine reads only
 * when it starts (docker's `features.cdi`): a reload does not apply them, and the advice or the
 * signal's report says so.
 *
 * @throws {UsageError} for `signal` on an engine that does not reload on SIGHUP (containerd stops)
 */
export function planRestart(
  engine: RestartTarget,
  mode: RestartMode,
  options: { socket: string; hostRoot?: string; startOnly?: readonly string[] },
): RestartPlan {
  const process = engine.defaults.processName;
  const systemctl = ["systemctl", "restart", engine.defaults.systemdUnit];
  const argv = options.hostRoot && options.hostRoot !== "/"
    ? ["chroot", options.hostRoot, ...systemctl]
    : systemctl;
  const startOnly = options.startOnly ?? [];
  switch (mode) {
    case "none":
      return {
        kind: "none",
        advice: engine.signal.advised && startOnly.length === 0
          ? `kill -HUP $(pidof ${process})   # or: ${argv.join(" ")}`
          : argv.join(" "),
      };
    case "signal":
      if (engine.signal.refusal !== undefined) throw new UsageError(engine.signal.refusal);
      return {
        kind: "signal",
        process,
        socket: options.socket,
        restartCommand: argv.join(" "),
        startOnly,
      };
    case "systemd":
      return { kind: "systemd", process, socket: options.socket, argv };
  }
}

/** Listening unix sockets from `/proc/net/unix` text: inode by path. */
export function listeningSockets(procNetUnix: string): Map<string, string> {
  const ACCEPT_CONNECTIONS = 0x10000;
  const byPath = new Map<string, string>();
  for (const line of procNetUnix.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const flags = Number.parseInt(fields[3], 16);
    if ((flags & ACCEPT_CONNECTIONS) === 0) continue;
    byPath.set(fields.slice(7).join(" "), fields[6]);
  }
  return byPath;
}

/** The process that listens on a unix socket, found from the socket itself (no pid file). */
export function findSocketOwner(socket: string): { pid: number; name: string } | undefined {
  const sockets = listeningSockets(readTextFileSync("/proc/net/unix"));
  let real = socket;
  try {
    real = realPathSync(socket);
  } catch {
    // Not there (yet): only the name as given can match.
  }
  const inode = sockets.get(socket) ?? sockets.get(real);
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  for (const entry of readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let fds: DirEntry[];
    try {
      fds = [...readDirSync(join("/proc", entry.name, "fd"))];
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readLinkSync(join("/proc", entry.name, "fd", fd.name)) !== target) continue;
      } catch {
        continue;
      }
      let name = "?";
      try {
        name = readTextFileSync(join("/proc", entry.name, "comm")).trim();
      } catch {
        // Gone meanwhile; the pid is what matters.
      }
      return { pid: Number(entry.name), name };
    }
  }
  return undefined;
}

/** Whether a process named `name` runs (as far as this PID namespace shows). */
export function processRunning(name: string): boolean {
  for (const entry of readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (readTextFileSync(join("/proc", entry.name, "comm")).trim() === name) return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

/** Whether something accepts connections on the unix socket `path`. */
export async function socketAccepts(path: string): Promise<boolean> {
  try {
    const connection = await connectUnixSocket(path);
    connection.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the engine runs: its daemon's process (`process`, its name) is seen, or its socket
 * accepts connections (a node daemon without the host's PID namespace sees only the socket).
 */
export async function engineRunning(process: string, socket: string): Promise<boolean> {
  return processRunning(process) || await socketAccepts(socket);
}

function notRunning(process: string, socket: string, why?: string): string {
  return `${process} is not running (no such process; nothing accepts ` +
    `connections on "${socket}"): it reads the new configuration when it starts` +
    (why ? ` (${why})` : "");
}

/** How {@link restartEngine} waits and looks. */
export interface RestartOptions {
  attempts?: number;
  delayMs?: number;
  /** Whether the engine's daemon runs (default: {@link engineRunning}). */
  running?: (process: string, socket: string) => Promise<boolean>;
}

/**
 * Carries out a restart plan. An engine that is not running needs none: it reads the new
 * configuration when it starts, and that is what the line says.
 *
 * @returns one line saying what happened (or what to run)
 * @throws {ExecError} when the signal or the systemctl command fails for a running engine
 */
export async function restartEngine(
  plan: RestartPlan,
  options: RestartOptions = {},
): Promise<string> {
  const running = options.running ?? engineRunning;
  switch (plan.kind) {
    case "none":
      return `Restart skipped (--restart-mode none): run "${plan.advice}" to apply the change`;
    case "signal": {
      const attempts = options.attempts ?? 10;
      for (let i = 0; i < attempts; i++) {
        const owner = findSocketOwner(plan.socket);
        if (owner) {
          sendSignal(owner.pid, "SIGHUP");
          const sent =
            `Sent SIGHUP to ${owner.name} (pid ${owner.pid}), which listens on "${plan.socket}": it reloads its runtimes`;
          if (plan.startOnly.length === 0) return sent;
          const one = plan.startOnly.length === 1;
          return `${sent}; ${listed(plan.startOnly)} ${one ? "is" : "are"} read only when ` +
            `${owner.name} starts and ${one ? "is" : "are"} not in effect yet: run ` +
            `"${plan.restartCommand}" to apply ${one ? "it" : "them"}`;
        }
        // Nothing listens: a stopped engine needs no signal; one that is starting gets it.
        if (!(await running(plan.process, plan.socket))) {
          return notRunning(plan.process, plan.socket);
        }
        await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 200));
      }
      throw new ExecError(
        `Cannot signal the engine: ${plan.process} runs, but no process ` +
          `listens on "${plan.socket}": pass --socket, or use --restart-mode none and restart it ` +
          `yourself`,
      );
    }
    case "systemd": {
      const command = plan.argv.join(" ");
      let failure: string;
      try {
        const result = await runProcess(plan.argv[0], { args: plan.argv.slice(1) });
        if (result.code === 0) return `Ran "${command}"`;
        failure = result.stderr.trim().split("\n").pop() || `exit ${result.code}`;
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      if (!(await running(plan.process, plan.socket))) {
        return notRunning(plan.process, plan.socket, `"${command}" failed: ${failure}`);
      }
      throw new ExecError(
        `Cannot restart ${plan.process} with "${command}": ${failure}: ` +
          `restart it yourself, or use --restart-mode none`,
      );
    }
  }
}
