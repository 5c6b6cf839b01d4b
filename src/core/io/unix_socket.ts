/**
 * Unix-domain stream sockets, as the toolkit reaches them: connecting to one (an engine's API
 * socket, to see whether its daemon listens).
 *
 * @module
 */

/** A connection to a unix socket; closing it is all the toolkit does with one. */
export interface UnixConnection {
  /** Closes the connection. */
  close(): void;
}

/**
 * Connects to the unix socket at `path`.
 *
 * @throws the OS error when nothing accepts connections there (or the path is no socket)
 */
export async function connectUnixSocket(path: string): Promise<UnixConnection> {
  return await Deno.connect({ transport: "unix", path });
}
