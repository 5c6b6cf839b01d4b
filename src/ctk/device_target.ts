/**
 * Which running container `xpu-ctk device` acts on, named the way an operator knows it: a pid, a
 * runc/crun state dir and id (podman's containers too: `/run/crun`, `/run/runc`), or an engine's
 * container id, through that engine's own CLI (the engines' `containerPid`). The answers of those
 * programs are parsed here, purely; running them is the caller's.
 *
 * @module
 */

import { quoted, RequestError, UsageError } from "../core/errors.ts";
import { ENGINES as ENGINE_ADAPTERS } from "../engines/engines.ts";
import { type ContainerPidQuery, stateInspectQuery } from "../engines/engine_adapter.ts";

/** How the target was named on the command line. */
export type TargetName =
  | { by: "pid"; pid: number }
  | { by: "runtime"; root: string; id: string }
  | { by: "engine"; engine: string; id: string; namespace: string };

/**
 * How each engine whose container ids `--engine` takes finds a container's pid: those the toolkit
 * configures that can tell (docker, containerd), and podman, which needs no configuring (it reads
 * the runtime's hooks dir and takes `--runtime` per container).
 */
function pidQueries(): Map<string, ContainerPidQuery> {
  const queries = new Map<string, ContainerPidQuery>();
  for (const engine of ENGINE_ADAPTERS) {
    if (engine.containerPid !== undefined) queries.set(engine.name, engine.containerPid);
  }
  queries.set("podman", stateInspectQuery("podman"));
  return queries;
}

/** The engines whose container ids `--engine` takes. */
export function pidEngines(): string[] {
  return [...pidQueries().keys()];
}

function pidQueryOf(engine: string): ContainerPidQuery {
  const query = pidQueries().get(engine);
  if (query === undefined) throw new Error(`no pid query for engine "${engine}"`);
  return query;
}

/** The command-line options that name a target. */
export interface TargetFlags {
  pid?: string;
  runtimeRoot?: string;
  engine?: string;
  namespace?: string;
}

/**
 * The target from the flags and the operands: with `--pid` every operand is a device; with
 * `--runtime-root` or `--engine` the first operand is the container id.
 *
 * @throws {UsageError} for no target, two kinds of target, a bad pid or engine, or no device
 */
export function parseTarget(
  flags: TargetFlags,
  operands: readonly string[],
  options: { devicesRequired: boolean },
): { target: TargetName; devices: string[] } {
  const given = [flags.pid, flags.runtimeRoot, flags.engine].filter((f) => f !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      `Cannot tell which container: ${
        given.length === 0 ? "no target was given" : "give only one target"
      }: use --pid PID, --runtime-root DIR ID, or --engine ${pidEngines().join("|")} ID`,
    );
  }
  let target: TargetName;
  let devices: string[];
  if (flags.pid !== undefined) {
    const pid = Number(flags.pid);
    if (!/^\d+$/.test(flags.pid) || !Number.isSafeInteger(pid) || pid < 2) {
      throw new UsageError(
        `Cannot use --pid ${quoted(flags.pid)}: expected the pid of a container's process`,
      );
    }
    target = { by: "pid", pid };
    devices = [...operands];
  } else {
    const [id, ...rest] = operands;
    if (id === undefined || id === "") {
      throw new UsageError(
        `Cannot tell which container: ${
          flags.runtimeRoot !== undefined ? "--runtime-root" : "--engine"
        } needs the container's id as the first operand`,
      );
    }
    devices = rest;
    if (flags.runtimeRoot !== undefined) {
      if (!flags.runtimeRoot.startsWith("/")) {
        throw new UsageError(
          `Cannot use --runtime-root ${quoted(flags.runtimeRoot)}: expected an absolute path ` +
            `(the runtime's --root, e.g. /run/runc)`,
        );
      }
      target = { by: "runtime", root: flags.runtimeRoot, id };
    } else {
      const engine = flags.engine ?? "";
      if (!pidEngines().includes(engine)) {
        throw new UsageError(
          `Cannot use --engine ${quoted(engine)}: use one of ${
            pidEngines().map(quoted).join(", ")
          } (or --runtime-root with the runtime's state dir, or --pid)`,
        );
      }
      target = { by: "engine", engine, id, namespace: flags.namespace ?? "default" };
    }
  }
  if (options.devicesRequired && devices.length === 0) {
    throw new UsageError(
      `Cannot tell which devices: name at least one (an index, a UUID or a CDI name)`,
    );
  }
  return { target, devices };
}

/** How the pid of a named target is asked for: a program and its arguments. */
export function pidQuery(target: TargetName, runtime: string): { program: string; args: string[] } {
  switch (target.by) {
    case "pid":
      throw new Error("a pid needs no query");
    case "runtime":
      return { program: runtime, args: ["--root", target.root, "state", target.id] };
    case "engine":
      return pidQueryOf(target.engine).command(target.id, target.namespace);
  }
}

/** Describes a target for messages. */
export function describeTarget(target: TargetName): string {
  switch (target.by) {
    case "pid":
      return `pid ${target.pid}`;
    case "runtime":
      return `container ${quoted(target.id)} of ${quoted(target.root)}`;
    case "engine":
      return `${target.engine} container ${quoted(target.id)}`;
  }
}

/**
 * The pid from the query's answer.
 *
 * @throws {RequestError} when the container is not found or not running
 */
export function pidFromAnswer(
  target: TargetName,
  answer: { code: number; stdout: string; stderr: string },
): number {
  const what = describeTarget(target);
  const firstLine = (text: string) => text.trim().split("\n")[0] ?? "";
  if (answer.code !== 0) {
    throw new RequestError(
      `Cannot find ${what}: ${firstLine(answer.stderr) || `exit ${answer.code}`}: ` +
        `check the id (and the state dir or namespace)`,
    );
  }
  let pid: number | undefined;
  if (target.by === "runtime") {
    try {
      const state = JSON.parse(answer.stdout);
      if (state.status !== "running" && state.status !== "created" && state.status !== "paused") {
        throw new RequestError(
          `Cannot use ${what}: it is ${quoted(String(state.status))}, not running: start it first`,
        );
      }
      pid = state.pid;
    } catch (error) {
      if (error instanceof RequestError) throw error;
      pid = undefined;
    }
  } else if (target.by === "engine") {
    const found = pidQueryOf(target.engine).pid(
      target.id,
      target.namespace,
      answer.stdout,
    );
    if (typeof found === "string") {
      throw new RequestError(`Cannot use ${what}: ${found}: check the id, and that it runs`);
    }
    pid = found;
  }
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new RequestError(
      `Cannot use ${what}: it has no running process (${
        quoted(firstLine(answer.stdout))
      }): start it first`,
    );
  }
  return pid;
}
