/**
 * The launchers of the bundled artefact: one small bash script per executable that runs the
 * tool's bundled entry module on the Deno runtime shipped beside it (`lib/deno`), with the same
 * argv, stdio, PID (exec) and exit status.
 *
 * The script finds `lib/` beside itself — as started when that is no symbolic link (no fork),
 * else through `readlink -f` — so it may be linked from `/usr/bin` or copied (with `lib/`) by the
 * installer; the package's own launchers name the dir instead. What `deno run` is told, and why:
 *
 * - `exec -a "$0"` keeps the name the launcher was started as in argv[0], which the shim reads
 *   for its mode-pinned names (`xpu-container-runtime.cdi`); it is why this is bash, not sh.
 * - `--no-config` and `DENO_NO_PACKAGE_JSON=1`: no `deno.json` or `package.json` is looked for
 *   from the working directory (an engine's bundle dir, a hook's container dir).
 * - `DENO_DIR` is the toolkit's own cache dir (`lib/cache` beside the launchers, the package's
 *   `/var/cache/xpu-container-toolkit`) when the caller owns it, else a path nothing can create:
 *   see `src/core/fast_path/launcher_cache.ts`. Deno keeps each module's imports there, and V8's
 *   code cache (its bytecode), which saves a `create` a few milliseconds of compiling.
 * - V8's flags {@link SHORT_LIVED_V8_FLAGS}: the interpreter only, every function compiled at
 *   once (so that V8's code cache holds them all), no helper threads; the same in every launcher (the e2e test of
 *   the offline build holds the cache byte for byte while the tools run in turn). The
 *   long-running commands ({@link LONG_RUNNING_COMMANDS}) keep V8's defaults.
 * - `DENO_NO_UPDATE_CHECK=1`: no network, no "new release" line on a terminal.
 * - `--no-remote`, `--no-npm`, `--no-lock`: the bundle is all there is to load.
 * - `--allow-all`, as the compiled executables have.
 *
 * The runtime shim's launcher runs the pass-through fast path (`fast_path_script.ts`) as soon as
 * it knows its dir, so that a call it hands to runc forks nothing (unless the launcher was started
 * through a link, which costs one `readlink`). Its record is `lib/runtime.fast-path` there, or the
 * path the package gives.
 *
 * @module
 */

import { renderFastPath } from "../../src/core/fast_path/fast_path_script.ts";
import { NO_DENO_DIR, renderCacheDirLines } from "../../src/core/fast_path/launcher_cache.ts";
import { shellQuote } from "../../src/core/text/shell_quote.ts";

/** The directory below the launchers that holds the runtime and the bundle. */
export const LIB_DIR = "lib";
/** The Deno runtime binary, relative to the launchers. */
export const RUNTIME_PATH = `${LIB_DIR}/deno`;
/** Where the bundled entry modules and their shared chunks are, relative to the launchers. */
export const BUNDLE_DIR = `${LIB_DIR}/js`;

export { NO_DENO_DIR };

/** The launchers' cache dir (Deno's `DENO_DIR`), relative to them; made 0700 with the artefact. */
export const CACHE_DIR = `${LIB_DIR}/cache`;

/** The launchers' cache dir as a shell word, unless the package names another. */
export const DIST_CACHE_DIR = `"$here/${CACHE_DIR}"`;

/** The `deno run` flags every launcher passes. */
export const RUN_FLAGS: readonly string[] = [
  "--quiet",
  "--allow-all",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
];

/**
 * The V8 flags of every short-lived call, each worth milliseconds on `create` (the README's bench
 * section):
 *
 * - `--jitless`: V8's interpreter only (no baseline or optimising compiler, regular expressions
 *   interpreted, no WebAssembly, which the toolkit does not use): a call lives for tens of
 *   milliseconds, too short for the compilers to pay back what they cost, and V8 writes no
 *   machine code at run time in a process that runs as root.
 * - `--no-lazy`: Deno makes a module's code cache when it compiles the module, before it runs, so
 *   the cache held only the few functions V8 compiles eagerly, and every call compiled the rest
 *   again; now V8 compiles every function at once and the cache holds them all (about 4 ms; the
 *   first `create` on an empty cache costs the same).
 * - `--single-threaded`, `--min-semi-space-size=16`: no helper threads of V8's competing with the
 *   call on a busy node, and a young generation (16 MB) the call's start-up fits in without a
 *   collection (about 2–3 ms; the peak RSS of a `create` stays about 42 MB).
 *
 * One set of flags for every launcher: the tools share modules, and V8 refuses a code cache
 * written under other flags, which Deno then writes again.
 */
export const SHORT_LIVED_V8_FLAGS =
  "--v8-flags=--jitless,--no-lazy,--single-threaded,--min-semi-space-size=16";

