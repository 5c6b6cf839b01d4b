/**
 * Finding executables: a bare name in `PATH` plus the standard sbin/bin directories (engines often
 * start runtimes with a minimal `PATH`), a path checked as given; and the absolute program path a
 * hook may be written with.
 *
 * @module
 */

import { statViaSyscall } from "./syscall_host_fs.ts";

/** Directories searched after `PATH`. */
export const STANDARD_BIN_DIRS: readonly string[] = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/**
 * Whether a path (links followed) is an existing regular file with an execute bit set. A raw
 * `statx(2)`: the shim looks the runtime and the hook programs up on every `create`, mostly
 * through dirs of `PATH` they are not in, and Deno's `statSync` answers each of those with a
 * thrown `NotFound`.
 */
export function isExecutableFile(path: string): boolean {
  try {
    const info = statViaSyscall(path, true);
    return info?.kind === "file" && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Options of {@link lookPath}. */
export interface LookPathOptions {
  /** The `PATH` value to search (colon list). */
  path?: string;
  /** Checks a candidate; defaults to {@link isExecutableFile}. */
  isExecutable?: (path: string) => boolean;
}

/** The directories a bare name is searched in: `PATH` entries, then the standard dirs. */
export function searchDirs(pathEnv: string | undefined): string[] {
  const dirs = (pathEnv ?? "").split(":").filter((d) => d !== "");
  return [...new Set([...dirs, ...STANDARD_BIN_DIRS])];
}

/**
 * Resolves `name` to an executable path: a name containing `/` is checked as given, a bare name is
 * searched in {@link searchDirs}.
 *
 * @returns the path, or `undefined` when nothing executable is found
 */
export function lookPath(name: string, options: LookPathOptions = {}): string | undefined {
  const isExecutable = options.isExecutable ?? isExecutableFile;
  if (name === "") return undefined;
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  for (const dir of searchDirs(options.path)) {
    const candidate = `${dir.replace(/\/+$/, "")}/${name}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The first candidate that resolves to an executable (the config's `runtimes` list).
 *
 * @returns the resolved path, or `undefined` when none is usable
 */
export function findFirstExecutable(
  candidates: readonly string[],
  options: LookPathOptions = {},
): string | undefined {
  for (const candidate of candidates) {
    const found = lookPath(candidate, options);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Where a hook's program is, or why there is no absolute path to write. */
export type HookProgram =
  | { ok: true; path: string }
  | {
    ok: false;
    /** `relative`: a path not starting with `/`; `missing`: nothing executable there or found. */
    problem: "relative" | "missing";
    /** The absolute path a spec written for another host could still name, when there is one. */
    guess?: string;
  };

/**
 * The absolute path to put in a hook for a configured program: an absolute path as given, a bare
 * name looked up in the absolute dirs of `PATH` and the standard dirs. A relative path is never
 * accepted: runc would resolve it in the container's directory.
 *
 * @example
 * ```ts
 * resolveHookProgram("xpu-ctk", { path: "/opt/xpu/bin" }); // { ok: true, path: "/opt/xpu/bin/xpu-ctk" }
 * resolveHookProgram("bin/xpu-ctk"); // { ok: false, problem: "relative" }
 * ```
 */
export function resolveHookProgram(
  configured: string,
  options: LookPathOptions = {},
): HookProgram {
  const isExecutable = options.isExecutable ?? isExecutableFile;
  if (configured.startsWith("/")) {
    return isExecutable(configured)
      ? { ok: true, path: configured }
      : { ok: false, problem: "missing", guess: configured };
  }
  if (configured.includes("/")) return { ok: false, problem: "relative" };
  if (configured === "") return { ok: false, problem: "missing" };
  const absoluteDirs = (options.path ?? "").split(":").filter((d) => d.startsWith("/")).join(":");
  const found = lookPath(configured, { path: absoluteDirs, isExecutable });
  return found === undefined
    ? { ok: false, problem: "missing", guess: `/usr/bin/${configured}` }
    : { ok: true, path: found };
}
