/**
 * Making an engine pick up its new config: `signal` (SIGHUP to the process that owns the engine's
 * socket — docker reloads its runtimes), `systemd` (`systemctl restart <unit>`, through
 * `chroot <host-root>` when the host is mounted elsewhere), or `none` (say what to run).
 *
 * @module
 */

import { ExecError, UsageError } from "../core/errors.ts";
import { runProcess } from "../core/process.ts";

/** How to restart. */
export const RESTART_MODES = ["none", "signal", "systemd"] as const;
/** One restart mode. */
export type RestartMode = typeof RESTART_MODES[number];

/** The engines the configurators know. */
export type Engine = "docker" | "containerd" | "crio";

/** Each engine's systemd unit. */
export const SYSTEMD_UNITS: Readonly<Record<Engine, string>> = {
  docker: "docker",
  containerd: "containerd",
  crio: "crio",
};

/** What a restart will do. */
export type RestartPlan =
  | { kind: "none"; advice: string }
  | { kind: "signal"; socket: string }
  | { kind: "systemd"; argv: string[] };

/**
 * Decides the restart.
 *
 * @throws {UsageError} for `signal` on containerd, which stops on SIGHUP instead of reloading
 */
export function planRestart(
  engine: Engine,
  mode: RestartMode,
  options: { socket: string; hostRoot?: string },
): RestartPlan {
  const systemctl = ["systemctl", "restart", SYSTEMD_UNITS[engine]];
  const argv = options.hostRoot && options.hostRoot !== "/"
    ? ["chroot", options.hostRoot, ...systemctl]
    : systemctl;
  switch (mode) {
    case "none":
      return {
        kind: "none",
        advice: engine === "docker"
          ? `kill -HUP $(pidof dockerd)   # or: ${argv.join(" ")}`
          : argv.join(" "),
      };
    case "signal":
      if (engine === "containerd") {
        throw new UsageError(
          `Cannot restart containerd with a signal: SIGHUP stops containerd instead of reloading ` +
            `it: use --restart-mode systemd or none`,
        );
      }
      return { kind: "signal", socket: options.socket };
    case "systemd":
      return { kind: "systemd", argv };
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
  const sockets = listeningSockets(Deno.readTextFileSync("/proc/net/unix"));
  let real = socket;
  try {
    real = Deno.realPathSync(socket);
  } catch {
    // Not there (yet): only the name as given can match.
  }
  const inode = sockets.get(socket) ?? sockets.get(real);
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let fds: Deno.DirEntry[];
    try {
      fds = [...Deno.readDirSync(`/proc/${entry.name}/fd`)];
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (Deno.readLinkSync(`/proc/${entry.name}/fd/${fd.name}`) !== target) continue;
      } catch {
        continue;
      }
      let name = "?";
      try {
        name = Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim();
      } catch {
        // Gone meanwhile; the pid is what matters.
      }
      return { pid: Number(entry.name), name };
    }
  }
  return undefined;
}

/**
 * Carries out a restart plan.
 *
 * @returns one line saying what happened (or what to run)
 * @throws {ExecError} when the signal or the systemctl command fails
 */
export async function restartEngine(
  plan: RestartPlan,
  options: { attempts?: number; delayMs?: number } = {},
): Promise<string> {
  switch (plan.kind) {
    case "none":
      return `Restart skipped (--restart-mode none): run "${plan.advice}" to apply the change`;
    case "signal": {
      const attempts = options.attempts ?? 10;
      for (let i = 0; i < attempts; i++) {
        const owner = findSocketOwner(plan.socket);
        if (owner) {
          Deno.kill(owner.pid, "SIGHUP");
          return `Sent SIGHUP to ${owner.name} (pid ${owner.pid}), which listens on "${plan.socket}": it reloads its runtimes`;
        }
        await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 200));
      }
      throw new ExecError(
        `Cannot signal the engine: no process listens on "${plan.socket}": start it, pass ` +
          `--socket, or use --restart-mode none and restart it yourself`,
      );
    }
    case "systemd": {
      let result;
      try {
        result = await runProcess(plan.argv[0], { args: plan.argv.slice(1) });
      } catch (error) {
        throw new ExecError(
          `Cannot run "${plan.argv.join(" ")}": ${
            error instanceof Error ? error.message : error
          }: ` +
            `restart the engine yourself, or use --restart-mode none`,
          { cause: error },
        );
      }
      if (result.code !== 0) {
        throw new ExecError(
          `Cannot restart with "${plan.argv.join(" ")}": ${
            result.stderr.trim().split("\n").pop() || `exit ${result.code}`
          }: ` +
            `restart the engine yourself`,
        );
      }
      return `Ran "${plan.argv.join(" ")}"`;
    }
  }
}
