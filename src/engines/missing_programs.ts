/**
 * The programs a configure points the engine at, checked after the plan: each handler's runtime,
 * or, where the engine is wired through a hook file, the hook program and the
 * `xpu-container-cli` that hook runs. A program that is missing (or not executable) is a warning,
 * not an error — an operator may wire the engine first and install the toolkit afterwards — but
 * it is said, with the fix, instead of showing up later as a failed container.
 *
 * @module
 */

import { dirname } from "node:path";
import { loadConfig } from "../core/config/config_file.ts";
import { quoted } from "../core/errors.ts";
import { isExecutableFile, lookPath, STANDARD_BIN_DIRS } from "../core/io/executable_lookup.ts";
import { statSync } from "../core/io/fs.ts";
import { hostPath } from "../core/path/root_path.ts";
import type { RuntimeAction } from "./engine_adapter.ts";
import type { RuntimeHandler } from "./engine_edit.ts";

/** What the check reads of the resolved settings. */
export interface ProgramTargets {
  action: RuntimeAction;
  handlers: readonly RuntimeHandler[];
  /** The hook file's program (absolute). */
  hookPath: string;
  /** Where the host's `/` is mounted when it is not this process's `/`. */
  hostRoot?: string;
}

/** Options of {@link missingPrograms}. */
export interface MissingProgramsOptions {
  /** Whether the engine is wired through the hook file (it runs the hook, not the handlers). */
  hookFile: boolean;
  /** The environment, for the toolkit's config (`[xpu-container-cli] path` and `root`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether a path is an executable file (default: the file system's answer). */
  isExecutable?: (path: string) => boolean;
  /** Whether anything is at a path (default: the file system's answer). */
  exists?: (path: string) => boolean;
}

/**
 * One warning (without the `warning:` prefix) per program of `targets` the engine would find
 * missing or not executable.
 */
export function missingPrograms(
  targets: ProgramTargets,
  options: MissingProgramsOptions,
): string[] {
  const isExecutable = options.isExecutable ?? isExecutableFile;
  const exists = options.exists ?? pathExists;
  // The host may be mounted elsewhere (the installer's /host): a program is there if it is
  // there under either root.
  const root = targets.hostRoot && targets.hostRoot !== "/" ? targets.hostRoot : undefined;
  const seen = (path: string, check: (p: string) => boolean) =>
    check(path) || (root !== undefined && check(hostPath(root, path)));
  const problem = (path: string): string | undefined =>
    seen(path, isExecutable)
      ? undefined
      : seen(path, exists)
      ? "is not an executable file"
      : "does not exist";
  const operator = targets.action === "setup" || targets.action === "cleanup";
  const warnings: string[] = [];
  if (!options.hookFile) {
    for (const handler of targets.handlers) {
      const why = problem(handler.path);
      if (why === undefined) continue;
      warnings.push(
        `the runtime ${quoted(handler.path)} of handler ${quoted(handler.name)} ${why}: ` +
          fixFor(why, operator ? RUNTIME_DIR_FIX : "pass --runtime-path with where it is") +
          `; until then containers on ${quoted(handler.name)} fail to start`,
      );
    }
    return warnings;
  }
  const why = problem(targets.hookPath);
  if (why !== undefined) {
    warnings.push(
      `the hook program ${quoted(targets.hookPath)} ${why}: ` +
        fixFor(why, operator ? RUNTIME_DIR_FIX : "pass --hook-path with where it is") +
        `; until then the hook cannot run`,
    );
  }
  const cli = cliProblem(targets.hookPath, options.env, (p) => seen(p, isExecutable));
  if (cli !== undefined) warnings.push(cli);
  return warnings;
}

/** The other fix of the operator form: where the programs are is RUNTIME_DIR. */
const RUNTIME_DIR_FIX = "pass the RUNTIME_DIR the toolkit is installed in";

/** The fix of a program that is missing or not executable, or the `other` one. */
function fixFor(why: string, other: string): string {
  return `${why === "does not exist" ? "install it there" : "make it executable (chmod +x)"}, ` +
    `or ${other}`;
}

/**
 * Where the legacy hook finds `xpu-container-cli` — `[xpu-container-cli] path`, else the hook's
 * `PATH` (its own dir, then the standard dirs, as the hook file sets it) under the driver root —
 * and the warning when it finds none. A config that cannot be read is the hook's problem, said
 * when the hook runs; no warning here.
 */
function cliProblem(
  hookPath: string,
  env: Readonly<Record<string, string | undefined>>,
  isExecutable: (path: string) => boolean,
): string | undefined {
  let configured: string;
  let root: string;
  try {
    const { config } = loadConfig(env);
    configured = config.cli.path;
    root = config.cli.root;
  } catch {
    return undefined;
  }
  const dirs = [...new Set([dirname(hookPath), ...STANDARD_BIN_DIRS])];
  const path = dirs.join(":");
  const found = configured.includes("/")
    ? isExecutable(configured)
    : configured !== ""
    ? lookPath(configured, { path, isExecutable }) !== undefined
    : dirs.some((dir) => isExecutable(hostPath(root, `${dir}/xpu-container-cli`)));
  if (found) return undefined;
  const where = configured !== ""
    ? `${quoted(configured)} ([xpu-container-cli] path)`
    : `xpu-container-cli (in ${quoted(dirname(hookPath))} or the standard PATH dirs` +
      `${root === "/" ? "" : ` under ${quoted(root)}`})`;
  return `the program the hook runs, ${where}, is not there: install xpu-container-cli beside ` +
    `the hook, or name it in [xpu-container-cli] path of the toolkit's config; until then the ` +
    `hook fails for every container that asks for XPUs`;
}

/** Whether anything is at `path` (followed to its target). */
function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
