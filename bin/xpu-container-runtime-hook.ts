/**
 * `xpu-container-runtime-hook` (also installed as `xpu-container-toolkit`) — the OCI prestart hook
 * of legacy mode. `xpu-container-runtime` adds it to containers that ask for XPUs; cri-o and podman
 * can run it from a hooks.d file. It reads the OCI state on stdin and execs
 * `xpu-container-cli configure` for the devices the container asked for.
 *
 * ```sh
 * xpu-container-runtime-hook prestart < state.json
 * xpu-container-runtime-hook -config /etc/xpu-container-runtime/config.toml prestart < state.json
 * ```
 *
 * Failures are one line on stderr (runc shows it in "error running hook"), exit 1; usage errors
 * exit 2.
 *
 * @module
 */

import { processIo } from "../src/core/io/tool_io.ts";
import { exitCodeOf, failureMessage } from "../src/core/errors.ts";
import { execve } from "../src/core/io/process.ts";
import { hookMain } from "../src/hook/main.ts";

try {
  const outcome = await hookMain(Deno.args, processIo());
  if ("exec" in outcome) execve(outcome.exec);
  else Deno.exit(outcome.exitCode);
} catch (error) {
  console.error(`xpu-container-runtime-hook: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
