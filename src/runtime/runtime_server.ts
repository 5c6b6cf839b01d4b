/**
 * The runtime server: a warm process that does the shim's `create` work for it (see
 * `runtime_server_protocol.ts`). It listens on a unix socket in a directory of its own user
 * that no one else may write, answers each request with what the shim would have done
 * ({@link prepareShimExec}, in the shim's working directory, with the shim's environment), one
 * request at a time, and logs one line per request.
 *
 * @module
 */

import { errorMessage, exitCodeOf, failureMessage, quoted, UsageError } from "../core/errors.ts";
import { type FileInfo, lstatSync, mkdirSync, removeSync } from "../core/io/fs.ts";
import {
  changeDirectory,
  type ExecRequest,
  ownMountNamespace,
  ownUid,
  workingDirectory,
} from "../core/io/process.ts";
import { VERSION } from "../core/version.ts";
import type { Logger } from "../core/io/log.ts";
import { type ByteStream, listenUnixStream, socketListens } from "../core/io/unix_stream.ts";
import { parseRuncArgs } from "../core/oci/runc_args.ts";
import {
  ANSWER_TIMEOUT_MS,
  encodeAnswer,
  parseRequest,
  pathInfo,
  readLine,
  type ServerAnswer,
  type ServerRequest,
  socketDistrust,
} from "./runtime_server_protocol.ts";
import type { ShimInput } from "./shim.ts";

/** How long a client may take to send its request. */
const REQUEST_TIMEOUT_MS = 5000;

/**
 * How long a request may wait for its turn and still be served: well inside the shim's own
 * {@link ANSWER_TIMEOUT_MS}, after which it does the work itself.
 */
const LATE_MS = ANSWER_TIMEOUT_MS - 1000;

/** What {@link serveRuntime} runs with. */
export interface RuntimeServerOptions {
  socketPath: string;
  log: Logger;
  /** Stops the server: the socket is closed and removed. */
  signal: AbortSignal;
  /** What a request is answered with; the shim's own by default. */
  prepare?: (input: ShimInput) => Promise<ExecRequest>;
  /** Called once the socket listens (tests wait for it). */
  onListening?: () => void;
}

/**
 * Serves until `signal` fires.
 *
 * @throws {UsageError} when the socket's directory is not the server's own, or another server
 *   listens on the socket already
 */
export async function serveRuntime(options: RuntimeServerOptions): Promise<void> {
  const { socketPath, log } = options;
  const prepare = options.prepare ?? (await import("./shim.ts")).prepareShimExec;
  await claimSocketPath(socketPath);
  // Loaded now, not on the first request: every mode's edit.
  await Promise.all([
    import("./create.ts"),
    import("./create_fs.ts"),
    import("./legacy_edits.ts"),
    import("./csv_edits.ts"),
    import("./cdi_edits.ts"),
  ]);
  const listener = listenUnixStream(socketPath, 0o600);
  const ours = lstatSync(socketPath).ino;
  const identity = { version: VERSION, mountNamespace: ownMountNamespace() };
  const stop = () => listener.close();
  options.signal.addEventListener("abort", stop, { once: true });
  if (options.signal.aborted) stop();
  log.info(`Listening on ${quoted(socketPath)}`);
  options.onListening?.();
  const home = workingDirectory();
  // Requests are read side by side; they are answered one at a time, each in its shim's working
  // directory, which is the whole process's.
  let tail: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => {});
    return run;
  };
  const open = new Set<Promise<void>>();
  try {
    for await (const conn of listener) {
      const served = serveConnection(
        conn,
        (request, arrived) =>
          oneAtATime(() => answerRequest(request, { prepare, home, identity, arrived })),
        log,
      );
      open.add(served);
      served.finally(() => open.delete(served));
    }
  } catch (error) {
    if (!options.signal.aborted) throw error;
  } finally {
    options.signal.removeEventListener("abort", stop);
    await Promise.all(open);
    try {
      if (lstatSync(socketPath).ino === ours) removeSync(socketPath);
    } catch {
      // Gone already.
    }
    log.info(`Stopped listening on ${quoted(socketPath)}`);
  }
}

/**
 * Makes the socket's directory (mode 0700) when missing, checks that it is this user's and
 * writable by no one else, and removes a stale socket no server listens on.
 */
