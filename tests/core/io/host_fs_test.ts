import assert from "node:assert/strict";
import {
  realHostFs,
  splitDeviceNumber,
  withRememberedLookups,
} from "../../../src/core/io/host_fs.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";
import { e2eTest } from "../../helpers/e2e.ts";

/** glibc's `makedev`: 12+20 bit majors, 8+24 bit minors, interleaved. */
function makedev(major: number, minor: number): number {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return Number(
    (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n),
  );
}

function mknod(path: string, type: "c" | "b", major: number, minor: number): void {
  const args = ["-m", "666", path, type, String(major), String(minor)];
  const { code, stderr } = new Deno.Command("mknod", { args, stderr: "piped" }).outputSync();
  assert.equal(code, 0, `mknod ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

Deno.test("splitDeviceNumber inverts glibc's makedev", async (t) => {
  const cases = [
    { name: "/dev/null's 1:3", input: makedev(1, 3), expected: { major: 1, minor: 3 } },
    { name: "1:11", input: makedev(1, 11), expected: { major: 1, minor: 11 } },
    { name: "240:0", input: makedev(240, 0), expected: { major: 240, minor: 0 } },
    { name: "0:0", input: 0, expected: { major: 0, minor: 0 } },
    {
      name: "minor above 255",
      input: makedev(511, 300000),
      expected: { major: 511, minor: 300000 },
    },
    {
      name: "largest Linux numbers (12-bit major, 20-bit minor)",
      input: makedev(4095, 1048575),
      expected: { major: 4095, minor: 1048575 },
    },
    {
      // glibc keeps majors above 12 bits in dev_t bits 44-63; they must not leak into the minor.
      name: "major above 12 bits",
      input: makedev(5000, 70000),
      expected: { major: 5000, minor: 70000 },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(splitDeviceNumber(c.input), c.expected));
  }
});

// mknod of a device node needs CAP_MKNOD: root.
await e2eTest("realHostFs reports real device nodes with their numbers", ["root"], async (t) => {
  const cases = [
    {
      name: "character device 240:0",
      input: { type: "c", major: 240, minor: 0 },
      expected: { kind: "char", mode: 0o666, uid: 0, gid: 0, major: 240, minor: 0 },
    },
    {
      name: "character device with a large minor",
      input: { type: "c", major: 511, minor: 300000 },
      expected: { kind: "char", mode: 0o666, uid: 0, gid: 0, major: 511, minor: 300000 },
    },
    {
      name: "block device",
      input: { type: "b", major: 7, minor: 200 },
      expected: { kind: "block", mode: 0o666, uid: 0, gid: 0, major: 7, minor: 200 },
    },
  ] as const;
  await withTempDir(async (dir) => {
    for (const c of cases) {
      await t.step(c.name, () => {
        const path = `${dir}/node-${c.input.major}-${c.input.minor}`;
        mknod(path, c.input.type, c.input.major, c.input.minor);
        assert.deepEqual(
          splitDeviceNumber(Deno.statSync(path).rdev ?? -1),
          { major: c.input.major, minor: c.input.minor },
        );
        assert.deepEqual(realHostFs.stat(path), c.expected);
        assert.deepEqual(realHostFs.lstat(path), c.expected);
      });
    }
  });
});

Deno.test("realHostFs reads files, links and directories", async (t) => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/d`);
    Deno.writeTextFileSync(`${dir}/d/b.txt`, "bee");
    Deno.writeTextFileSync(`${dir}/d/a.txt`, "ay");
    Deno.symlinkSync("b.txt", `${dir}/d/link`);
    Deno.symlinkSync("missing", `${dir}/d/dangling`);
    const cases = [
      {
        name: "stat follows a link",
        input: () => realHostFs.stat(`${dir}/d/link`)?.kind,
        expected: "file",
      },
      {
        name: "lstat does not",
        input: () => realHostFs.lstat(`${dir}/d/link`)?.kind,
        expected: "symlink",
      },
      {
        name: "dangling stat",
        input: () => realHostFs.stat(`${dir}/d/dangling`),
        expected: undefined,
      },
      {
        name: "dangling lstat",
        input: () => realHostFs.lstat(`${dir}/d/dangling`)?.kind,
        expected: "symlink",
      },
      { name: "readLink", input: () => realHostFs.readLink(`${dir}/d/link`), expected: "b.txt" },
      {
        name: "readDir sorted",
        input: () => realHostFs.readDir(`${dir}/d`),
        expected: ["a.txt", "b.txt", "dangling", "link"],
      },
      {
        name: "readDir missing",
        input: () => realHostFs.readDir(`${dir}/none`),
        expected: undefined,
      },
      {
        name: "readTextFile",
        input: () => realHostFs.readTextFile(`${dir}/d/link`),
        expected: "bee",
      },
      {
        name: "readTextFile missing",
        input: () => realHostFs.readTextFile(`${dir}/d/none`),
        expected: undefined,
      },
      {
        name: "stat below a file",
        input: () => realHostFs.stat(`${dir}/d/a.txt/x`),
        expected: undefined,
      },
    ];
    for (const c of cases) {
      await t.step(c.name, () => assert.deepEqual(c.input(), c.expected));
    }
  });
});

Deno.test("withRememberedLookups asks each stat, lstat and readLink of a path once, and nothing that threw", () => {
  const asked: string[] = [];
  let failing = true;
  const inner = {
    stat: (path: string) => {
      asked.push(`stat ${path}`);
      return path === "/missing"
        ? undefined
        : { kind: "dir" as const, mode: 0o755, uid: 0, gid: 0, major: 0, minor: 0 };
    },
    lstat: (path: string) => {
      asked.push(`lstat ${path}`);
      if (path === "/denied" && failing) throw new Error("EACCES");
      return { kind: "symlink" as const, mode: 0o777, uid: 0, gid: 0, major: 0, minor: 0 };
    },
    readLink: (path: string) => (asked.push(`readLink ${path}`), "target"),
    readDir: (path: string) => (asked.push(`readDir ${path}`), ["a"]),
    readTextFile: (path: string) => (asked.push(`readTextFile ${path}`), "text"),
  };
  const fs = withRememberedLookups(inner);
  for (let i = 0; i < 3; i++) {
    assert.equal(fs.stat("/usr")?.kind, "dir");
    assert.equal(fs.stat("/missing"), undefined);
    assert.equal(fs.lstat("/usr")?.kind, "symlink");
    assert.equal(fs.readLink("/usr"), "target");
    assert.deepEqual(fs.readDir("/usr"), ["a"]);
    assert.equal(fs.readTextFile("/usr/f"), "text");
  }
  assert.throws(() => fs.lstat("/denied"), /EACCES/);
  failing = false;
  assert.equal(fs.lstat("/denied")?.kind, "symlink");
  assert.deepEqual(asked, [
    "stat /usr",
    "stat /missing",
    "lstat /usr",
    "readLink /usr",
    "readDir /usr",
    "readTextFile /usr/f",
    "readDir /usr",
    "readTextFile /usr/f",
    "readDir /usr",
    "readTextFile /usr/f",
    "lstat /denied",
    "lstat /denied",
  ]);
});
