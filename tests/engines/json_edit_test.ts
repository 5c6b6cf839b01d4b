import { strictEqual } from "node:assert/strict";
import { indentUnit, removeJsonValue, setJsonValue } from "../../src/engines/json_edit.ts";

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
