/**
 * The host's file tree read through the place it is mounted (the installer's container sees the
 * host's `/` at `/host`): paths stay host paths, and symlinks are followed the way the host would
 * follow them — an absolute target such as `/usr/lib/libxpu.so.1` is looked up under the mount
 * again, never in the reader's own tree ({@link resolveInRoot} with the mount as the root).
 *
 * @module
 */

import type { HostFs } from "./host_fs.ts";
import { hostPath, resolveInRoot } from "../path/root_path.ts";

/**
 * `base` with the host's `/` read at `mountPoint`; with `mountPoint` `/` it is `base` itself.
 *
 * @example
 * ```ts
 * const fs = mountedHostFs(realHostFs, "/host");
 * fs.stat("/dev/xpu0"); // stats /host/dev/xpu0
 * ```
 */
export function mountedHostFs(base: HostFs, mountPoint: string): HostFs {
  const root = mountPoint.replace(/\/+$/, "") || "/";
  if (root === "/") return base;
  /** Where `path` is under the mount, its symlinks resolved (the last one only if asked). */
  const under = (path: string, followFinal: boolean): string | undefined => {
    try {
      // "dir/" and "dir/." name what a symlink "dir" points to, as on Linux.
      const follow = followFinal || /\/\.?$/.test(path);
      return hostPath(root, resolveInRoot(base, root, path, { followFinal: follow }));
    } catch (error) {
      if (error instanceof Deno.errors.FilesystemLoop) return undefined;
      throw error;
    }
  };
  const read = <T>(path: string, followFinal: boolean, fn: (p: string) => T | undefined) => {
    const at = under(path, followFinal);
    return at === undefined ? undefined : fn(at);
  };
  return {
    stat: (path) => read(path, true, (p) => base.stat(p)),
    lstat: (path) => read(path, false, (p) => base.lstat(p)),
    readDir: (path) => read(path, true, (p) => base.readDir(p)),
    readLink: (path) => base.readLink(under(path, false) ?? hostPath(root, path)),
    readTextFile: (path) => read(path, true, (p) => base.readTextFile(p)),
  };
}
