/**
 * Format-preserving TOML edits: key splitting, value writing, the line structure, set / remove
 * of one key, removal of emptied tables, and the round trip set-then-remove giving back the
 * user's bytes.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { ConfigError } from "../../src/core/errors.ts";
import {
  parseTomlValue,
  readTomlLayout,
  removeEmptyTomlTable,
  removeTomlValue,
  setTomlValue,
  splitTomlKey,
  TomlEditor,
  tomlValue,
} from "../../src/engines/toml_edit.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const WHERE = { file: "/etc/containerd/config.toml" };

/** smol-toml's tables have a null prototype; compare plain data. */
function readBack(text: string): unknown {
  return JSON.parse(JSON.stringify(parse(text)));
}

Deno.test("parseTomlValue reads one value as written after =", async (t) => {
  const cases: { name: string; input: string; expected: unknown }[] = [
    { name: "a string", input: '"io.containerd.runc.v2"', expected: "io.containerd.runc.v2" },
    { name: "an integer", input: "3", expected: 3 },
    { name: "an array over lines", input: '[\n  "a",\n  1,\n]', expected: ["a", 1] },
    { name: "an inline table", input: "{ a = true }", expected: { a: true } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(JSON.parse(JSON.stringify(parseTomlValue(c.input))), c.expected);
    });
  }
  const refused = [
    { name: "not TOML", input: "= 1", expected: 'Cannot parse "<TOML value>", line 1' },
    { name: "a second key after it", input: "1\nw = 2", expected: "more than one value" },
    { name: "nothing", input: "", expected: 'Cannot parse "<TOML value>", line 1' },
  ];
  for (const c of refused) {
    await t.step(`refused: ${c.name}`, () => {
      assertThrowsError(() => parseTomlValue(c.input), ConfigError, c.expected);
    });
  }
});

