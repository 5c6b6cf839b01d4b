import assert from "node:assert/strict";
import { realHostFs } from "../../../src/core/io/host_fs.ts";
import {
  dirnameInRoot,
  expandGlobInRoot,
  followSymlinkChain,
  globToRegExp,
  hostPath,
  normalizeInRoot,
  resolveInRoot,
  type SymlinkHop,
} from "../../../src/core/path/root_path.ts";
import { assertThrowsError, type ErrorClass } from "../../helpers/assert_error.ts";
import { withTempDir, writeTree } from "../../helpers/temp_dir.ts";

/** A driver root with library chains, directory links and links that try to leave the root. */
const TREE = {
  "/usr/lib/libxpu.so.1.0.0": "ELF",
  "/usr/lib/libxpu.so.1": { link: "libxpu.so.1.0.0" },
  "/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/usr/lib/libxpu-ml.so.1": "ELF",
  "/usr/lib/libxpu-dangling.so.2": { link: "libxpu-dangling.so.2.0" },
  "/usr/lib/libxpu.a": "archive",
  "/usr/lib/libother.so": "ELF",
  "/usr/lib/up": { link: "../../../../../etc" },
  "/usr/lib64/libxpu.so": "ELF",
  "/usr/lib-x/libxpu.so": "ELF",
  "/usr/libexec/helper": "ELF",
  "/usr/local/lib/libxpu.so": "ELF",
  "/lib": { link: "usr/lib" },
  "/etc/xpu.conf": "conf",
  "/etc/inner": { link: "/opt/target" },
  "/root/etc": { link: "/etc" },
  "/opt/target": "target",
  "/loop/a": { link: "b" },
  "/loop/b": { link: "a" },
  "/dev/xpu0": "",
  "/dev/xpu1": "",
  "/dev/xpu10": "",
  "/dev/xpuctl": "",
  "/dev/xpu-uvm": "",
  "/dev/null": "",
} as const;

async function withTree<T>(fn: (root: string) => T): Promise<T> {
  return await withTempDir((root) => {
    writeTree(root, TREE);
    return fn(root);
  });
}

Deno.test("normalizeInRoot makes paths absolute and never climbs above /", async (t) => {
  const cases = [
    { name: "dot-dot above the root stops at /", input: "a/../../b", expected: "/b" },
    { name: "the root itself", input: "/", expected: "/" },
    { name: "empty path is the root", input: "", expected: "/" },
    { name: "double slashes, dots and a trailing slash", input: "//x/./y/", expected: "/x/y" },
    { name: "many dot-dots", input: "/../../../etc/passwd", expected: "/etc/passwd" },
    { name: "dot-dot inside", input: "/usr/lib/../bin", expected: "/usr/bin" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(normalizeInRoot(c.input), c.expected));
  }
});

Deno.test("normalizeInRoot of an absolute path is node:path's join and resolve", async (t) => {
  // The create step and CSV mode build their paths with it instead of node:path, which would
  // cost every create Deno's Node start-up: the results must stay the same. Their names are
  // never empty and never end in a slash (node keeps a trailing one; normalizeInRoot does not).
  const { join, resolve } = await import("node:path");
  const dirs = ["/", "/run/b", "/run/b/", "//run//b", "/run/./b/..", "/run/b/../../..", "/a b/ç"];
  const names = ["config.json", "x.csv", ".", "..", "../c", "./d", "e//f", "/g", "a/../../h"];
  for (const dir of dirs) {
    await t.step(`join(${JSON.stringify(dir)}, …)`, () => {
      for (const name of names) {
        assert.equal(normalizeInRoot(`${dir}/${name}`), join(dir, name), `${dir} + ${name}`);
      }
    });
  }
  await t.step("the bundle's config.json: absolute, or relative to an absolute cwd", () => {
    for (const cwd of dirs) {
      for (const bundle of ["", ...dirs, ...names, "b/"]) {
        const joined = bundle.startsWith("/") ? bundle : `${cwd}/${bundle}`;
        assert.equal(
          normalizeInRoot(`${joined}/config.json`),
          join(resolve(cwd, bundle), "config.json"),
          `${cwd} + ${bundle}`,
        );
      }
    }
  });
});

Deno.test("hostPath joins an in-root path onto its root", async (t) => {
  const cases = [
    { name: "root without slash", input: ["/tmp/root", "/usr/lib"], expected: "/tmp/root/usr/lib" },
    { name: "root with slash", input: ["/tmp/root/", "/usr/lib"], expected: "/tmp/root/usr/lib" },
    { name: "root /", input: ["/", "/usr/lib"], expected: "/usr/lib" },
    { name: "relative path", input: ["/tmp/root", "usr/lib"], expected: "/tmp/root/usr/lib" },
    { name: "dot-dot stays inside", input: ["/tmp/root", "/../../etc"], expected: "/tmp/root/etc" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(hostPath(c.input[0], c.input[1]), c.expected));
  }
});

