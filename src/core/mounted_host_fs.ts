/**
 * A host directory read through the place it is mounted (the installer's container sees the
 * host's `/` at `/host`): paths stay host paths, files are read under the mount point, and
 * symlinks are followed the way the host would follow them — an absolute target such as
 * `/usr/lib/libxpu.so.1` is looked up under the mount again, never in the reader's own tree.
 *
 * @module
 */

import type { FileStat, HostFs } from "./host_fs.ts";

/** How many symlinks one lookup follows before giving up (Linux's limit). */
const MAX_SYMLINKS = 40;

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, "") || "/";
}

/**
 * `base` with the host tree `hostDir` read at `mountPoint`. Paths outside `hostDir` are read as
 * they are. With `hostDir === mountPoint` it is `base` itself.
 *
 * @example
 * ```ts
 * const fs = mountedHostFs(realHostFs, "/", "/host");
 * fs.stat("/dev/xpu0"); // stats /host/dev/xpu0
 * ```
 */
export function mountedHostFs(base: HostFs, hostDir: string, mountPoint: string): HostFs {
  const from = trimSlashes(hostDir);
  const to = trimSlashes(mountPoint);
  if (from === to) return base;
  const toMount = (path: string): string => {
    if (from === "/") return to + path;
    if (path === from) return to;
    return path.startsWith(from + "/") ? to + path.slice(from.length) : path;
  };
  /** The host path with every symlink of its directories resolved; the last part kept if asked. */
  const resolve = (path: string, followLast: boolean): string | undefined => {
    // "dir/" and "dir/." name the directory a symlink points to, as on Linux.
    if (/\/\.?$/.test(path)) followLast = true;
    const pending = path.split("/").filter((p) => p !== "" && p !== ".");
    let done = "";
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === "..") {
        done = done.slice(0, done.lastIndexOf("/"));
        continue;
      }
      const candidate = `${done}/${name}`;
      if (pending.length === 0 && !followLast) return candidate;
      if (from.startsWith(candidate + "/")) {
        // An ancestor of the mounted dir: the host's, not visible (nor needed) here.
        done = candidate;
        continue;
      }
      const info = base.lstat(toMount(candidate));
      if (info === undefined) return undefined;
      if (info.kind !== "symlink") {
        done = candidate;
        continue;
      }
      if (++hops > MAX_SYMLINKS) return undefined;
      const target = base.readLink(toMount(candidate));
      pending.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      if (target.startsWith("/")) done = "";
    }
    return done || "/";
  };
  const through = <T>(path: string, followLast: boolean, read: (p: string) => T | undefined) => {
    const resolved = resolve(path, followLast);
    return resolved === undefined ? undefined : read(toMount(resolved));
  };
  return {
    stat: (path): FileStat | undefined => through(path, true, (p) => base.stat(p)),
    lstat: (path) => through(path, false, (p) => base.lstat(p)),
    readDir: (path) => through(path, true, (p) => base.readDir(p)),
    readLink(path) {
      const resolved = resolve(path, false);
      return base.readLink(toMount(resolved ?? path));
    },
    readTextFile: (path) => through(path, true, (p) => base.readTextFile(p)),
  };
}
