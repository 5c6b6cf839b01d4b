/**
 * NRI's connection multiplexer: several logical byte streams over the one unix socket between a
 * plugin and the runtime. Every frame is an 8-byte header — connection id (uint32, big-endian),
 * payload length (uint32, big-endian) — and the payload. Connection 1 carries the plugin's
 * service (the runtime calls, the plugin answers), connection 2 the runtime's (the plugin calls);
 * 0 is reserved. Opening a connection sends nothing: both ends just use the fixed ids. Frames
 * for a connection nobody opened are dropped, as the Go side does.
 *
 * Frames written here hold at most {@link MUX_WRITE_CHUNK} bytes, and a ttrpc message starts a
 * frame: the Go reader hands one whole frame to each read of its 4 KiB buffer and fails a read
 * whose buffer is smaller than the frame (ENOMEM).
 *
 * @module
 */

import type { ByteStream } from "../core/io/unix_stream.ts";
import { WireError } from "./protobuf_wire.ts";
import { ByteQueue, TTRPC_HEADER_BYTES, TTRPC_MAX_PAYLOAD } from "./ttrpc.ts";

/** The connection the plugin serves its `Plugin` service on. */
export const PLUGIN_SERVICE_CONN = 1;

/** The connection the runtime serves its `Runtime` service on. */
export const RUNTIME_SERVICE_CONN = 2;

/** Bytes of a frame header. */
export const MUX_HEADER_BYTES = 8;

/** The largest frame payload accepted: a whole maximal ttrpc message. */
export const MUX_MAX_PAYLOAD = TTRPC_HEADER_BYTES + TTRPC_MAX_PAYLOAD;

/** The largest frame payload written (the Go reader's buffer size). */
export const MUX_WRITE_CHUNK = 4096;

/** One frame. */
export interface MuxFrame {
  connId: number;
  payload: Uint8Array;
}

/** The frames that carry `bytes` on `connId`, as one buffer; empty input makes no frame. */
export function encodeMuxFrames(connId: number, bytes: Uint8Array): Uint8Array {
  const count = Math.ceil(bytes.length / MUX_WRITE_CHUNK);
  const out = new Uint8Array(count * MUX_HEADER_BYTES + bytes.length);
  const view = new DataView(out.buffer);
  let at = 0;
  for (let from = 0; from < bytes.length; from += MUX_WRITE_CHUNK) {
    const part = bytes.subarray(from, from + MUX_WRITE_CHUNK);
    view.setUint32(at, connId);
    view.setUint32(at + 4, part.length);
    out.set(part, at + MUX_HEADER_BYTES);
    at += MUX_HEADER_BYTES + part.length;
  }
  return out;
}

/** Cuts the socket's bytes into frames; a frame over {@link MUX_MAX_PAYLOAD} is a {@link WireError}. */
export class MuxFrameReader {
  readonly #queue = new ByteQueue();

  /** Adds `chunk`; returns the frames it completes. */
  push(chunk: Uint8Array): MuxFrame[] {
    this.#queue.push(chunk);
    const out: MuxFrame[] = [];
    for (;;) {
      if (this.#queue.length < MUX_HEADER_BYTES) return out;
      const view = new DataView(this.#queue.peek(MUX_HEADER_BYTES).buffer);
      const connId = view.getUint32(0);
      const length = view.getUint32(4);
      if (length > MUX_MAX_PAYLOAD) {
        throw new WireError(`multiplexed frame of ${length} bytes exceeds ${MUX_MAX_PAYLOAD}`);
      }
      if (this.#queue.length < MUX_HEADER_BYTES + length) return out;
      const frame = this.#queue.take(MUX_HEADER_BYTES + length);
      out.push({ connId, payload: frame.subarray(MUX_HEADER_BYTES) });
    }
  }

  /** Bytes of an unfinished frame. */
  get buffered(): number {
    return this.#queue.length;
  }
}

/** Receives what the peer sent on one connection, in order. */
export type MuxReceiver = (bytes: Uint8Array) => void;

const READ_BUFFER_BYTES = 64 * 1024;

/** The multiplexer over one byte stream. */
export class Multiplexer {
  readonly #stream: ByteStream;
  readonly #receivers = new Map<number, MuxReceiver>();
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  /** Multiplexes `stream`; nothing is read until {@link run}. */
  constructor(stream: ByteStream) {
    this.#stream = stream;
  }

  /**
   * Opens connection `connId`: `receive` gets its incoming bytes; the returned function writes
   * to it (writes of all connections go out whole and in call order).
   */
  open(connId: number, receive: MuxReceiver): (bytes: Uint8Array) => Promise<void> {
    if (connId === 0) throw new WireError("connection id 0 is reserved");
    this.#receivers.set(connId, receive);
    return (bytes) => this.#write(connId, bytes);
  }

  #write(connId: number, bytes: Uint8Array): Promise<void> {
    const frames = encodeMuxFrames(connId, bytes);
    const write = this.#writing.then(() => {
      if (this.#closed) throw new WireError("the connection is closed");
      return this.#stream.write(frames);
    });
    // The chain goes on after a failed write; that write's caller sees the failure.
    this.#writing = write.catch(() => {});
    return write;
  }

  /**
   * Reads frames and hands them to their connections until the stream ends. Resolves at a clean
   * end (between frames); rejects on a cut frame, an oversized one, a read error, or a receiver
   * that throws (a connection that is not speaking ttrpc). The stream is closed either way.
   */
  async run(): Promise<void> {
    const reader = new MuxFrameReader();
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      for (;;) {
        const n = await this.#stream.read(buffer);
        if (n === null) {
          if (reader.buffered > 0) {
            throw new WireError(`connection ended inside a frame (${reader.buffered} bytes)`);
          }
          return;
        }
        for (const frame of reader.push(buffer.slice(0, n))) {
          this.#receivers.get(frame.connId)?.(frame.payload);
        }
      }
    } catch (error) {
      // A read failing because we closed the stream ourselves is the clean end.
      if (this.#closed) return;
      throw error;
    } finally {
      this.close();
    }
  }

  /** Closes the stream; {@link run} then ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.close();
  }

  /** Whether {@link close} ran (or the stream ended). */
  get closed(): boolean {
    return this.#closed;
  }
}
