/**
 * Where the legacy hook finds `xpu-container-cli`, the one rule the hook follows and `xpu-ctk
 * doctor` checks.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { lookPath } from "../io/executable_lookup.ts";
import { hostPath } from "../path/root_path.ts";

/**
 * Where `xpu-container-cli` is: `[xpu-container-cli] path` when set (a bare name is looked up in
 * `PATH`), else the first `PATH` dir that has it under the driver root, else
 * `/usr/bin/xpu-container-cli`.
 */
export function resolveCliPath(
  config: Config,
  options: { path?: string; isExecutable: (path: string) => boolean },
): string {
  const configured = config.cli.path;
  if (configured.includes("/")) return configured;
  if (configured) return lookPath(configured, options) ?? configured;
  for (const dir of (options.path ?? "").split(":").filter((d) => d.startsWith("/"))) {
    const candidate = hostPath(config.cli.root, `${dir}/xpu-container-cli`);
    if (options.isExecutable(candidate)) return candidate;
  }
  return "/usr/bin/xpu-container-cli";
}
