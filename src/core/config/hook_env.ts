/**
 * The environment of the hooks the toolkit writes, and the check the hook programs make on the
 * one they were given.
 *
 * An OCI hook without `env` is not started with an empty environment: runc starts a
 * `createContainer` hook with the container's own, so a hostile image's `LD_PRELOAD`, `PATH` or
 * `GLIBC_TUNABLES` would decide what runs on the host, as root, before the hook's first line.
 * Every hook the toolkit writes therefore carries {@link hookEnv}; the hook programs refuse to
 * act when they were started with loader variables anyway ({@link assertHookEnv}), which is what
 * a spec or hooks file from an older version, or one written by hand, leads to.
 *
 * @module
 */

import { CONFIG_PATH_ENV } from "./config_file.ts";
import { ExecError } from "../errors.ts";
import { STANDARD_BIN_DIRS } from "../io/executable_lookup.ts";

/** The `PATH` every hook the toolkit writes runs with: the standard dirs, nothing else. */
export const HOOK_PATH: string = STANDARD_BIN_DIRS.join(":");

/** Options of {@link hookEnv}. */
export interface HookEnvOptions {
  /**
   * The absolute config file the writer itself loaded because its own environment named it (the
   * shim's `XPU_CTK_CONFIG_FILE_PATH`): passed on so the hook reads the same config. Never a value
   * from the container.
   */
  configPath?: string;
}

/**
 * The explicit, minimal `env` of a hook: `PATH`, and the config file when one is given.
 *
 * @example
 * ```ts
 * hookEnv(); // ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
 * ```
 */
export function hookEnv(options: HookEnvOptions = {}): string[] {
  const env = [`PATH=${HOOK_PATH}`];
  if (options.configPath !== undefined) env.push(`${CONFIG_PATH_ENV}=${options.configPath}`);
  return env;
}

/**
 * Variables that make the dynamic loader (or glibc on its behalf) load code, change how it loads
 * it, or write files where they say: the ones glibc itself ignores in a privileged (`AT_SECURE`)
 * process that matter to a hook. Any other `LD_*` name is refused too (see
 * {@link loaderVariablesIn}).
 */
export const LOADER_VARIABLES: Readonly<Record<string, string>> = {
  LD_PRELOAD: "loads the named shared objects into the process",
  LD_AUDIT: "loads the named audit shared objects into the process",
  LD_LIBRARY_PATH: "loads libraries from the named directories first",
  GLIBC_TUNABLES: "reconfigures the loader and malloc (CVE-2023-4911)",
  GCONV_PATH: "loads iconv modules from the named directories",
};

/**
 * The loader variables present in `env` (set, even to an empty value), in a stable order: the
 * names of {@link LOADER_VARIABLES}, then any other `LD_*` name, sorted.
 *
 * @example
 * ```ts
 * loaderVariablesIn({ PATH: "/bin", LD_PRELOAD: "/x.so" }); // ["LD_PRELOAD"]
 * ```
 */
export function loaderVariablesIn(env: Readonly<Record<string, string | undefined>>): string[] {
  const present = (name: string) => env[name] !== undefined;
  const known = Object.keys(LOADER_VARIABLES).filter(present);
  const other = Object.keys(env)
    .filter((name) => name.startsWith("LD_") && !(name in LOADER_VARIABLES) && present(name))
    .sort();
  return [...known, ...other];
}

/**
 * Refuses to go on when a hook program was started with loader variables: its environment came
 * from the container (a hook written without `env`), so nothing it would do can be trusted.
 *
 * @param tool how the hook is named in the message, e.g. `xpu-ctk hook`
 * @throws {ExecError} naming the variables and the fix
 */
export function assertHookEnv(
  env: Readonly<Record<string, string | undefined>>,
  tool: string,
): void {
  const found = loaderVariablesIn(env);
  if (found.length === 0) return;
  const first = found[0];
  const why = LOADER_VARIABLES[first] ?? "changes how the dynamic loader works";
  throw new ExecError(
    `Refusing to run ${tool} with ${found.join(", ")} set (${first} ${why}): the hook was ` +
      `started with the container's environment: regenerate the spec / hooks with an explicit ` +
      `env ("xpu-ctk cdi generate", "xpu-ctk runtime configure", or reinstall the toolkit)`,
  );
}
