/**
 * A `xpu-ctk runtime-server` for the benchmarks, started as its own process.
 *
 * @module
 */

/**
 * Starts `argv` (an `xpu-ctk`) as `runtime-server --socket socket`; resolves once the socket is
 * there.
 *
 * @throws when it does not listen within 10 s (the process is killed)
 */
export async function startRuntimeServer(
  argv: readonly string[],
  socket: string,
  env: Record<string, string>,
): Promise<Deno.ChildProcess> {
  const [program, ...lead] = argv;
  const child = new Deno.Command(program, {
    args: [...lead, "runtime-server", "--socket", socket],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let waited = 0; waited < 10_000; waited += 20) {
    try {
      if (Deno.lstatSync(socket).isSocket) return child;
    } catch {
      // Not yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`the runtime server (${argv.join(" ")}) did not listen on "${socket}"`);
}

/** Stops a server {@link startRuntimeServer} started (SIGTERM) and waits for it. */
export async function stopRuntimeServer(server: Deno.ChildProcess): Promise<void> {
  server.kill("SIGTERM");
  await server.status;
}
