/**
 * A unix-domain stream socket as a plain byte stream (read, write all, close): what the NRI
 * plugin speaks its protocol over.
 *
 * @module
 */

/** An ordered, reliable byte stream. */
export interface ByteStream {
  /** Reads into `buffer`; resolves with the count, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes every byte of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the stream; a pending read then ends. Closing twice is harmless. */
  close(): void;
}

/** The byte stream of an open connection. */
export function unixByteStream(conn: Deno.Conn): ByteStream {
  let closed = false;
  return {
    read: (buffer) => conn.read(buffer),
    write: async (bytes) => {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    },
    close: () => {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

/**
 * Connects to the unix socket at `path`.
 *
 * @throws the OS error when nothing accepts connections there (or the path is no socket)
 */
export async function connectUnixStream(path: string): Promise<ByteStream> {
  return unixByteStream(await Deno.connect({ transport: "unix", path }));
}

/** A listening unix socket: its connections as byte streams, until {@link close}. */
export interface StreamListener extends AsyncIterable<ByteStream> {
  /** Stops listening; the iteration ends. The socket file stays: the caller removes it. */
  close(): void;
}

/**
 * Listens on a new unix socket at `path`, its file given `mode` (`0o600`: only the owner
 * connects).
 *
 * @throws the OS error when the path is taken or its directory is missing
 */
export function listenUnixStream(path: string, mode: number): StreamListener {
  const listener = Deno.listen({ transport: "unix", path });
  try {
    Deno.chmodSync(path, mode);
  } catch (error) {
    listener.close();
    throw error;
  }
  return {
    close: () => {
      try {
        listener.close();
      } catch {
        // Closed already.
      }
    },
    async *[Symbol.asyncIterator]() {
      try {
        for await (const conn of listener) yield unixByteStream(conn);
      } catch (error) {
        // Closing the listener ends a pending accept with BadResource: the end, not a failure.
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    },
  };
}