/**
 * The commands, per tool, that run for as long as the node does and keep V8's defaults: a
 * launcher started with one of them among its arguments passes no V8 flags. Each rewrites the
 * code cache of the modules it loads once when it starts, and the next short-lived call writes
 * it back.
 */
export const LONG_RUNNING_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  "xpu-ctk": ["runtime-server", "nri-plugin"],
};

/**
 * The V8 flags `tool`'s launcher passes for a call with `args`, as its script decides them;
 * `undefined` for none (a long-running command).
 */
export function v8FlagsOf(tool: string, args: readonly string[] = []): string | undefined {
  const long = LONG_RUNNING_COMMANDS[tool] ?? [];
  return args.some((arg) => long.includes(arg)) ? undefined : SHORT_LIVED_V8_FLAGS;
}

/** The `deno run` flags of a launcher's short-lived call, V8's included: the benches' too. */
export const SHORT_LIVED_RUN_FLAGS: readonly string[] = [...RUN_FLAGS, SHORT_LIVED_V8_FLAGS];

/** The executable whose launcher takes the fast path. */
export const RUNTIME_TOOL = "xpu-container-runtime";

/** The runtime launcher's fast-path record, as a shell word, unless the package names another. */
export const DIST_FAST_PATH_RECORD = `"$here/${LIB_DIR}/runtime.fast-path"`;

/** Options of {@link renderLauncher}. */
export interface LauncherOptions {
  /** The runtime's fast-path record as a shell word (default {@link DIST_FAST_PATH_RECORD}). */
  fastPathRecord?: string;
  /**
   * The absolute dir that holds `lib/`, when the launcher's place is known (the package's): the
   * launcher then does not look for itself.
   */
  home?: string;
  /** The cache dir as a shell word (default {@link DIST_CACHE_DIR}). */
  cacheDir?: string;
}

/**
 * The launcher script of executable `tool` (its bundled entry is `lib/js/<tool>.js`).
 *
 * @example
 * ```ts
 * renderLauncher("xpu-ctk");
 * // "#!/bin/bash\n…exec -a \"$0\" \"$here/lib/deno\" run … \"$here/lib/js/xpu-ctk.js\" \"$@\"\n"
 * ```
 */
export function renderLauncher(tool: string, options: LauncherOptions = {}): string {
  if (!/^[a-z][a-z0-9.-]*$/.test(tool)) {
    throw new Error(`Cannot render a launcher for "${tool}": not an executable name`);
  }
  return [
    "#!/bin/bash",
    `# ${tool}: runs the bundled ${tool} on the Deno runtime in ${LIB_DIR}/ beside this script.`,
    ...(options.home !== undefined ? [`here=${shellQuote(options.home)}`] : [
      // Its own dir without a fork when it was not started through a link to it (the dirs on
      // the way may be links: lib/ is found through them alike); else where the link points.
      "here=",
      'case $0 in */*) [ -L "$0" ] || here=${0%/*} ;; esac',
      '[ -n "$here" ] || here=$(dirname -- "$(readlink -f -- "$0")")',
    ]),
    ...(tool === RUNTIME_TOOL
      ? renderFastPath(options.fastPathRecord ?? DIST_FAST_PATH_RECORD)
      : []),
    ...renderCacheDirLines(options.cacheDir ?? DIST_CACHE_DIR),
    ...renderDenoRun(tool),
    "",
  ].join("\n");
}

/** The launcher's `exec` of `deno run`, with the V8 flags {@link v8FlagsOf} names. */
function renderDenoRun(tool: string): string[] {
  const run = `exec -a "$0" "$here/${RUNTIME_PATH}" run ${RUN_FLAGS.join(" ")}`;
  const bundle = `"$here/${BUNDLE_DIR}/${tool}.js" "$@"`;
  const long = LONG_RUNNING_COMMANDS[tool] ?? [];
  if (long.length === 0) return [`${run} ${SHORT_LIVED_V8_FLAGS} ${bundle}`];
  return [
    `v8=${SHORT_LIVED_V8_FLAGS}`,
    `for a; do case $a in ${long.join(" | ")}) v8= ;; esac; done`,
    `${run} \${v8:+"$v8"} ${bundle}`,
  ];
}

/**
 * The runtime's launcher in front of a compiled shim (the package's `/usr/bin` name): the fast
 * path, then the compiled executable at `program`, keeping the name it was started as.
 */
export function renderCompiledRuntimeLauncher(program: string, fastPathRecord: string): string {
  return [
    "#!/bin/bash",
    `# ${RUNTIME_TOOL}: runs ${program}, but hands pass-through calls to the runtime directly.`,
    ...renderFastPath(fastPathRecord),
    `exec -a "$0" ${shellQuote(program)} "$@"`,
    "",
  ].join("\n");
}
