/**
 * A fixture driver root seen as a whole host: `/` maps into `fixtures/driver-root/<profile>/`, and
 * the device nodes of `<profile>.nodes.json` (which git cannot hold) exist virtually. Discovery
 * and generation then run with driver root `/`, as on a real host, without root privileges.
 *
 * @module
 */

import { fixtureNodes, REPO_ROOT } from "./container_lab.ts";
import { type FileStat, type HostFs, realHostFs } from "../../src/core/io/host_fs.ts";
import { normalizeInRoot } from "../../src/core/path/root_path.ts";

/** The fixture tree of `profile` as a host file system. */
export function fixtureHostFs(profile: string): HostFs {
  const base = `${REPO_ROOT}/fixtures/driver-root/${profile}`;
  const nodes = new Map(fixtureNodes(profile).map((n) => [n.path, n]));
  const at = (path: string) => base + normalizeInRoot(path);
  const node = (path: string): FileStat | undefined => {
    const n = nodes.get(normalizeInRoot(path));
    if (n === undefined) return undefined;
    return {
      kind: n.type === "c" ? "char" : "block",
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      major: n.major,
      minor: n.minor,
    };
  };
  return {
    stat: (path) => node(path) ?? realHostFs.stat(at(path)),
    lstat: (path) => node(path) ?? realHostFs.lstat(at(path)),
    readDir(path) {
      const dir = normalizeInRoot(path);
      const virtual = [...nodes.keys()]
        .filter((p) => p.slice(0, p.lastIndexOf("/")) === dir)
        .map((p) => p.slice(p.lastIndexOf("/") + 1));
      const real = realHostFs.readDir(at(path));
      if (real === undefined && virtual.length === 0) return undefined;
      // Parent dirs of virtual nodes (/dev, /dev/dri) exist virtually too.
      const subdirs = [...nodes.keys()]
        .filter((p) => p.startsWith(dir === "/" ? "/" : `${dir}/`))
        .map((p) => p.slice(dir === "/" ? 1 : dir.length + 1).split("/"))
        .filter((parts) => parts.length > 1)
        .map((parts) => parts[0]);
      return [...new Set([...(real ?? []), ...virtual, ...subdirs])].sort();
    },
    readLink: (path) => realHostFs.readLink(at(path)),
    readTextFile: (path) => realHostFs.readTextFile(at(path)),
  };
}
