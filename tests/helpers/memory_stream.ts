/**
 * Two connected in-memory byte streams, the two ends of a socket, for the NRI transport's unit
 * tests. Closing either end ends both directions: the peer's pending and later reads see the end
 * of the stream once what was already written has been read, and writes fail.
 *
 * @module
 */

import type { ByteStream } from "../../src/core/io/unix_stream.ts";

/** One direction: chunks written, read back in order. */
class Pipe {
  chunks: Uint8Array[] = [];
  closed = false;
  #wake: (() => void) | undefined;

  push(bytes: Uint8Array): void {
    if (this.closed) throw new Error("write to a closed stream");
    if (bytes.length > 0) this.chunks.push(bytes.slice());
    this.#notify();
  }

  close(): void {
    this.closed = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.chunks.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const first = this.chunks[0];
    const n = Math.min(first.length, buffer.length);
    buffer.set(first.subarray(0, n));
    if (n === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    return n;
  }
}

/** A stream end that also records every write it made, for byte-level assertions. */
export interface RecordingStream extends ByteStream {
  /** Every buffer written through this end, in order. */
  readonly written: Uint8Array[];
  /** Whether this end was closed by its owner. */
  readonly closedHere: boolean;
}

/** The two ends of one in-memory connection. */
export function memoryStreamPair(): [RecordingStream, RecordingStream] {
  const ab = new Pipe();
  const ba = new Pipe();
  const end = (incoming: Pipe, outgoing: Pipe): RecordingStream => {
    const written: Uint8Array[] = [];
    let closedHere = false;
    return {
      written,
      get closedHere() {
        return closedHere;
      },
      read: (buffer) => incoming.read(buffer),
      write: (bytes) => {
        try {
          outgoing.push(bytes);
          written.push(bytes.slice());
          return Promise.resolve();
        } catch (error) {
          return Promise.reject(error);
        }
      },
      close: () => {
        closedHere = true;
        incoming.close();
        outgoing.close();
      },
    };
  };
  return [end(ba, ab), end(ab, ba)];
}
