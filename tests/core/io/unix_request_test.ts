/** A synchronous request over a unix socket: refused, missing, too long a path, or too late. */

import { strictEqual, throws } from "node:assert/strict";
import { OsCallError } from "../../../src/core/io/libc.ts";
import { requestOverUnixSocket, RequestTimeoutError } from "../../../src/core/io/unix_request.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const exists = (path: string) => {
  try {
    return Deno.lstatSync(path).isSocket;
  } catch {
    return false;
  }
};

const ask = (path: string, timeoutMs = 2000) =>
  requestOverUnixSocket(path, new TextEncoder().encode("hello\n"), { timeoutMs, maxBytes: 64 });

Deno.test("requestOverUnixSocket: no one there is an OS error naming it", async () => {
  await withTempDir(async (dir) => {
    const code = (path: string) => {
      try {
        ask(path);
      } catch (error) {
        if (error instanceof OsCallError) return error.code;
        throw error;
      }
      return "answered";
    };
    strictEqual(code(`${dir}/missing.sock`), "ENOENT");
    // A socket file its process left behind (killed, so nothing removed it).
    const left = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: "${dir}/left.sock" }); setInterval(() => {}, 1000);`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 500 && !exists(`${dir}/left.sock`); i++) await delay(20);
    left.kill("SIGKILL");
    await left.status;
    strictEqual(code(`${dir}/left.sock`), "ECONNREFUSED");
    strictEqual(code(`${dir}/${"x".repeat(120)}.sock`), "ENAMETOOLONG");
  });
});

Deno.test("requestOverUnixSocket: a listener that never answers runs into the deadline", async () => {
  await withTempDir((dir) => {
    // The kernel takes the connection and the request; no one reads or answers.
    const listener = Deno.listen({ transport: "unix", path: `${dir}/silent.sock` });
    try {
      const started = performance.now();
      throws(() => ask(`${dir}/silent.sock`, 200), RequestTimeoutError);
      strictEqual(performance.now() - started >= 200, true);
    } finally {
      listener.close();
    }
    return Promise.resolve();
  });
});
