/**
 * What the engine configurators are asked: the runtime handlers to add or remove, the default
 * runtime, CDI — and the requests combined, as a configure on top of earlier ones sees them. A
 * planned file change is `file_change.ts`'s.
 *
 * @module
 */

import { join } from "node:path";

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
  /**
   * Whether the engine is restarted to apply the change (`--restart-mode systemd`) rather than
   * reloaded (or restarted by the operator, who may only send it a SIGHUP): what only a reload
   * needs to undo the configure may then go as well. Default false.
   */
  fullRestart?: boolean;
}

/** The three handlers of the operator form (`setup`): `xpu`, `xpu-cdi`, `xpu-legacy`. */
export function operatorHandlers(runtimeDir: string, baseName = "xpu"): RuntimeHandler[] {
  return [
    { name: baseName, path: join(runtimeDir, "xpu-container-runtime") },
    { name: `${baseName}-cdi`, path: join(runtimeDir, "xpu-container-runtime.cdi") },
    { name: `${baseName}-legacy`, path: join(runtimeDir, "xpu-container-runtime.legacy") },
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
