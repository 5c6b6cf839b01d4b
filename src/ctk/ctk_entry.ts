/**
 * `xpu-ctk`'s way in: the hooks runc runs for every container (`hook_call.ts`) go straight to
 * their work; everything else goes to the command tree (`main.ts`), loaded only then, with
 * `commander` and the Node layer Deno starts for it.
 *
 * @module
 */

import type { ToolIo } from "../core/io/tool_io.ts";
import { parseHookCall } from "./hook_call.ts";

/**
 * Runs `xpu-ctk` with `args` against `io`.
 *
 * @returns the exit status
 * @throws {UsageError} (and the errors of each command) as the command tree does
 */
export async function runCtk(args: readonly string[], io: ToolIo): Promise<number> {
  const hook = parseHookCall(args);
  if (hook !== undefined) return await (await import("./hook_commands.ts")).runHookCall(hook, io);
  return await (await import("./main.ts")).ctkMain(args, io);
}
