/**
 * The shape shared by the engine configurators: what to configure (the runtime handlers, the
 * default runtime, CDI) and the planned change of one file — its text before and after, and the
 * revert memory to keep beside it. Planning is pure; writing happens elsewhere.
 *
 * @module
 */

import type { RevertMemory } from "./revert_memory.ts";

/** One runtime handler: an engine's name for a runtime, and the program it runs. */
export interface RuntimeHandler {
  name: string;
  path: string;
}

/** What a configure asks of an engine. */
export interface ConfigureRequest {
  handlers: RuntimeHandler[];
  /** The handler to make the engine's default runtime, if any. */
  defaultRuntime?: string;
  /** Turn on the engine's CDI support. */
  cdi: boolean;
}

/** What an unconfigure asks of an engine. */
export interface UnconfigureRequest {
  /** The handler names to remove. */
  names: string[];
}

/** The planned change of one file (`null` text: the file does not exist / is removed). */
export interface FileChange {
  path: string;
  before: string | null;
  after: string | null;
  /** The memory to keep beside the file; `undefined` removes it. */
  memory: RevertMemory | undefined;
  /** File mode for a file that is created. */
  mode?: number;
}

/** The three handlers of the operator form (`setup`): `xpu`, `xpu-cdi`, `xpu-legacy`. */
export function operatorHandlers(runtimeDir: string, baseName = "xpu"): RuntimeHandler[] {
  const dir = runtimeDir.replace(/\/+$/, "");
  return [
    { name: baseName, path: `${dir}/xpu-container-runtime` },
    { name: `${baseName}-cdi`, path: `${dir}/xpu-container-runtime.cdi` },
    { name: `${baseName}-legacy`, path: `${dir}/xpu-container-runtime.legacy` },
  ];
}

/** Two configure requests as one: handlers by name (the later path wins), the later default. */
export function mergeRequests(
  earlier: ConfigureRequest | undefined,
  later: ConfigureRequest,
): ConfigureRequest {
  const names = new Set(later.handlers.map((h) => h.name));
  return {
    handlers: [...(earlier?.handlers ?? []).filter((h) => !names.has(h.name)), ...later.handlers],
    defaultRuntime: later.defaultRuntime ?? earlier?.defaultRuntime,
    cdi: (earlier?.cdi ?? false) || later.cdi,
  };
}

/** What stays configured once `names` are removed; `undefined` when no handler is left. */
export function withoutHandlers(
  request: ConfigureRequest,
  names: readonly string[],
): ConfigureRequest | undefined {
  const handlers = request.handlers.filter((h) => !names.includes(h.name));
  if (handlers.length === 0) return undefined;
  const defaultRuntime =
    request.defaultRuntime !== undefined && names.includes(request.defaultRuntime)
      ? undefined
      : request.defaultRuntime;
  return { handlers, defaultRuntime, cdi: request.cdi };
}
