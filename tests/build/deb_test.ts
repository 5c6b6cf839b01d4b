/** The Debian package's tree and control files, per build kind. */

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import {
  ALIASES,
  BUNDLED_PREFIX,
  CONFIG_FILE,
  DEB_CACHE_DIR,
  debArch,
  debControl,
  debFileName,
  debPostrm,
  debPrerm,
  debTree,
  FAST_PATH_DIR,
  FAST_PATH_RECORD_PATH,
  RUNTIME_SERVER_UNIT,
  STATE_DIR,
  TOOLS,
} from "../../scripts/build/deb.ts";
import { RUNTIME_TOOL } from "../../scripts/build/launcher.ts";
import { parsePackageArgs } from "../../scripts/package.ts";
import { DEFAULT_STATE_DIR } from "../../src/engines/revert_memory.ts";
import { SYSTEM_CONFIG_PATH } from "../../src/core/config/config_file.ts";

Deno.test("debTree: where each kind's files go", async (t) => {
  const options = { distDir: "/d", configText: "# defaults\n" };
  await t.step("compiled: the executables in /usr/bin, the shim behind its launcher", () => {
    const tree = debTree("compiled", options);
    for (const tool of TOOLS.filter((t) => t !== RUNTIME_TOOL)) {
      ok(
        tree.some((e) =>
          e.kind === "copy" && e.from === `/d/${tool}` && e.to === `/usr/bin/${tool}` &&
          e.mode === 0o755
        ),
        tool,
      );
    }
    const shim = `${BUNDLED_PREFIX}/${RUNTIME_TOOL}`;
    deepStrictEqual(tree.filter((e) => e.to === shim), [
      { kind: "copy", from: `/d/${RUNTIME_TOOL}`, to: shim, mode: 0o755 },
    ]);
    const [launcher] = tree.filter((e) => e.to === `/usr/bin/${RUNTIME_TOOL}`);
    ok(launcher?.kind === "text" && launcher.mode === 0o755, JSON.stringify(launcher));
    ok(launcher.text.includes(` rec='${FAST_PATH_RECORD_PATH}'\n`), launcher.text);
    ok(launcher.text.endsWith(`exec -a "$0" '${shim}' "$@"\n`), launcher.text);
    ok(!tree.some((e) => e.to.startsWith(`${BUNDLED_PREFIX}/lib`)));
  });
  await t.step("bundled: launchers and lib/ together, linked from /usr/bin", () => {
    const tree = debTree("bundled", options);
    // The runtime and the bundle; not what a dist that ran keeps in lib/ (its cache, a record).
    deepStrictEqual(tree.filter((e) => e.to.startsWith(`${BUNDLED_PREFIX}/lib`)), [
      { kind: "copy", from: "/d/lib/deno", to: `${BUNDLED_PREFIX}/lib/deno`, mode: 0o755 },
      { kind: "tree", from: "/d/lib/js", to: `${BUNDLED_PREFIX}/lib/js` },
    ]);
    deepStrictEqual(tree.filter((e) => e.to.startsWith(DEB_CACHE_DIR)), [
      { kind: "dir", to: DEB_CACHE_DIR, mode: 0o700 },
    ]);
    for (const tool of TOOLS) {
      const entry = tree.find((e) => e.to === `${BUNDLED_PREFIX}/${tool}`);
      ok(entry?.kind === "text", tool);
      ok(entry.text.includes(`\ncache='${DEB_CACHE_DIR}'\n`), `${tool} keeps its cache in /var`);
    }
    for (const tool of TOOLS) {
      const entry = tree.find((e) => e.to === `${BUNDLED_PREFIX}/${tool}`);
      if (tool === RUNTIME_TOOL) {
        ok(entry?.kind === "text" && entry.mode === 0o755, JSON.stringify(entry));
        ok(entry.text.includes(` rec='${FAST_PATH_RECORD_PATH}'\n`), entry.text);
        ok(entry.text.includes('"$here/lib/js/xpu-container-runtime.js"'), entry.text);
        ok(entry.text.includes(`\nhere='${BUNDLED_PREFIX}'\n`), "it names its lib/'s dir");
        // Not a link: it runs on every container operation, and needs no readlink there.
        deepStrictEqual(tree.filter((e) => e.to === `/usr/bin/${tool}`), [{
          ...entry,
          to: `/usr/bin/${tool}`,
        }]);
        continue;
      }
      ok(entry?.kind === "text" && entry.mode === 0o755, tool);
      ok(entry.text.includes(`"$here/lib/js/${tool}.js"`), entry.text);
      ok(tree.some((e) =>
        e.kind === "link" && e.to === `/usr/bin/${tool}` &&
        e.target === `../lib/xpu-container-toolkit/${tool}`
      ));
    }
  });
  await t.step("compiled: no cache dir", () => {
    ok(!debTree("compiled", options).some((e) => e.to.startsWith(DEB_CACHE_DIR)));
  });
  await t.step("either: the fast-path record's dir, empty", () => {
    for (const kind of ["compiled", "bundled"] as const) {
      const tree = debTree(kind, options);
      deepStrictEqual(tree.filter((e) => e.to.startsWith(FAST_PATH_DIR)), [
        { kind: "dir", to: FAST_PATH_DIR, mode: 0o755 },
      ]);
      strictEqual(FAST_PATH_RECORD_PATH.startsWith(`${FAST_PATH_DIR}/`), true);
    }
  });
  await t.step("either: the aliases and the config as the conffile", () => {
    for (const kind of ["compiled", "bundled"] as const) {
      const tree = debTree(kind, options);
      for (const [alias, target] of Object.entries(ALIASES)) {
        ok(
          tree.some((e) =>
            e.kind === "link" && e.to === `/usr/bin/${alias}` && e.target === target
          ),
        );
      }
      deepStrictEqual(tree.filter((e) => e.to === CONFIG_FILE), [
        { kind: "text", text: "# defaults\n", to: CONFIG_FILE, mode: 0o644 },
      ]);
      // The runtime server's unit runs the package's own xpu-ctk, on the socket the shims ask.
      const unit = tree.find((e) => e.to === RUNTIME_SERVER_UNIT);
      ok(unit?.kind === "text" && unit.mode === 0o644, kind);
      match(unit.text, /^ExecStart=\/usr\/bin\/xpu-ctk runtime-server$/m);
      ok(tree.some((e) => e.to === "/usr/bin/xpu-ctk"), `${kind}: the unit's program is there`);
    }
  });
});

