/**
 * Paths inside a root directory (a driver root on the host, a container's rootfs): joining with
 * symlinks resolved as if the root were `/`, so no path can escape it; following symlink chains;
 * and expanding glob patterns.
 *
 * Paths "in the root" are absolute (`/usr/lib/libxpu.so`); the host path is `root + path`.
 *
 * @module
 */

import { filesystemLoopError } from "../io/fs.ts";
import type { HostFs } from "../io/host_fs.ts";

const MAX_SYMLINKS = 40;

/** Joins an in-root path onto its root directory. */
export function hostPath(root: string, path: string): string {
  const base = root.endsWith("/") ? root.slice(0, -1) : root;
  return base + normalizeInRoot(path);
}

/**
 * Normalises a path as seen from inside a root: absolute, no `.` or empty parts, `..` resolved
 * lexically and never above `/`.
 */
export function normalizeInRoot(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

/** The directory part of an in-root path (`/a/b` → `/a`, `/a` → `/`). */
export function dirnameInRoot(path: string): string {
  const normal = normalizeInRoot(path);
  const slash = normal.lastIndexOf("/");
  return slash <= 0 ? "/" : normal.slice(0, slash);
}

/**
 * Resolves `path` inside `root`, following symlinks as if `root` were `/`: absolute link targets
 * restart at the root and `..` stops at it, so the result always names something under the root.
 * Components that do not exist are kept as written.
 *
 * @param options.followFinal whether a symlink in the last component is followed (default true)
 * @returns the resolved path, in-root (absolute, relative to `root`)
 */
export function resolveInRoot(
  fs: HostFs,
  root: string,
  path: string,
  options: { followFinal?: boolean } = {},
): string {
  const followFinal = options.followFinal ?? true;
  let resolved: string[] = [];
  let pending = path.split("/");
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part];
    const isLast = pending.every((p) => p === "" || p === ".");
    if (isLast && !followFinal) {
      resolved = candidate;
      break;
    }
    const host = hostPath(root, "/" + candidate.join("/"));
    const info = fs.lstat(host);
    if (info?.kind === "symlink") {
      if (++links > MAX_SYMLINKS) {
        throw filesystemLoopError(`too many levels of symbolic links at "${host}"`);
      }
      const target = fs.readLink(host);
      if (target.startsWith("/")) resolved = [];
      pending = [...target.split("/"), ...pending];
      continue;
    }
    resolved = candidate;
  }
  return "/" + resolved.join("/");
}

/** One link of a symlink chain: the link's in-root path and its target as stored. */
export interface SymlinkHop {
  link: string;
  target: string;
}

/**
 * Follows the symlink chain that starts at `path` inside `root`.
 *
 * @returns every hop, and the in-root path of the final non-link file (`undefined` when the chain
 *   ends at a missing file)
 */
export function followSymlinkChain(
  fs: HostFs,
  root: string,
  path: string,
): { hops: SymlinkHop[]; final: string | undefined } {
  const hops: SymlinkHop[] = [];
  let link = normalizeInRoot(path);
  for (let i = 0; i <= MAX_SYMLINKS; i++) {
    const host = hostPath(root, resolveInRoot(fs, root, link, { followFinal: false }));
    const info = fs.lstat(host);
    if (info === undefined) return { hops, final: undefined };
    if (info.kind !== "symlink") return { hops, final: link };
    const target = fs.readLink(host);
    hops.push({ link, target });
    link = normalizeInRoot(target.startsWith("/") ? target : `${dirnameInRoot(link)}/${target}`);
  }
  throw filesystemLoopError(`too many levels of symbolic links at "${path}"`);
}

/** Whether a path component contains glob syntax (`*`, `?`, `[`). */
export function hasGlob(part: string): boolean {
  return /[*?[]/.test(part);
}

/**
 * Converts one glob path component into a regular expression: `*` and `?` never match `/`,
 * `[...]` is a character class (`[!...]` or `[^...]` negated).
 */
export function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) {
        source += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negated = body.startsWith("!") || body.startsWith("^");
      if (negated) body = body.slice(1);
      source += `[${negated ? "^" : ""}${body.replace(/[\\\]]/g, "\\$&")}]`;
      i = close;
    } else source += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try {
    return new RegExp(`^${source}$`);
  } catch {
    // A class that cannot be compiled (`[z-a]`) matches nothing.
    return MATCHES_NOTHING;
  }
}

const MATCHES_NOTHING = /(?!)/;

/** Whether a glob path component can be compiled (`[z-a]` cannot). */
export function isValidGlob(pattern: string): boolean {
  return globToRegExp(pattern) !== MATCHES_NOTHING;
}

/**
 * Expands an absolute glob pattern inside `root`. Only existing paths are returned (symlinks
 * count, dangling or not), in-root and sorted.
 */
export function expandGlobInRoot(fs: HostFs, root: string, pattern: string): string[] {
  let prefixes = ["/"];
  const parts = normalizeInRoot(pattern).split("/").filter((p) => p !== "");
  for (const part of parts) {
    const next: string[] = [];
    for (const prefix of prefixes) {
      const join = (name: string) => (prefix === "/" ? "/" : prefix + "/") + name;
      if (!hasGlob(part)) {
        next.push(join(part));
        continue;
      }
      const dir = hostPath(root, resolveInRoot(fs, root, prefix));
      const regexp = globToRegExp(part);
      for (const name of fs.readDir(dir) ?? []) {
        if (regexp.test(name)) next.push(join(name));
      }
    }
    prefixes = next;
  }
  return prefixes
    .filter((p) => fs.lstat(hostPath(root, resolveInRoot(fs, root, p, { followFinal: false }))))
    .sort();
}
