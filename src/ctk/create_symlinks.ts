/**
 * The `create-symlinks` hook: creates `link -> target` symlinks inside a container's rootfs. The
 * link's directory is resolved inside the rootfs, so an image's symlinks cannot redirect the
 * link onto the host.
 *
 * @module
 */

import { ExecError, UsageError } from "../core/errors.ts";
import { type HostFs, realHostFs } from "../core/host_fs.ts";
import { dirnameInRoot, hostPath, normalizeInRoot, resolveInRoot } from "../core/root_path.ts";

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
      `Cannot use --link "${value}": expected TARGET::LINK with an absolute LINK path, ` +
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

/** Creates the links under `rootfs`, making parent directories as needed. */
export function createSymlinks(
  rootfs: string,
  links: readonly LinkRequest[],
  fs: HostFs = realHostFs,
): SymlinkOutcome {
  const outcome: SymlinkOutcome = { created: [], present: [], blocked: [] };
  for (const { target, link } of links) {
    const name = normalizeInRoot(link);
    const parent = resolveInRoot(fs, rootfs, dirnameInRoot(name));
    const path = hostPath(rootfs, `${parent}/${name.slice(name.lastIndexOf("/") + 1)}`);
    const existing = fs.lstat(path);
    if (existing?.kind === "symlink" && fs.readLink(path) === target) {
      outcome.present.push(name);
      continue;
    }
    if (existing !== undefined && existing.kind !== "symlink") {
      outcome.blocked.push(name);
      continue;
    }
    try {
      if (existing !== undefined) Deno.removeSync(path);
      Deno.mkdirSync(hostPath(rootfs, parent), { recursive: true });
      Deno.symlinkSync(target, path);
    } catch (error) {
      const readOnly = (error as { code?: string }).code === "EROFS";
      throw new ExecError(
        `Cannot create symlink "${name}" -> "${target}" in the container's rootfs "${rootfs}": ` +
          (readOnly
            ? "the rootfs is read-only: start the container without a read-only root filesystem"
            : `${error instanceof Error ? error.message : error}: check the container's rootfs`),
        { cause: error },
      );
    }
    outcome.created.push(name);
  }
  return outcome;
}
