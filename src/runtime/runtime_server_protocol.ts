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

import { errorMessage } from "../core/errors.ts";
import { AT, statAt } from "../core/io/libc.ts";
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
  /**
   * Who asks: the toolkit's version and the mount namespace the shim runs in
   * (`/proc/self/ns/mnt`). A server of another version (not restarted after an upgrade) or in
   * another mount namespace (a container, a sandboxed unit) would not do what the shim would:
   * it leaves such a request to the shim.
   */
  version: string;
  mountNamespace: string;
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

/** The directories above the socket's own, from `/` down (`/`, `/run` for the default). */
function ancestorsOf(dir: string): string[] {
  const parts = dir.split("/").filter((p) => p !== "");
  return parts.map((_, i) => `/${parts.slice(0, i).join("/")}`);
}

/**
 * Why the socket at `socket` is not to be trusted by a process of user `uid`, or `undefined`
 * when it is: the server's answer names the program the shim execs, so only a server of the
 * shim's own user may answer. The socket and its directory must be that user's, the directory
 * writable by no one else (so no one else could have put a socket there), and every directory
 * above it root's or that user's and writable by no one else but with the sticky bit (as `/tmp`),
 * so no one else can put another directory in its place. `lookup` is `lstat`; pure otherwise.
 */
export function socketDistrust(
  socket: string,
  lookup: (path: string) => PathInfo,
  uid: number,
): string | undefined {
  if (!socket.startsWith("/")) return `"${socket}" is not an absolute path`;
  const dir = socket.slice(0, Math.max(socket.lastIndexOf("/"), 1));
  for (const above of ancestorsOf(dir)) {
    const info = lookup(above);
    if (info.kind !== "dir") return `"${above}" is not a directory`;
    if (info.uid !== 0 && info.uid !== uid) return `"${above}" belongs to uid ${info.uid}`;
    if ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0) {
      return `"${above}" is writable by others`;
    }
  }
  const dirInfo = lookup(dir);
  if (dirInfo.kind !== "dir") return `"${dir}" is not a directory`;
  if (dirInfo.uid !== uid) return `"${dir}" belongs to uid ${dirInfo.uid}, not ${uid}`;
  if ((dirInfo.mode & 0o022) !== 0) return `"${dir}" is writable by others`;
  const socketInfo = lookup(socket);
  if (socketInfo.kind !== "socket") return `"${socket}" is not a socket`;
  if (socketInfo.uid !== uid) return `"${socket}" belongs to uid ${socketInfo.uid}, not ${uid}`;
  return undefined;
}

/**
 * What `lstat` says of `path`, for {@link socketDistrust}: a raw `statx(2)`, bound for the exec
 * anyway, since every create with no server listening asks it of a path that is not there.
 *
 * @throws {OsCallError} when there is nothing at `path` or it cannot be looked up
 */
export function pathInfo(path: string): PathInfo {
  const info = statAt(AT.FDCWD, path, AT.SYMLINK_NOFOLLOW);
  return {
    kind: info.kind === "socket" ? "socket" : info.kind === "dir" ? "dir" : "other",
    uid: info.uid,
    mode: info.mode,
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
  const { args, env, cwd, executableName, version, mountNamespace } = value;
  if (!isStringList(args)) return { invalid: "args is not a list of strings" };
  if (!isStringRecord(env)) return { invalid: "env is not a map of strings" };
  if (typeof cwd !== "string" || !cwd.startsWith("/")) return { invalid: "cwd is not absolute" };
  if (typeof executableName !== "string") return { invalid: "executableName is not a string" };
  if (typeof version !== "string") return { invalid: "version is not a string" };
  if (typeof mountNamespace !== "string") return { invalid: "mountNamespace is not a string" };
  return { args, env, cwd, executableName, version, mountNamespace };
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
    // An exit status the kernel would wrap to 0 (256) would turn a refusal into a success.
    if (typeof message !== "string" || !Number.isInteger(code)) return bad;
    if ((code as number) < 1 || (code as number) > 255) return bad;
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
    distrust = socketDistrust(socket, pathInfo, ownUid());
  } catch (error) {
    return { kind: "unavailable", reason: `no server socket "${socket}": ${errorMessage(error)}` };
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
        : `the server on "${socket}" failed: ${errorMessage(error)}`,
    };
  }
  return parseAnswer(new TextDecoder().decode(answer));
}
