/**
 * Applying a configure plan inside a container being created: this thread enters the
 * container's mount namespace (the prestart hook runs before the container pivots into its
 * rootfs, so the rootfs is at the same path there and the host's files are still visible), and
 * every change is made through the container's rootfs fd (`container_rootfs.ts`): an image's
 * symlinks, procfs magic links or a concurrent writer cannot move a node, a mount or a link onto
 * the host.
 *
 * @module
 */

import { ContainerRootfs, openHostPath, RootfsError } from "../core/rootfs/container_rootfs.ts";
import { closeFd } from "../core/io/fs.ts";
import { ExecError } from "../core/errors.ts";
import { containerRootIds, enterMountNamespace } from "../core/io/mount_namespace.ts";
import type { ConfigureOp } from "./configure_plan.ts";

/**
 * Applies `ops` to the rootfs at `rootfs` in the caller's current mount namespace. In a container
 * with its own user namespace (`userNamespace`) a device node is bound from the host, as runc
 * does: no node made there could be opened.
 */
export function applyOps(
  rootfs: ContainerRootfs,
  ops: readonly ConfigureOp[],
  options: { userNamespace?: boolean } = {},
): void {
  for (const op of ops) {
    switch (op.op) {
      case "node":
        if (options.userNamespace) bindHostPath(op.source, (fd) => rootfs.bindDevice(fd, op.path));
        else rootfs.mknod(op.path, op);
        break;
      case "bind":
        bindHostPath(op.source, (fd) => rootfs.bindReadOnly(fd, op.path));
        break;
      case "link":
        rootfs.symlink(op.target, op.path);
        break;
    }
  }
}

function bindHostPath(path: string, bind: (fd: number) => void): void {
  const source = openHostPath(path);
  try {
    bind(source);
  } finally {
    closeFd(source);
  }
}

/**
 * Runs `fn` in the mount namespace of `pid`; with `stay`, the thread is left there (for a last
 * step that replaces the process).
 */
export function inMountNamespace<T>(pid: number, fn: () => T, options: { stay?: boolean } = {}): T {
  let leave: () => void;
  try {
    leave = enterMountNamespace(pid);
  } catch (error) {
    throw new ExecError(
      `Cannot enter the mount namespace of the container (pid ${pid}): ${
        error instanceof Error ? error.message : error
      }: check that the container is still being created and the hook runs as root`,
      { cause: error },
    );
  }
  try {
    return fn();
  } finally {
    if (!options.stay) leave();
  }
}

/**
 * Applies the ops in the container of `pid`, whose rootfs is `rootfs` (a host path). When the
 * container has its own user namespace, what is created there belongs to its root.
 *
 * @throws {ExecError} naming the failing step
 */
export function applyInContainer(pid: number, rootfs: string, ops: readonly ConfigureOp[]): void {
  if (ops.length === 0) return;
  const owner = containerRootIds(pid);
  inMountNamespace(pid, () => {
    try {
      ContainerRootfs.with(
        rootfs,
        (root) => applyOps(root, ops, { userNamespace: owner !== undefined }),
        { owner },
      );
    } catch (error) {
      if (!(error instanceof RootfsError)) throw error;
      throw new ExecError(
        `Cannot set up the XPU devices in the container (pid ${pid}): ${error.message}: ` +
          `the image's layout at "${error.path}" does not allow it; fix the image`,
        { cause: error },
      );
    }
  });
}
