/**
 * The runtime's side of an NRI connection, in memory, for the plugin session's unit tests: what
 * containerd's NRI adaptation does with an external plugin. It serves `Runtime/RegisterPlugin`
 * on connection 2 (recording the registrations) and calls the plugin's methods on connection 1.
 * The end-to-end tests check the same exchange against the real containerd.
 *
 * @module
 */

import type { ByteStream } from "../../src/core/io/unix_stream.ts";
import { Multiplexer, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN } from "../../src/nri/multiplex.ts";
import {
  type ConfigureResponse,
  type CreateContainerRequest,
  type CreateContainerResponse,
  decodeConfigureResponse,
  decodeCreateContainerResponse,
  decodeRegisterPluginRequest,
  decodeSynchronizeResponse,
  encodeConfigureRequest,
  encodeCreateContainerRequest,
  encodeEmpty,
  encodeSynchronizeRequest,
  type RegisterPluginRequest,
  type SynchronizeRequest,
  type SynchronizeResponse,
} from "../../src/nri/nri_messages.ts";
import { PLUGIN_SERVICE, RUNTIME_SERVICE } from "../../src/nri/nri_session.ts";
import { TtrpcClient, type TtrpcHandler, TtrpcServer } from "../../src/nri/ttrpc.ts";

/** The runtime's end of one plugin connection. */
export class FakeNriRuntime {
  readonly mux: Multiplexer;
  readonly #client: TtrpcClient;
  readonly registrations: RegisterPluginRequest[] = [];
  readonly #registered: Promise<RegisterPluginRequest>;
  /** Settles when the connection ends. */
  readonly ended: Promise<void>;

  /** Serves `stream` (the runtime's end); `refuseRegistration` answers it with that error. */
  constructor(stream: ByteStream, options: { refuseRegistration?: string } = {}) {
    this.mux = new Multiplexer(stream);
    let registered!: (request: RegisterPluginRequest) => void;
    this.#registered = new Promise((resolve) => (registered = resolve));
    const handlers = new Map<string, TtrpcHandler>([
      [`${RUNTIME_SERVICE}/RegisterPlugin`, (payload) => {
        const request = decodeRegisterPluginRequest(payload);
        this.registrations.push(request);
        if (options.refuseRegistration !== undefined) throw new Error(options.refuseRegistration);
        registered(request);
        return encodeEmpty({});
      }],
    ]);
    const toPlugin = this.mux.open(PLUGIN_SERVICE_CONN, (bytes) => this.#client.receive(bytes));
    const fromPlugin = this.mux.open(RUNTIME_SERVICE_CONN, (bytes) => server.receive(bytes));
    this.#client = new TtrpcClient(toPlugin);
    const server = new TtrpcServer(fromPlugin, handlers);
    this.ended = this.mux.run().catch(() => {}).finally(() => this.#client.close("closed"));
  }

  /** Resolves with the plugin's registration. */
  registered(): Promise<RegisterPluginRequest> {
    return this.#registered;
  }

  /** Calls `Plugin/Configure`, as the runtime does right after the registration. */
  async configure(
    options: { requestTimeout?: number } = {},
  ): Promise<ConfigureResponse> {
    const answer = await this.#call(
      "Configure",
      encodeConfigureRequest({
        config: "",
        runtimeName: "fake-containerd",
        runtimeVersion: "v0.0.0",
        registrationTimeout: 5000,
        requestTimeout: options.requestTimeout ?? 2000,
      }),
    );
    return decodeConfigureResponse(answer);
  }

  /** Calls `Plugin/Synchronize` once. */
  async synchronize(request: SynchronizeRequest): Promise<SynchronizeResponse> {
    return decodeSynchronizeResponse(
      await this.#call("Synchronize", encodeSynchronizeRequest(request)),
    );
  }

  /** Calls `Plugin/CreateContainer`. */
  async createContainer(request: CreateContainerRequest): Promise<CreateContainerResponse> {
    return decodeCreateContainerResponse(
      await this.#call("CreateContainer", encodeCreateContainerRequest(request)),
    );
  }

  /** Calls any plugin method with raw bytes (for methods and inputs the plugin must refuse). */
  callRaw(method: string, payload: Uint8Array): Promise<Uint8Array> {
    return this.#call(method, payload);
  }

  /** Calls `Plugin/Shutdown`, then closes the connection, as a runtime going down does. */
  async shutdown(): Promise<void> {
    await this.#call("Shutdown", encodeEmpty({}));
    this.close();
  }

  /** Drops the connection (the runtime crashed or restarted). */
  close(): void {
    this.mux.close();
  }

  #call(method: string, payload: Uint8Array): Promise<Uint8Array> {
    return this.#client.call(PLUGIN_SERVICE, method, { payload, timeoutMs: 5000 });
  }
}
