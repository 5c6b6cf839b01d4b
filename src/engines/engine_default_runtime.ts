/**
 * Which low-level runtime an engine runs containers with by default, read from its config: what
 * the installed shim should run underneath (first in `[xpu-container-runtime] runtimes`) and what
 * the runtime wrappers fall back to when the driver is not loaded. Pure over the config's text;
 * each engine's adapter reads its own config.
 *
 * @module
 */

import { quoted, UsageError } from "../core/errors.ts";
import { engineChoices, findEngine } from "./engines.ts";

/**
 * The engine's default low-level runtime (a name looked up in PATH, or a path), or `undefined`
 * when the config does not say, or its default is one of `ours` (the toolkit's own handlers).
 *
 * @param engine an engine's name (`engines.ts`)
 * @param text the engine's main config (`null`: missing, so the engine's built-in default)
 * @throws {ConfigError} when the config does not parse
 * @throws {UsageError} for a name no engine has
 * @example
 * ```ts
 * engineDefaultRuntime("docker", '{"default-runtime": "crun", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}',
 *   "/etc/docker/daemon.json", ["xpu"]); // "/usr/bin/crun"
 * ```
 */
export function engineDefaultRuntime(
  engine: string,
  text: string | null,
  path: string,
  ours: readonly string[],
): string | undefined {
  const adapter = findEngine(engine);
  if (adapter === undefined) {
    throw new UsageError(
      `Cannot find the default runtime: unknown runtime ${quoted(engine)}: pass --runtime ` +
        engineChoices(),
    );
  }
  const found = adapter.defaultRuntime(text, path);
  return found === undefined || ours.includes(found.name) ? undefined : found.program;
}
