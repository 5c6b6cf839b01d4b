/**
 * `xpu-ctk` — the XPU Container Toolkit's administrator CLI.
 *
 * ```sh
 * xpu-ctk config default                       # print the default config.toml
 * xpu-ctk hook create-symlinks --link libxpu.so.1::/usr/lib/libxpu.so   # OCI state on stdin
 * xpu-ctk hook update-ldcache --folder /usr/lib/x86_64-linux-gnu          # OCI state on stdin
 * ```
 *
 * @module
 */

import { processIo } from "../src/core/io/tool_io.ts";
import { exitCodeOf, failureMessage } from "../src/core/errors.ts";
import { runCtk } from "../src/ctk/ctk_entry.ts";

try {
  const code = await runCtk(Deno.args, processIo());
  Deno.exit(code);
} catch (error) {
  console.error(`xpu-ctk: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
