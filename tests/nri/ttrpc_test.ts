import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { WireError } from "../../src/nri/protobuf_wire.ts";
import {
  decodeTtrpcRequest,
  decodeTtrpcResponse,
  encodeTtrpcMessage,
  encodeTtrpcRequest,
  encodeTtrpcResponse,
  MAX_STATUS_MESSAGE,
  StatusCode,
  TTRPC_MAX_PAYLOAD,
  TtrpcClient,
  type TtrpcHandler,
  TtrpcMessageReader,
  TtrpcMessageType,
  TtrpcServer,
  TtrpcStatusError,
} from "../../src/nri/ttrpc.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const text = (s: string) => [...new TextEncoder().encode(s)];
const bytes = (...parts: number[][]) => new Uint8Array(parts.flat());

Deno.test("ttrpc framing: the 10-byte header, byte for byte", async (t) => {
  const cases: {
    name: string;
    input: Parameters<typeof encodeTtrpcMessage>[0];
    expected: number[];
  }[] = [
    {
      name: "a request on stream 1",
      input: { streamId: 1, type: TtrpcMessageType.REQUEST, flags: 0, payload: bytes([7, 8]) },
      expected: [0, 0, 0, 2, 0, 0, 0, 1, 1, 0, 7, 8],
    },
    {
      name: "a response on stream 0x01020305 with flags, lengths big-endian",
      input: {
        streamId: 0x01020305,
        type: TtrpcMessageType.RESPONSE,
        flags: 4,
        payload: new Uint8Array(0x0102),
      },
      expected: [0, 0, 1, 2, 1, 2, 3, 5, 2, 4, ...Array(0x0102).fill(0)],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual([...encodeTtrpcMessage(c.input)], c.expected));
  }
  await t.step("a payload over 4 MiB is refused", () => {
    assertThrowsError(
      () =>
        encodeTtrpcMessage({
          streamId: 1,
          type: 1,
          flags: 0,
          payload: new Uint8Array(TTRPC_MAX_PAYLOAD + 1),
        }),
      WireError,
      "exceeds the maximum",
    );
  });
});

Deno.test("ttrpc framing: the reader cuts messages at any chunk boundary", async (t) => {
  const one = encodeTtrpcMessage({ streamId: 3, type: 2, flags: 0, payload: bytes(text("abc")) });
  const two = encodeTtrpcMessage({ streamId: 5, type: 1, flags: 1, payload: new Uint8Array() });
  const stream = new Uint8Array([...one, ...two]);
  for (let cut = 0; cut <= stream.length; cut++) {
    await t.step(`split at byte ${cut}`, () => {
      const reader = new TtrpcMessageReader();
      const got = [...reader.push(stream.slice(0, cut)), ...reader.push(stream.slice(cut))];
      deepStrictEqual(got.map((m) => [m.streamId, m.type, m.flags, [...m.payload]]), [
        [3, 2, 0, text("abc")],
        [5, 1, 1, []],
      ]);
      strictEqual(reader.buffered, 0);
    });
  }
  await t.step("a header announcing more than 4 MiB is a WireError", () => {
    const reader = new TtrpcMessageReader();
    assertThrowsError(
      () => reader.push(bytes([0x00, 0x40, 0x00, 0x01, 0, 0, 0, 1, 1, 0])),
      WireError,
      "exceeds",
    );
  });
});