Deno.test("dirnameInRoot gives the directory part", async (t) => {
  const cases = [
    { name: "nested", input: "/a/b", expected: "/a" },
    { name: "top level", input: "/a", expected: "/" },
    { name: "root", input: "/", expected: "/" },
    { name: "trailing slash", input: "/usr/lib/", expected: "/usr" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(dirnameInRoot(c.input), c.expected));
  }
});

Deno.test("resolveInRoot follows symlinks as if the root were /", async (t) => {
  const cases: {
    name: string;
    input: { path: string; followFinal?: boolean };
    expected: string | { error: ErrorClass; message: string };
  }[] = [
    {
      name: "relative symlink in the last component is followed",
      input: { path: "/usr/lib/libxpu.so.1" },
      expected: "/usr/lib/libxpu.so.1.0.0",
    },
    {
      name: "a chain of relative symlinks is followed to the end",
      input: { path: "/usr/lib/libxpu.so" },
      expected: "/usr/lib/libxpu.so.1.0.0",
    },
    {
      name: "relative directory symlink in the middle is followed",
      input: { path: "/lib/libxpu.so.1.0.0" },
      expected: "/usr/lib/libxpu.so.1.0.0",
    },
    {
      name: "absolute symlink restarts at the root",
      input: { path: "/root/etc/xpu.conf" },
      expected: "/etc/xpu.conf",
    },
    {
      // /etc/inner exists only inside the root: reaching /opt/target proves the lookup after
      // the absolute link /root/etc -> /etc stayed in the root instead of the host's /etc.
      name: "an absolute symlink's target is looked up inside the root",
      input: { path: "/root/etc/inner" },
      expected: "/opt/target",
    },
    {
      name: "dot-dot in a link target cannot climb above the root",
      input: { path: "/usr/lib/up/xpu.conf" },
      expected: "/etc/xpu.conf",
    },
    {
      name: "dot-dot in the path cannot climb above the root",
      input: { path: "/../../../../etc/xpu.conf" },
      expected: "/etc/xpu.conf",
    },
    {
      name: "missing components are kept as written",
      input: { path: "/usr/lib/missing/libx.so" },
      expected: "/usr/lib/missing/libx.so",
    },
    {
      name: "missing last component behind a directory link",
      input: { path: "/lib/libmissing.so" },
      expected: "/usr/lib/libmissing.so",
    },
    {
      name: "followFinal false keeps the final symlink",
      input: { path: "/usr/lib/libxpu.so", followFinal: false },
      expected: "/usr/lib/libxpu.so",
    },
    {
      name: "followFinal false still follows links in the middle",
      input: { path: "/lib/libxpu.so", followFinal: false },
      expected: "/usr/lib/libxpu.so",
    },
    {
      name: "a symlink loop throws",
      input: { path: "/loop/a" },
      expected: { error: Deno.errors.FilesystemLoop, message: "too many levels" },
    },
  ];
  await withTree(async (root) => {
    for (const c of cases) {
      await t.step(c.name, () => {
        const options = c.input.followFinal === undefined
          ? {}
          : { followFinal: c.input.followFinal };
        const run = () => resolveInRoot(realHostFs, root, c.input.path, options);
        if (typeof c.expected === "string") assert.equal(run(), c.expected);
        else assertThrowsError(run, c.expected.error, c.expected.message);
      });
    }
  });
});

Deno.test("followSymlinkChain records every hop and the final file", async (t) => {
  const cases: {
    name: string;
    input: string;
    expected: { hops: SymlinkHop[]; final: string | undefined };
  }[] = [
    {
      name: "two relative hops",
      input: "/usr/lib/libxpu.so",
      expected: {
        hops: [
          { link: "/usr/lib/libxpu.so", target: "libxpu.so.1" },
          { link: "/usr/lib/libxpu.so.1", target: "libxpu.so.1.0.0" },
        ],
        final: "/usr/lib/libxpu.so.1.0.0",
      },
    },
    {
      name: "a regular file has no hops",
      input: "/usr/lib/libxpu.so.1.0.0",
      expected: { hops: [], final: "/usr/lib/libxpu.so.1.0.0" },
    },
    {
      name: "a dangling chain has no final file",
      input: "/usr/lib/libxpu-dangling.so.2",
      expected: {
        hops: [{ link: "/usr/lib/libxpu-dangling.so.2", target: "libxpu-dangling.so.2.0" }],
        final: undefined,
      },
    },
    {
      name: "a missing file",
      input: "/usr/lib/libnothere.so",
      expected: { hops: [], final: undefined },
    },
    {
      name: "an absolute hop is followed inside the root",
      input: "/etc/inner",
      expected: { hops: [{ link: "/etc/inner", target: "/opt/target" }], final: "/opt/target" },
    },
  ];
  await withTree(async (root) => {
    for (const c of cases) {
      await t.step(c.name, () => {
        assert.deepEqual(followSymlinkChain(realHostFs, root, c.input), c.expected);
      });
    }
  });
});