Deno.test("splitTomlKey unquotes each part of a dotted key", async (t) => {
  const cases = [
    {
      name: "bare parts",
      input: "plugins.cri.containerd",
      expected: ["plugins", "cri", "containerd"],
    },
    { name: "bare with - and _", input: "a-b.c_d.9", expected: ["a-b", "c_d", "9"] },
    {
      name: "double-quoted part with dots",
      input: 'plugins."io.containerd.grpc.v1.cri".containerd',
      expected: ["plugins", "io.containerd.grpc.v1.cri", "containerd"],
    },
    { name: "single-quoted part with dots", input: "a.'b.c'.d", expected: ["a", "b.c", "d"] },
    {
      name: "single-quoted part keeps backslashes (literal)",
      input: "'C:\\dir\\n'",
      expected: ["C:\\dir\\n"],
    },
    {
      name: "escapes in a double-quoted part",
      input: '"a\\"b"."tab\\there"."\\u00e9"',
      expected: ['a"b', "tab\there", "é"],
    },
    { name: "spaces around the dots", input: ' a . "b c" . d ', expected: ["a", "b c", "d"] },
    { name: "empty quoted part", input: 'a."".b', expected: ["a", "", "b"] },
    { name: "an escaped quote", input: 'plugins."a\\"b"', expected: ["plugins", 'a"b'] },
    { name: "an escaped backslash before the quote", input: '"a\\\\".b', expected: ["a\\", "b"] },
    {
      name: "a \\U escape beyond the BMP (JSON.parse threw on it)",
      input: '"\\U0001F600".x',
      expected: ["\u{1F600}", "x"],
    },
    { name: "\\e and \\x escapes (TOML 1.1)", input: '"\\e\\x41"', expected: ["\x1bA"] },
    {
      name: "a literal part holding a double quote",
      input: "'say \"hi\"'.b",
      expected: ['say "hi"', "b"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(splitTomlKey(c.input), c.expected));
  }
});

Deno.test("splitTomlKey ends on any text, making progress on what it does not expect", async (t) => {
  // The key splitter once looped forever on these (no progress on an unexpected character).
  const cases = [
    { name: "a byte-order mark", input: "\uFEFFversion", expected: [] },
    { name: "a character no key holds", input: "a.$b", expected: ["a"] },
    { name: "an unterminated basic part", input: 'a."b', expected: ["a", "b"] },
    { name: "an unterminated literal part", input: "a.'b", expected: ["a", "b"] },
    { name: "a backslash at the end", input: '"a\\', expected: ["a"] },
    { name: "a \\u escape cut short", input: '"\\u00"', expected: ["\uFFFD00"] },
    { name: "an unknown escape", input: '"\\q"', expected: ["\uFFFD"] },
    { name: "a surrogate escape", input: '"\\uD800"', expected: ["\uFFFD"] },
    { name: "a code point beyond Unicode", input: '"\\U00110000"', expected: ["\uFFFD"] },
    { name: "a trailing dot", input: "a.", expected: ["a"] },
    { name: "only dots", input: "...", expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(splitTomlKey(c.input), c.expected));
  }
});

Deno.test("tomlValue writes TOML that reads back as the value", async (t) => {
  const cases: { name: string; input: unknown; expected: string }[] = [
    { name: "plain string", input: "io.containerd.runc.v2", expected: '"io.containerd.runc.v2"' },
    {
      name: "string with quotes and backslashes",
      input: 'say "hi" C:\\x',
      expected: '"say \\"hi\\" C:\\\\x"',
    },
    { name: "string with a newline", input: "a\nb", expected: '"a\\nb"' },
    { name: "true", input: true, expected: "true" },
    { name: "false", input: false, expected: "false" },
    { name: "integer", input: 42, expected: "42" },
    { name: "float", input: 1.5, expected: "1.5" },
    { name: "array of mixed plain values", input: ["a", 1, false], expected: '["a", 1, false]' },
    { name: "empty array", input: [], expected: "[]" },
    {
      name: "inline table with a key that needs quotes",
      input: { a: 1, "b.c": "x", d: { e: [] } },
      expected: '{ a = 1, "b.c" = "x", d = { e = [] } }',
    },
    { name: "empty inline table", input: {}, expected: "{}" },
    {
      name: "DEL and a control character",
      input: "a\u007fb\u0001",
      expected: '"a\\u007Fb\\u0001"',
    },
    { name: "an emoji stays raw", input: "\u{1F600}", expected: '"\u{1F600}"' },
    { name: "infinity", input: -Infinity, expected: "-inf" },
    { name: "negative zero keeps its sign", input: -0, expected: "-0.0" },
    {
      name: "an integral float beyond 2^53 is written as a float",
      input: 12345678901234567890,
      expected: "1.2345678901234567e+19",
    },
    { name: "a key part with a quote", input: { 'a"b': 1 }, expected: '{ "a\\"b" = 1 }' },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(tomlValue(c.input), c.expected);
      const text = `v = ${c.expected}\n`;
      if (typeof c.input === "number") {
        // JSON has no -0 or infinity: compare the number itself.
        ok(Object.is((parse(text) as { v: unknown }).v, c.input), text);
      } else deepStrictEqual((readBack(text) as { v: unknown }).v, c.input);
    });
  }
});

