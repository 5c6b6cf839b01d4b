/**
 * The `create-symlinks` hook: creates `link -> target` symlinks inside a container's rootfs,
 * where an image's symlinks cannot redirect a link onto the host.
 *
 * @module
 */

import { ExecError, quoted, UsageError } from "../core/errors.ts";
import {
  ContainerRootfs,
  RootfsError,
  type SymlinkResult,
} from "../core/rootfs/container_rootfs.ts";
import { normalizeInRoot } from "../core/path/root_path.ts";

/** One symlink to create: `target` is stored as given, `link` is a path in the container. */
export interface LinkRequest {
  target: string;
  link: string;
}

/**
 * Parses a `--link TARGET::LINK` value.
 *
 * @throws {UsageError} when the value has no `::`, an empty part, or a relative link path
 */
export function parseLinkArgument(value: string): LinkRequest {
  const at = value.indexOf("::");
  const target = at < 0 ? "" : value.slice(0, at);
  const link = at < 0 ? "" : value.slice(at + 2);
  if (target === "" || !link.startsWith("/")) {
    throw new UsageError(
      `Cannot use --link ${quoted(value)}: expected TARGET::LINK with an absolute LINK path, ` +
        `e.g. --link libxpu.so.1::/usr/lib/libxpu.so`,
    );
  }
  return { target, link };
}

/** What happened to each link. */
export interface SymlinkOutcome {
  created: string[];
  /** Links left alone because they already exist with the same target. */
  present: string[];
  /** Links not created because something other than a symlink is in the way. */
  blocked: string[];
}

/**
 * Creates the links in the rootfs at `rootfs` (a host path), making parent directories as needed.
 * Every path is resolved inside the rootfs from one directory fd (see `container_rootfs.ts`), so
 * neither the image's symlinks nor a concurrent writer can put a link outside it.
 *
 * @throws {ExecError} when a link cannot be created inside the rootfs
 */
export function createSymlinks(rootfs: string, links: readonly LinkRequest[]): SymlinkOutcome {
  const outcome: SymlinkOutcome = { created: [], present: [], blocked: [] };
  ContainerRootfs.with(rootfs, (root) => {
    for (const { target, link } of links) {
      const name = normalizeInRoot(link);
      let result: SymlinkResult;
      try {
        result = root.symlink(target, name);
      } catch (error) {
        if (!(error instanceof RootfsError)) throw error;
        throw new ExecError(
          `${error.message}: ` +
            (error.code === "EROFS"
              ? "the rootfs is read-only: start the container without a read-only root filesystem"
              : "check the image's layout at that path"),
          { cause: error },
        );
      }
      outcome[result].push(name);
    }
  });
  return outcome;
}