Deno.test("ttrpc envelopes match request.proto and the rpc Status", async (t) => {
  await t.step("Request { service 1, method 2, payload 3, timeout_nano 4 }", () => {
    const encoded = encodeTtrpcRequest({
      service: "s.S",
      method: "M",
      payload: bytes([9]),
      timeoutNano: 300,
    });
    deepStrictEqual(
      [...encoded],
      [0x0a, 3, ...text("s.S"), 0x12, 1, ...text("M"), 0x1a, 1, 9, 0x20, 0xac, 0x02],
    );
    deepStrictEqual(decodeTtrpcRequest(encoded), {
      service: "s.S",
      method: "M",
      payload: bytes([9]),
      timeoutNano: 300,
    });
  });
  await t.step("Request metadata (5) is skipped", () => {
    const input = bytes([0x0a, 1, ...text("s")], [0x2a, 4, 0x0a, 0, 0x12, 0], [0x12, 1, 0x4d]);
    deepStrictEqual(decodeTtrpcRequest(input), {
      service: "s",
      method: "M",
      payload: new Uint8Array(),
      timeoutNano: 0,
    });
  });
  await t.step("Response { status 1 { code 1, message 2 }, payload 2 }", () => {
    const encoded = encodeTtrpcResponse({
      status: { code: StatusCode.UNKNOWN, message: "no" },
      payload: new Uint8Array(),
    });
    deepStrictEqual([...encoded], [0x0a, 6, 0x08, 2, 0x12, 2, ...text("no")]);
    deepStrictEqual(decodeTtrpcResponse(encoded), {
      status: { code: 2, message: "no" },
      payload: new Uint8Array(),
    });
  });
  await t.step("an OK response keeps an empty status, as the Go server writes it", () => {
    const encoded = encodeTtrpcResponse({
      status: { code: 0, message: "" },
      payload: bytes([1, 2]),
    });
    deepStrictEqual([...encoded], [0x0a, 0, 0x12, 2, 1, 2]);
  });
  await t.step("status details (3) are skipped", () => {
    const input = bytes([0x0a, 7, 0x08, 5, 0x1a, 3, 0x0a, 1, 0x41]);
    deepStrictEqual(decodeTtrpcResponse(input).status, { code: 5, message: "" });
  });
});

/** A client and a server wired to each other directly, each send one whole message. */
function pair(handlers: Map<string, TtrpcHandler>) {
  const toServer: Uint8Array[] = [];
  const toClient: Uint8Array[] = [];
  // Each side hands its frames to the other at once; `server` exists before any call is made.
  const client: TtrpcClient = new TtrpcClient((frame) => {
    toServer.push(frame);
    server.receive(frame);
    return Promise.resolve();
  });
  const server = new TtrpcServer((frame) => {
    toClient.push(frame);
    client.receive(frame);
    return Promise.resolve();
  }, handlers);
  return { client, server, toServer, toClient };
}

Deno.test("ttrpc client and server", async (t) => {
  const handlers = new Map<string, TtrpcHandler>([
    ["svc.S/Echo", (p) => p],
    ["svc.S/Slow", async (p) => {
      await new Promise((r) => setTimeout(r, 30));
      return p;
    }],
    ["svc.S/Refuse", () => {
      throw new TtrpcStatusError(StatusCode.INVALID_ARGUMENT, "bad input");
    }],
    ["svc.S/Crash", () => {
      throw new Error("crashed");
    }],
  ]);

  await t.step("a call is answered on its stream; stream ids are odd and count up", async () => {
    const p = pair(handlers);
    deepStrictEqual(
      await p.client.call("svc.S", "Echo", { payload: bytes([1]) }),
      bytes([1]),
    );
    await p.client.call("svc.S", "Echo", { payload: bytes([2]) });
    const ids = p.toServer.map((f) => new DataView(f.buffer).getUint32(4));
    deepStrictEqual(ids, [1, 3]);
    deepStrictEqual(p.toClient.map((f) => new DataView(f.buffer).getUint32(4)), [1, 3]);
  });

  await t.step("answers come back in any order", async () => {
    const p = pair(handlers);
    const slow = p.client.call("svc.S", "Slow", { payload: bytes([1]) });
    const fast = p.client.call("svc.S", "Echo", { payload: bytes([2]) });
    deepStrictEqual(await fast, bytes([2]));
    deepStrictEqual(await slow, bytes([1]));
  });

  const refusals: { name: string; method: string; expected: [number, string] }[] = [
    { name: "a handler's status", method: "Refuse", expected: [3, "bad input"] },
    { name: "any other error: UNKNOWN", method: "Crash", expected: [2, "crashed"] },
    { name: "an unknown method", method: "Nope", expected: [12, "method Nope"] },
  ];
  for (const c of refusals) {
    await t.step(c.name, async () => {
      const p = pair(handlers);
      await rejects(p.client.call("svc.S", c.method, { payload: bytes() }), (e: unknown) => {
        ok(e instanceof TtrpcStatusError);
        deepStrictEqual([e.code, e.message], c.expected);
        return true;
      });
    });
  }

  await t.step("an unknown service", async () => {
    const p = pair(handlers);
    await rejects(p.client.call("other.S", "Echo", { payload: bytes() }), /service other\.S/);
  });

  await t.step("no answer in time: DEADLINE_EXCEEDED", async () => {
    const client = new TtrpcClient(() => Promise.resolve());
    await rejects(client.call("s", "m", { payload: bytes(), timeoutMs: 20 }), (e: unknown) => {
      ok(e instanceof TtrpcStatusError);
      strictEqual(e.code, StatusCode.DEADLINE_EXCEEDED);
      return true;
    });
  });

  await t.step("close fails pending and later calls", async () => {
    const client = new TtrpcClient(() => Promise.resolve());
    const pending = client.call("s", "m", { payload: bytes() });
    client.close("gone");
    await rejects(pending, /gone/);
    await rejects(client.call("s", "m", { payload: bytes() }), /gone/);
  });

  await t.step("a send that fails fails its call", async () => {
    const client = new TtrpcClient(() => Promise.reject(new Error("broken pipe")));
    await rejects(client.call("s", "m", { payload: bytes() }), /broken pipe/);
  });

  await t.step("an answer for a stream nobody waits on is dropped", () => {
    const client = new TtrpcClient(() => Promise.resolve());
    client.receive(encodeTtrpcMessage({
      streamId: 99,
      type: TtrpcMessageType.RESPONSE,
      flags: 0,
      payload: encodeTtrpcResponse({ status: { code: 0, message: "" }, payload: bytes() }),
    }));
  });
});

