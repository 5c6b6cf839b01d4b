import assert from "node:assert/strict";
import { type HostFs, realHostFs } from "../../src/core/io/host_fs.ts";
import { memoryHostFs } from "./memory_fs.ts";
import { withTempDir, writeTree } from "./temp_dir.ts";

// The fake is only useful if it answers like the real file system: the same tree is built on
// disk and in memory and every call is compared. Links are relative here because on disk an
// absolute target would leave the temp dir; absolute targets are checked on their own below.
const TREE = {
  "/usr/lib/libxpu.so.1.0.0": "contents",
  "/usr/lib/libxpu.so.1": { link: "libxpu.so.1.0.0" },
  "/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/lib": { link: "usr/lib" },
  "/lib64": { link: "./usr/lib/" },
  "/etc/up": { link: "../usr" },
  "/usr/lib/dangling.so": { link: "missing.so" },
  "/opt/empty": { dir: true },
  "/b/zz": "",
  "/b/aa": "",
  "/b/mm": "",
} as const;

const PROBES = [
  "/",
  "/usr/lib/libxpu.so",
  "/usr/lib/libxpu.so.1",
  "/usr/lib/libxpu.so.1.0.0",
  "/lib",
  "/lib/libxpu.so",
  "/lib64/libxpu.so.1",
  "/etc/up/lib/libxpu.so",
  "/usr/lib/dangling.so",
  "/usr/lib/libxpu.so.1.0.0/below",
  "/missing",
  "/opt/empty",
  "/b",
];

function kindOf(fs: HostFs, call: "stat" | "lstat", path: string): string | undefined {
  return fs[call](path)?.kind;
}

Deno.test("memoryHostFs answers like the real file system", async (t) => {
  const memory = memoryHostFs(TREE);
  await withTempDir(async (root) => {
    writeTree(root, TREE);
    const real = (path: string) => root + (path === "/" ? "" : path);
    for (const probe of PROBES) {
      await t.step(probe, () => {
        const expected = {
          stat: kindOf(realHostFs, "stat", real(probe)),
          lstat: kindOf(realHostFs, "lstat", real(probe)),
          readDir: realHostFs.readDir(real(probe)),
          readLink: realHostFs.lstat(real(probe))?.kind === "symlink"
            ? realHostFs.readLink(real(probe))
            : undefined,
          text: realHostFs.stat(real(probe))?.kind === "file"
            ? realHostFs.readTextFile(real(probe))
            : undefined,
        };
        const actual = {
          stat: kindOf(memory, "stat", probe),
          lstat: kindOf(memory, "lstat", probe),
          readDir: memory.readDir(probe),
          readLink: memory.lstat(probe)?.kind === "symlink" ? memory.readLink(probe) : undefined,
          text: memory.stat(probe)?.kind === "file" ? memory.readTextFile(probe) : undefined,
        };
        assert.deepEqual(actual, expected);
      });
    }
  });
});

Deno.test("memoryHostFs describes devices, modes and missing files", async (t) => {
  const fs = memoryHostFs({
    "/dev/xpu0": { char: [1, 11], mode: 0o666 },
    "/dev/sda": { block: [8, 0], mode: 0o660, uid: 0, gid: 6 },
    "/sys/class/xpu/xpu0/uuid": "XPU-aaaa\n",
    "/usr/lib/libxpu.so.1": "ELF",
    "/usr/lib/libxpu.so": { link: "/usr/lib/libxpu.so.1" },
    "/lib64": { link: "/usr/lib" },
    "/etc/escape": { link: "../../../../lib64/libxpu.so" },
  });
  const cases = [
    {
      name: "character device",
      input: () => fs.stat("/dev/xpu0"),
      expected: { kind: "char", mode: 0o666, uid: 0, gid: 0, major: 1, minor: 11 },
    },
    {
      name: "block device",
      input: () => fs.stat("/dev/sda"),
      expected: { kind: "block", mode: 0o660, uid: 0, gid: 6, major: 8, minor: 0 },
    },
    {
      name: "text file",
      input: () => fs.readTextFile("/sys/class/xpu/xpu0/uuid"),
      expected: "XPU-aaaa\n",
    },
    {
      name: "missing text file",
      input: () => fs.readTextFile("/sys/class/xpu/xpu1/uuid"),
      expected: undefined,
    },
    { name: "implied parent", input: () => fs.stat("/sys/class")?.kind, expected: "dir" },
    {
      name: "absolute link, stat",
      input: () => fs.stat("/usr/lib/libxpu.so")?.kind,
      expected: "file",
    },
    {
      name: "absolute link, lstat",
      input: () => fs.lstat("/usr/lib/libxpu.so")?.kind,
      expected: "symlink",
    },
    {
      name: "absolute dir link in the middle",
      input: () => fs.readTextFile("/lib64/libxpu.so"),
      expected: "ELF",
    },
    {
      name: "dot-dot stops at the fake's root",
      input: () => fs.readTextFile("/etc/escape"),
      expected: "ELF",
    },
    {
      name: "readDir follows links, sorted",
      input: () => fs.readDir("/lib64"),
      expected: ["libxpu.so", "libxpu.so.1"],
    },
    { name: "readDir of a file", input: () => fs.readDir("/dev/xpu0"), expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(c.input(), c.expected));
  }
});
