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
import { errorMessage, exitCodeOf } from "../src/core/errors.ts";

const encoder = new TextEncoder();

try {
  Deno.exit(
    await cliMain(Deno.args, {
      env: Deno.env.toObject(),
      cwd: Deno.cwd(),
      readStdin: async () => await new Response(Deno.stdin.readable).text(),
      stdout: (text) => Deno.stdout.writeSync(encoder.encode(text)),
      stderr: (text) => Deno.stderr.writeSync(encoder.encode(text)),
    }),
  );
} catch (error) {
  console.error(`xpu-container-cli: ${errorMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
