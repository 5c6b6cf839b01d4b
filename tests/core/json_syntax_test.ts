import { deepStrictEqual } from "node:assert/strict";
import { findJsonSyntaxError } from "../../src/core/json_syntax.ts";

Deno.test("findJsonSyntaxError locates the first error", async (t) => {
  const cases = [
    {
      name: "valid",
      input: '{"a": [1, 2.5e3, -0, "x\\"y"], "b": {"c": null}}',
      expected: undefined,
    },
    {
      name: "missing value",
      input: '{\n  "a": ,\n}',
      expected: { line: 2, column: 8, detail: 'unexpected ","' },
    },
    {
      name: "trailing comma",
      input: "[1,]",
      expected: { line: 1, column: 4, detail: 'unexpected "]"' },
    },
    {
      name: "truncated",
      input: '{"a": 1',
      expected: { line: 1, column: 8, detail: "unexpected end of the document" },
    },
    {
      name: "bare word",
      input: '{"a": yes}',
      expected: { line: 1, column: 7, detail: 'unexpected "y"' },
    },
    {
      name: "control character in a string",
      input: '"a\nb"',
      expected: { line: 1, column: 3, detail: 'unexpected "\\n"' },
    },
    {
      name: "text after the document",
      input: "{} x",
      expected: { line: 1, column: 4, detail: 'unexpected "x"' },
    },
    {
      name: "leading zero",
      input: "01",
      expected: { line: 1, column: 2, detail: 'unexpected "1"' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(findJsonSyntaxError(c.input), c.expected));
  }
});

Deno.test("findJsonSyntaxError with uniqueKeys rejects a repeated key", async (t) => {
  await t.step("repeated at the top level", () => {
    deepStrictEqual(findJsonSyntaxError('{"kind": "a",\n "kind": "b"}', { uniqueKeys: true }), {
      line: 2,
      column: 2,
      detail: 'duplicate key "kind"',
    });
  });
  await t.step("the same key in different objects is fine", () => {
    deepStrictEqual(findJsonSyntaxError('[{"a": 1}, {"a": 2}]', { uniqueKeys: true }), undefined);
  });
  await t.step("escapes are decoded before comparing", () => {
    deepStrictEqual(
      findJsonSyntaxError('{"a": 1, "\\u0061": 2}', { uniqueKeys: true })?.detail,
      'duplicate key "a"',
    );
  });
  await t.step("without the option duplicates pass", () => {
    deepStrictEqual(findJsonSyntaxError('{"a": 1, "a": 2}'), undefined);
  });
});
