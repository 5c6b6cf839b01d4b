/**
 * An in-memory {@link HostFs} built from a plain description of a tree, so discovery logic can be
 * tested without touching the disk:
 *
 * ```ts
 * memoryHostFs({
 *   "/dev/xpu0": { char: [511, 0], mode: 0o666 },
 *   "/usr/lib/libxpu.so.1": { link: "libxpu.so.1.0.0" },
 *   "/usr/lib/libxpu.so.1.0.0": "file contents",
 *   "/opt/empty": { dir: true },
 *   "/run/x/runtime.sock": { socket: true },
 * });
 * ```
 *
 * Parent directories are implied. Symlinks behave as the kernel's do with the fake's `/` as the
 * root: `stat`, `readDir` and `readTextFile` follow them (in every component), `lstat` and
 * `readLink` do not follow the last one.
 *
 * @module
 */

import type { FileKind, FileStat, HostFs } from "../../src/core/io/host_fs.ts";

/** Ownership shared by every entry kind. */
interface Owner {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** One entry of a tree description: a string is a regular file's contents. */
export type MemoryEntry =
  | string
  | ({ file: string } & Owner)
  | ({ dir: true } & Owner)
  | ({ char: [major: number, minor: number] } & Owner)
  | ({ block: [major: number, minor: number] } & Owner)
  | ({ socket: true } & Owner)
  | { link: string };

/** A tree description: absolute paths to entries. */
export type MemoryTree = Readonly<Record<string, MemoryEntry>>;

interface Node {
  stat: FileStat;
  contents?: string;
  target?: string;
}

const MAX_SYMLINKS = 40;

function node(kind: FileKind, owner: Owner, defaultMode: number, extra: Partial<Node> = {}): Node {
  return {
    stat: {
      kind,
      mode: owner.mode ?? defaultMode,
      uid: owner.uid ?? 0,
      gid: owner.gid ?? 0,
      major: 0,
      minor: 0,
    },
    ...extra,
  };
}

function toNode(entry: MemoryEntry): Node {
  if (typeof entry === "string") return node("file", {}, 0o644, { contents: entry });
  if ("file" in entry) return node("file", entry, 0o644, { contents: entry.file });
  if ("dir" in entry) return node("dir", entry, 0o755);
  if ("link" in entry) return node("symlink", {}, 0o777, { target: entry.link });
  if ("socket" in entry) return node("socket", entry, 0o600);
  const kind = "char" in entry ? "char" : "block";
  const [major, minor] = "char" in entry ? entry.char : entry.block;
  const device = node(kind, entry, 0o660);
  device.stat.major = major;
  device.stat.minor = minor;
  return device;
}

function split(path: string): string[] {
  return path.split("/").filter((p) => p !== "" && p !== ".");
}

/** An in-memory `HostFs` over `tree` (parent directories implied, symlinks resolved from `/`). */
export function memoryHostFs(tree: MemoryTree): HostFs {
  const nodes = new Map<string, Node>([["/", node("dir", {}, 0o755)]]);
  for (const [path, entry] of Object.entries(tree)) {
    if (!path.startsWith("/") || split(path).includes("..")) {
      throw new Error(`memoryHostFs: "${path}" must be absolute and without ".."`);
    }
    const parts = split(path);
    for (let i = 1; i < parts.length; i++) {
      const dir = "/" + parts.slice(0, i).join("/");
      const existing = nodes.get(dir);
      if (existing === undefined) nodes.set(dir, node("dir", {}, 0o755));
      else if (existing.stat.kind !== "dir") {
        throw new Error(`memoryHostFs: "${dir}" is a parent of "${path}" but not a directory`);
      }
    }
    nodes.set("/" + parts.join("/"), toNode(entry));
  }

  /** The canonical path and node `path` names, or `undefined` when it does not exist. */
  function lookup(path: string, followFinal: boolean): [string, Node] | undefined {
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
      const found = nodes.get("/" + candidate.join("/"));
      if (found === undefined) return undefined;
      const isLast = pending.every((p) => p === "" || p === ".");
      if (found.target !== undefined && (followFinal || !isLast)) {
        if (++links > MAX_SYMLINKS) {
          throw new Deno.errors.FilesystemLoop(`too many levels of symbolic links: "${path}"`);
        }
        if (found.target.startsWith("/")) resolved = [];
        pending = [...found.target.split("/"), ...pending];
        continue;
      }
      if (!isLast && found.stat.kind !== "dir") return undefined;
      resolved = candidate;
    }
    const canonical = "/" + resolved.join("/");
    return [canonical, nodes.get(canonical)!];
  }

  return {
    stat: (path) => {
      const found = lookup(path, true);
      return found && { ...found[1].stat };
    },
    lstat: (path) => {
      const found = lookup(path, false);
      return found && { ...found[1].stat };
    },
    readDir(path) {
      const found = lookup(path, true);
      if (found === undefined || found[1].stat.kind !== "dir") return undefined;
      const prefix = found[0] === "/" ? "/" : found[0] + "/";
      return [...nodes.keys()]
        .filter((p) => p !== "/" && p.startsWith(prefix) && !p.slice(prefix.length).includes("/"))
        .map((p) => p.slice(prefix.length))
        .sort();
    },
    readLink(path) {
      const found = lookup(path, false);
      if (found === undefined) throw new Deno.errors.NotFound(`no such file: "${path}"`);
      if (found[1].target === undefined) throw new Error(`not a symlink: "${path}"`);
      return found[1].target;
    },
    readTextFile(path) {
      const found = lookup(path, true);
      if (found === undefined) return undefined;
      if (found[1].contents === undefined) throw new Error(`not a regular file: "${path}"`);
      return found[1].contents;
    },
  };
}
