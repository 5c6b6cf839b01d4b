/**
 * cri-o: either the OCI hook file cri-o (and podman) read from a hooks dir — legacy injection for
 * every container, no restart needed — or a drop-in that adds our runtime handlers (with the
 * default runtime's settings). The main `crio.conf` is only read, never rewritten.
 *
 * @module
 */

import { parse, stringify, TomlError } from "smol-toml";
import { ConfigError, describePosition } from "../core/errors.ts";
import { HOOK_PATH } from "../core/config/hook_env.ts";
import {
  type ConfigureRequest,
  type FileChange,
  mergeRequests,
  type UnconfigureRequest,
  withoutHandlers,
} from "./engine_edit.ts";
import { beginMemory, type RevertMemory } from "./revert_memory.ts";
import {
  cloneToml,
  getAt,
  isTable,
  setAt,
  type Table,
  tomlErrorDetail,
} from "../core/text/toml_table.ts";

/** cri-o's main config (read only). */
export const CRIO_CONFIG = "/etc/crio/crio.conf";
/** Our drop-in. */
export const CRIO_DROP_IN = "/etc/crio/crio.conf.d/99-xpu.toml";
/** Where cri-o and podman read OCI hook files. */
export const CRIO_HOOKS_DIR = "/usr/share/containers/oci/hooks.d";
/** Our hook file's name. */
export const CRIO_HOOK_FILENAME = "oci-xpu-hook.json";

const DROP_IN_HEADER =
  "# Written by xpu-ctk runtime configure; xpu-ctk runtime unconfigure removes it.\n";

/**
 * The hooks.d file that runs the legacy hook at prestart for every container, with an explicit
 * env (the hook's own dir, then the standard `PATH`), so it never runs with the container's.
 *
 * @param hookPath absolute (checked when the settings are resolved)
 */
export function renderCrioHook(hookPath: string): string {
  const dir = hookPath.slice(0, Math.max(1, hookPath.lastIndexOf("/")));
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
export function configureCrioHook(
  file: string,
  text: string | null,
  hookPath: string,
  memory: RevertMemory | undefined,
): FileChange {
  return ownFile(file, text, renderCrioHook(hookPath), memory);
}

/** Plans removing the hooks.d file. */
export function unconfigureCrioHook(
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
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof TomlError)) {
      // The parser failing otherwise (a bug of its own) is still this file's problem to report.
      throw new ConfigError(
        `Cannot read "${path}": the TOML parser failed (${String(error).split("\n")[0]}): ` +
          `check the file with "crio config" and re-run`,
        { path },
        { cause: error },
      );
    }
    const where = { path, line: error.line, column: error.column };
    throw new ConfigError(
      `Cannot read ${describePosition(where)}: ${tomlErrorDetail(error)}: ` +
        `fix the TOML (cri-o rejects it too) and re-run`,
      where,
      { cause: error },
    );
  }
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
