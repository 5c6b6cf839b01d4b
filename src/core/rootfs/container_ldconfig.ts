/**
 * Whether a container image has its own `ldconfig` (glibc images do; busybox, musl and distroless
 * images usually do not), looked up inside its rootfs.
 *
 * @module
 */

import type { ContainerRootfs } from "./container_rootfs.ts";

/** Where images keep `ldconfig`, in the order tried. */
export const LDCONFIG_CANDIDATES: readonly string[] = [
  "/sbin/ldconfig",
  "/usr/sbin/ldconfig",
  "/sbin/ldconfig.real",
  "/usr/sbin/ldconfig.real",
];

/** The container's `ldconfig` (in-root path), or `undefined` when the image has none. */
export function findContainerLdconfig(root: ContainerRootfs): string | undefined {
  return LDCONFIG_CANDIDATES.find((candidate) => root.isExecutableFile(candidate));
}
