/**
 * cri-o: either the OCI hook file cri-o (and podman) read from a hooks dir — legacy injection for
 * every container, no restart needed — or a drop-in that adds our runtime handlers (with the
 * default runtime's settings). The main `crio.conf` is only read, never rewritten.
 *
 * @module
 */

import { dirname } from "node:path";
import { stringify } from "smol-toml";
import { HOOK_PATH } from "../core/config/hook_env.ts";
import { UsageError } from "../core/errors.ts";
import type { DefaultRuntime, EngineAdapter } from "./engine_adapter.ts";
import {
  type ConfigureRequest,
  mergeRequests,
  type UnconfigureRequest,
  withoutHandlers,
} from "./engine_edit.ts";
import type { FileChange } from "./file_change.ts";
import { beginMemory, type RevertMemory } from "./revert_memory.ts";
import { getAt, isTable, parseTomlDocument, type Table } from "../core/text/toml_table.ts";
import { cloneToml, setAt } from "../core/text/toml_tree.ts";

/** cri-o's main config (read only). */
export const CRIO_CONFIG = "/etc/crio/crio.conf";
/** Our drop-in. */
export const CRIO_DROP_IN = "/etc/crio/crio.conf.d/99-xpu.toml";

const DROP_IN_HEADER =
  "# Written by xpu-ctk runtime configure; xpu-ctk runtime unconfigure removes it.\n";

/**
 * The hooks.d file that runs the legacy hook at prestart for every container, with an explicit
 * env (the hook's own dir, then the standard `PATH`), so it never runs with the container's.
 *
 * @param hookPath absolute (checked when the settings are resolved)
 */
export function renderCrioHook(hookPath: string): string {
  const dir = dirname(hookPath);
  return JSON.stringify(
    {
      version: "1.0.0",
      hook: {
        path: hookPath,
        args: ["xpu-container-runtime-hook", "prestart"],
        env: [`PATH=${dir}:${HOOK_PATH}`],
      },
      when: { always: true },
      stages: ["prestart"],
    },
    null,
    2,
  ) + "\n";
}

/** Whether a hooks.d file is one we wrote (for an unconfigure without memory). */
function isOurHook(text: string): boolean {
  try {
    const hook = JSON.parse(text);
    return hook?.hook?.args?.[0] === "xpu-container-runtime-hook";
  } catch {
    return false;
  }
}

/** Plans writing our own file (`after`), remembering what was there. */
function ownFile(
  path: string,
  text: string | null,
  after: string,
  previous: RevertMemory | undefined,
): FileChange {
  if (text === after) return { path, before: text, after, memory: previous };
  const memory = beginMemory(previous, { engine: "crio", file: path, before: text });
  memory.after = after;
  return { path, before: text, after, memory, mode: 0o644 };
}

/** Plans removing our own file: what was there before comes back; a file of someone else stays. */
function removeOwnFile(
  path: string,
  text: string | null,
  memory: RevertMemory | undefined,
  isOurs: (text: string) => boolean,
): FileChange | undefined {
  if (text === null) {
    return memory ? { path, before: null, after: null, memory: undefined } : undefined;
  }
  if (memory && text === memory.after) {
    return { path, before: text, after: memory.before, memory: undefined };
  }
  if (memory || isOurs(text)) return { path, before: text, after: null, memory: undefined };
  return undefined;
}

/** Plans the hooks.d file. */
function configureCrioHook(
  file: string,
  text: string | null,
  hookPath: string,
  memory: RevertMemory | undefined,
): FileChange {
  return ownFile(file, text, renderCrioHook(hookPath), memory);
}

/** Plans removing the hooks.d file. */
function unconfigureCrioHook(
  file: string,
  text: string | null,
  memory: RevertMemory | undefined,
): FileChange | undefined {
  return removeOwnFile(file, text, memory, isOurHook);
}

/**
 * Parses crio.conf.
 *
 * @throws {ConfigError} with line and column for a syntax error
 */
export function parseCrioConfig(text: string, path: string): Record<string, unknown> {
  return parseTomlDocument(text, path, {
    action: "Cannot read",
    fix: "fix the TOML (cri-o rejects it too)",
    check: `check the file with "crio config"`,
  });
}

/**
 * Renders the drop-in: each handler as `[crio.runtime.runtimes.<name>]` with the default runtime's
 * settings, `runtime_path` and `runtime_type = "oci"`; `default_runtime` when asked.
 *
 * @param mainText crio.conf's text (`null`: missing), read for the default runtime's settings
 * @throws {ConfigError} when crio.conf does not parse
 */
