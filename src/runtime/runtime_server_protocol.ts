/**
 * What the runtime shim and the runtime server (`xpu-ctk runtime-server`) say to each other, and
 * the shim's side of it. A `create` costs a Deno process its cold start plus the create path
 * compiled from nothing (~25 ms); a warm server does the same work in a few. So the shim, on
 * `create` only, first asks the server over a unix socket to do everything it would do but the
 * exec (`prepareShimExec`: config, runtime lookup, bundle edit), gets back what to exec, and
 * execs it itself: the PID, stdio and argv the engine sees are the shim's, as without a server.
 *
 * The server is optional. No socket, a socket nobody listens on, one that is not trusted, or a
 * server that does not answer in time: the shim does the work itself, as it always did. The
 * edit is idempotent and the spec written atomically, so a late server and the shim doing it
 * again write the same bytes.
 *
 * One request, one answer, each a line of JSON. Loaded by the shim before anything else on
 * `create`: no config, no TOML.
 *
 * @module
 */

import { lstatSync } from "../core/io/fs.ts";
import { ownUid } from "../core/io/process.ts";
import type { ByteStream } from "../core/io/unix_stream.ts";
import { requestOverUnixSocket, RequestTimeoutError } from "../core/io/unix_request.ts";

/** Where the server listens unless `XPU_RUNTIME_SERVER_SOCKET` or `--socket` says otherwise. */
export const RUNTIME_SERVER_SOCKET = "/run/xpu-container-toolkit/runtime.sock";

/** The variable naming the socket, for the shim and the server alike; empty: no server. */
export const RUNTIME_SERVER_SOCKET_ENV = "XPU_RUNTIME_SERVER_SOCKET";

/** How long the shim waits for the server's answer before doing the work itself. */
export const ANSWER_TIMEOUT_MS = 5000;

/** The most either side reads: a request carries the shim's environment. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const PROTOCOL = 1;

/** The shim's request: what it was started with. */
export interface ServerRequest {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  executableName: string;
}

/** The server's answer. */
export type ServerAnswer =
  /** Exec this: the work is done. */
  | { kind: "exec"; path: string; argv: string[]; env: Record<string, string> }
  /** The create fails: print this line, exit with this status (as the shim would have). */
  | { kind: "failed"; message: string; code: number }
  /** Not served (a working directory the server cannot enter, …): the shim does it itself. */
  | { kind: "unavailable"; reason: string };

/** The socket the shim asks, or `undefined` when the environment turns the server off. */
export function serverSocketPath(env: Readonly<Record<string, string>>): string | undefined {
  const named = env[RUNTIME_SERVER_SOCKET_ENV];
  if (named === undefined) return RUNTIME_SERVER_SOCKET;
  return named === "" ? undefined : named;
}

/** What {@link socketDistrust} looks at of a path (`lstat`). */
export interface PathInfo {
  kind: "socket" | "dir" | "other";
  uid: number;
  mode: number;
}

/**
 * Why the socket at `socket` (in the directory `dir`) is not to be trusted by a process of user
 * `uid`, or `undefined` when it is: the server rewrites the bundles it is sent, so only a server
 * of the shim's own user may answer. Both must be that user's, the directory writable by no one
 * else (so no one else could have put the socket there), the socket a socket. Pure.
 */
export function socketDistrust(
  socket: string,
  info: { dir: PathInfo; socket: PathInfo },
  uid: number,
): string | undefined {
  const dir = socket.slice(0, Math.max(socket.lastIndexOf("/"), 1));
  if (info.dir.kind !== "dir") return `"${dir}" is not a directory`;
  if (info.dir.uid !== uid) return `"${dir}" belongs to uid ${info.dir.uid}, not ${uid}`;
  if ((info.dir.mode & 0o022) !== 0) return `"${dir}" is writable by others`;
  if (info.socket.kind !== "socket") return `"${socket}" is not a socket`;
  if (info.socket.uid !== uid) return `"${socket}" belongs to uid ${info.socket.uid}, not ${uid}`;
  return undefined;
}

function pathInfo(path: string): PathInfo {
  const info = lstatSync(path);
  return {
    kind: info.isSocket ? "socket" : info.isDirectory ? "dir" : "other",
    uid: info.uid ?? -1,
    mode: info.mode ?? 0,
  };
}

