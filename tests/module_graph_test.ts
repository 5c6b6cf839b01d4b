/**
 * The dependency rules of `src/` (docs/ARCHITECTURE.md, "Dependency rules"), read from the source
 * text: every relative import, static, dynamic and type-only, is an edge.
 *
 * - No module imports itself through a chain of others (no cycles).
 * - Only `src/core/io/` touches `Deno.*`; the `bin/` entries aside.
 * - `src/core/` never imports a tool folder (`src/cli`, `src/ctk`, `src/engines`, …), and a tool
 *   imports no other tool, but for the two front ends of the engine configurators.
 * - What the shim loads for a call other than `create`, and what the prestart hook loads, has no
 *   `node:` built-in: in Deno the first `node:` import costs a process ~8–10 ms of start-up, and
 *   both run on every container start. Nor has what `create` loads on demand before its edit
 *   (the `yaml` package, imported only for a YAML CDI spec, is not followed).
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(REPO, "src");
const TOOL_FOLDERS = ["cli", "ctk", "engines", "hook", "installer", "nri", "runtime"];

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

/** Repo-relative path → the repo-relative paths it imports. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.\.?\/[^"']+)\1/gm;
  for (const file of files) {
    const text = Deno.readTextFileSync(file);
    const targets = [...text.matchAll(specifier)].map((m) =>
      relative(REPO, resolve(dirname(file), m[2]))
    );
    graph.set(relative(REPO, file), [...new Set(targets)].sort());
  }
  return graph;
}

/** Every cycle, each once, as the chain of modules that closes it. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

/** Lines that use `Deno.` outside comments. */
function denoUses(file: string): string[] {
  const lines = Deno.readTextFileSync(file).split("\n");
  return lines.flatMap((line, i) => {
    const code = line.replace(/\/\/.*$/, "");
    if (/^\s*(\*|\/\*)/.test(code) || !/\bDeno\./.test(code)) return [];
    return [`${relative(REPO, file)}:${i + 1}`];
  });
}

/**
 * The modules `entry` loads before it runs (static imports only: dynamic ones load later, on
 * their path, and type-only ones not at all), as repo-relative paths and `node:` specifiers.
 */
