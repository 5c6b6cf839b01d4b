/**
 * ttrpc, containerd's small RPC protocol (not gRPC), over one ordered byte stream: the framing,
 * the request and response envelopes, a unary client and a unary server.
 *
 * A message is a 10-byte header — payload length (uint32, big-endian), stream id (uint32,
 * big-endian), type (1 request, 2 response, 3 data), flags — then the payload, at most 4 MiB.
 * A request's payload is `ttrpc.Request` { service 1, method 2, payload 3, timeout_nano 4,
 * metadata 5 }; a response's is `ttrpc.Response` { status 1 (`google.rpc.Status` { code 1,
 * message 2 }), payload 2 }. A client opens a stream per call, with odd ids counting up from 1;
 * the answer comes back on the same id. A handler's error becomes the status; the Go client turns
 * it into `rpc error: code = … desc = <message>`, which is how an NRI plugin's refusal reaches
 * the runtime.
 *
 * @module
 */

import {
  fieldBytes,
  fieldInt32,
  fieldString,
  MAX_MESSAGE_BYTES,
  ProtoWriter,
  readFields,
  WireError,
} from "./protobuf_wire.ts";

/** Bytes of a message header. */
export const TTRPC_HEADER_BYTES = 10;

/** The largest payload either side accepts (ttrpc's `messageLengthMax`). */
export const TTRPC_MAX_PAYLOAD = MAX_MESSAGE_BYTES;

/** Message types. */
export const TtrpcMessageType = { REQUEST: 1, RESPONSE: 2, DATA: 3 } as const;

/** The status codes used here (gRPC's numbering). */
export const StatusCode = {
  OK: 0,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** The longest status message an answer carries, in characters (the refusals are far shorter). */
export const MAX_STATUS_MESSAGE = 16 * 1024;

/** One framed message. */
export interface TtrpcMessage {
  streamId: number;
  type: number;
  flags: number;
  payload: Uint8Array;
}

/** The envelope of a call. */
export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Nanoseconds the caller waits (0: no deadline). */
  timeoutNano: number;
}

/** The envelope of an answer. */
export interface TtrpcResponse {
  status: { code: number; message: string };
  payload: Uint8Array;
}

/** A call answered with a status other than OK, or one that could not complete. */
export class TtrpcStatusError extends Error {
  override readonly name = "TtrpcStatusError";
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** The header and payload of one message, as one buffer. */
export function encodeTtrpcMessage(message: TtrpcMessage): Uint8Array {
  if (message.payload.length > TTRPC_MAX_PAYLOAD) {
    throw new WireError(`ttrpc payload of ${message.payload.length} bytes exceeds the maximum`);
  }
  const out = new Uint8Array(TTRPC_HEADER_BYTES + message.payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, message.payload.length);
  view.setUint32(4, message.streamId);
  out[8] = message.type;
  out[9] = message.flags;
  out.set(message.payload, TTRPC_HEADER_BYTES);
  return out;
}

/** Bytes received in chunks, read back in order: what both framings are cut from. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** Appends `chunk` (kept, not copied: the caller must not reuse it). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** How many bytes are queued. */
  get length(): number {
    return this.#length;
  }

  /** A copy of the first `n` queued bytes (n at most {@link length}), left queued. */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.#chunks) {
      if (at === n) break;
      const part = chunk.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /** Removes and returns the first `n` queued bytes (n at most {@link length}). */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0];
      if (first.length <= left) {
        this.#chunks.shift();
        left -= first.length;
      } else {
        this.#chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#length -= n;
    return out;
  }
}

/**
 * Cuts a byte stream into messages: feed it chunks as they arrive, in order, and it hands each
 * complete message on. A header announcing more than {@link TTRPC_MAX_PAYLOAD} is a
 * {@link WireError}: the stream cannot be trusted past it.
 */
export class TtrpcMessageReader {
  readonly #queue = new ByteQueue();

