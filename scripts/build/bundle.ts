/**
 * Bundling the tools for the artefact that needs no `denort`: every `bin/*.ts` entry is bundled
 * by `deno bundle` (esbuild) into `lib/js/<tool>.js`, with code splitting, so what several tools
 * share is one chunk and what only `create` needs (and the `yaml` package) stays in chunks that
 * load on demand, as they do under `deno run`. npm packages are inside the bundle: nothing is
 * resolved or fetched at run time.
 *
 * Two rewrites follow. First, esbuild gives the CommonJS packages in the bundle (`yaml`'s Node build,
 * `jsonc-parser`, `commander`) a `require` made by `createRequire` from `node:module`, imported
 * at the top of a chunk every entry loads. Loading `node:module` starts Deno's Node
 * compatibility layer, which costs every process tens of milliseconds, even the shim's
 * pass-through that never requires anything. {@link makeRequireLazy} makes that `require` create
 * itself on first call instead; the build fails if esbuild's helper no longer has the expected
 * shape, rather than shipping the slow (or a broken) variant.
 *
 * A second rewrite keeps the on-demand chunks off the start-up. Before the first line runs,
 * `deno run` loads and parses every module a program may import, the targets of `import("…")`
 * with a literal specifier included, although it evaluates them only when the call is reached.
 * The launchers give Deno no writable cache dir, so nothing of that parse is kept between runs: a
 * pass-through call of the shim parsed the whole create step and the 270 kB of the `yaml`
 * package on every start, and `create` in `csv` or `legacy` mode parsed `yaml` it never loads.
 * {@link deferDynamicImports} hands each such specifier over as a computed string
 * (`import(String("./create-….js"))`), which Deno resolves the same way, relative to the chunk,
 * but only when the call runs. The build fails if a literal relative `import(…)` is left.
 *
 * esbuild's `--minify` is no option: it drops Deno's `createRequire` helper for one that throws
 * "Dynamic require … is not supported" outside Node, which would break `yaml` and `commander`.
 *
 * @module
 */

/** The helper esbuild emits for `require` calls in bundled CommonJS modules. */
const EAGER_REQUIRE =
  'import { createRequire as __deno_internal_createRequire } from "node:module";\n' +
  "var __require = __deno_internal_createRequire(import.meta.url);\n";

/** The same helper, creating the Node `require` when first called. */
const LAZY_REQUIRE = "var __deno_internal_require;\n" +
  "var __require = (id) => (__deno_internal_require ??= globalThis.process" +
  '.getBuiltinModule("node:module").createRequire(import.meta.url))(id);\n';

/**
 * Rewrites one bundled chunk so its `require` helper loads `node:module` on first use.
 *
 * @returns the chunk's new text, or the text unchanged when it has no such helper
 * @throws {Error} when the chunk imports `node:module` in a way this does not recognise
 */
