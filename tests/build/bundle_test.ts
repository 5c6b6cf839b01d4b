/**
 * The bundle's rewrites (esbuild's `require` helper made lazy, the on-demand chunks imported by
 * computed specifiers), or the build stops; which tools are bundled on their own, for which
 * platform; and the shim's bundle as built: no `node:` module, no literal `import()`, and it runs.
 */

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  assertNoCommonJs,
  bundleGroups,
  bundleTools,
  deferDynamicImports,
  makeRequireLazy,
} from "../../scripts/build/bundle.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const EAGER = 'import { createRequire as __deno_internal_createRequire } from "node:module";\n' +
  "var __require = __deno_internal_createRequire(import.meta.url);\n";

Deno.test("makeRequireLazy", async (t) => {
  await t.step(
    "esbuild's helper: node:module is no longer imported, __require still is one",
    () => {
      const chunk = `var a = 1;\n${EAGER}export { __require };\n`;
      const lazy = makeRequireLazy(chunk, "chunk-A.js");
      strictEqual(/^import .*node:module/m.test(lazy), false);
      strictEqual(lazy.startsWith("var a = 1;\nvar __deno_internal_require;\n"), true);
      strictEqual(
        lazy.includes('getBuiltinModule("node:module").createRequire(import.meta.url)'),
        true,
      );
    },
  );
  await t.step("a chunk without the helper is unchanged", () => {
    const chunk = 'import { join } from "node:path";\nexport const x = join("a", "b");\n';
    strictEqual(makeRequireLazy(chunk, "chunk-B.js"), chunk);
  });
  await t.step("any other import of node:module stops the build, naming the chunk", () => {
    throws(
      () => makeRequireLazy('import { createRequire } from "node:module";\n', "chunk-C.js"),
      /chunk "chunk-C\.js" imports node:module/,
    );
  });
});

Deno.test("the lazy helper requires a Node built-in when first called", async () => {
  const lazy = makeRequireLazy(
    `${EAGER}export default __require("node:path").join("a", "b");\n`,
    "x",
  );
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/chunk.js`, lazy);
    strictEqual((await import(`file://${dir}/chunk.js`)).default, "a/b");
  });
});

Deno.test("deferDynamicImports", async (t) => {
  await t.step("each import() of a chunk gets a computed specifier of the same value", () => {
    const chunk = 'const a = await import("./create-AB12.js");\n' +
      'const b = () => import("./dist-CD34.js");\n';
    strictEqual(
      deferDynamicImports(chunk, "shim.js"),
      'const a = await import(String("./create-AB12.js"));\n' +
        'const b = () => import(String("./dist-CD34.js"));\n',
    );
  });
  await t.step(
    "a chunk without dynamic imports, or importing node: built-ins, is unchanged",
    () => {
      const chunk = 'import { a } from "./chunk-X.js";\nconst m = await import("node:path");\n';
      strictEqual(deferDynamicImports(chunk, "chunk-D.js"), chunk);
    },
  );
  await t.step("a literal relative import() of another shape stops the build, naming it", () => {
    throws(
      () => deferDynamicImports("await import('./create-AB12.js');\n", "chunk-E.js"),
      /chunk "chunk-E\.js" has a dynamic import the build does not know/,
    );
  });
});

Deno.test("a deferred import loads the same module, relative to the chunk", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/js`);
    Deno.writeTextFileSync(`${dir}/js/lazy-AB12.js`, 'export const where = "lazy";\n');
    Deno.writeTextFileSync(
      `${dir}/js/entry.js`,
      deferDynamicImports(
        'export const load = async () => (await import("./lazy-AB12.js")).where;\n',
        "entry.js",
      ),
    );
    strictEqual(await (await import(`file://${dir}/js/entry.js`)).load(), "lazy");
  });
});

Deno.test("bundleGroups: the shim and the hook alone for browser, every other tool together", async (t) => {
  const cases = [
    {
      name: "all five tools",
      input: [
        "bin/xpu-container-cli.ts",
        "bin/xpu-container-runtime-hook.ts",
        "bin/xpu-container-runtime.ts",
        "bin/xpu-ctk-installer.ts",
        "bin/xpu-ctk.ts",
      ],
      expected: [
        { entries: ["bin/xpu-container-runtime-hook.ts"], platform: "browser" },
        { entries: ["bin/xpu-container-runtime.ts"], platform: "browser" },
        {
          entries: ["bin/xpu-container-cli.ts", "bin/xpu-ctk-installer.ts", "bin/xpu-ctk.ts"],
          platform: "deno",
        },
      ],
    },
    {
      name: "no hot-path tool: one group",
      input: ["/tmp/p/stage_b.ts", "/tmp/p/stage_c.ts"],
      expected: [{ entries: ["/tmp/p/stage_b.ts", "/tmp/p/stage_c.ts"], platform: "deno" }],
    },
    {
      name: "only the shim",
      input: ["bin/xpu-container-runtime.ts"],
      expected: [{ entries: ["bin/xpu-container-runtime.ts"], platform: "browser" }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(bundleGroups(c.input), c.expected));
  }
});

Deno.test("assertNoCommonJs: esbuild's throwing require helper stops the build", () => {
  const helper = "throw Error('Dynamic require of \"' + x + '\" is not supported');\n";
  throws(() => assertNoCommonJs(helper, "chunk-F.js"), /chunk "chunk-F\.js" of a hot-path tool/);
  assertNoCommonJs('export const a = "plain ESM";\n', "chunk-G.js");
});

Deno.test("bundleTools: the shim's bundle runs on Deno and loads no node: module", async () => {
  await withTempDir(async (dir) => {
    const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
    const [entry] = await bundleTools(root, {
      entries: ["bin/xpu-container-runtime.ts"],
      outDir: `${dir}/js`,
    });
    const chunks = [...Deno.readDirSync(`${dir}/js`)].map((e) => e.name);
    deepStrictEqual(chunks.filter((name) => !name.endsWith(".js")), []);
    for (const name of chunks) {
      const text = Deno.readTextFileSync(`${dir}/js/${name}`);
      strictEqual(/["']node:[a-z_/]+["']/.test(text), false, `${name} names a node: module`);
      strictEqual(/\bimport\(\s*["'`]\./.test(text), false, `${name} has a literal import()`);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", `${dir}/js/${entry}`, "--version"],
      env: { PATH: "/nonexistent", XPU_CTK_CONFIG_FILE_PATH: `${dir}/none.toml` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    strictEqual(stdout.startsWith("xpu-container-runtime version "), true, stdout);
  });
});
