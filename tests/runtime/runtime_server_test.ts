/**
 * The runtime server in-process, with a fake `prepare`: what each request is answered with, in
 * which working directory it runs, and the socket paths it refuses to listen on.
 */

import { deepStrictEqual, match, rejects, strictEqual, throws } from "node:assert/strict";
import { RequestError, UsageError } from "../../src/core/errors.ts";
import type { ExecRequest } from "../../src/core/io/process.ts";
import type { Logger } from "../../src/core/io/log.ts";
import { serveRuntime } from "../../src/runtime/runtime_server.ts";
import { askFromWorker } from "../helpers/runtime_server_client.ts";
import type { ShimInput } from "../../src/runtime/shim.ts";
import { runtimeServerSocket } from "../../src/ctk/runtime_server_command.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { VERSION } from "../../src/core/version.ts";

function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return {
    lines,
    log: {
      debug: write("debug"),
      info: write("info"),
      warn: write("warn"),
      error: write("error"),
      enabled: () => true,
    },
  };
}

/** Runs a server on `socket` with `prepare` while `fn` runs. */
async function withServer(
  socket: string,
  prepare: (input: ShimInput) => Promise<ExecRequest>,
  fn: (lines: string[]) => Promise<void>,
): Promise<void> {
  const { log, lines } = memoryLog();
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<void>();
  const served = serveRuntime({
    socketPath: socket,
    log,
    signal: controller.signal,
    prepare,
    onListening: resolve,
  });
  await Promise.race([listening, served]);
  try {
    await fn(lines);
  } finally {
    controller.abort();
    await served;
  }
}

const request = (cwd: string, args = ["--root", "/r", "create", "--bundle", "b", "c1"]) => ({
  args,
  env: { PATH: "/usr/bin" },
  cwd,
  executableName: "xpu-container-runtime",
  version: VERSION,
  mountNamespace: Deno.readLinkSync("/proc/self/ns/mnt"),
});

