/**
 * Finding executables: a bare name in `PATH` plus the standard sbin/bin directories (engines often
 * start runtimes with a minimal `PATH`), a path checked as given.
 *
 * @module
 */

/** Directories searched after `PATH`. */
export const STANDARD_BIN_DIRS: readonly string[] = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/** Whether a path is an existing regular file with an execute bit set. */
export function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
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

/**
 * The absolute path to put in a hook for a configured program: a path as given, a bare name from
 * {@link lookPath}, else `/usr/bin/<name>`. `found` says whether the program was seen, so the
 * caller can warn before a container fails on a missing hook.
 */
export function resolveHookProgram(
  configured: string,
  options: LookPathOptions = {},
): { path: string; found: boolean } {
  const found = lookPath(configured, options);
  if (found !== undefined) {
    return { path: found.startsWith("/") ? found : `${Deno.cwd()}/${found}`, found: true };
  }
  const path = configured.startsWith("/") ? configured : `/usr/bin/${configured.split("/").pop()}`;
  return { path, found: false };
}
