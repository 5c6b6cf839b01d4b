/**
 * `xpu-ctk runtime-server`: the long-running process that does the runtime shim's `create` work
 * while warm (`src/runtime/runtime_server.ts`), so a `create` through the shim costs little more
 * than Deno's start-up. Optional: a shim that finds no server does the work itself. Logs one line
 * per request to stderr; stops on SIGTERM or SIGINT, removing its socket.
 *
 * ```sh
 * xpu-ctk runtime-server                     # /run/xpu-container-toolkit/runtime.sock
 * xpu-ctk runtime-server --socket /run/xpu/runtime.sock   # the shims need XPU_RUNTIME_SERVER_SOCKET
 * ```
 *
 * @module
 */

import type { Command } from "commander";
import { pathValue } from "../core/command/command_line.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { listenForSignals } from "../core/io/process.ts";
import {
  RUNTIME_SERVER_SOCKET,
  RUNTIME_SERVER_SOCKET_ENV,
} from "../runtime/runtime_server_protocol.ts";
import { quoted, UsageError } from "../core/errors.ts";
import { stderrLogger } from "./nri_plugin_command.ts";

/** The flags as commander gives them. */
interface RuntimeServerFlags {
  socket?: string;
  debug?: boolean;
}

/** The socket from the flag, then the variable, then the default; pure. */
export function runtimeServerSocket(
  flags: { socket?: string },
  env: Readonly<Record<string, string>>,
): string {
  const socket = flags.socket ?? (env[RUNTIME_SERVER_SOCKET_ENV] || undefined) ??
    RUNTIME_SERVER_SOCKET;
  if (!socket.startsWith("/")) {
    throw new UsageError(
      `Cannot listen on ${quoted(socket)}: give --socket an absolute path (default ` +
        `${quoted(RUNTIME_SERVER_SOCKET)})`,
    );
  }
  return socket;
}

/** What the command reaches the world through; tests replace it. */
export interface RuntimeServerDeps {
  /** Calls `handler` on SIGTERM or SIGINT until the returned function is called. */
  onStopSignal?: (handler: (signal: string) => void) => () => void;
  /** Called once the socket listens. */
  onListening?: () => void;
}

/** Adds `runtime-server` to the `xpu-ctk` program. */
export function addRuntimeServerCommand(
  program: Command,
  io: ToolIo,
  deps: RuntimeServerDeps = {},
): void {
  program
    .command("runtime-server")
    .description(
      "do the runtime shim's create work in a warm process: a create through the shim then " +
        "costs little more than Deno's start-up; stops on SIGTERM/SIGINT",
    )
    .option(
      "--socket <path>",
      `where to listen (env ${RUNTIME_SERVER_SOCKET_ENV}, which the shims read too; default: ` +
        `${quoted(RUNTIME_SERVER_SOCKET)})`,
      pathValue,
    )
    .option("--debug", "log debug lines too")
    .exitOverride()
    .action(async (flags: RuntimeServerFlags) => {
      const socketPath = runtimeServerSocket(flags, io.env);
      const log = stderrLogger(io, { debug: flags.debug === true });
      const controller = new AbortController();
      const stop = (deps.onStopSignal ??
        ((handler) => listenForSignals(["SIGTERM", "SIGINT"], handler)))((signal) => {
          if (!controller.signal.aborted) log.info(`Received ${signal}: stopping`);
          controller.abort();
        });
      try {
        const { serveRuntime } = await import("../runtime/runtime_server.ts");
        await serveRuntime({
          socketPath,
          log,
          signal: controller.signal,
          onListening: deps.onListening,
        });
      } finally {
        stop();
      }
    });
}