Deno.test("runtime server: a create is prepared in the shim's working directory", async () => {
  const home = Deno.cwd();
  await withTempDir(async (dir) => {
    const socket = `${dir}/run/runtime.sock`;
    const seen: { cwd: string; args: readonly string[] }[] = [];
    await withServer(socket, (input) => {
      seen.push({ cwd: Deno.cwd(), args: input.args });
      deepStrictEqual(Object.keys(input).sort(), [
        "args",
        "cwd",
        "env",
        "executableName",
        "stdout",
      ]);
      if (input.args.includes("bad")) throw new RequestError('Cannot use XPU "7": no such device');
      return Promise.resolve({
        // A runtime found through a relative PATH entry.
        path: input.args.includes("relative") ? "bin/runc" : "/usr/sbin/runc",
        argv: ["/usr/sbin/runc", ...input.args],
        env: {},
      });
    }, async (lines) => {
      strictEqual((Deno.statSync(`${dir}/run`).mode ?? 0) & 0o777, 0o700);
      strictEqual((Deno.statSync(socket).mode ?? 0) & 0o777, 0o600);
      deepStrictEqual(await askFromWorker(socket, request(dir)), {
        kind: "exec",
        path: "/usr/sbin/runc",
        argv: ["/usr/sbin/runc", "--root", "/r", "create", "--bundle", "b", "c1"],
        env: {},
      });
      deepStrictEqual(seen, [{ cwd: dir, args: request(dir).args }]);
      strictEqual(Deno.cwd(), home, "the server went back to its own working directory");
      deepStrictEqual(
        await askFromWorker(socket, request(dir, ["create", "--bundle", "b", "bad"])),
        {
          kind: "failed",
          message: 'xpu-container-runtime: Cannot use XPU "7": no such device',
          code: 1,
        },
      );
      // What it does not serve: the shim does it itself.
      const state = await askFromWorker(socket, request(dir, ["state", "c1"]));
      deepStrictEqual(state, { kind: "unavailable", reason: "only create is served" });
      const gone = await askFromWorker(socket, request(`${dir}/missing`));
      strictEqual(gone.kind, "unavailable");
      match((gone as { reason: string }).reason, /cannot enter the shim's working directory/);
      const relative = await askFromWorker(socket, request(dir, ["create", "relative"]));
      strictEqual((relative as { path: string }).path, `${dir}/bin/runc`);
      // Another version (a server not restarted after an upgrade), another mount namespace:
      // not served.
      const old = await askFromWorker(socket, { ...request(dir), version: "0.0.9" });
      match(JSON.stringify(old), /"unavailable".*restart the server after an upgrade/);
      const elsewhere = await askFromWorker(socket, { ...request(dir), mountNamespace: "mnt:[1]" });
      match(JSON.stringify(elsewhere), /"unavailable".*run the server on the host/);
      strictEqual(seen.length, 3);
      match(
        lines.join("\n"),
        /info: Served create of "c1" in [0-9.]+ ms: exec "\/usr\/sbin\/runc"/,
      );
      match(lines.join("\n"), /info: Refused create of "bad"/);
    });
    // Stopped: the socket is gone, and a shim finds no server.
    strictEqual((await askFromWorker(socket, request(dir))).kind, "unavailable");
  });
});

Deno.test("runtime server: a client that sends nothing holds up no one", async () => {
  await withTempDir(async (dir) => {
    const socket = `${dir}/run/runtime.sock`;
    await withServer(
      socket,
      (input) =>
        Promise.resolve({
          path: "/usr/sbin/runc",
          argv: ["/usr/sbin/runc", ...input.args],
          env: {},
        }),
      async () => {
        const silent = await Deno.connect({ transport: "unix", path: socket });
        try {
          // Well within the 5 s the server waits for the silent one's request.
          const answer = await askFromWorker(socket, request(dir), 2000);
          strictEqual(answer.kind, "exec", JSON.stringify(answer));
        } finally {
          silent.close();
        }
      },
    );
  });
});

Deno.test("runtime server: an answer larger than the shim's first buffer comes whole", async () => {
  await withTempDir(async (dir) => {
    const socket = `${dir}/run/runtime.sock`;
    const big = "x".repeat(200 * 1024);
    await withServer(socket, (input) =>
      Promise.resolve({
        path: "/usr/sbin/runc",
        argv: ["/usr/sbin/runc", ...input.args],
        env: { BIG: big },
      }), async () => {
      const answer = await askFromWorker(socket, request(dir));
      strictEqual(answer.kind, "exec");
      strictEqual((answer as { env: Record<string, string> }).env.BIG, big);
    });
  });
});

Deno.test("runtime server: refuses a socket path the shims would not trust or that is taken", async () => {
  await withTempDir(async (dir) => {
    const never = () => Promise.reject(new Error("not reached"));
    const refused = async (socket: string, pattern: RegExp) => {
      const { log } = memoryLog();
      await rejects(
        serveRuntime({
          socketPath: socket,
          log,
          signal: new AbortController().signal,
          prepare: never,
        }),
        (e: unknown) => e instanceof UsageError && pattern.test(e.message),
      );
    };
    Deno.mkdirSync(`${dir}/open`, { mode: 0o777 });
    Deno.chmodSync(`${dir}/open`, 0o777);
    await refused(
      `${dir}/open/runtime.sock`,
      /is writable by others: the shims would not trust it/,
    );
    Deno.mkdirSync(`${dir}/run`, { mode: 0o700 });
    Deno.writeTextFileSync(`${dir}/run/runtime.sock`, "");
    await refused(`${dir}/run/runtime.sock`, /something else than a socket is there/);
    Deno.removeSync(`${dir}/run/runtime.sock`);
    await refused("run/runtime.sock", /give an absolute socket path/);
    await withServer(`${dir}/run/runtime.sock`, never, async () => {
      await refused(`${dir}/run/runtime.sock`, /another runtime server listens there/);
    });
  });
});

Deno.test("runtimeServerSocket: the flag, the variable, the default; never relative", () => {
  strictEqual(runtimeServerSocket({}, {}), "/run/xpu-container-toolkit/runtime.sock");
  strictEqual(runtimeServerSocket({}, { XPU_RUNTIME_SERVER_SOCKET: "/run/a.sock" }), "/run/a.sock");
  strictEqual(
    runtimeServerSocket({ socket: "/run/b.sock" }, { XPU_RUNTIME_SERVER_SOCKET: "/run/a.sock" }),
    "/run/b.sock",
  );
  throws(() => runtimeServerSocket({ socket: "x.sock" }, {}), UsageError);
});
