import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { ConfigError } from "../../src/core/errors.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import {
  indentUnit,
  parseJsonDocument,
  removeJsonValue,
  setJsonValue,
} from "../../src/engines/json_edit.ts";

Deno.test("parseJsonDocument gives the tree and the value as JSON.parse reads it", async (t) => {
  const cases: { name: string; input: string; expected: unknown }[] = [
    {
      name: "of equal keys, the last",
      input: '{"a": 1, "b": 2, "a": 3}',
      expected: { a: 3, b: 2 },
    },
    {
      name: "__proto__ is an own key",
      input: '{"__proto__": {"x": 1}}',
      expected: JSON.parse('{"__proto__": {"x": 1}}'),
    },
    { name: "not an object", input: '[1, "a", null]', expected: [1, "a", null] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { tree, value } = parseJsonDocument(c.input);
      deepStrictEqual(value, c.expected);
      strictEqual(tree.length, c.input.length);
    });
  }
});

Deno.test("setJsonValue touches no other byte", async (t) => {
  const cases = [
    {
      name: "new key after the last, in the object's indentation",
      input: { text: '{\n    "a": [1, 2],\n    "b": {"x": 1}\n}\n', path: ["c"], value: true },
      expected: '{\n    "a": [1, 2],\n    "b": {"x": 1},\n    "c": true\n}\n',
    },
    {
      name: "nested new objects pretty-printed at their depth",
      input: {
        text: '{\n\t"a": 1\n}\n',
        path: ["runtimes", "xpu"],
        value: { path: "/x", runtimeArgs: [] },
      },
      expected:
        '{\n\t"a": 1,\n\t"runtimes": {\n\t\t"xpu": {\n\t\t\t"path": "/x",\n\t\t\t"runtimeArgs": []\n\t\t}\n\t}\n}\n',
    },
    {
      name: "into a one-line object: stays on one line",
      input: {
        text: '{\n  "features": { "buildkit": true }\n}\n',
        path: ["features", "cdi"],
        value: true,
      },
      expected: '{\n  "features": { "buildkit": true, "cdi": true }\n}\n',
    },
    {
      name: "replace a value in place",
      input: {
        text: '{ "default-runtime": "crun", "debug": false }',
        path: ["default-runtime"],
        value: "xpu",
      },
      expected: '{ "default-runtime": "xpu", "debug": false }',
    },
    {
      name: "into an empty object",
      input: { text: "{}\n", path: ["a", "b"], value: 1 },
      expected: '{\n  "a": {\n    "b": 1\n  }\n}\n',
    },
  ];
  for (const c of cases) {
    await t.step(
      c.name,
      () => strictEqual(setJsonValue(c.input.text, c.input.path, c.input.value), c.expected),
    );
  }
});

Deno.test("removeJsonValue takes the property and its comma only", async (t) => {
  const text = '{\n  "a": 1,\n  "b": {\n    "x": true\n  },\n  "c": "z"\n}\n';
  const cases = [
    { name: "first", path: ["a"], expected: '{\n  "b": {\n    "x": true\n  },\n  "c": "z"\n}\n' },
    { name: "middle", path: ["b"], expected: '{\n  "a": 1,\n  "c": "z"\n}\n' },
    { name: "last", path: ["c"], expected: '{\n  "a": 1,\n  "b": {\n    "x": true\n  }\n}\n' },
    {
      name: "the only one of an object",
      path: ["b", "x"],
      expected: '{\n  "a": 1,\n  "b": {},\n  "c": "z"\n}\n',
    },
    { name: "absent", path: ["q"], expected: text },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(removeJsonValue(text, c.path), c.expected));
  }
});

Deno.test("indentUnit", () => {
  strictEqual(indentUnit('{\n\t"a": 1\n}'), "\t");
  strictEqual(indentUnit('{\n    "a": 1\n}'), "    ");
  strictEqual(indentUnit("{}"), "  ");
});

Deno.test("setJsonValue and removeJsonValue: edge cases", async (t) => {
  await t.step("CRLF files get CRLF in what is inserted", () => {
    strictEqual(
      setJsonValue('{\r\n  "a": 1\r\n}\r\n', ["b", "c"], true),
      '{\r\n  "a": 1,\r\n  "b": {\r\n    "c": true\r\n  }\r\n}\r\n',
    );
  });
  await t.step("a non-object in the way is replaced by the object the path needs", () => {
    strictEqual(setJsonValue('{"a": 1}', ["a", "b"], 2), '{"a": { "b": 2 }}');
  });
  await t.step("removing under a non-object leaves the text", () => {
    strictEqual(removeJsonValue('{"a": [1]}', ["a", "b"]), '{"a": [1]}');
    strictEqual(removeJsonValue("[1]", ["a"]), "[1]");
  });
  await t.step("a __proto__ key is an ordinary key", () => {
    const out = setJsonValue("{}", ["__proto__", "x"], 1);
    strictEqual(out, '{\n  "__proto__": {\n    "x": 1\n  }\n}');
    strictEqual(Object.hasOwn(JSON.parse(out), "__proto__"), true);
  });
});

Deno.test("setJsonValue and removeJsonValue refuse what they cannot edit truthfully", async (t) => {
  const cases: { name: string; input: string; path: string[]; expected: string }[] = [
    {
      name: "a key of the path twice: readers keep the last, the edit would change the first",
      input: '{\n  "a": {"b": 1},\n  "a": {"b": 2}\n}',
      path: ["a", "b"],
      expected: 'Cannot update "/x.json": "a" appears twice, lines 2 and 3: a JSON reader reads ' +
        "the last, so an edit of the first would not count: remove one and re-run",
    },
    {
      name: "deeper on the path, on one line",
      input: '{"a": {"b": 1, "b": 2}}',
      path: ["a", "b"],
      expected: '"a.b" appears twice, on line 1 (columns 8 and 16)',
    },
    {
      name: "nesting deeper than 512 levels (jsonc-parser recursed out of stack)",
      input: `{"a": ${"[".repeat(100_000)}}`,
      path: ["b"],
      expected: 'Cannot parse "/x.json", line 1, column 518: the document nests deeper than 512',
    },
    {
      name: "not JSON",
      input: '{"a": 1,}',
      path: ["b"],
      expected: "line 1, column 9: a property name was expected (a trailing comma?)",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const options = { file: "/x.json" };
      for (
        const edit of [
          () => setJsonValue(c.input, c.path, 1, options),
          () => removeJsonValue(c.input, c.path, options),
        ]
      ) {
        const error = assertThrowsError(edit, ConfigError, c.expected);
        strictEqual(error.path, "/x.json");
        strictEqual(error.message.split("\n").length, 1);
      }
    });
  }
  await t.step("a document that is not an object cannot get a key", () => {
    assertThrowsError(
      () => setJsonValue("[1]", ["a"], 1),
      ConfigError,
      'Cannot update "<JSON text>", line 1, column 1: the document is an array, expected an object',
    );
  });
  await t.step("a duplicate off the path stays", () => {
    strictEqual(setJsonValue('{"x": 1, "x": 2}', ["y"], 3), '{"x": 1, "x": 2, "y": 3}');
  });
});
