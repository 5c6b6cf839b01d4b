/**
 * The plugin side of NRI, between the runtime's socket and the decision: connect to the NRI
 * socket, register, subscribe to `CreateContainer` only, and answer each container creation with
 * the adjustment (or the refusal) an injected `decide` returns. When the connection drops — the
 * runtime restarts — it connects again, with a backoff that doubles up to a bound, until the
 * abort signal fires.
 *
 * The exchange on one connection (ttrpc over the multiplexer, see `ttrpc.ts` and `multiplex.ts`):
 *
 * 1. the plugin calls `nri.pkg.api.v1alpha1.Runtime/RegisterPlugin` { name, index } on
 *    connection 2;
 * 2. the runtime calls `nri.pkg.api.v1alpha1.Plugin/Configure` on connection 1; the answer's
 *    event mask is `CreateContainer` alone (0 would mean every event);
 * 3. `Synchronize` with the pods and containers that exist, possibly split (`more`); the answer
 *    echoes `more` and requests no update;
 * 4. `CreateContainer` per container, answered with `{ adjust }`, or a status error whose message
 *    is the refusal: the runtime fails that container's creation with it; `Shutdown` when the
 *    runtime goes down. A decision that would outlast the runtime's request timeout (learnt from
 *    `Configure`) is refused {@link DECISION_MARGIN_MS} before it: a runtime whose call times out
 *    drops the plugin and creates the container without its devices.
 *
 * The backoff starts over only after a connection the runtime configured: one it refuses at once
 * (a name already taken) is retried ever more slowly, up to the bound.
 *
 * One log line per decision, one per connection change; a runtime that stays away is reported
 * once, not at every retry.
 *
 * @module
 */

import type { Logger } from "../core/io/log.ts";
import { type ByteStream, connectUnixStream } from "../core/io/unix_stream.ts";
import { failureMessage, osErrorReason, quoted } from "../core/errors.ts";
import { Multiplexer, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN } from "./multiplex.ts";
import {
  type ContainerAdjustment,
  type CreateContainerRequest,
  decodeConfigureRequest,
  decodeCreateContainerRequest,
  decodeSynchronizeMore,
  encodeConfigureResponse,
  encodeCreateContainerResponse,
  encodeEmpty,
  encodeRegisterPluginRequest,
  encodeSynchronizeResponse,
  eventMask,
  NriEvent,
} from "./nri_messages.ts";
import {
  checkPluginIdentity,
  DEFAULT_NRI_SOCKET,
  DEFAULT_PLUGIN_INDEX,
  DEFAULT_PLUGIN_NAME,
} from "./plugin_identity.ts";
import { WireError } from "./protobuf_wire.ts";
import {
  StatusCode,
  TtrpcClient,
  type TtrpcHandler,
  TtrpcServer,
  TtrpcStatusError,
} from "./ttrpc.ts";

/** The ttrpc service the runtime serves (connection 2). */
export const RUNTIME_SERVICE = "nri.pkg.api.v1alpha1.Runtime";

/** The ttrpc service the plugin serves (connection 1). */
export const PLUGIN_SERVICE = "nri.pkg.api.v1alpha1.Plugin";

/** The events subscribed to: container creation only. */
export const SUBSCRIBED_EVENTS: number = eventMask([NriEvent.CREATE_CONTAINER]);

/** What the decision says about one container: change it so, or refuse it with this message. */
export type NriDecision = { adjustment: ContainerAdjustment } | { error: string };

/**
 * The decision for one creation request. It may be async (it reads the config and the CDI
 * specs); a throw counts as a refusal with the error's message.
 */
export type NriDecide = (
  request: CreateContainerRequest,
) => NriDecision | Promise<NriDecision>;

