/**
 * How driver files go into a container, shared by every injector (CSV mode, CDI generation, the
 * legacy cli): regular files are bind-mounted, symlinks are recreated by the `create-symlinks`
 * hook, and the folders that hold libraries get their ld cache refreshed by `update-ldcache`.
 *
 * @module
 */

import type { HookEdit } from "../oci/container_edits.ts";
import type { DriverFile } from "./device_discovery.ts";
import type { HostFs } from "../io/host_fs.ts";
import { dirnameInRoot } from "../path/root_path.ts";

/** A symlink to recreate: its target as stored, at its in-container path. */
export interface LinkSpec {
  target: string;
  path: string;
}

/** Driver files sorted by how they are injected. */
export interface DriverFileLayout {
  /** Regular files, to bind-mount read-only. */
  files: DriverFile[];
  links: LinkSpec[];
  /** Folders holding shared libraries, each once, in discovery order. */
  libraryDirs: string[];
}

/** Whether an in-container path names a shared library (`libx.so`, `libx.so.1.2`). */
export function isSharedLibrary(path: string): boolean {
  return /\.so(\.|$)/.test(path);
}

/** Sorts driver files into binds and links; files that are neither are left out. */
export function layoutDriverFiles(fs: HostFs, files: readonly DriverFile[]): DriverFileLayout {
  const layout: DriverFileLayout = { files: [], links: [], libraryDirs: [] };
  for (const file of files) {
    const kind = fs.lstat(file.hostPath)?.kind;
    if (kind === "symlink") {
      layout.links.push({ target: fs.readLink(file.hostPath), path: file.path });
    } else if (kind === "file") layout.files.push(file);
    else continue;
    const dir = dirnameInRoot(file.path);
    if (isSharedLibrary(file.path) && !layout.libraryDirs.includes(dir)) {
      layout.libraryDirs.push(dir);
    }
  }
  return layout;
}

/** Options of {@link ctkHooks}. */
export interface CtkHookOptions {
  /** Absolute path of `xpu-ctk`, or a function asked only when a hook is needed. */
  ctkPath: string | (() => string);
  /** The hooks' explicit environment (`hookEnv()`): never the container's. */
  env: readonly string[];
}

/**
 * The `createContainer` hooks that recreate `links` and refresh the ld cache of `libraryDirs`,
 * run by `xpu-ctk` with an explicit `env`.
 */
export function ctkHooks(
  layout: { links: readonly LinkSpec[]; libraryDirs: readonly string[] },
  options: CtkHookOptions,
): HookEdit[] {
  const { ctkPath } = options;
  const path = () => (typeof ctkPath === "string" ? ctkPath : ctkPath());
  const hook = (args: string[]): HookEdit => ({
    hookName: "createContainer",
    path: path(),
    args: ["xpu-ctk", "hook", ...args],
    env: [...options.env],
  });
  const hooks: HookEdit[] = [];
  if (layout.links.length > 0) {
    hooks.push(
      hook([
        "create-symlinks",
        ...layout.links.flatMap((l) => ["--link", `${l.target}::${l.path}`]),
      ]),
    );
  }
  if (layout.libraryDirs.length > 0) {
    hooks.push(hook(["update-ldcache", ...layout.libraryDirs.flatMap((f) => ["--folder", f])]));
  }
  return hooks;
}
