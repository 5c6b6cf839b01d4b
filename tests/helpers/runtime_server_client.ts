/**
 * The shim's side of the runtime-server protocol, run in a worker: `askRuntimeServer` blocks its
 * thread until the answer comes (as in the shim, which has nothing else to do), so a test that
 * serves in its own thread asks from another.
 *
 * @module
 */

import type { ServerAnswer, ServerRequest } from "../../src/runtime/runtime_server_protocol.ts";

/** `askRuntimeServer(socket, request, timeoutMs)`, in a worker of its own. */
export function askFromWorker(
  socket: string,
  request: ServerRequest,
  timeoutMs?: number,
): Promise<ServerAnswer> {
  const worker = new Worker(new URL("./runtime_server_client_worker.ts", import.meta.url), {
    type: "module",
  });
  const { promise, resolve, reject } = Promise.withResolvers<ServerAnswer>();
  worker.onmessage = (event: MessageEvent<ServerAnswer>) => resolve(event.data);
  worker.onerror = (event) => {
    event.preventDefault();
    reject(new Error(event.message));
  };
  worker.postMessage({ socket, request, timeoutMs });
  return promise.finally(() => worker.terminate());
}