Deno.test("readTomlLayout finds tables and the lines of each statement", async (t) => {
  const cases = [
    {
      name: "headers with quoted parts",
      input: '[plugins."io.containerd.grpc.v1.cri"]\nx = 1\n[ "x]y" . z ] # c]\ny = 2\n',
      tables: [
        { path: ["plugins", "io.containerd.grpc.v1.cri"], array: false, header: 0, end: 1 },
        { path: ["x]y", "z"], array: false, header: 2, end: 4 },
      ],
      entries: [
        { path: ["plugins", "io.containerd.grpc.v1.cri", "x"], first: 1, last: 1 },
        { path: ["x]y", "z", "y"], first: 3, last: 3 },
      ],
    },
    {
      name: "[[array]] tables",
      input: "[[proxy]]\nname = 'a'\n\n[[proxy]]\nname = 'b'\n",
      tables: [
        { path: ["proxy"], array: true, header: 0, end: 2 },
        { path: ["proxy"], array: true, header: 3, end: 5 },
      ],
      entries: [
        { path: ["proxy", "name"], first: 1, last: 1 },
        { path: ["proxy", "name"], first: 4, last: 4 },
      ],
    },
    {
      name: "[[array]] header with a quoted part holding ]]",
      input: '[["a]]b".c]]\nx = 1\n',
      tables: [{ path: ["a]]b", "c"], array: true, header: 0, end: 2 }],
      entries: [{ path: ["a]]b", "c", "x"], first: 1, last: 1 }],
    },
    {
      name: "values spanning lines: multi-line strings and arrays",
      input: 's = """\nline\n"""\nl = \'\'\'\nraw\n\'\'\'\na = [\n  "x]",\n  2,\n]\nb = 1\n',
      tables: [],
      entries: [
        { path: ["s"], first: 0, last: 2 },
        { path: ["l"], first: 3, last: 5 },
        { path: ["a"], first: 6, last: 9 },
        { path: ["b"], first: 10, last: 10 },
      ],
    },
    {
      name: "a [ inside a multi-line string is not a header",
      input: '[t]\ndoc = """\n[not.a.header]\nk = 1\n"""\nafter = 2\n',
      tables: [{ path: ["t"], array: false, header: 0, end: 6 }],
      entries: [
        { path: ["t", "doc"], first: 1, last: 4 },
        { path: ["t", "after"], first: 5, last: 5 },
      ],
    },
    {
      name: "dotted keys and comments",
      input: "# top\n[x]\n  y.z = 1 # note\n  # k = 2\n",
      tables: [{ path: ["x"], array: false, header: 1, end: 4 }],
      entries: [{ path: ["x", "y", "z"], first: 2, last: 2 }],
    },
    {
      name: "a byte-order mark before the first header (line 0 starts after it)",
      input: '\uFEFF[plugins."io.containerd.grpc.v1.cri"]\nx = 1\n',
      tables: [{ path: ["plugins", "io.containerd.grpc.v1.cri"], array: false, header: 0, end: 2 }],
      entries: [{ path: ["plugins", "io.containerd.grpc.v1.cri", "x"], first: 1, last: 1 }],
    },
    {
      name: "a byte-order mark before the first key",
      input: "\uFEFFversion = 2\n",
      tables: [],
      entries: [{ path: ["version"], first: 0, last: 0 }],
    },
    {
      name: "CRLF line endings",
      input: "a = 1\r\n\r\n[t]\r\nb = [\r\n  1,\r\n]\r\n",
      tables: [{ path: ["t"], array: false, header: 2, end: 6 }],
      entries: [{ path: ["a"], first: 0, last: 0 }, { path: ["t", "b"], first: 3, last: 5 }],
    },
    {
      name: "an escaped quote and a ] in a quoted header part",
      input: '[plugins."a\\"b]"]\nx = 1\n',
      tables: [{ path: ["plugins", 'a"b]'], array: false, header: 0, end: 2 }],
      entries: [{ path: ["plugins", 'a"b]', "x"], first: 1, last: 1 }],
    },
    {
      name: "escaped quotes, and up to two more quotes closing multi-line strings",
      input: 's = """a\\"""\n[no]\n"""""\nl = \'\'\'\n[no]\'\'\'\'\'\nb = 1\n',
      tables: [],
      entries: [
        { path: ["s"], first: 0, last: 2 },
        { path: ["l"], first: 3, last: 4 },
        { path: ["b"], first: 5, last: 5 },
      ],
    },
    {
      name: "a line-ending backslash in a multi-line string",
      input: 's = """\\\n  [no] \\\n  """\nb = 1\n',
      tables: [],
      entries: [{ path: ["s"], first: 0, last: 2 }, { path: ["b"], first: 3, last: 3 }],
    },
    {
      name: "comments and brackets in strings inside a multi-line array",
      input: "a = [ # [\n  \"]\", # ]\n  '[',\n]\nb = 1\n",
      tables: [],
      entries: [{ path: ["a"], first: 0, last: 3 }, { path: ["b"], first: 4, last: 4 }],
    },
    {
      name: "a multi-line inline table (TOML 1.1)",
      input: 't = {\n  a = "}",\n}\nb = 1\n',
      tables: [],
      entries: [{ path: ["t"], first: 0, last: 2 }, { path: ["b"], first: 3, last: 3 }],
    },
    {
      name: "a date-time written with a space",
      input: "d = 1979-05-27 07:32:00Z # c\nb = 1\n",
      tables: [],
      entries: [{ path: ["d"], first: 0, last: 0 }, { path: ["b"], first: 1, last: 1 }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      parse(c.input); // the layout is only defined for valid TOML
      const layout = readTomlLayout(c.input);
      deepStrictEqual(layout.tables, c.tables);
      deepStrictEqual(
        layout.entries.map((e) => ({ path: e.path, first: e.first, last: e.last })),
        c.entries,
      );
    });
  }
});