/** Options of {@link runNriPlugin}. */
export interface NriPluginOptions {
  decide: NriDecide;
  log: Logger;
  /** Ends the plugin: the connection is closed and {@link runNriPlugin} resolves. */
  signal: AbortSignal;
  /** Default {@link DEFAULT_NRI_SOCKET}. */
  socketPath?: string;
  /** Default {@link DEFAULT_PLUGIN_NAME}. */
  pluginName?: string;
  /** Two digits; default {@link DEFAULT_PLUGIN_INDEX}. */
  pluginIndex?: string;
  /** Opens the socket; default {@link connectUnixStream}. */
  connect?: (path: string) => Promise<ByteStream>;
  /** Reconnect delays: the first, doubled after each failure up to the bound. */
  retry?: { initialMs?: number; maxMs?: number };
  /** How long registration may take (the runtime's own default is 5 s). */
  registrationTimeoutMs?: number;
  /** Waits between connection attempts; ends early when the signal fires. Default: a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const DEFAULT_RETRY = { initialMs: 200, maxMs: 5_000 };
const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;
const DEFAULT_REGISTRATION_TIMEOUT_MS = 5_000;

/**
 * The message of a transport failure: the protocol's own errors (a malformed message, a status
 * from the runtime) are expected input, not bugs, so they are not reported as internal errors.
 */
function transportMessage(error: unknown): string {
  if (error instanceof WireError || error instanceof TtrpcStatusError) return error.message;
  return failureMessage(error);
}

/** Waits `ms`, or less when `signal` fires. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** `"namespace/pod/container"` for the log. */
function containerName(request: CreateContainerRequest): string {
  const pod = request.pod;
  const name = [pod?.namespace, pod?.name, request.container?.name]
    .map((part) => part || "?").join("/");
  return quoted(name);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** What an adjustment changes, in a few words: `env XPU_NRI_SEEN, 2 devices`. */
export function describeAdjustment(adjustment: ContainerAdjustment): string {
  const parts: string[] = [];
  const env = adjustment.env ?? [];
  if (env.length > 0) parts.push(`env ${env.map((e) => e.key).join(" ")}`);
  const devices = adjustment.linux?.devices ?? [];
  if (devices.length > 0) parts.push(plural(devices.length, "device"));
  const rules = adjustment.linux?.resources?.devices ?? [];
  if (rules.length > 0) parts.push(plural(rules.length, "cgroup rule"));
  const mounts = adjustment.mounts ?? [];
  if (mounts.length > 0) parts.push(plural(mounts.length, "mount"));
  const hooks = Object.values(adjustment.hooks ?? {}).reduce((n, list) => n + list.length, 0);
  if (hooks > 0) parts.push(plural(hooks, "hook"));
  const cdi = adjustment.cdiDevices ?? [];
  if (cdi.length > 0) parts.push(plural(cdi.length, "CDI device"));
  const annotations = Object.keys(adjustment.annotations ?? {}).length;
  if (annotations > 0) parts.push(plural(annotations, "annotation"));
  return parts.length > 0 ? parts.join(", ") : "no change";
}

/**
 * How much sooner than the runtime's own deadline a decision is given up: a runtime whose
 * `CreateContainer` call times out drops the plugin and creates the container *without* its
 * devices, so a slow decision must fail the container itself, in time.
 */
export const DECISION_MARGIN_MS = 250;

/** The shortest time a decision gets, whatever the runtime's request timeout says. */
/** The longest delay a timer can have (Deno fires a longer one at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long a decision may take for a runtime whose request timeout is `requestTimeoutMs`:
 * {@link DECISION_MARGIN_MS} less, or three quarters of a timeout too short for that margin,
 * and never longer than a timer can wait (a "720h" timeout would otherwise fire at once).
 */
export function decisionTimeMs(requestTimeoutMs: number): number {
  const ms = requestTimeoutMs > 2 * DECISION_MARGIN_MS
    ? requestTimeoutMs - DECISION_MARGIN_MS
    : Math.floor(requestTimeoutMs * 3 / 4);
  return Math.min(MAX_TIMER_MS, Math.max(1, ms));
}

/** The decision, or a refusal when it does not come within `ms`. */
async function decideInTime(
  decide: NriDecide,
  request: CreateContainerRequest,
  ms: number,
): Promise<NriDecision> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<NriDecision>((resolve) => {
    timer = setTimeout(() =>
      resolve({
        error: `Cannot decide the container's devices within ${ms} ms, before the runtime's ` +
          `NRI request timeout: check the CDI spec dirs and the config file for slow storage, ` +
          `or raise the runtime's NRI "plugin_request_timeout"`,
      }), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => decide(request)), late]);
  } catch (error) {
    return { error: failureMessage(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** The plugin's handlers: what the runtime may call on connection 1. */
function pluginHandlers(
  decide: NriDecide,
  log: Logger,
): { handlers: Map<string, TtrpcHandler>; configurations: () => number } {
  const handlers = new Map<string, TtrpcHandler>();
  let configurations = 0;
  // The runtime's request timeout, learnt from Configure (containerd's default: 2 s).
  let requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  const on = (method: string, handler: TtrpcHandler) =>
    handlers.set(`${PLUGIN_SERVICE}/${method}`, handler);
  on("Configure", (payload) => {
    const request = decodeConfigureRequest(payload);
    if (request.requestTimeout > 0) requestTimeoutMs = request.requestTimeout;
    configurations++;
    log.info(
      `Configured by ${quoted(request.runtimeName)} ${quoted(request.runtimeVersion)}: ` +
        `subscribed to CreateContainer`,
    );
    return encodeConfigureResponse({ events: SUBSCRIBED_EVENTS });
  });
  on("Synchronize", (payload) => {
    const request = decodeSynchronizeMore(payload);
    if (!request.more) log.debug("Synchronized with the runtime: no existing container changed");
    return encodeSynchronizeResponse({ more: request.more });
  });
  on("CreateContainer", async (payload) => {
    let request: CreateContainerRequest;
    try {
      request = decodeCreateContainerRequest(payload);
    } catch (error) {
      const message = `Cannot read the NRI CreateContainer request: ${transportMessage(error)}`;
      log.error(message);
      throw new TtrpcStatusError(StatusCode.INVALID_ARGUMENT, message);
    }
    const decision = await decideInTime(
      decide,
      request,
      decisionTimeMs(requestTimeoutMs),
    );
    if ("error" in decision) {
      log.error(`CreateContainer ${containerName(request)}: refused: ${decision.error}`);
      throw new TtrpcStatusError(StatusCode.UNKNOWN, decision.error);
    }
    log.info(
      `CreateContainer ${containerName(request)}: ${describeAdjustment(decision.adjustment)}`,
    );
    return encodeCreateContainerResponse({ adjust: decision.adjustment });
  });
  on("Shutdown", () => {
    log.info("The runtime is shutting down NRI");
    return encodeEmpty({});
  });
  // Not subscribed to; answered harmlessly should a runtime call them anyway. A message with
  // no field set has no bytes, whatever its type: these are empty responses.
  for (const method of ["UpdateContainer", "StopContainer", "StateChange"]) {
    on(method, () => encodeEmpty({}));
  }
  return { handlers, configurations: () => configurations };
}

/** How one connection ended. */
interface SessionEnd {
  /** Whether the runtime took the registration and configured the plugin. */
  configured: boolean;
  reason: string;
}

interface SessionContext {
  socketPath: string;
  pluginName: string;
  pluginIndex: string;
  registrationTimeoutMs: number;
  handlers: Map<string, TtrpcHandler>;
  /** How many times the runtime has called Configure so far. */
  configurations: () => number;
  log: Logger;
  signal: AbortSignal;
}

/** Runs the protocol on one open connection until it ends (or the signal fires). */
async function runSession(stream: ByteStream, ctx: SessionContext): Promise<SessionEnd> {
  const mux = new Multiplexer(stream);
  const sendToRuntime = mux.open(RUNTIME_SERVICE_CONN, (bytes) => client.receive(bytes));
  const sendToPluginPeer = mux.open(PLUGIN_SERVICE_CONN, (bytes) => server.receive(bytes));
  const client = new TtrpcClient(sendToRuntime);
  const server = new TtrpcServer(sendToPluginPeer, ctx.handlers);
  const abort = () => mux.close();
  ctx.signal.addEventListener("abort", abort);
  const ended = mux.run().then(
    () => "the runtime closed the connection",
    (error) => `the connection failed: ${transportMessage(error)}`,
  ).then((reason) => {
    // Calls still waiting (the registration, say) fail now, not at their timeout.
    client.close(reason);
    return reason;
  });
  const configuredBefore = ctx.configurations();
  try {
    await client.call(RUNTIME_SERVICE, "RegisterPlugin", {
      payload: encodeRegisterPluginRequest({
        pluginName: ctx.pluginName,
        pluginIdx: ctx.pluginIndex,
      }),
      timeoutMs: ctx.registrationTimeoutMs,
    });
    ctx.log.info(
      `Registered with NRI at ${quoted(ctx.socketPath)} as ` +
        `${quoted(`${ctx.pluginIndex}-${ctx.pluginName}`)}`,
    );
  } catch (error) {
    if (!mux.closed) {
      ctx.log.error(
        `Cannot register with NRI at ${quoted(ctx.socketPath)}: ${transportMessage(error)}`,
      );
      mux.close();
    }
  }
  const reason = await ended;
  ctx.signal.removeEventListener("abort", abort);
  await server.settled();
  return { configured: ctx.configurations() > configuredBefore, reason };
}

/**
 * Runs the NRI plugin until `options.signal` fires: connects, serves, and reconnects whenever
 * the connection ends.
 *
 * @throws {UsageError} for a plugin name or index the runtime would refuse
 */
export async function runNriPlugin(options: NriPluginOptions): Promise<void> {
  const socketPath = options.socketPath ?? DEFAULT_NRI_SOCKET;
  const pluginName = options.pluginName ?? DEFAULT_PLUGIN_NAME;
  const pluginIndex = options.pluginIndex ?? DEFAULT_PLUGIN_INDEX;
  checkPluginIdentity(pluginName, pluginIndex);
  const connect = options.connect ?? connectUnixStream;
  const sleep = options.sleep ?? pause;
  const initialMs = options.retry?.initialMs ?? DEFAULT_RETRY.initialMs;
  const maxMs = Math.max(initialMs, options.retry?.maxMs ?? DEFAULT_RETRY.maxMs);
  const { log, signal } = options;
  const ctx: SessionContext = {
    socketPath,
    pluginName,
    pluginIndex,
    registrationTimeoutMs: options.registrationTimeoutMs ?? DEFAULT_REGISTRATION_TIMEOUT_MS,
    ...pluginHandlers(options.decide, log),
    log,
    signal,
  };
  let delay = initialMs;
  let unreachable = false;
  while (!signal.aborted) {
    let stream: ByteStream;
    try {
      stream = await connect(socketPath);
    } catch (error) {
      if (!unreachable) {
        log.warn(
          `Cannot connect to NRI at ${quoted(socketPath)}: ${osErrorReason(error)}: ` +
            `retrying until the runtime listens (is NRI enabled in its config?)`,
        );
        unreachable = true;
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, maxMs);
      continue;
    }
    unreachable = false;
    if (signal.aborted) {
      stream.close();
      break;
    }
    const end = await runSession(stream, ctx);
    if (signal.aborted) break;
    log.warn(`Lost the NRI connection at ${quoted(socketPath)}: ${end.reason}: reconnecting`);
    // A connection the runtime took and configured starts the backoff over; one it refused
    // (a name already taken, say) keeps doubling it, so a refusal is not retried in a loop.
    if (end.configured) delay = initialMs;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, maxMs);
  }
  log.info("NRI plugin stopped");
}
