/**
 * What `xpu-ctk hook create-symlinks` and `xpu-ctk hook update-ldcache` do, for `commander`'s
 * actions and for the entry's own recognition of the calls runc makes (`hook_call.ts`), which
 * loads this module without `commander`.
 *
 * @module
 */

import { assertHookEnv } from "../core/config/hook_env.ts";
import { quoted } from "../core/errors.ts";
import { isMountPoint } from "../core/io/mount_namespace.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { containerRootFromState } from "../core/oci/oci_state.ts";
import { updateLdcache } from "../core/rootfs/ld_cache.ts";
import { createSymlinks, parseLinkArgument } from "./create_symlinks.ts";
import type { HookCall } from "./hook_call.ts";

/**
 * Runs the hook `call` on the container whose OCI state is on stdin.
 *
 * @returns the exit status, 0
 * @throws {UsageError} for an environment that may not decide anything on the host, a malformed
 *   `--link`, or a state that names no container
 */
export async function runHookCall(call: HookCall, io: ToolIo): Promise<number> {
  // Before a hook reads its state or touches a rootfs: an environment from the container decides
  // nothing on the host.
  assertHookEnv(io.env, "xpu-ctk hook");
  // A malformed link is refused before the state is read.
  const links = call.hook === "create-symlinks" ? call.links.map(parseLinkArgument) : [];
  const rootfs = containerRootFromState(await io.readStdin(), { cwd: io.cwd, isMountPoint });
  if (call.hook === "create-symlinks") {
    const outcome = createSymlinks(rootfs, links);
    for (const link of outcome.blocked) {
      io.stderr(`xpu-ctk: warning: not creating ${quoted(link)}: a file is already there\n`);
    }
  } else {
    updateLdcache(rootfs, call.folders, {
      warn: (message) => io.stderr(`xpu-ctk: warning: ${message}\n`),
    });
  }
  return 0;
}
