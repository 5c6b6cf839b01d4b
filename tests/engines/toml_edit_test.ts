/**
 * Format-preserving TOML edits: key splitting, value writing, the line structure, set / remove
 * of one key, removal of emptied tables, and the round trip set-then-remove giving back the
 * user's bytes.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { ConfigError } from "../../src/core/errors.ts";
import {
  readTomlLayout,
  removeEmptyTomlTable,
  removeTomlValue,
  setTomlValue,
  splitTomlKey,
  tomlValue,
} from "../../src/engines/toml_edit.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const WHERE = { file: "/etc/containerd/config.toml" };

/** smol-toml's tables have a null prototype; compare plain data. */
function readBack(text: string): unknown {
  return JSON.parse(JSON.stringify(parse(text)));
}

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
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(tomlValue(c.input), c.expected);
      deepStrictEqual((readBack(`v = ${c.expected}\n`) as { v: unknown }).v, c.input);
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
