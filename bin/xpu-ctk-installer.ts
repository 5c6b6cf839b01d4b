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

const executable = Deno.execPath();
try {
  const code = await installerMain(
    Deno.args,
    processIo(),
    executable.slice(0, executable.lastIndexOf("/")) || "/",
  );
  Deno.exit(code);
} catch (error) {
  console.error(`xpu-ctk-installer: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
