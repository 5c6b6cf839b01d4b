/**
 * The absolute program path the shim writes into a hook, or the config error that says why there
 * is none.
 *
 * @module
 */

import { SYSTEM_CONFIG_PATH } from "../core/config/config_file.ts";
import { ConfigError } from "../core/errors.ts";
import { resolveHookProgram, STANDARD_BIN_DIRS } from "../core/io/executable_lookup.ts";
import type { ModeContext } from "./mode_edit.ts";

/**
 * The absolute path of a hook's program, looked up in the shim's own `PATH` and the standard
 * dirs: a hook is never written with a relative path or a program that is not there.
 *
 * @param configured the config's value of `key`
 * @param key the config key, as messages name it (`[xpu-ctk] path`)
 * @throws {ConfigError} naming the key and the fix
 */
export function hookProgram(configured: string, key: string, ctx: ModeContext): string {
  const resolved = resolveHookProgram(configured, {
    path: ctx.env.PATH,
    isExecutable: (path) => ctx.fs.isExecutableFile(path),
  });
  if (resolved.ok) return resolved.path;
  const file = ctx.configPath ?? SYSTEM_CONFIG_PATH;
  const problem = resolved.problem === "relative"
    ? `${key} is "${configured}", a relative path, which runc would resolve in the ` +
      `container's directory`
    : configured.startsWith("/")
    ? `${key} is "${configured}", which is not an executable file`
    : `${key} is "${configured}", which is not an executable in PATH or ` +
      STANDARD_BIN_DIRS.join(", ");
  throw new ConfigError(
    `Cannot add the container's hook: ${problem}: set ${key} in "${file}" to the absolute ` +
      `path of the installed program`,
    { path: file },
  );
}
