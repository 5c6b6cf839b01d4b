/**
 * The engines xpu-ctk wires, one adapter each. This list is the only place besides each engine's
 * own module that names an engine: `xpu-ctk runtime`, the restart, the installer and the revert
 * memories look an engine up here.
 *
 * Adding an engine is adding its module — one exported {@link EngineAdapter} value (see
 * `engine_adapter.ts`: its defaults, how it restarts, its plans, its default runtime) — and its
 * entry in {@link ENGINES}. Its name then works for `--runtime` and `RUNTIME`, its variables
 * (`<NAME>_CONFIG`, …) are read, and the help and errors list it.
 *
 * @module
 */

import { CONTAINERD } from "./containerd.ts";
import { CRIO } from "./crio.ts";
import { DOCKER } from "./docker.ts";
import type { EngineAdapter } from "./engine_adapter.ts";

/** Every engine, in the order help and messages list them. */
export const ENGINES: readonly EngineAdapter<unknown>[] = [DOCKER, CONTAINERD, CRIO];

/** The engine the installer wires when none is named. */
export const DEFAULT_ENGINE: EngineAdapter<unknown> = DOCKER;

/** The engine called `name`; `undefined` for a name no engine has. */
export function findEngine(name: string): EngineAdapter<unknown> | undefined {
  return ENGINES.find((engine) => engine.name === name);
}

/**
 * The engines' names as a message or help lists the choice: `docker, containerd or crio`.
 *
 * @example
 * ```ts
 * `pass --runtime ${engineChoices()}`; // "pass --runtime docker, containerd or crio"
 * ```
 */
export function engineChoices(): string {
  const names = ENGINES.map((engine) => engine.name);
  return names.length <= 1
    ? names.join("")
    : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/**
 * How the revert memories of `engine`'s files keep a key's old value (a memory names its engine;
 * one of an engine no adapter has keeps JSON values).
 */
export function memoryValuesOf(engine: string): "json" | "toml" {
  return findEngine(engine)?.memoryValues ?? "json";
}
