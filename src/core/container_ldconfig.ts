/**
 * Whether a container image has its own `ldconfig` (glibc images do; busybox, musl and distroless
 * images usually do not), looked up inside its rootfs.
 *
 * @module
 */

import { isExecutableFile } from "./executable_lookup.ts";
import { type HostFs, realHostFs } from "./host_fs.ts";
import { hostPath, resolveInRoot } from "./root_path.ts";

/** Where images keep `ldconfig`, in the order tried. */
export const LDCONFIG_CANDIDATES: readonly string[] = [
  "/sbin/ldconfig",
  "/usr/sbin/ldconfig",
  "/sbin/ldconfig.real",
  "/usr/sbin/ldconfig.real",
];

/** The container's `ldconfig` (in-root path), or `undefined` when the image has none. */
export function findContainerLdconfig(rootfs: string, fs: HostFs = realHostFs): string | undefined {
  for (const candidate of LDCONFIG_CANDIDATES) {
    const resolved = resolveInRoot(fs, rootfs, candidate);
    if (isExecutableFile(hostPath(rootfs, resolved))) return candidate;
  }
  return undefined;
}

/**
 * The command that refreshes a container's ld cache for `dirs` (in-container paths). `ldconfig`
 * names the program: `@/sbin/ldconfig` is a host path, run with `-r <rootfs>`; anything else is a
 * path in the image, run chrooted into the rootfs (the default: the image's libc owns the cache
 * format).
 *
 * @example
 * ```ts
 * ldconfigArgv("/r", { ldconfig: "/sbin/ldconfig", dirs: ["/usr/lib"] });
 * // ["chroot", "/r", "/sbin/ldconfig", "/usr/lib"]
 * ldconfigArgv("/r", { ldconfig: "@/sbin/ldconfig", dirs: ["/usr/lib"] });
 * // ["/sbin/ldconfig", "-r", "/r", "/usr/lib"]
 * ```
 */
export function ldconfigArgv(
  rootfs: string,
  options: { ldconfig: string; dirs: readonly string[] },
): string[] {
  if (options.ldconfig.startsWith("@")) {
    return [options.ldconfig.slice(1), "-r", rootfs, ...options.dirs];
  }
  return ["chroot", rootfs, options.ldconfig, ...options.dirs];
}
