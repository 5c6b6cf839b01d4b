import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { connectUnixStream, unixByteStream } from "../../../src/core/io/unix_stream.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

Deno.test("unix stream: bytes both ways, the end seen, errors from the OS", async (t) => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.sock`;

    await t.step("a missing socket is the OS error", async () => {
      await rejects(connectUnixStream(path), Deno.errors.NotFound);
    });

    await t.step("write all, read back, close ends the peer's reads", async () => {
      const listener = Deno.listen({ transport: "unix", path });
      const accepted = listener.accept();
      const client = await connectUnixStream(path);
      const server = unixByteStream(await accepted);
      // Larger than a socket buffer: write must loop until every byte is out.
      const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => i % 253);
      const sent = client.write(big);
      const got = new Uint8Array(big.length);
      let at = 0;
      const buffer = new Uint8Array(64 * 1024);
      while (at < big.length) {
        const n = await server.read(buffer);
        ok(n !== null);
        got.set(buffer.subarray(0, n), at);
        at += n;
      }
      await sent;
      deepStrictEqual(got, big);
      client.close();
      client.close(); // twice is harmless
      strictEqual(await server.read(buffer), null);
      server.close();
      listener.close();
    });
  });
});