/** The request as its line. */
export function encodeRequest(request: ServerRequest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ protocol: PROTOCOL, ...request })}\n`);
}

/** The answer as its line. */
export function encodeAnswer(answer: ServerAnswer): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ protocol: PROTOCOL, ...answer })}\n`);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string");
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function parseLine(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  return record.protocol === PROTOCOL ? record : undefined;
}

/** The request in `text`, or why it is not one. Pure. */
export function parseRequest(text: string): ServerRequest | { invalid: string } {
  const value = parseLine(text);
  if (value === undefined) return { invalid: `not a protocol ${PROTOCOL} JSON request` };
  const { args, env, cwd, executableName } = value;
  if (!isStringList(args)) return { invalid: "args is not a list of strings" };
  if (!isStringRecord(env)) return { invalid: "env is not a map of strings" };
  if (typeof cwd !== "string" || !cwd.startsWith("/")) return { invalid: "cwd is not absolute" };
  if (typeof executableName !== "string") return { invalid: "executableName is not a string" };
  return { args, env, cwd, executableName };
}

/** The answer in `text`; anything else is `unavailable`, so the shim does the work itself. Pure. */
export function parseAnswer(text: string): ServerAnswer {
  const value = parseLine(text);
  const bad: ServerAnswer = { kind: "unavailable", reason: "the server's answer is malformed" };
  if (value === undefined) return bad;
  if (value.kind === "exec") {
    const { path, argv, env } = value;
    if (typeof path !== "string" || !path.startsWith("/") || !isStringList(argv)) return bad;
    if (argv.length === 0 || !isStringRecord(env)) return bad;
    return { kind: "exec", path, argv, env };
  }
  if (value.kind === "failed") {
    const { message, code } = value;
    if (typeof message !== "string" || !Number.isInteger(code) || (code as number) < 1) return bad;
    return { kind: "failed", message, code: code as number };
  }
  if (value.kind === "unavailable" && typeof value.reason === "string") {
    return { kind: "unavailable", reason: value.reason };
  }
  return bad;
}

/**
 * Reads one line from `stream` (at most {@link MAX_MESSAGE_BYTES}), or everything until the peer
 * closes: the bytes before the newline.
 */
export async function readLine(stream: ByteStream): Promise<string> {
  let buffer = new Uint8Array(64 * 1024);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (buffer.length >= MAX_MESSAGE_BYTES) throw new Error("the message is too long");
      const grown = new Uint8Array(buffer.length * 2);
      grown.set(buffer);
      buffer = grown;
    }
    const n = await stream.read(buffer.subarray(length));
    if (n === null) break;
    const end = buffer.subarray(length, length + n).indexOf(10);
    if (end >= 0) {
      length += end;
      break;
    }
    length += n;
  }
  return new TextDecoder().decode(buffer.subarray(0, length));
}

/**
 * Asks the server at `socket` to serve `request`. Never throws: whatever goes wrong (no socket,
 * not trusted, refused, no answer within `timeoutMs`) is an `unavailable` answer with the
 * reason, and the shim goes on by itself. Synchronous (see `unix_request.ts`).
 */
export function askRuntimeServer(
  socket: string,
  request: ServerRequest,
  timeoutMs = ANSWER_TIMEOUT_MS,
): ServerAnswer {
  let distrust: string | undefined;
  try {
    const dir = socket.slice(0, Math.max(socket.lastIndexOf("/"), 1));
    distrust = socketDistrust(socket, { dir: pathInfo(dir), socket: pathInfo(socket) }, ownUid());
  } catch (error) {
    return { kind: "unavailable", reason: `no server socket "${socket}": ${reasonOf(error)}` };
  }
  if (distrust !== undefined) {
    return { kind: "unavailable", reason: `not using the runtime server: ${distrust}` };
  }
  let answer: Uint8Array;
  try {
    answer = requestOverUnixSocket(socket, encodeRequest(request), {
      timeoutMs,
      maxBytes: MAX_MESSAGE_BYTES,
    });
  } catch (error) {
    return {
      kind: "unavailable",
      reason: error instanceof RequestTimeoutError
        ? `the server on "${socket}" did not answer within ${timeoutMs} ms`
        : `the server on "${socket}" failed: ${reasonOf(error)}`,
    };
  }
  return parseAnswer(new TextDecoder().decode(answer));
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
