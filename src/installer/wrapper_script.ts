/**
 * The wrapper scripts the installer puts in front of each executable: a `/bin/sh` script that sets
 * the toolkit's environment and execs `<name>.real`. Rendered by a pure function from a template
 * whose `@destDir@` is the toolkit dir; every value is shell-quoted.
 *
 * @module
 */

import { join } from "node:path";
import { renderFastPath } from "../core/fast_path/fast_path_script.ts";
import { shellQuote } from "../core/text/shell_quote.ts";

/** The placeholder for the toolkit dir in wrapper templates. */
export const DEST_DIR = "@destDir@";

/** One wrapper. */
export interface WrapperTemplate {
  /** The wrapper's file name; it execs `@destDir@/<name>.real`. */
  name: string;
  /** Environment set before the exec (values may hold `@destDir@`); `PATH` gets the dir prepended. */
  env: Readonly<Record<string, string>>;
  /**
   * For runtimes: the kernel module whose absence means "no XPU driver here", and the low-level
   * runtime to exec directly then (so containers still start).
   */
  moduleCheck?: { module: string; fallback: string };
  /**
   * For runtimes: the fast-path record (may hold `@destDir@`). The wrapper is then a bash script
   * that hands every call but `create` to the low-level runtime itself (see `fast_path_script.ts`).
   */
  fastPath?: { record: string };
}

export { shellQuote };

/**
 * Renders a wrapper for the toolkit dir `destDir`.
 *
 * @example
 * ```ts
 * renderWrapper({ name: "xpu-ctk", env: { XPU_CTK_CONFIG_FILE_PATH: "@destDir@/c.toml" } }, "/opt/t");
 * // "#!/bin/sh\n…\nexport PATH='/opt/t':\"$PATH\"\n…exec '/opt/t/xpu-ctk.real' \"$@\"\n"
 * ```
 */
export function renderWrapper(template: WrapperTemplate, destDir: string): string {
  const dir = destDir.replace(/\/+$/, "");
  const fill = (value: string) => value.replaceAll(DEST_DIR, dir);
  const lines = [
    template.fastPath ? "#!/bin/bash" : "#!/bin/sh",
    `# ${template.name}: installed by xpu-ctk-installer; runs ${template.name}.real with the toolkit's environment.`,
  ];
  const check = template.moduleCheck;
  if (check && check.module !== "") {
    // The kernel lists modules with "_" where their names may have "-" (nvidia-uvm: nvidia_uvm).
    const module = check.module.replaceAll("-", "_");
    lines.push(
      // /sys/module first: a shell builtin, so the usual case (driver loaded) forks nothing.
      `if [ ! -e ${shellQuote(join("/sys/module", module))} ] && ` +
        `! grep -q ${shellQuote(`^${module} `)} /proc/modules 2>/dev/null; then`,
      `  echo ${
        shellQuote(
          `${template.name}: kernel module ${check.module} is not loaded: running ${check.fallback} directly`,
        )
      } >&2`,
      `  exec ${shellQuote(check.fallback)} "$@"`,
      "fi",
    );
  }
  lines.push(`export PATH=${shellQuote(dir)}:"$PATH"`);
  for (const name of Object.keys(template.env).sort()) {
    lines.push(`export ${name}=${shellQuote(fill(template.env[name]))}`);
  }
  if (template.fastPath) lines.push(...renderFastPath(shellQuote(fill(template.fastPath.record))));
  lines.push(`exec ${shellQuote(`${dir}/${template.name}.real`)} "$@"`);
  return lines.join("\n") + "\n";
}