export function makeRequireLazy(chunk: string, name: string): string {
  const rewritten = chunk.replace(EAGER_REQUIRE, LAZY_REQUIRE);
  if (/from\s*["']node:module["']/.test(rewritten)) {
    throw new Error(
      `Cannot bundle: chunk "${name}" imports node:module in a way the build does not know ` +
        `(esbuild's require helper changed?): update makeRequireLazy in scripts/build/bundle.ts`,
    );
  }
  return rewritten;
}

/** A dynamic import of another chunk, as esbuild writes it. */
const LITERAL_CHUNK_IMPORT = /\bimport\("(\.\/[\w.-]+\.js)"\)/g;

/** Any dynamic import whose specifier is a literal relative path, however quoted. */
const ANY_LITERAL_RELATIVE_IMPORT = /\bimport\(\s*(["'`])\.\.?\//;

/**
 * Rewrites one bundled chunk so the chunks it imports on demand are loaded, and parsed, only when
 * the `import()` runs: each literal specifier becomes a computed one with the same value.
 *
 * @example
 * ```ts
 * deferDynamicImports('await import("./create-AB12.js");\n', "shim.js");
 * // 'await import(String("./create-AB12.js"));\n'
 * ```
 * @returns the chunk's new text, or the text unchanged when it imports nothing on demand
 * @throws {Error} when a literal relative `import()` of a shape this does not know is left
 */
export function deferDynamicImports(chunk: string, name: string): string {
  const rewritten = chunk.replace(LITERAL_CHUNK_IMPORT, 'import(String("$1"))');
  if (ANY_LITERAL_RELATIVE_IMPORT.test(rewritten)) {
    throw new Error(
      `Cannot bundle: chunk "${name}" has a dynamic import the build does not know ` +
        `(esbuild's output changed?): update deferDynamicImports in scripts/build/bundle.ts`,
    );
  }
  return rewritten;
}

/**
 * Which of esbuild's platforms a group is bundled for. Either way the code runs on Deno; what
 * differs is which build of an npm package esbuild takes. `deno` takes a package's Node build
 * (the `node` export condition: for `yaml`, CommonJS, whose `require` starts Deno's Node
 * compatibility layer, ~35 ms, and pulls `node:process` and `node:buffer`); `browser` takes its
 * ESM build (`yaml`'s has no Node dependency) and refuses a `node:` import outright.
 */
export type BundlePlatform = "deno" | "browser";

/** One `deno bundle` run: entries bundled together, for one platform. */
export interface BundleGroup {
  entries: string[];
  platform: BundlePlatform;
}

/** The `deno bundle` arguments for `entries` (repo-relative) into `outDir`. */
export function bundleArgs(
  entries: readonly string[],
  outDir: string,
  config: string,
  platform: BundlePlatform = "deno",
): string[] {
  return [
    "bundle",
    "--quiet",
    "--platform",
    platform,
    "--code-splitting",
    "--config",
    config,
    "--outdir",
    outDir,
    ...entries,
  ];
}

/**
 * The tools that run on every container operation or start (the runtime shim, the prestart
 * hook): each is bundled on its own, so it loads a few chunks cut for it instead of the many
 * small ones it would share with the other tools (about 2 ms less per `create`), and for the
 * `browser` platform, so a `create` in mode `cdi` reads YAML specs with `yaml`'s ESM build
 * instead of starting Deno's Node layer for its CommonJS one. Neither loads a `node:` module
 * (tests/module_graph_test.ts); a CommonJS package on their path stops the build
 * ({@link assertNoCommonJs}).
 */
export const SEPARATELY_BUNDLED: readonly string[] = [
  "xpu-container-runtime",
  "xpu-container-runtime-hook",
];

/** The tool an entry module is for (`bin/xpu-ctk.ts` → `xpu-ctk`). */
function toolOf(entry: string): string {
  return entry.slice(entry.lastIndexOf("/") + 1).replace(/\.ts$/, "");
}

/**
 * The `deno bundle` runs for `entries`: each of {@link SEPARATELY_BUNDLED} alone for `browser`,
 * then all the others together for `deno` (their shared code one chunk each), in the order given.
 *
 * @example
 * ```ts
 * bundleGroups(["bin/xpu-ctk.ts", "bin/xpu-container-runtime.ts", "bin/xpu-container-cli.ts"]);
 * // [{ entries: ["bin/xpu-container-runtime.ts"], platform: "browser" },
 * //  { entries: ["bin/xpu-ctk.ts", "bin/xpu-container-cli.ts"], platform: "deno" }]
 * ```
 */
export function bundleGroups(entries: readonly string[]): BundleGroup[] {
  const alone: BundleGroup[] = entries.filter((e) => SEPARATELY_BUNDLED.includes(toolOf(e)))
    .map((e) => ({ entries: [e], platform: "browser" }));
  const together = entries.filter((e) => !SEPARATELY_BUNDLED.includes(toolOf(e)));
  return together.length > 0 ? [...alone, { entries: together, platform: "deno" }] : alone;
}

/**
 * For esbuild's `browser` platform a `require` in a bundled CommonJS package becomes a helper
 * that throws "Dynamic require of … is not supported" when called: such a chunk would fail at run
 * time, on Deno, when the package first requires something.
 *
 * @throws {Error} naming the chunk, when it holds that helper
 */
export function assertNoCommonJs(chunk: string, name: string): void {
  if (chunk.includes("Dynamic require of ")) {
    throw new Error(
      `Cannot bundle: chunk "${name}" of a hot-path tool holds a CommonJS package, which ` +
        `cannot require on the browser platform: keep that package off the shim's and the ` +
        `hook's path, or remove the tool from SEPARATELY_BUNDLED in scripts/build/bundle.ts`,
    );
  }
}

/**
 * Bundles `entries` into `outDir` (one `deno bundle` per group of {@link bundleGroups}, their
 * chunks side by side: esbuild names a chunk by a hash of its content, so a name two groups share
 * is the same chunk) and applies {@link makeRequireLazy} and {@link deferDynamicImports} to every
 * chunk.
 *
 * @param root the repository root (with `deno.json`)
 * @param options.groups how to bundle them, when not as {@link bundleGroups} says (the start-up
 *   profile bundles its probe programs as the shim is bundled)
 * @returns the bundled entry modules' file names
 * @throws {Error} when bundling fails, or two groups made different chunks of one name
 */
export async function bundleTools(
  root: string,
  options: { entries: readonly string[]; outDir: string; groups?: readonly BundleGroup[] },
): Promise<string[]> {
  Deno.mkdirSync(options.outDir, { recursive: true });
  const groups = options.groups ?? bundleGroups(options.entries);
  for (const [i, group] of groups.entries()) {
    const part = `${options.outDir}/.group-${i}`;
    await runDenoBundle(root, group, part);
    for (const entry of Deno.readDirSync(part)) {
      const from = `${part}/${entry.name}`;
      const to = `${options.outDir}/${entry.name}`;
      const text = Deno.readTextFileSync(from);
      const existing = readTextIfPresent(to);
      if (existing !== undefined && existing !== text) {
        throw new Error(
          `Cannot bundle the tools: two bundles made different chunks named "${entry.name}": ` +
            `bundle ${group.entries.join(", ")} on its own to see why`,
        );
      }
      if (group.platform === "browser") assertNoCommonJs(text, entry.name);
      const rewritten = entry.name.endsWith(".js")
        ? deferDynamicImports(makeRequireLazy(text, entry.name), entry.name)
        : text;
      if (existing === undefined) Deno.writeTextFileSync(to, rewritten);
    }
    Deno.removeSync(part, { recursive: true });
  }
  return options.entries.map((e) => `${toolOf(e)}.js`);
}

/** The text of `path`, or `undefined` when there is no such file. */
function readTextIfPresent(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** One `deno bundle` of a group into `outDir`. */
async function runDenoBundle(root: string, group: BundleGroup, outDir: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs(group.entries, outDir, `${root}/deno.json`, group.platform),
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    // The first error and where it is; Deno's stack backtrace after it says nothing more.
    const lines = new TextDecoder().decode(out.stderr).split("\n");
    const first = lines.findIndex((line) => line.startsWith("error:"));
    const detail = first < 0
      ? ""
      : [lines[first].slice(7), lines[first + 1] ?? ""].join(" ").trim();
    throw new Error(`Cannot bundle the tools: deno bundle failed: ${detail}: fix the code there`);
  }
}