Deno.test("readTomlLayout and the editor end on any text, never hanging or throwing", async (t) => {
  // Not TOML: the scanners must still make progress on every character they do not expect.
  const cases = [
    "\uFEFF",
    "[",
    "[[",
    "[a",
    '[a."b',
    "a",
    "a =",
    'a = "',
    'a = """',
    "a = '''x",
    "a = [",
    "a = [ # ]",
    "a = {",
    "]]] = [[[",
    "= 1",
    '"\\',
    'a = "\\',
    '"""a""" = 1',
    "\r",
    "a = 1\r",
    "\u0000 = \u0000",
    "\\U0001F600 = 1",
    '"\\U0001F600" = 1',
    "a.$.b = 1",
  ];
  for (const input of cases) {
    await t.step(JSON.stringify(input), () => {
      readTomlLayout(input);
      for (const path of [["t", "k"], ["a"], ["a", "b"]]) {
        try {
          setTomlValue(input, path, "1", WHERE);
        } catch (error) {
          ok(error instanceof ConfigError, String(error));
        }
      }
      removeTomlValue(input, ["a"]);
      removeEmptyTomlTable(input, ["a"]);
    });
  }
});

Deno.test("setTomlValue keeps a byte-order mark and CRLF line endings", async (t) => {
  const cases = [
    {
      name: "a key into a BOM file: the BOM stays first",
      input: "\uFEFF[t]\na = 1\n",
      path: ["t", "b"],
      expected: "\uFEFF[t]\na = 1\nb = 2\n",
    },
    {
      name: "a root key before the first table of a BOM file",
      input: "\uFEFF[t]\na = 1\n",
      path: ["b"],
      expected: "\uFEFFb = 2\n[t]\na = 1\n",
    },
    {
      name: "a replaced value in a CRLF file keeps its CRLF and comment",
      input: "a = 1 # c\r\nb = 1\r\n",
      path: ["a"],
      expected: "a = 2 # c\r\nb = 1\r\n",
    },
    {
      name: "a multi-line value replaced in a CRLF file",
      input: "a = [\r\n  1,\r\n] # c\r\nb = 1\r\n",
      path: ["a"],
      expected: "a = 2 # c\r\nb = 1\r\n",
    },
    {
      name: "a key added to a CRLF file",
      input: "[t]\r\na = 1\r\n",
      path: ["t", "b"],
      expected: "[t]\r\na = 1\r\nb = 2\r\n",
    },
    {
      name: "a table added to a CRLF file",
      input: "[t]\r\na = 1\r\n",
      path: ["u", "b"],
      expected: "[t]\r\na = 1\r\n\r\n[u]\r\nb = 2\r\n",
    },
    {
      name: "a key added at the end of a CRLF file without a final line break",
      input: "[t]\r\na = 1",
      path: ["t", "b"],
      expected: "[t]\r\na = 1\r\nb = 2",
    },
    {
      name: "a comment after a multi-line string is kept",
      input: 'a = """\nx"y\n""" # c\n',
      path: ["a"],
      expected: "a = 2 # c\n",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const result = setTomlValue(c.input, c.path, "2", WHERE);
      strictEqual(result.text, c.expected);
      parse(result.text);
      if (result.createdTables.length === 0 && result.previous === undefined) {
        strictEqual(removeTomlValue(result.text, c.path), c.input, "removing gives the bytes back");
      }
    });
  }
});

