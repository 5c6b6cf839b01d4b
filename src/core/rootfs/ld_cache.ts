/**
 * The `update-ldcache` hook: refreshes the container's dynamic linker cache so injected libraries
 * are found. The cache format belongs to the image's libc, so the image's own `ldconfig` runs —
 * and since it is the image's code, it runs isolated from the host (its own mount namespace with
 * the rootfs as root, no capabilities, `no_new_privs`; see `isolated_exec.ts`), replacing this
 * hook process, whose exit status becomes its own. Images without `ldconfig` (busybox, distroless)
 * are left alone.
 *
 * @module
 */

import { findContainerLdconfig } from "./container_ldconfig.ts";
import { ContainerRootfs, RootfsError } from "./container_rootfs.ts";
import { execIsolated, type IsolatedProgram } from "../io/isolated_exec.ts";
import { normalizeInRoot } from "../path/root_path.ts";

/** The drop-in that keeps the folders in the container's linker config. */
export const LDCONFIG_DROP_IN = "/etc/ld.so.conf.d/00-xpu-ctk.conf";

/** The environment the image's `ldconfig` gets: nothing from the container or the hook. */
export const LDCONFIG_ENV: Readonly<Record<string, string>> = {
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
};

/** What the hook did when it did not hand over to `ldconfig`, and what it noticed on the way. */
export interface LdcacheOutcome {
  ran: false;
  reason: string;
  warnings: string[];
}

/** Options of {@link updateLdcache}. */
export interface LdcacheOptions {
  /** Replaces this process with the isolated program (tests pass a recorder). */
  exec?: (program: IsolatedProgram) => never;
  /** Host ids the program runs as (the container's root of a user-namespaced container). */
  user?: { uid: number; gid: number };
  /**
   * `@/path` runs that host program (isolated in the rootfs all the same) instead of the
   * image's own `ldconfig`.
   */
  ldconfig?: string;
  /** Told about what could not be done without failing the container. */
  warn?: (message: string) => void;
}

/**
 * Updates the ld cache of the container at `rootfs` (a host path) for `folders` (in-container
 * paths): writes the drop-in inside the rootfs, then hands this process over to the isolated
 * `ldconfig`.
 *
 * @returns only when there is nothing to run (the image has no ldconfig)
 * @throws {ExecError} when the isolation cannot be had or ldconfig cannot be started
 */
export function updateLdcache(
  rootfs: string,
  folders: readonly string[],
  options: LdcacheOptions = {},
): LdcacheOutcome {
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.warn?.(message);
  };
  const dirs = [...new Set(folders.map(normalizeInRoot))];
  const hostLdconfig = options.ldconfig?.startsWith("@") ? options.ldconfig.slice(1) : undefined;
  const user = options.user ?? { uid: 0, gid: 0 };
  let unwritable: string | undefined;
  const ldconfig = ContainerRootfs.with(rootfs, (root) => {
    const found = hostLdconfig ?? findContainerLdconfig(root);
    if (found === undefined) return undefined;
    unwritable = unwritableEtc(root.stat("/etc"), user);
    if (unwritable !== undefined) return undefined;
    if (dirs.length > 0) writeDropIn(root, dirs, warn);
    return found;
  });
  if (unwritable !== undefined) {
    warn(unwritable);
    return { ran: false, reason: unwritable, warnings };
  }
  if (ldconfig === undefined) return { ran: false, reason: "the image has no ldconfig", warnings };
  const exec = options.exec ?? execIsolated;
  return exec({
    rootfs,
    program: hostLdconfig !== undefined ? { host: hostLdconfig } : { inRoot: ldconfig },
    argv: ["ldconfig", ...dirs],
    env: LDCONFIG_ENV,
    user: options.user,
  });
}

/**
 * Why `ldconfig`, run as `user` without capabilities, could not write its cache into the
 * rootfs's `/etc` (`undefined` when it can, or when there is no such directory). In a container
 * with its own user namespace over a rootfs that belongs to the host's root, the container's
 * root owns nothing there: the cache is then left as the image has it rather than failing the
 * start, since the container's root could not have written it either.
 */
export function unwritableEtc(
  etc: { kind: string; mode: number; uid: number; gid: number } | undefined,
  user: { uid: number; gid: number },
): string | undefined {
  if (etc?.kind !== "dir") return undefined;
  const bits = etc.uid === user.uid ? 0o300 : etc.gid === user.gid ? 0o030 : 0o003;
  if ((etc.mode & bits) === bits) return undefined;
  return `not refreshing the ld cache: the container's root (${user.uid}:${user.gid}) cannot ` +
    `write "/etc", which is ${etc.uid}:${etc.gid} mode ${(etc.mode & 0o7777).toString(8)}: ` +
    `give the container a rootfs its root owns (a user namespace's engine does) for the cache`;
}

/**
 * Lists the folders in the image's `ld.so.conf.d` when the image has one. The drop-in only helps
 * later ldconfig runs inside the container (the folders are on this run's command line), so a
 * directory the image points elsewhere, or a read-only rootfs, costs a warning, not the start.
 */
function writeDropIn(
  root: ContainerRootfs,
  dirs: readonly string[],
  warn: (message: string) => void,
): void {
  try {
    root.writeFile(LDCONFIG_DROP_IN, dirs.join("\n") + "\n");
  } catch (error) {
    if (!(error instanceof RootfsError)) throw error;
    if (error.code === "EROFS" || error.code === "EACCES" || error.code === "EPERM") return;
    warn(`not writing "${LDCONFIG_DROP_IN}": ${error.message}`);
  }
}