Deno.test("globToRegExp matches one path component", async (t) => {
  const cases = [
    {
      name: "star matches any run, even empty",
      input: "xpu*",
      expected: { matches: ["xpu", "xpu0", "xpuctl"], rejects: ["axpu", "xp", "xpu/0"] },
    },
    {
      name: "question mark matches exactly one character",
      input: "xpu?",
      expected: { matches: ["xpu0", "xpuX"], rejects: ["xpu", "xpu10", "xpu/"] },
    },
    {
      name: "character range",
      input: "xpu[0-9]",
      expected: { matches: ["xpu0", "xpu9"], rejects: ["xpua", "xpu10", "xpu"] },
    },
    {
      name: "a reversed range cannot be compiled: it matches nothing (no throw)",
      input: "xpu[z-a]",
      expected: { matches: [], rejects: ["xpu", "xpua", "xpu[z-a]"] },
    },
    {
      name: "negated class with !",
      input: "xpu[!a]",
      expected: { matches: ["xpub", "xpu0"], rejects: ["xpua", "xpu"] },
    },
    {
      name: "negated class with ^",
      input: "xpu[^a]",
      expected: { matches: ["xpub"], rejects: ["xpua"] },
    },
    {
      name: "dots are literal",
      input: "libxpu.so.1",
      expected: { matches: ["libxpu.so.1"], rejects: ["libxpuXsoX1", "libxpu.so.10"] },
    },
    {
      name: "plus signs are literal",
      input: "libstdc++.so*",
      expected: { matches: ["libstdc++.so", "libstdc++.so.6"], rejects: ["libstdcc.so"] },
    },
    {
      name: "other regexp syntax is literal",
      input: "a(b)|c$^{1}",
      expected: { matches: ["a(b)|c$^{1}"], rejects: ["ab", "c"] },
    },
    {
      name: "an unclosed bracket is literal",
      input: "x[0",
      expected: { matches: ["x[0"], rejects: ["x0"] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const regexp = globToRegExp(c.input);
      for (const name of c.expected.matches) assert.ok(regexp.test(name), `${c.input} ~ ${name}`);
      for (const name of c.expected.rejects) assert.ok(!regexp.test(name), `${c.input} !~ ${name}`);
    });
  }
});

Deno.test("expandGlobInRoot lists the existing matches inside the root, sorted", async (t) => {
  const cases = [
    {
      name: "device nodes with a numeric suffix",
      input: "/dev/xpu[0-9]*",
      expected: ["/dev/xpu0", "/dev/xpu1", "/dev/xpu10"],
    },
    {
      name: "libraries, dangling links included",
      input: "/usr/lib/libxpu*.so*",
      expected: [
        "/usr/lib/libxpu-dangling.so.2",
        "/usr/lib/libxpu-ml.so.1",
        "/usr/lib/libxpu.so",
        "/usr/lib/libxpu.so.1",
        "/usr/lib/libxpu.so.1.0.0",
      ],
    },
    {
      // readDir order would put "/usr/lib/" before "/usr/lib-x/"; sorted, "-" comes before "/".
      name: "glob in a middle directory component, results sorted as whole paths",
      input: "/usr/lib*/libxpu.so",
      expected: ["/usr/lib-x/libxpu.so", "/usr/lib/libxpu.so", "/usr/lib64/libxpu.so"],
    },
    {
      name: "glob behind a directory symlink keeps the path as written",
      input: "/lib/libxpu.so.1*",
      expected: ["/lib/libxpu.so.1", "/lib/libxpu.so.1.0.0"],
    },
    { name: "no match", input: "/dev/npu*", expected: [] },
    { name: "glob under a missing directory", input: "/nonexistent/*", expected: [] },
    { name: "literal existing path", input: "/dev/xpuctl", expected: ["/dev/xpuctl"] },
    { name: "literal missing path", input: "/dev/xpu9", expected: [] },
  ];
  await withTree(async (root) => {
    for (const c of cases) {
      await t.step(c.name, () => {
        assert.deepEqual(expandGlobInRoot(realHostFs, root, c.input), c.expected);
      });
    }
  });
});