export function renderCrioDropIn(
  mainText: string | null,
  mainPath: string,
  request: ConfigureRequest,
): string {
  const main = mainText === null ? {} : parseCrioConfig(mainText, mainPath);
  const runtime = getAt(main, ["crio", "runtime"]);
  const ours = request.handlers.map((h) => h.name);
  const defaultName = getAt(runtime, ["default_runtime"]);
  const source = [typeof defaultName === "string" ? defaultName : "runc", "runc", "crun"]
    .filter((n) => !ours.includes(n))
    .map((n) => getAt(runtime, ["runtimes", n]))
    .find(isTable) ?? {};
  const dropIn: Table = {};
  setAt(dropIn, ["crio", "runtime", "runtimes"], {});
  for (const handler of request.handlers) {
    // Names are the user's: set as own keys (a handler may be called "__proto__").
    const table = cloneToml(source);
    setAt(table, ["runtime_path"], handler.path);
    setAt(table, ["runtime_type"], "oci");
    setAt(dropIn, ["crio", "runtime", "runtimes", handler.name], table);
  }
  if (request.defaultRuntime) {
    setAt(dropIn, ["crio", "runtime", "default_runtime"], request.defaultRuntime);
  }
  return DROP_IN_HEADER + stringify(dropIn).replace(/\n*$/, "\n");
}

/** crio.conf, read for the default runtime's settings. */
export interface CrioMain {
  path: string;
  /** Its text; `null` when missing. */
  text: string | null;
}

/** Plans the drop-in: rebuilt from everything configured so far, this request included. */
export function configureCrioDropIn(
  file: string,
  text: string | null,
  main: CrioMain,
  request: ConfigureRequest,
  memory: RevertMemory | undefined,
): FileChange {
  const effective = mergeRequests(memory?.request, request);
  const change = ownFile(file, text, renderCrioDropIn(main.text, main.path, effective), memory);
  return change.memory ? { ...change, memory: { ...change.memory, request: effective } } : change;
}

/** Plans removing handlers from the drop-in: rebuilt with the rest, or removed when none is left. */
export function unconfigureCrioDropIn(
  file: string,
  text: string | null,
  main: CrioMain,
  request: UnconfigureRequest,
  memory: RevertMemory | undefined,
): FileChange | undefined {
  const remaining = memory?.request ? withoutHandlers(memory.request, request.names) : undefined;
  if (remaining && text !== null) {
    const after = renderCrioDropIn(main.text, main.path, remaining);
    return { path: file, before: text, after, memory: { ...memory!, after, request: remaining } };
  }
  return removeOwnFile(file, text, memory, (t) => t.startsWith(DROP_IN_HEADER));
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** cri-o's built-in default changed between releases (runc, then crun): only what is written. */
function crioDefaultRuntime(text: string | null, path: string): DefaultRuntime | undefined {
  if (text === null) return undefined;
  const runtime = getAt(parseCrioConfig(text, path), ["crio", "runtime"]);
  const name = nonEmpty(getAt(runtime, ["default_runtime"]));
  if (name === undefined) return undefined;
  return { name, program: nonEmpty(getAt(runtime, ["runtimes", name, "runtime_path"])) ?? name };
}

/** Hook mode writes a hooks.d file, read for every new container: no restart. */
const NO_RESTART = "No restart needed: cri-o reads hook files for every new container";

/**
 * cri-o, in one of two modes (`--config-mode`): `config` writes our drop-in (crio.conf is only
 * read, for the default runtime's settings) and restarts cri-o; `hook` writes an OCI hook file
 * for every container instead, which cri-o reads without a restart.
 */
export const CRIO: EngineAdapter = {
  name: "crio",
  defaults: {
    config: CRIO_CONFIG,
    dropIn: CRIO_DROP_IN,
    socket: "/var/run/crio/crio.sock",
    restartMode: "systemd",
    systemdUnit: "crio",
    processName: "crio",
  },
  signal: { advised: false },
  // The memories record whole files of ours, no key values.
  memoryValues: "json",
  checkTarget(target, action) {
    const adds = action === "configure" || action === "setup";
    if (target.configMode === "hook" && adds && !target.hookPath.startsWith("/")) {
      throw new UsageError(
        `Cannot ${action}: the cri-o hook's path "${target.hookPath}" is relative, and a hook's ` +
          `path must be absolute: pass --hook-path (or RUNTIME_DIR) as an absolute path`,
      );
    }
  },
  lockFile: (target) => target.configMode === "hook" ? target.hookFile : target.config,
  plan(files, { target, configure }) {
    if (target.configMode === "hook") {
      const { hookFile } = target;
      return [
        configureCrioHook(hookFile, files.text(hookFile), target.hookPath, files.memory(hookFile)),
      ];
    }
    const text = files.text(target.dropIn);
    const memory = files.memory(target.dropIn);
    const main = { path: target.config, text: files.text(target.config) };
    return [configureCrioDropIn(target.dropIn, text, main, configure, memory)];
  },
  unplan(files, { target, unconfigure }) {
    if (target.configMode === "hook") {
      const { hookFile } = target;
      const change = unconfigureCrioHook(hookFile, files.text(hookFile), files.memory(hookFile));
      return change ? [change] : [];
    }
    const text = files.text(target.dropIn);
    const memory = files.memory(target.dropIn);
    const main = { path: target.config, text: files.text(target.config) };
    const change = unconfigureCrioDropIn(target.dropIn, text, main, unconfigure, memory);
    return change ? [change] : [];
  },
  restartNotNeeded: (target) => target.configMode === "hook" ? NO_RESTART : undefined,
  defaultRuntime: crioDefaultRuntime,
};