Deno.test("setTomlValue refuses a key it cannot place without changing other keys", async (t) => {
  const cases = [
    {
      name: "under an array of tables",
      input: "[[a]]\nx = 1\n[[a]]\nx = 2\n",
      path: ["a", "x"],
      fragment: 'line 1: "a" is an array of tables',
    },
    {
      name: "under a key holding a value",
      input: "[t]\nk = 1\n",
      path: ["t", "k", "x"],
      fragment: 'line 2: "t.k" holds a value, not a table',
    },
    {
      name: "under a key holding an array",
      input: "k = [1]\n",
      path: ["k", "x"],
      fragment: 'line 1: "k" holds a value, not a table',
    },
    {
      name: "where a table is",
      input: "[t.k]\nx = 1\n",
      path: ["t", "k"],
      fragment: 'line 1: "t.k" is a table, not a value',
    },
    {
      name: "where a dotted key makes a table",
      input: "[t]\nk.x = 1\n",
      path: ["t", "k"],
      fragment: 'line 2: "t.k" is a table, not a value',
    },
    {
      name: "inside an inline table, named with its quoted key",
      input: '[p]\n"a\\"b" = { x = 1 }\n',
      path: ["p", 'a"b', "y"],
      fragment: 'line 2: "p."a\\"b"" is an inline table',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      parse(c.input);
      const error = assertThrowsError(
        () => setTomlValue(c.input, c.path, "1", WHERE),
        ConfigError,
        c.fragment,
      );
      strictEqual(error.path, WHERE.file);
      ok(!error.message.includes("\n"), "one line");
    });
  }
});

Deno.test("TomlEditor: after a run of edits, its index is what a fresh read gives", () => {
  const input = [
    "\uFEFF# top",
    "version = 2",
    "",
    '[plugins."io.containerd.grpc.v1.cri"]',
    '  s = """',
    "[not.a.table]",
    '"""',
    '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '    runtime_type = "io.containerd.runc.v2"',
    "",
  ].join("\r\n");
  const editor = new TomlEditor(input, WHERE);
  const cri = ["plugins", "io.containerd.grpc.v1.cri"];
  const runtimes = [...cri, "containerd", "runtimes"];
  editor.set([...runtimes, "xpu", "runtime_type"], '"io.containerd.runc.v2"');
  editor.set([...runtimes, "xpu", "options", "BinaryName"], '"/x"');
  editor.set([...cri, "enable_cdi"], "true");
  editor.set([...cri, "s"], "'''\r\n[still.not]\r\n'''");
  editor.set(["version"], "3");
  editor.remove([...runtimes, "runc", "runtime_type"]);
  editor.removeEmptyTable([...runtimes, "runc"]);
  const fresh = readTomlLayout(editor.text);
  deepStrictEqual(editor.layout.tables, fresh.tables);
  deepStrictEqual(editor.layout.entries, fresh.entries);
  deepStrictEqual([...editor.layout.entryAt.keys()].sort(), [...fresh.entryAt.keys()].sort());
  ok(editor.text.startsWith("\uFEFF# top\r\n"), "the BOM stays first");
  ok(!/[^\r]\n/.test(editor.text), "every line ends with CRLF");
  deepStrictEqual(readBack(editor.text), {
    version: 3,
    plugins: {
      "io.containerd.grpc.v1.cri": {
        s: "[still.not]\r\n",
        enable_cdi: true,
        containerd: {
          runtimes: {
            xpu: { runtime_type: "io.containerd.runc.v2", options: { BinaryName: "/x" } },
          },
        },
      },
    },
  });
});