Deno.test("ttrpc server: requests the Go server refuses", async (t) => {
  const request = (streamId: number, payload: Uint8Array) =>
    encodeTtrpcMessage({ streamId, type: TtrpcMessageType.REQUEST, flags: 0, payload });
  const echo = encodeTtrpcRequest({ service: "s", method: "m", payload: bytes(), timeoutNano: 0 });
  const cases: { name: string; input: Uint8Array[]; expected: [number, number, string][] }[] = [
    {
      name: "an even stream id",
      input: [request(2, echo)],
      expected: [[2, 3, "StreamID must be odd for client initiated streams"]],
    },
    {
      name: "a stream id used again",
      input: [request(5, echo), request(5, echo)],
      expected: [[5, 0, ""], [5, 3, "StreamID cannot be re-used and must increment"]],
    },
    {
      name: "an envelope that is not a Request",
      input: [request(1, bytes([0x0a, 9]))],
      expected: [[1, 3, "unmarshal request error: WireError: truncated length-delimited field"]],
    },
    {
      // Answered with the name cut: repeated whole, the answer would not fit in one message.
      name: "an unknown service whose name fills a whole message",
      input: [request(
        1,
        encodeTtrpcRequest({
          service: "s".repeat(4 * 1024 * 1024 - 64),
          method: "m",
          payload: bytes(),
          timeoutNano: 0,
        }),
      )],
      expected: [[
        1,
        12,
        `service ${"s".repeat(MAX_STATUS_MESSAGE - 8)}… (${4 * 1024 * 1024 - 56} characters)`,
      ]],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const answers: [number, number, string][] = [];
      const server = new TtrpcServer((frame) => {
        const message = new TtrpcMessageReader().push(frame)[0];
        const response = decodeTtrpcResponse(message.payload);
        answers.push([message.streamId, response.status.code, response.status.message]);
        return Promise.resolve();
      }, new Map([["s/m", () => bytes()]]));
      for (const frame of c.input) server.receive(frame);
      await server.settled();
      await new Promise((r) => setTimeout(r, 0));
      // Refusals go out at once, handlers' answers when they finish: compare in a fixed order.
      const order = (a: [number, number, string], b: [number, number, string]) =>
        a[0] - b[0] || a[1] - b[1];
      deepStrictEqual(
        answers.map(([id, code, message]): [number, number, string] => [
          id,
          code,
          message.length > 1000 ? message : message.replace(/:\s\d.*$/, ""),
        ]).sort(order),
        c.expected,
      );
    });
  }
});
