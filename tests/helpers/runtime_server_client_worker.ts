/** The worker of `runtime_server_client.ts`: one question, one answer. */

import { askRuntimeServer } from "../../src/runtime/runtime_server_protocol.ts";

self.onmessage = (event: MessageEvent) => {
  const { socket, request, timeoutMs } = event.data;
  self.postMessage(askRuntimeServer(socket, request, timeoutMs));
};
