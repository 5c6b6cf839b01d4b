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
 * On `create`, when a runtime server listens (`xpu-ctk runtime-server`, see
 * `src/runtime/runtime_server_protocol.ts`), the server does the work and this process only
 * execs what it answers; without one, the work is done here.
 *
 * @module
 */

import { exitCodeOf, failureMessage } from "../src/core/errors.ts";
import { currentArgv0, execve, ownMountNamespace } from "../src/core/io/process.ts";
import { asksForVersion, parseRuncArgs } from "../src/core/oci/runc_args.ts";
import { VERSION } from "../src/core/version.ts";
import { askRuntimeServer, serverSocketPath } from "../src/runtime/runtime_server_protocol.ts";

/** All of `text` to stdout, before the exec: only `--version` writes there. */
function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

try {
  const args = Deno.args;
  const env = Deno.env.toObject();
  const input = { args, env, cwd: Deno.cwd(), executableName: currentArgv0() };
  let serverNote: string | undefined;
  // On create, a runtime server (`xpu-ctk runtime-server`), when one listens, does the work in
  // a warm process; everything else, and a create it does not serve, is done here.
  // `--version create …` prints the shim's version line first: the shim's own job.
  const served = parseRuncArgs(args).isCreate && !asksForVersion(args);
  const socket = served ? serverSocketPath(env) : undefined;
  if (socket !== undefined) {
    const answer = askRuntimeServer(socket, {
      ...input,
      args: [...args],
      version: VERSION,
      mountNamespace: ownMountNamespace(),
    });
    if (answer.kind === "exec") execve(answer);
    if (answer.kind === "failed") {
      console.error(answer.message);
      Deno.exit(answer.code);
    }
    serverNote = answer.reason;
  }
  // Loaded only now: a create the server served never compiles the config and create modules.
  const { runShim } = await import("../src/runtime/shim.ts");
  await runShim({ ...input, stdout: writeStdout, serverNote }, execve);
} catch (error) {
  console.error(`xpu-container-runtime: ${failureMessage(error)}`);
  Deno.exit(exitCodeOf(error));
}