Deno.test("the package's paths are the toolkit's own", () => {
  strictEqual(CONFIG_FILE, SYSTEM_CONFIG_PATH);
  strictEqual(STATE_DIR, DEFAULT_STATE_DIR);
});

Deno.test("debControl, maintainer scripts, names", () => {
  const control = debControl({ version: "1.2.3", arch: "arm64", installedSizeKiB: 42 });
  match(control, /^Package: xpu-container-toolkit\nVersion: 1\.2\.3\nArchitecture: arm64\n/);
  match(control, /\nInstalled-Size: 42\n/);
  ok(control.endsWith("\n") && !control.includes("\n\n"), "one paragraph");
  for (const line of control.split("\n").slice(0, -1)) match(line, /^([A-Z][A-Za-z-]+: \S| \S)/);
  match(debPrerm(), /^#!\/bin\/sh\n/);
  match(debPrerm(), /xpu-ctk runtime unconfigure/);
  match(
    debPostrm(),
    /"\$1" = purge \]; then\n {2}rm -rf \/etc\/xpu-container-runtime\/revert \/var\/lib\/xpu-container-toolkit \/var\/cache\/xpu-container-toolkit\n/,
  );
  match(debPrerm(), /\nrm -rf \/var\/cache\/xpu-container-toolkit\/\*\n/);
  match(debPrerm(), /\nrm -f \/var\/lib\/xpu-container-toolkit\/runtime\.fast-path /);
  strictEqual(debArch("x86_64-unknown-linux-gnu"), "amd64");
  strictEqual(debArch("aarch64-unknown-linux-gnu"), "arm64");
  strictEqual(debFileName("0.1.0", "amd64"), "xpu-container-toolkit_0.1.0_amd64.deb");
});

Deno.test("parsePackageArgs", () => {
  deepStrictEqual(parsePackageArgs([]), { dist: "dist", out: undefined, targets: [] });
  deepStrictEqual(
    parsePackageArgs(["--dist=/a", "--out", "/b", "--target", "aarch64-unknown-linux-gnu"]),
    { dist: "/a", out: "/b", targets: ["aarch64-unknown-linux-gnu"] },
  );
  throws(() => parsePackageArgs(["--target", "riscv"]), /unknown target "riscv": use one of/);
  throws(() => parsePackageArgs(["--fast"]), /unknown argument "--fast"/);
});
