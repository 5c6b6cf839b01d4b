/**
 * Bundling the tools for the artefact that needs no `denort`: every `bin/*.ts` entry is bundled
 * by `deno bundle` (esbuild) into `lib/js/<tool>.js`, with code splitting, so what several tools
 * share is one chunk and what only `create` needs (and the `yaml` package) stays in chunks that
 * load on demand, as they do under `deno run`. npm packages are inside the bundle: nothing is
 * resolved or fetched at run time.
 *
 * One rewrite follows. esbuild gives the CommonJS packages in the bundle (`yaml`'s Node build,
 * `jsonc-parser`, `commander`) a `require` made by `createRequire` from `node:module`, imported
 * at the top of a chunk every entry loads. Loading `node:module` starts Deno's Node
 * compatibility layer, which costs every process tens of milliseconds, even the shim's
 * pass-through that never requires anything. {@link makeRequireLazy} makes that `require` create
 * itself on first call instead; the build fails if esbuild's helper no longer has the expected
 * shape, rather than shipping the slow (or a broken) variant.
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

/** The `deno bundle` arguments for `entries` (repo-relative) into `outDir`. */
export function bundleArgs(entries: readonly string[], outDir: string, config: string): string[] {
  return [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    "--config",
    config,
    "--outdir",
    outDir,
    ...entries,
  ];
}

/**
 * Bundles `entries` into `outDir` and applies {@link makeRequireLazy} to every chunk.
 *
 * @param root the repository root (with `deno.json`)
 * @returns the bundled entry modules' file names
 */
export async function bundleTools(
  root: string,
  options: { entries: readonly string[]; outDir: string },
): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs(options.entries, options.outDir, `${root}/deno.json`),
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
  for (const entry of Deno.readDirSync(options.outDir)) {
    if (!entry.isFile || !entry.name.endsWith(".js")) continue;
    const path = `${options.outDir}/${entry.name}`;
    const text = Deno.readTextFileSync(path);
    const lazy = makeRequireLazy(text, entry.name);
    if (lazy !== text) Deno.writeTextFileSync(path, lazy);
  }
  return options.entries.map((e) => `${e.slice(e.lastIndexOf("/") + 1, -3)}.js`);
}
