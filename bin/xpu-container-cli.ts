/**
 * `xpu-container-cli` — the XPU Container Toolkit's device worker.
 *
 * ```sh
 * xpu-container-cli info                        # devices, control nodes, driver version and files
 * xpu-container-cli --root /run/xpu/driver list --json
 * xpu-container-cli --load-kmods configure --device=0 --compute --utility --pid=4242 /run/c/rootfs
 * ```
 *
 * `configure` is what the legacy prestart hook runs; failures are one line on stderr, exit 1.
 *
 * @module
 */

import { cliMain } from "../src/cli/main.ts";
import { processIo } from "../src/core/io/tool_io.ts";
import { exitCodeOf, failureMessage } from "../src/core/errors.ts";

try {
  Deno.exit(
    await cliMain(Deno.args, processIo()),
  );
} catch (error) {
  console.error(`xpu-container-cli: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