Deno.test("setTomlValue edits one statement and keeps every other byte", async (t) => {
  const nested = [
    "version = 2",
    "",
    "[plugins]",
    "  [plugins.cri]",
    "    sandbox = 1",
    "    [plugins.cri.runtimes.runc]",
    '      runtime_type = "io.containerd.runc.v2"',
    "",
  ].join("\n");
  const cases = [
    {
      name: "replace in place keeping a trailing comment",
      input: 'a = 1 # keep me\nb = "x#y" # and me\n',
      path: ["b"],
      value: '"z"',
      expected: { text: 'a = 1 # keep me\nb = "z" # and me\n', created: [] },
    },
    {
      name: "replace a multi-line value keeping the comment after it",
      input: 'imports = [\n  "/a.toml",\n] # ours\nb = 1\n',
      path: ["imports"],
      value: '["/b.toml"]',
      expected: { text: 'imports = ["/b.toml"] # ours\nb = 1\n', created: [] },
    },
    {
      name: "add to an existing table after its last key, in its indentation",
      input: "[t]\n  a = 1\n  b = [\n    2,\n  ]\n\n[u]\nc = 1\n",
      path: ["t", "z"],
      value: '"v"',
      expected: {
        text: '[t]\n  a = 1\n  b = [\n    2,\n  ]\n  z = "v"\n\n[u]\nc = 1\n',
        created: [],
      },
    },
    {
      name: "create a table next to its sibling, in the sibling's indentation",
      input: nested,
      path: ["plugins", "cri", "runtimes", "xpu", "runtime_type"],
      value: '"io.containerd.runc.v2"',
      expected: {
        text: nested +
          '\n    [plugins.cri.runtimes.xpu]\n      runtime_type = "io.containerd.runc.v2"\n',
        created: [["plugins", "cri", "runtimes", "xpu"]],
      },
    },
    {
      name: "a table implied by dotted keys gets a dotted key",
      input: "[x]\ny.z = 1\n\n[other]\nq = 1\n",
      path: ["x", "y", "w"],
      value: "2",
      expected: { text: "[x]\ny.z = 1\ny.w = 2\n\n[other]\nq = 1\n", created: [] },
    },
    {
      name: "a root key goes after the root keys",
      input: "# head\na = 1\n\n[t]\nb = 2\n",
      path: ["c"],
      value: "3",
      expected: { text: "# head\na = 1\nc = 3\n\n[t]\nb = 2\n", created: [] },
    },
    {
      name: "a root key goes before the first table when there is no root key",
      input: "# head\n\n[t]\nb = 2\n",
      path: ["c"],
      value: "3",
      expected: { text: "# head\nc = 3\n\n[t]\nb = 2\n", created: [] },
    },
    {
      name: "a root key into empty text",
      input: "",
      path: ["version"],
      value: "2",
      expected: { text: "version = 2\n", created: [] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const result = setTomlValue(c.input, c.path, c.value, WHERE);
      strictEqual(result.text, c.expected.text);
      deepStrictEqual(result.createdTables, c.expected.created);
      parse(result.text);
    });
  }

  await t.step("a table key into empty text reads back", () => {
    const result = setTomlValue("", ["t", "k"], '"v"', WHERE);
    deepStrictEqual(readBack(result.text), { t: { k: "v" } });
    deepStrictEqual(result.createdTables, [["t"]]);
  });

  await t.step("an inline table in the way: ConfigError naming the line", () => {
    const error = assertThrowsError(
      () => setTomlValue("a = 1\nt = { x = 1 }\n", ["t", "y"], "2", WHERE),
      ConfigError,
      "line 2",
    );
    strictEqual(error.path, WHERE.file);
    strictEqual(error.line, 2);
    ok(error.message.includes('"t" is an inline table'), error.message);
    ok(error.message.includes(`"${WHERE.file}"`), error.message);
  });
});

Deno.test("removeTomlValue takes every line of the statement", async (t) => {
  const cases = [
    {
      name: "a multi-line string",
      input: 'a = 1\nb = """\nx = 2\n"""\nc = 3\n',
      path: ["b"],
      expected: "a = 1\nc = 3\n",
    },
    {
      name: "a multi-line array",
      input: "[t]\n  a = [\n    1,\n    2,\n  ]\n  b = 1\n",
      path: ["t", "a"],
      expected: "[t]\n  b = 1\n",
    },
    {
      name: "a dotted key",
      input: "[x]\ny.z = 1\ny.w = 2\n",
      path: ["x", "y", "w"],
      expected: "[x]\ny.z = 1\n",
    },
    { name: "absent key: unchanged", input: "a = 1\n", path: ["b"], expected: "a = 1\n" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(removeTomlValue(c.input, c.path), c.expected));
  }
});

