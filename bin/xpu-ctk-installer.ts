/**
 * `xpu-ctk-installer` — puts the XPU Container Toolkit on a host and takes it off again.
 *
 * ```sh
 * xpu-ctk-installer install --toolkit-root /usr/local/xpu/toolkit --source-dir ./dist/x86_64-unknown-linux-gnu
 * xpu-ctk-installer delete --toolkit-root /usr/local/xpu/toolkit
 * xpu-ctk-installer /usr/local/xpu --runtime docker      # the DaemonSet entrypoint: set up, wait, revert
 * ```
 *
 * @module
 */

import { exitCodeOf, failureMessage } from "../src/core/errors.ts";
import { installerMain } from "../src/installer/main.ts";
import { processIo } from "../src/core/io/tool_io.ts";

/**
 * Where the toolkit's executables are: beside this one, or, for the bundled build (which runs on
 * `lib/deno`), the launchers' dir above `lib/`.
 */
function executableDir(): string {
  const executable = Deno.execPath();
  const dir = executable.slice(0, executable.lastIndexOf("/")) || "/";
  if (!dir.endsWith("/lib")) return dir;
  const above = dir.slice(0, -"/lib".length) || "/";
  try {
    Deno.statSync(`${above}/lib/js/xpu-ctk-installer.js`);
    return above;
  } catch {
    return dir;
  }
}

try {
  const code = await installerMain(Deno.args, processIo(), executableDir());
  Deno.exit(code);
} catch (error) {
  console.error(`xpu-ctk-installer: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
