import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import {
  encodeMuxFrames,
  Multiplexer,
  MUX_MAX_PAYLOAD,
  MUX_WRITE_CHUNK,
  MuxFrameReader,
  PLUGIN_SERVICE_CONN,
  RUNTIME_SERVICE_CONN,
} from "../../src/nri/multiplex.ts";
import { WireError } from "../../src/nri/protobuf_wire.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { memoryStreamPair } from "../helpers/memory_stream.ts";

const header = (conn: number, length: number) => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(0, conn);
  new DataView(out.buffer).setUint32(4, length);
  return [...out];
};

Deno.test("multiplex frames: 8-byte header (conn id, length, big-endian), then the payload", async (t) => {
  const cases: { name: string; input: [number, number]; expected: number[][] }[] = [
    { name: "nothing to send: no frame", input: [1, 0], expected: [] },
    { name: "a small write: one frame", input: [2, 3], expected: [[2, 3]] },
    { name: "exactly one chunk", input: [1, MUX_WRITE_CHUNK], expected: [[1, MUX_WRITE_CHUNK]] },
    {
      name: "a big write: chunks of 4 KiB, the rest last",
      input: [1, 2 * MUX_WRITE_CHUNK + 5],
      expected: [[1, MUX_WRITE_CHUNK], [1, MUX_WRITE_CHUNK], [1, 5]],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const payload = Uint8Array.from({ length: c.input[1] }, (_, i) => i % 251);
      const encoded = encodeMuxFrames(c.input[0], payload);
      const frames = new MuxFrameReader().push(encoded);
      deepStrictEqual(frames.map((f) => [f.connId, f.payload.length]), c.expected);
      deepStrictEqual(
        new Uint8Array(frames.flatMap((f) => [...f.payload])),
        payload,
        "the payload survives",
      );
      if (c.expected.length > 0) {
        deepStrictEqual([...encoded.subarray(0, 8)], header(...c.expected[0] as [number, number]));
      }
    });
  }
  await t.step("the connection ids are NRI's: plugin service 1, runtime service 2", () => {
    deepStrictEqual([PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN], [1, 2]);
  });
  await t.step("the reader takes frames cut anywhere", () => {
    const stream = new Uint8Array([...header(1, 2), 7, 8, ...header(2, 0), ...header(2, 1), 9]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new MuxFrameReader();
      const frames = [...reader.push(stream.slice(0, cut)), ...reader.push(stream.slice(cut))];
      deepStrictEqual(frames.map((f) => [f.connId, [...f.payload]]), [[1, [7, 8]], [2, []], [
        2,
        [9],
      ]]);
    }
  });
  await t.step("a frame larger than a whole ttrpc message is a WireError", () => {
    assertThrowsError(
      () => new MuxFrameReader().push(new Uint8Array(header(1, MUX_MAX_PAYLOAD + 1))),
      WireError,
      "exceeds",
    );
  });
});

Deno.test("multiplexer over a stream", async (t) => {
  await t.step("routes frames to their connections; unknown ones are dropped", async () => {
    const [ours, peer] = memoryStreamPair();
    const mux = new Multiplexer(ours);
    const got: [number, number[]][] = [];
    mux.open(1, (b) => got.push([1, [...b]]));
    mux.open(2, (b) => got.push([2, [...b]]));
    const running = mux.run();
    await peer.write(new Uint8Array([...header(2, 1), 5, ...header(7, 1), 6, ...header(1, 1), 4]));
    peer.close();
    await running;
    deepStrictEqual(got, [[2, [5]], [1, [4]]]);
    ok(mux.closed);
  });

  await t.step("writes go out whole, framed, in call order", async () => {
    const [ours, peer] = memoryStreamPair();
    const mux = new Multiplexer(ours);
    const send1 = mux.open(1, () => {});
    const send2 = mux.open(2, () => {});
    await Promise.all([send1(new Uint8Array([1])), send2(new Uint8Array([2, 2]))]);
    deepStrictEqual(
      ours.written.map((w) => [...w]),
      [[...header(1, 1), 1], [...header(2, 2), 2, 2]],
    );
    mux.close();
    strictEqual(await peer.read(new Uint8Array(64)), 9);
  });

  await t.step("connection 0 is reserved", () => {
    const [ours] = memoryStreamPair();
    assertThrowsError(() => new Multiplexer(ours).open(0, () => {}), WireError, "reserved");
  });

  await t.step("a stream that ends inside a frame is an error", async () => {
    const [ours, peer] = memoryStreamPair();
    const mux = new Multiplexer(ours);
    const running = mux.run();
    await peer.write(new Uint8Array([...header(1, 4), 1, 2]));
    peer.close();
    await rejects(running, /connection ended inside a frame/);
    ok(mux.closed);
  });

  await t.step("a receiver that throws ends the run with its error", async () => {
    const [ours, peer] = memoryStreamPair();
    const mux = new Multiplexer(ours);
    mux.open(1, () => {
      throw new WireError("not ttrpc");
    });
    const running = mux.run();
    await peer.write(new Uint8Array([...header(1, 1), 0]));
    await rejects(running, /not ttrpc/);
    ok(ours.closedHere);
  });

  await t.step("close ends a run cleanly and later writes fail", async () => {
    const [ours] = memoryStreamPair();
    const mux = new Multiplexer(ours);
    const send = mux.open(1, () => {});
    const running = mux.run();
    mux.close();
    await running;
    await rejects(send(new Uint8Array([1])), /closed/);
  });
});
