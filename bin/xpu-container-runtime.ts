/**
 * `xpu-container-runtime` — the OCI runtime shim. Engines (docker, containerd, cri-o, podman) run
 * it in place of runc with runc's argv. On `create` it edits the bundle's `config.json` so the
 * container gets the XPU devices it asked for; every command is then handed, unchanged, to the
 * low-level runtime by `execve` (same PID, same file descriptors).
 *
 * ```sh
 * xpu-container-runtime --root /run/runc --log log.json --log-format json create --bundle B ID
 * ```
 *
 * It never writes to stdout, but for `--version`: its own version line, then the low-level
 * runtime's `--version` output (the argv is handed over as always). Errors go to the `--log`
 * file and to stderr, and exit 1.
 *
 * @module
 */

import { exitCodeOf, failureMessage } from "../src/core/errors.ts";
import { currentArgv0, execve } from "../src/core/io/process.ts";
import { runShim } from "../src/runtime/shim.ts";

/** All of `text` to stdout, before the exec: only `--version` writes there. */
function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

try {
  await runShim(
    {
      args: Deno.args,
      env: Deno.env.toObject(),
      cwd: Deno.cwd(),
      executableName: currentArgv0(),
      stdout: writeStdout,
    },
    execve,
  );
} catch (error) {
  console.error(`xpu-container-runtime: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
