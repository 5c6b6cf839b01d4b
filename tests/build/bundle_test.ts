/** The bundle's one rewrite: esbuild's `require` helper made lazy, or the build stops. */

import { strictEqual, throws } from "node:assert/strict";
import { makeRequireLazy } from "../../scripts/build/bundle.ts";
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
