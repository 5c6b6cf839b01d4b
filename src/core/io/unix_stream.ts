/**
 * A unix-domain stream socket as a plain byte stream (read, write all, close): what the NRI
 * plugin speaks its protocol over.
 *
 * @module
 */

import { libc } from "./libc.ts";

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

/**
 * Whether something listens on the unix socket at `path`: only a refused connection (or no
 * socket) says no; a full backlog, say, is a listener that is busy.
 */
export async function socketListens(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.ConnectionRefused) &&
      !(error instanceof Deno.errors.NotFound);
  }
}

/** A listening unix socket: its connections as byte streams, until {@link close}. */
export interface StreamListener extends AsyncIterable<ByteStream> {
  /**
   * Stops listening; the iteration ends. The socket file at the path stays: the caller removes
   * it (Deno would remove whatever is at its own path then, another process's socket included,
   * so it listens on a private name and the socket is renamed into place).
   */
  close(): void;
}

/**
 * Listens on a new unix socket at `path`, its file given `mode` (`0o600`: only the owner
 * connects) from its creation on: the socket is made under a private name with a umask that
 * leaves no more than `mode`, then renamed into place, so no one else can connect in between.
 *
 * @throws the OS error when the directory is missing or the rename fails
 */
export function listenUnixStream(path: string, mode: number): StreamListener {
  const slash = path.lastIndexOf("/");
  const temp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${Deno.pid}`;
  const previous = libc().umask(0o777 & ~mode);
  let listener: Deno.UnixListener;
  try {
    listener = Deno.listen({ transport: "unix", path: temp });
  } finally {
    libc().umask(previous);
  }
  try {
    Deno.chmodSync(temp, mode);
    Deno.renameSync(temp, path);
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
