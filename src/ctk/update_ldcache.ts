/**
 * The `update-ldcache` hook: refreshes the container's dynamic linker cache so injected libraries
 * are found, with the container's own `ldconfig` run chrooted into its rootfs (the cache format
 * belongs to the image's libc). Images without `ldconfig` (busybox, distroless) are left alone.
 *
 * @module
 */

import { ExecError } from "../core/errors.ts";
import { findContainerLdconfig, ldconfigArgv } from "../core/container_ldconfig.ts";
import { lookPath } from "../core/executable_lookup.ts";
import { type HostFs, realHostFs } from "../core/host_fs.ts";
import { runProcess } from "../core/process.ts";
import { hostPath, normalizeInRoot, resolveInRoot } from "../core/root_path.ts";

/** The drop-in that keeps the folders in the container's linker config. */
export const LDCONFIG_DROP_IN = "/etc/ld.so.conf.d/00-xpu-ctk.conf";

/** What the hook did. */
export type LdcacheOutcome =
  | { ran: false; reason: string }
  | { ran: true; ldconfig: string; dropIn: boolean };

/**
 * Updates the ld cache of the container at `rootfs` for `folders` (in-container paths).
 *
 * @throws {ExecError} when `ldconfig` runs and fails
 */
export async function updateLdcache(
  rootfs: string,
  folders: readonly string[],
  options: { fs?: HostFs; pathEnv?: string } = {},
): Promise<LdcacheOutcome> {
  const fs = options.fs ?? realHostFs;
  const ldconfig = findContainerLdconfig(rootfs, fs);
  if (ldconfig === undefined) return { ran: false, reason: "the image has no ldconfig" };
  const dirs = [...new Set(folders.map(normalizeInRoot))];
  const [program, ...args] = ldconfigArgv(rootfs, { ldconfig, dirs });
  const resolved = lookPath(program, { path: options.pathEnv });
  if (resolved === undefined) {
    throw new ExecError(
      `Cannot update the ld cache: "${program}" is not in PATH: install coreutils on the host`,
    );
  }
  const result = await runProcess(resolved, {
    args,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    clearEnv: true,
  });
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").pop() || `exit status ${result.code}`;
    throw new ExecError(
      `Cannot update the ld cache of "${rootfs}": "${ldconfig}" failed: ${detail}: ` +
        `check that the image's ldconfig works`,
    );
  }
  return { ran: true, ldconfig, dropIn: writeDropIn(rootfs, dirs, fs) };
}

/** Lists the folders in the image's `ld.so.conf.d`, when the image has one and it is writable. */
function writeDropIn(rootfs: string, dirs: readonly string[], fs: HostFs): boolean {
  const confDir = resolveInRoot(fs, rootfs, "/etc/ld.so.conf.d");
  if (fs.stat(hostPath(rootfs, confDir))?.kind !== "dir" || dirs.length === 0) return false;
  try {
    const name = LDCONFIG_DROP_IN.slice(LDCONFIG_DROP_IN.lastIndexOf("/"));
    Deno.writeTextFileSync(hostPath(rootfs, confDir + name), dirs.join("\n") + "\n");
    return true;
  } catch (error) {
    // A read-only rootfs still gets its cache refreshed when ldconfig can write it; the drop-in
    // is a convenience for later ldconfig runs inside the container.
    const code = (error as { code?: string }).code;
    if (code === "EROFS" || error instanceof Deno.errors.PermissionDenied) return false;
    throw error;
  }
}