  /** Adds `chunk`; returns the messages it completes. */
  push(chunk: Uint8Array): TtrpcMessage[] {
    this.#queue.push(chunk);
    const out: TtrpcMessage[] = [];
    for (;;) {
      if (this.#queue.length < TTRPC_HEADER_BYTES) return out;
      const header = this.#queue.peek(TTRPC_HEADER_BYTES);
      const view = new DataView(header.buffer);
      const length = view.getUint32(0);
      if (length > TTRPC_MAX_PAYLOAD) {
        throw new WireError(`ttrpc message of ${length} bytes exceeds ${TTRPC_MAX_PAYLOAD}`);
      }
      if (this.#queue.length < TTRPC_HEADER_BYTES + length) return out;
      const whole = this.#queue.take(TTRPC_HEADER_BYTES + length);
      out.push({
        streamId: view.getUint32(4),
        type: header[8],
        flags: header[9],
        payload: whole.subarray(TTRPC_HEADER_BYTES),
      });
    }
  }

  /** Bytes received but not yet part of a complete message. */
  get buffered(): number {
    return this.#queue.length;
  }
}

/** Encodes a `ttrpc.Request`. */
export function encodeTtrpcRequest(request: TtrpcRequest): Uint8Array {
  const w = new ProtoWriter();
  w.string(1, request.service);
  w.string(2, request.method);
  if (request.payload.length > 0) w.bytes(3, request.payload);
  w.int(4, request.timeoutNano);
  return w.finish();
}

/** Decodes a `ttrpc.Request` (its metadata skipped). */
export function decodeTtrpcRequest(bytes: Uint8Array): TtrpcRequest {
  const out: TtrpcRequest = { service: "", method: "", payload: new Uint8Array(0), timeoutNano: 0 };
  for (const field of readFields(bytes)) {
    if (field.number === 1) out.service = fieldString(field);
    else if (field.number === 2) out.method = fieldString(field);
    else if (field.number === 3) out.payload = fieldBytes(field);
    else if (field.number === 4 && field.wireType === 0) {
      // Only read to be skipped: a deadline the handlers do not use may be any int64.
      out.timeoutNano = Number(BigInt.asIntN(64, field.varint));
    }
  }
  return out;
}

/** Encodes a `ttrpc.Response`; the status is always present, as the Go server writes it. */
export function encodeTtrpcResponse(response: TtrpcResponse): Uint8Array {
  const w = new ProtoWriter();
  w.message(1, (status) => {
    status.int(1, response.status.code);
    status.string(2, response.status.message);
  });
  if (response.payload.length > 0) w.bytes(2, response.payload);
  return w.finish();
}

/** Decodes a `ttrpc.Response` (status details skipped). */
export function decodeTtrpcResponse(bytes: Uint8Array): TtrpcResponse {
  const out: TtrpcResponse = { status: { code: 0, message: "" }, payload: new Uint8Array(0) };
  for (const field of readFields(bytes)) {
    if (field.number === 1) {
      for (const s of readFields(fieldBytes(field))) {
        if (s.number === 1) out.status.code = fieldInt32(s);
        else if (s.number === 2) out.status.message = fieldString(s);
      }
    } else if (field.number === 2) out.payload = fieldBytes(field);
  }
  return out;
}

/** Writes one whole message to the stream (the caller keeps writes in order). */
export type TtrpcSend = (message: Uint8Array) => Promise<void>;

interface PendingCall {
  resolve: (payload: Uint8Array) => void;
  reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** The calling side of a ttrpc stream: unary calls, answered in any order. */
export class TtrpcClient {
  readonly #send: TtrpcSend;
  readonly #reader = new TtrpcMessageReader();
  readonly #pending = new Map<number, PendingCall>();
  #nextStreamId = 1;
  #closed: Error | undefined;

  /** A client that writes through `send`; feed what the peer sends to {@link receive}. */
  constructor(send: TtrpcSend) {
    this.#send = send;
  }

  /**
   * Calls `service`/`method` with `payload`; resolves with the answer's payload.
   *
   * @throws {TtrpcStatusError} when the answer's status is not OK, the time runs out or the
   *   connection closes first
   */
  call(
    service: string,
    method: string,
    options: { payload: Uint8Array; timeoutMs?: number },
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(this.#closed);
    const streamId = this.#nextStreamId;
    this.#nextStreamId += 2;
    const timeoutMs = options.timeoutMs ?? 0;
    const frame = encodeTtrpcMessage({
      streamId,
      type: TtrpcMessageType.REQUEST,
      flags: 0,
      payload: encodeTtrpcRequest({
        service,
        method,
        payload: options.payload,
        timeoutNano: timeoutMs * 1_000_000,
      }),
    });
    return new Promise<Uint8Array>((resolve, reject) => {
      const call: PendingCall = { resolve, reject };
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => {
          this.#pending.delete(streamId);
          reject(
            new TtrpcStatusError(
              StatusCode.DEADLINE_EXCEEDED,
              `${service}/${method} got no answer in ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
      this.#pending.set(streamId, call);
      this.#send(frame).catch((error) => this.#settle(streamId, { error }));
    });
  }

  /**
   * Takes bytes the peer sent. Answers to unknown streams are dropped, as the Go client does.
   *
   * @throws {WireError} when the stream is not ttrpc; the caller closes the connection
   */
  receive(chunk: Uint8Array): void {
    for (const message of this.#reader.push(chunk)) {
      if (message.type !== TtrpcMessageType.RESPONSE) continue;
      const response = decodeTtrpcResponse(message.payload);
      if (response.status.code === StatusCode.OK) {
        this.#settle(message.streamId, { payload: response.payload });
      } else {
        this.#settle(message.streamId, {
          error: new TtrpcStatusError(response.status.code, response.status.message),
        });
      }
    }
  }

  /** Fails every pending call, and later ones, with `reason`. */
  close(reason: string): void {
    this.#closed ??= new TtrpcStatusError(StatusCode.UNAVAILABLE, reason);
    for (const id of [...this.#pending.keys()]) this.#settle(id, { error: this.#closed });
  }

  #settle(streamId: number, outcome: { payload?: Uint8Array; error?: unknown }): void {
    const call = this.#pending.get(streamId);
    if (!call) return;
    this.#pending.delete(streamId);
    if (call.timer !== undefined) clearTimeout(call.timer);
    if (outcome.error !== undefined) {
      call.reject(
        outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)),
      );
    } else call.resolve(outcome.payload!);
  }
}

/**
 * A unary method: takes the request payload, returns the answer's. Throwing a
 * {@link TtrpcStatusError} sets that status; any other error answers `UNKNOWN` with its message.
 */
export type TtrpcHandler = (payload: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** The answering side of a ttrpc stream: dispatches requests to handlers by service and method. */
export class TtrpcServer {
  readonly #send: TtrpcSend;
  readonly #handlers: ReadonlyMap<string, TtrpcHandler>;
  readonly #reader = new TtrpcMessageReader();
  #lastStreamId = 0;
  readonly #inFlight = new Set<Promise<void>>();

  /** A server answering through `send` with `handlers`, keyed `"<service>/<method>"`. */
  constructor(send: TtrpcSend, handlers: ReadonlyMap<string, TtrpcHandler>) {
    this.#send = send;
    this.#handlers = handlers;
  }

  /**
   * Takes bytes the peer sent and starts a handler per complete request. A bad request (even
   * stream id, reused id, undecodable envelope, unknown method) is answered with a status, as
   * the Go server does; data messages (streaming) are not served.
   *
   * @throws {WireError} when the stream is not ttrpc; the caller closes the connection
   */
  receive(chunk: Uint8Array): void {
    for (const message of this.#reader.push(chunk)) {
      if (message.type !== TtrpcMessageType.REQUEST) continue;
      const id = message.streamId;
      if (id % 2 !== 1) {
        this.#answer(
          id,
          StatusCode.INVALID_ARGUMENT,
          "StreamID must be odd for client initiated streams",
        );
        continue;
      }
      if (id <= this.#lastStreamId) {
        this.#answer(
          id,
          StatusCode.INVALID_ARGUMENT,
          "StreamID cannot be re-used and must increment",
        );
        continue;
      }
      this.#lastStreamId = id;
      let request: TtrpcRequest;
      try {
        request = decodeTtrpcRequest(message.payload);
      } catch (error) {
        this.#answer(id, StatusCode.INVALID_ARGUMENT, `unmarshal request error: ${error}`);
        continue;
      }
      const handler = this.#handlers.get(`${request.service}/${request.method}`);
      if (!handler) {
        const known = [...this.#handlers.keys()].some((k) => k.startsWith(`${request.service}/`));
        this.#answer(
          id,
          StatusCode.UNIMPLEMENTED,
          known ? `method ${request.method}` : `service ${request.service}`,
        );
        continue;
      }
      // #run never rejects (its answer is written or given up on), so neither does `done`.
      const done = this.#run(id, handler, request.payload).catch(() => {});
      this.#inFlight.add(done);
      done.finally(() => this.#inFlight.delete(done));
    }
  }

  /** Resolves when every handler started so far has answered. */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  async #run(id: number, handler: TtrpcHandler, payload: Uint8Array): Promise<void> {
    let answer: Uint8Array;
    try {
      answer = await handler(payload);
    } catch (error) {
      const code = error instanceof TtrpcStatusError ? error.code : StatusCode.UNKNOWN;
      const message = error instanceof Error ? error.message : String(error);
      return this.#answer(id, code, message);
    }
    await this.#write(id, { status: { code: StatusCode.OK, message: "" }, payload: answer });
  }

  #answer(id: number, code: number, message: string): Promise<void> {
    // A status message is for a log line: a peer's name repeated back is cut, not sent whole.
    const text = message.length > MAX_STATUS_MESSAGE
      ? `${message.slice(0, MAX_STATUS_MESSAGE)}… (${message.length} characters)`
      : message;
    return this.#write(id, { status: { code, message: text }, payload: new Uint8Array(0) });
  }

  async #write(id: number, response: TtrpcResponse): Promise<void> {
    let frame: Uint8Array;
    try {
      frame = encodeTtrpcMessage({
        streamId: id,
        type: TtrpcMessageType.RESPONSE,
        flags: 0,
        payload: encodeTtrpcResponse(response),
      });
    } catch (error) {
      // An answer too big for one message: the caller gets a short status instead.
      if (response.status.code === StatusCode.RESOURCE_EXHAUSTED) return;
      return this.#answer(
        id,
        StatusCode.RESOURCE_EXHAUSTED,
        `the answer cannot be sent: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    // A peer that went away cannot be answered; the connection's reader sees it end.
    await this.#send(frame).catch(() => {});
  }
}
