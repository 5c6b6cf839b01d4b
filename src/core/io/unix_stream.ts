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