Deno.test("removeEmptyTomlTable removes only a table that holds nothing", async (t) => {
  const cases = [
    {
      name: "empty table between others, with the blank line before it",
      input: "a = 1\n\n[t]\n\n[u]\nb = 1\n",
      path: ["t"],
      expected: "a = 1\n\n[u]\nb = 1\n",
    },
    { name: "empty table at the end", input: "a = 1\n\n[t]\n", path: ["t"], expected: "a = 1\n" },
    {
      name: "a table with a key stays",
      input: "[t]\nb = 1\n",
      path: ["t"],
      expected: "[t]\nb = 1\n",
    },
    {
      name: "a table with a sub-table stays",
      input: "[t]\n[t.s]\nb = 1\n",
      path: ["t"],
      expected: "[t]\n[t.s]\nb = 1\n",
    },
    {
      name: "a table with a comment stays",
      input: "[t]\n# note\n",
      path: ["t"],
      expected: "[t]\n# note\n",
    },
    {
      name: "a table that only holds dotted keys stays",
      input: "[t]\ns.k = 1\n",
      path: ["t", "s"],
      expected: "[t]\ns.k = 1\n",
    },
    { name: "absent table: unchanged", input: "a = 1\n", path: ["t"], expected: "a = 1\n" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(removeEmptyTomlTable(c.input, c.path), c.expected));
  }
});

Deno.test("set three keys, then remove them and the tables made: the same bytes", async (t) => {
  const keys = [
    ["plugins", "cri", "enable_cdi"],
    ["plugins", "cri", "containerd", "runtimes", "xpu", "runtime_type"],
    ["plugins", "cri", "containerd", "runtimes", "xpu", "options", "BinaryName"],
  ];
  const cases = [
    { name: "empty text", input: "" },
    { name: "comments only", input: "# just a comment\n" },
    {
      name: "flat v2 with comments",
      input: 'version = 2 # v\n\n[plugins.cri]\n  # the sandbox\n  sandbox = "pause"\n',
    },
    {
      name: "nested and indented, a sibling runtime, a trailing comment",
      input: [
        "# top",
        "version = 2",
        "",
        "[plugins]",
        "  [plugins.cri]",
        "    x = 1 # c",
        "    [plugins.cri.containerd]",
        '      default_runtime_name = "runc"',
        "      [plugins.cri.containerd.runtimes.runc]",
        '        runtime_type = "io.containerd.runc.v2"',
        "",
        "# trailing comment",
        "",
      ].join("\n"),
    },
    {
      name: "unrelated tables before and after",
      input: "[other]\na = 1\n\n[plugins.cri]\nsnap = 'o'\n[zzz]\nb = 2\n",
    },
    {
      name: "only a sub-table of the tables written to exists",
      input: "[plugins.cri.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
    },
    {
      name: "a multi-line string that looks like a header",
      input: 'a = """\n[plugins.cri]\n"""\n[plugins.cri]\narr = [\n  "x]",\n]\n',
    },
    { name: "no final newline", input: "version = 2\n[plugins.cri]\nx = 1" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      let text = c.input;
      const created: string[][] = [];
      for (const key of keys) {
        const result = setTomlValue(text, key, tomlValue("v"), WHERE);
        text = result.text;
        created.push(...result.createdTables);
      }
      const doc = readBack(text) as Record<string, Record<string, Record<string, unknown>>>;
      strictEqual(doc.plugins.cri.enable_cdi, "v");
      const containerd = doc.plugins.cri.containerd as Record<string, unknown>;
      deepStrictEqual((containerd.runtimes as Record<string, unknown>).xpu, {
        runtime_type: "v",
        options: { BinaryName: "v" },
      });
      for (const key of [...keys].reverse()) text = removeTomlValue(text, key);
      // Tables we made go even where a sub-table of theirs was already written.
      for (const table of [...created].sort((a, b) => b.length - a.length)) {
        text = removeEmptyTomlTable(text, table, { evenWithSubTables: true });
      }
      strictEqual(text, c.input);
    });
  }
});
