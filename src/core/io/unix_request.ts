/**
 * One request and its answer over a unix stream socket, synchronously and with a deadline, on
 * raw system calls (`socket`, `connect`, `write`, `ppoll`, `read`): what the runtime shim asks a
 * runtime server on `create`. Deno's own sockets would do, but its first timer costs a cold
 * process about 10 ms (more than the whole request), and a request without a deadline could
 * hang a container's creation on a server that never answers.
 *
 * @module
 */

import { ERRNO, OsCallError, syscall } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const SUN_PATH_BYTES = 108;
const INITIAL_ANSWER_BYTES = 16 * 1024;

/** The request took longer than its deadline. */
export class RequestTimeoutError extends Error {
  override readonly name = "RequestTimeoutError";
}

/**
 * Connects to `path`, writes all of `request`, and reads the answer up to its first newline (or
 * the end of the stream), at most `maxBytes`; all within `timeoutMs`.
 *
 * @returns the answer's bytes, without the newline
 * @throws {OsCallError} when nothing listens there (`ECONNREFUSED`, `ENOENT`), the path is too
 *   long for a socket address, or a call fails
 * @throws {RequestTimeoutError} when the deadline passes first
 */
export function requestOverUnixSocket(
  path: string,
  request: Uint8Array,
  options: { timeoutMs: number; maxBytes: number },
): Uint8Array {
  const deadline = performance.now() + options.timeoutMs;
  const address = socketAddress(path);
  const fd = Number(syscall("socket", AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  try {
    // A unix socket whose backlog is full refuses a non-blocking connect with EAGAIN and leaves
    // the socket unconnected: try again, a millisecond apart, until the deadline.
    while (retrying(() => syscall("connect", fd, address, address.length)) === undefined) {
      pause(Math.min(1, deadline - performance.now()));
      if (performance.now() >= deadline) {
        throw new RequestTimeoutError("the server did not take the connection in time");
      }
    }
    for (let done = 0; done < request.length;) {
      const rest = request.subarray(done);
      const written = retrying(() => syscall("write", fd, rest, rest.length));
      if (written === undefined) waitFor(fd, POLLOUT, deadline);
      else done += Number(written);
    }
    // Grown as the answer comes (answers are small; maxBytes is a bound, not a size).
    let answer = new Uint8Array(Math.min(INITIAL_ANSWER_BYTES, options.maxBytes));
    let length = 0;
    for (;;) {
      if (length === answer.length) {
        if (length >= options.maxBytes) throw new OsCallError("read", ERRNO.EOVERFLOW);
        const grown = new Uint8Array(Math.min(length * 2, options.maxBytes));
        grown.set(answer);
        answer = grown;
      }
      const room = answer.subarray(length);
      const n = retrying(() => syscall("read", fd, room, room.length));
      if (n === undefined) {
        waitFor(fd, POLLIN, deadline);
        continue;
      }
      if (n === 0n) return answer.slice(0, length);
      const end = room.subarray(0, Number(n)).indexOf(10);
      if (end >= 0) return answer.slice(0, length + end);
      length += Number(n);
    }
  } finally {
    syscall("close", fd);
  }
}

/** `struct sockaddr_un` for `path`. */
function socketAddress(path: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length >= SUN_PATH_BYTES || bytes.includes(0)) {
    throw new OsCallError("connect", ERRNO.ENAMETOOLONG);
  }
  const address = new Uint8Array(2 + SUN_PATH_BYTES);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(bytes, 2);
  return address;
}

/** The call's result, or `undefined` when it would block (`EAGAIN`); `EINTR` is retried. */
function retrying(call: () => bigint): bigint | undefined {
  for (;;) {
    try {
      return call();
    } catch (error) {
      if (!(error instanceof OsCallError)) throw error;
      if (error.errno === ERRNO.EINTR) continue;
      if (error.errno === ERRNO.EAGAIN) return undefined;
      throw error;
    }
  }
}

/** Sleeps `ms` milliseconds (`ppoll` on no fd). */
function pause(ms: number): void {
  if (ms <= 0) return;
  retrying(() => syscall("ppoll", null, 0, timespec(ms), 0, 0));
}

/** `struct timespec` for `ms` milliseconds. */
function timespec(ms: number): Uint8Array {
  const value = new BigInt64Array([
    BigInt(Math.floor(ms / 1000)),
    BigInt(Math.floor((ms % 1000) * 1e6)),
  ]);
  return new Uint8Array(value.buffer);
}

/** Waits until `fd` is ready for `events`, or throws when `deadline` passes first. */
function waitFor(fd: number, events: number, deadline: number): void {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, events, true);
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) throw new RequestTimeoutError("the answer did not come in time");
    const ready = retrying(() => syscall("ppoll", pollfd, 1, timespec(left), 0, 0));
    if (ready !== undefined && ready > 0n) return;
  }
}
