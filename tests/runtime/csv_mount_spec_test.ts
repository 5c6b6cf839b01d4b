import assert from "node:assert/strict";
import { type CsvEntry, parseCsvMountSpec } from "../../src/runtime/csv_mount_spec.ts";

/** A skipped line as the test states it: the reason only needs to contain `reason`. */
interface ExpectedSkip {
  line: number;
  text: string;
  reason: string;
}

Deno.test("parseCsvMountSpec reads <type>, <path> lines", async (t) => {
  const cases: {
    name: string;
    input: string;
    expected: { entries: CsvEntry[]; skipped: ExpectedSkip[] };
  }[] = [
    { name: "empty file", input: "", expected: { entries: [], skipped: [] } },
    {
      name: "spaces around type and path",
      input: "  dev ,  /dev/xpu0  \n",
      expected: { entries: [{ type: "dev", path: "/dev/xpu0" }], skipped: [] },
    },
    {
      name: "no spaces, no final newline",
      input: "lib,/usr/lib/libxpu.so.1",
      expected: { entries: [{ type: "lib", path: "/usr/lib/libxpu.so.1" }], skipped: [] },
    },
    {
      name: "blank lines and comments are ignored",
      input:
        "\n# a comment, with a comma\n   \n  # indented comment\n\t\nsym, /usr/lib/libxpu.so\n\n",
      expected: { entries: [{ type: "sym", path: "/usr/lib/libxpu.so" }], skipped: [] },
    },
    {
      name: "every type, CRLF line ends",
      input:
        "dev, /dev/xpuctl\r\nlib, /usr/lib/a.so\r\nsym, /usr/lib/b.so\r\ndir, /usr/share/xpu\r\n",
      expected: {
        entries: [
          { type: "dev", path: "/dev/xpuctl" },
          { type: "lib", path: "/usr/lib/a.so" },
          { type: "sym", path: "/usr/lib/b.so" },
          { type: "dir", path: "/usr/share/xpu" },
        ],
        skipped: [],
      },
    },
    {
      name: "upper-case type accepted",
      input: "DEV, /dev/xpu0\nLib, /usr/lib/a.so\n",
      expected: {
        entries: [{ type: "dev", path: "/dev/xpu0" }, { type: "lib", path: "/usr/lib/a.so" }],
        skipped: [],
      },
    },
    {
      name: "globs kept verbatim",
      input: "lib, /usr/lib/libxpu*.so*\ndev, /dev/xpu[0-9]*\n",
      expected: {
        entries: [
          { type: "lib", path: "/usr/lib/libxpu*.so*" },
          { type: "dev", path: "/dev/xpu[0-9]*" },
        ],
        skipped: [],
      },
    },
    {
      name: "relative dev names are taken under /dev",
      input: "dev, xpu0\ndev, dri/card0\n",
      expected: {
        entries: [{ type: "dev", path: "/dev/xpu0" }, { type: "dev", path: "/dev/dri/card0" }],
        skipped: [],
      },
    },
    {
      name: "a path with a comma keeps everything after the first comma",
      input: "lib, /usr/lib/odd,name.so, v2\n",
      expected: { entries: [{ type: "lib", path: "/usr/lib/odd,name.so, v2" }], skipped: [] },
    },
    {
      name: "invalid type skipped with line number and reason",
      input: "dev, /dev/xpu0\nfile, /etc/xpu.conf\n",
      expected: {
        entries: [{ type: "dev", path: "/dev/xpu0" }],
        skipped: [{ line: 2, text: "file, /etc/xpu.conf", reason: 'unknown type "file"' }],
      },
    },
    {
      name: "missing comma skipped",
      input: "# header\n  lib /usr/lib/libxpu.so.1\n",
      expected: {
        entries: [],
        skipped: [{ line: 2, text: "  lib /usr/lib/libxpu.so.1", reason: "no comma" }],
      },
    },
    {
      name: "relative lib path skipped",
      input: "lib, usr/lib/libxpu.so.1\n",
      expected: {
        entries: [],
        skipped: [{ line: 1, text: "lib, usr/lib/libxpu.so.1", reason: "not absolute" }],
      },
    },
    {
      name: "relative sym and dir paths skipped",
      input: "sym, libxpu.so\ndir, share/xpu\n",
      expected: {
        entries: [],
        skipped: [
          { line: 1, text: "sym, libxpu.so", reason: "not absolute" },
          { line: 2, text: "dir, share/xpu", reason: "not absolute" },
        ],
      },
    },
    {
      name: "empty path skipped",
      input: "dev, /dev/xpu0\n\ndev,   \nlib,\n",
      expected: {
        entries: [{ type: "dev", path: "/dev/xpu0" }],
        skipped: [
          { line: 3, text: "dev,   ", reason: "empty path" },
          { line: 4, text: "lib,", reason: "empty path" },
        ],
      },
    },
    {
      name: "empty type skipped",
      input: ", /dev/xpu0\n",
      expected: {
        entries: [],
        skipped: [{ line: 1, text: ", /dev/xpu0", reason: 'unknown type ""' }],
      },
    },
    {
      name: "a NUL byte in a path skipped (the C library would read a shorter path)",
      input: "lib, /usr/lib/libxpu.so\0.1\nlib, /usr/lib/libxpu.so.1\n",
      expected: {
        entries: [{ type: "lib", path: "/usr/lib/libxpu.so.1" }],
        skipped: [{ line: 1, text: "lib, /usr/lib/libxpu.so\0.1", reason: "NUL byte" }],
      },
    },
    {
      name: "a NUL byte in a dev name skipped",
      input: "dev, xpu\x000\n",
      expected: {
        entries: [],
        skipped: [{ line: 1, text: "dev, xpu\x000", reason: "the path contains a NUL byte" }],
      },
    },
    {
      name: "a glob's character class out of order skipped; a valid one kept",
      input: "lib, /usr/lib/libxpu[z-a].so\nlib, /usr/lib/libxpu[a-z].so\n",
      expected: {
        entries: [{ type: "lib", path: "/usr/lib/libxpu[a-z].so" }],
        skipped: [{
          line: 1,
          text: "lib, /usr/lib/libxpu[z-a].so",
          reason: 'invalid glob: "libxpu[z-a].so" is not a valid pattern',
        }],
      },
    },
    {
      name: "a name longer than 255 bytes skipped (a glob part may be longer)",
      input: `lib, /usr/${"x".repeat(256)}\nlib, /usr/${"*".repeat(300)}\n`,
      expected: {
        entries: [{ type: "lib", path: `/usr/${"*".repeat(300)}` }],
        skipped: [{
          line: 1,
          text: `lib, /usr/${"x".repeat(256)}`,
          reason: "longer than 255 bytes",
        }],
      },
    },
    {
      name: "a path longer than 4095 bytes skipped",
      input: `dir, ${"/a".repeat(2_048)}\n`,
      expected: {
        entries: [],
        skipped: [{
          line: 1,
          text: `dir, ${"/a".repeat(2_048)}`,
          reason: "longer than 4095 bytes",
        }],
      },
    },
    {
      name: "a line separator in a type is escaped in the reason",
      input: "d\u2028ev, /dev/xpu0\n",
      expected: {
        entries: [],
        skipped: [{ line: 1, text: "d\u2028ev, /dev/xpu0", reason: 'unknown type "d\\u2028ev"' }],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const actual = parseCsvMountSpec(c.input);
      assert.deepEqual(actual.entries, c.expected.entries);
      assert.deepEqual(
        actual.skipped.map(({ line, text }) => ({ line, text })),
        c.expected.skipped.map(({ line, text }) => ({ line, text })),
      );
      actual.skipped.forEach((skip, i) => {
        const fragment = c.expected.skipped[i].reason;
        assert.ok(skip.reason.includes(fragment), `"${skip.reason}" lacks "${fragment}"`);
      });
    });
  }
});