function loadedAtStart(entry: string): string[] {
  const statement =
    /^\s*(?:import|export)\s+(type\s+)?(?:[^;]*?\bfrom\s*)?(["'])((?:\.\.?\/|node:)[^"']+)\2/gm;
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const module = pending.pop()!;
    if (seen.has(module)) continue;
    seen.add(module);
    if (module.startsWith("node:")) continue;
    const text = Deno.readTextFileSync(join(REPO, module));
    for (const [, typeOnly, , target] of text.matchAll(statement)) {
      if (typeOnly !== undefined) continue;
      pending.push(
        target.startsWith("node:")
          ? target
          : relative(REPO, resolve(REPO, dirname(module), target)),
      );
    }
  }
  return [...seen].sort();
}

const files = sourceFiles(SRC);
const graph = importGraph(files);

Deno.test("module graph: no cycles in src/", () => {
  deepStrictEqual(findCycles(graph).map((c) => c.join(" -> ")), []);
});

Deno.test("module graph: only src/core/io/ touches Deno.*", () => {
  const outside = files.filter((f) => !f.startsWith(join(SRC, "core", "io") + "/"));
  deepStrictEqual(outside.flatMap(denoUses), []);
});

Deno.test("module graph: src/core/ imports no tool folder", () => {
  const offending = [...graph].flatMap(([from, targets]) =>
    from.startsWith("src/core/")
      ? targets.filter((t) => TOOL_FOLDERS.some((tool) => t.startsWith(`src/${tool}/`)))
        .map((t) => `${from} -> ${t}`)
      : []
  );
  deepStrictEqual(offending, []);
});

/**
 * The tool-to-tool imports there are: `xpu-ctk runtime` and the installer (which runs `setup` and
 * `cleanup` in-process) both drive the engine configurators of `src/engines`; the NRI plugin edits
 * a container's spec with the shim's own create logic (`src/runtime/create.ts`), and `xpu-ctk
 * nri-plugin` runs it; `xpu-ctk runtime-server` runs the shim's own `create` work for it.
 */
const TOOL_TO_TOOL = new Set([
  "ctk -> engines",
  "installer -> engines",
  "nri -> runtime",
  "ctk -> nri",
  "ctk -> runtime",
]);

Deno.test("module graph: tools import no other tool, but for the front ends of src/engines", () => {
  const toolOf = (path: string) => TOOL_FOLDERS.find((tool) => path.startsWith(`src/${tool}/`));
  const edges = new Set(
    [...graph].flatMap(([from, targets]) =>
      targets.flatMap((target) => {
        const [a, b] = [toolOf(from), toolOf(target)];
        return a !== undefined && b !== undefined && a !== b ? [`${a} -> ${b}`] : [];
      })
    ),
  );
  deepStrictEqual([...edges].filter((edge) => !TOOL_TO_TOOL.has(edge)), []);
});

/** The shim's entry and its main path, which the entry imports once no server served it. */
const SHIM_PATH = ["bin/xpu-container-runtime.ts", "src/runtime/shim.ts"];

Deno.test("module graph: the pass-through path and the hook load no node: built-in", () => {
  const paths = [SHIM_PATH, ["bin/xpu-container-runtime-hook.ts"]];
  for (const entries of paths) {
    const entry = entries.join(" + ");
    const loaded = [...new Set(entries.flatMap(loadedAtStart))];
    ok(loaded.includes("src/core/config/config_file.ts"), `${entry} loads the config reader`);
    deepStrictEqual(loaded.filter((m) => m.startsWith("node:")), [], entry);
  }
});

/** What the shim imports on demand for `create`, before it edits the bundle. */
const CREATE_STEP = [
  "src/runtime/create.ts",
  "src/runtime/create_fs.ts",
  "src/core/request/mode.ts",
];
/** What `create.ts` imports on demand: the edit of the mode that serves the container. */
const MODE_EDIT_MODULES = [
  "src/runtime/legacy_edits.ts",
  "src/runtime/csv_edits.ts",
  "src/runtime/cdi_edits.ts",
];

Deno.test("module graph: the create step loads no node: built-in before its edit", () => {
  const shim = graph.get("src/runtime/shim.ts") ?? [];
  deepStrictEqual(CREATE_STEP.filter((m) => !shim.includes(m)), [], "the shim imports them");
  const create = graph.get("src/runtime/create.ts") ?? [];
  deepStrictEqual(MODE_EDIT_MODULES.filter((m) => !create.includes(m)), [], "create imports them");
  const loaded = new Set(
    [...SHIM_PATH, ...CREATE_STEP, ...MODE_EDIT_MODULES].flatMap((entry) => loadedAtStart(entry)),
  );
  ok(loaded.has("src/core/device/device_discovery.ts"), "the walk reaches device discovery");
  ok(loaded.has("src/core/cdi/cdi_registry.ts"), "and the CDI registry");
  deepStrictEqual([...loaded].filter((m) => m.startsWith("node:")), []);
});

Deno.test("module graph: a create a runtime server serves loads no config and no create step", () => {
  const loaded = loadedAtStart("bin/xpu-container-runtime.ts");
  ok(loaded.includes("src/runtime/runtime_server_protocol.ts"), loaded.join(", "));
  const heavy = ["src/core/config/config_file.ts", "src/runtime/shim.ts", ...CREATE_STEP];
  deepStrictEqual(heavy.filter((m) => loaded.includes(m)), [], loaded.join(", "));
  ok(!loaded.some((m) => m.includes("smol-toml")), "the TOML parser is the config's");
  ok(
    Deno.readTextFileSync(join(REPO, "bin", "xpu-container-runtime.ts"))
      .includes('await import("../src/runtime/shim.ts")'),
    "the entry imports the shim (lazily)",
  );
});

Deno.test("module graph: create loads only the edit of the mode it serves", () => {
  const loaded = loadedAtStart("src/runtime/create.ts");
  deepStrictEqual(MODE_EDIT_MODULES.filter((m) => loaded.includes(m)), [], loaded.join(", "));
  ok(!loaded.includes("src/core/cdi/cdi_registry.ts"), "the CDI registry is cdi mode's");
});

Deno.test("module graph: the shim loads the fast-path record refresher only when it needs it", () => {
  const loaded = [...new Set(SHIM_PATH.flatMap(loadedAtStart))];
  ok(!loaded.includes("src/runtime/fast_path_refresh.ts"), loaded.join(", "));
  ok(
    graph.get("src/runtime/shim.ts")?.includes("src/runtime/fast_path_refresh.ts"),
    "the shim imports the refresher (lazily)",
  );
});

Deno.test("module graph: the cycle finder finds a cycle, the Deno finder a use", () => {
  const cyclic = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  deepStrictEqual(findCycles(cyclic), [["a", "b", "c", "a"]]);
  deepStrictEqual(findCycles(new Map([["a", ["b"]], ["b", []]])), []);
  const probe = join(REPO, "tests", "module_graph_test.ts");
  deepStrictEqual(denoUses(probe).length > 0, true);
  const loaded = loadedAtStart("tests/module_graph_test.ts");
  ok(loaded.includes("node:path") && !loaded.includes("src/core/io/fs.ts"), loaded.join(", "));
  ok(loadedAtStart("src/ctk/main.ts").includes("node:path"), "xpu-ctk's commands load node:path");
});

Deno.test("module graph: the hooks runc runs through xpu-ctk load no node: built-in and no commander", () => {
  ok(loadedAtStart("bin/xpu-ctk.ts").includes("src/ctk/ctk_entry.ts"));
  const entry = Deno.readTextFileSync(join(REPO, "src", "ctk", "ctk_entry.ts"));
  ok(entry.includes('await import("./main.ts")'), "the entry imports the commands lazily");
  ok(entry.includes('await import("./hook_commands.ts")'), "and the hooks");
  const loaded = [
    ...new Set(["bin/xpu-ctk.ts", "src/ctk/hook_commands.ts"].flatMap(loadedAtStart)),
  ];
  ok(loaded.includes("src/core/rootfs/ld_cache.ts"), loaded.join(", "));
  ok(loaded.includes("src/ctk/create_symlinks.ts"), loaded.join(", "));
  ok(!loaded.includes("src/ctk/main.ts"), loaded.join(", "));
  deepStrictEqual(loaded.filter((m) => m.startsWith("node:")), []);
  // The CommonJS packages, whose first `require` starts Deno's Node layer (smol-toml is ESM).
  const npm = /^\s*import\s[^;]*?from\s*["'](commander|jsonc-parser|yaml)["']/gm;
  deepStrictEqual(
    loaded.filter((m) => !m.startsWith("node:")).flatMap((m) =>
      [...Deno.readTextFileSync(join(REPO, m)).matchAll(npm)].map((found) => `${m}: ${found[1]}`)
    ),
    [],
  );
});