async function claimSocketPath(socketPath: string): Promise<void> {
  if (!socketPath.startsWith("/")) {
    throw new UsageError(`Cannot listen on ${quoted(socketPath)}: give an absolute socket path`);
  }
  const dir = socketPath.slice(0, Math.max(socketPath.lastIndexOf("/"), 1));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uid = ownUid();
  // Checked as the shims will check it, the socket as the one this server is about to make.
  const problem = socketDistrust(
    socketPath,
    (path) => path === socketPath ? { kind: "socket", uid, mode: 0o600 } : pathInfo(path),
    uid,
  );
  if (problem !== undefined) {
    throw new UsageError(
      `Cannot listen on ${quoted(socketPath)}: ${problem}: the shims would not trust it; ` +
        `use a directory only uid ${uid} can write (chmod go-w, chown)`,
    );
  }
  let existing: FileInfo;
  try {
    existing = lstatSync(socketPath);
  } catch {
    return;
  }
  if (!existing.isSocket) {
    throw new UsageError(
      `Cannot listen on ${quoted(socketPath)}: something else than a socket is there: ` +
        `remove it or give another --socket`,
    );
  }
  if (!(await socketListens(socketPath))) {
    removeSync(socketPath);
    return;
  }
  throw new UsageError(
    `Cannot listen on ${quoted(socketPath)}: another runtime server listens there: stop it ` +
      `first, or give another --socket`,
  );
}

async function serveConnection(
  conn: ByteStream,
  answer: (request: ServerRequest, arrived: number) => Promise<ServerAnswer>,
  log: Logger,
): Promise<void> {
  const started = performance.now();
  const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
  let answered: ServerAnswer;
  let what = "a request";
  try {
    const request = parseRequest(await readLine(conn));
    clearTimeout(timer);
    if ("invalid" in request) {
      answered = { kind: "unavailable", reason: `the request is malformed: ${request.invalid}` };
    } else {
      what = describeRequest(request);
      answered = await answer(request, started);
    }
    await conn.write(encodeAnswer(answered));
  } catch (error) {
    clearTimeout(timer);
    log.warn(`Dropped ${what}: ${errorMessage(error)}`);
    conn.close();
    return;
  }
  conn.close();
  const ms = (performance.now() - started).toFixed(1);
  if (answered.kind === "exec") {
    log.info(`Served ${what} in ${ms} ms: exec ${quoted(answered.path)}`);
  } else if (answered.kind === "failed") {
    log.info(`Refused ${what} in ${ms} ms: ${answered.message}`);
  } else log.warn(`Left ${what} to the shim: ${answered.reason}`);
}

/** What {@link answerRequest} needs besides the request. */
interface AnswerContext {
  prepare: (input: ShimInput) => Promise<ExecRequest>;
  /** The server's own working directory, gone back to after each request. */
  home: string;
  /** The server's version and mount namespace: a shim's must be the same. */
  identity: { version: string; mountNamespace: string };
  /** When the request came in (`performance.now()`). */
  arrived: number;
}

/**
 * What the shim would have done for `request`, in its working directory; then back `home`. A
 * request that waited its turn so long that its shim may have given up is left to the shim.
 */
async function answerRequest(request: ServerRequest, ctx: AnswerContext): Promise<ServerAnswer> {
  const { prepare, home, identity } = ctx;
  if (!parseRuncArgs(request.args).isCreate) {
    return { kind: "unavailable", reason: "only create is served" };
  }
  if (request.version !== identity.version) {
    return {
      kind: "unavailable",
      reason: `the shim is version ${request.version}, the server ${identity.version}: ` +
        `restart the server after an upgrade`,
    };
  }
  if (request.mountNamespace !== identity.mountNamespace) {
    return {
      kind: "unavailable",
      reason: `the shim runs in mount namespace ${request.mountNamespace}, the server in ` +
        `${identity.mountNamespace}: run the server on the host, beside the engine`,
    };
  }
  if (performance.now() - ctx.arrived > LATE_MS) {
    return { kind: "unavailable", reason: `waited over ${LATE_MS} ms for its turn` };
  }
  try {
    changeDirectory(request.cwd);
  } catch (error) {
    return {
      kind: "unavailable",
      reason: `cannot enter the shim's working directory ${quoted(request.cwd)}: ${
        errorMessage(error)
      }`,
    };
  }
  try {
    const { version: _, mountNamespace: __, ...input } = request;
    const exec = await prepare({ ...input, stdout: undefined });
    // A runtime found through a relative PATH entry is relative to the shim's directory.
    const path = exec.path.startsWith("/") ? exec.path : `${request.cwd}/${exec.path}`;
    return { kind: "exec", path, argv: [...exec.argv], env: { ...exec.env } };
  } catch (error) {
    return {
      kind: "failed",
      message: `xpu-container-runtime: ${failureMessage(error)}`,
      code: exitCodeOf(error),
    };
  } finally {
    changeDirectory(home);
  }
}

function describeRequest(request: ServerRequest): string {
  const args = request.args;
  const id = args.length > 0 ? args[args.length - 1] : "";
  return `create of ${quoted(id)}`;
}
