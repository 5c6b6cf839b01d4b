import { deepStrictEqual } from "node:assert/strict";
import { findJsonSyntaxError } from "../../../src/core/text/json_syntax.ts";

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

Deno.test("findJsonSyntaxError reports what JSON.parse rejects: escapes", async (t) => {
  const cases = [
    {
      name: 'an invalid "\\q" escape',
      input: '{"a": "x\\q"}',
      expected: { line: 1, column: 9, detail: 'invalid escape "\\q"' },
    },
    {
      name: 'a "\\u" escape with two hex digits',
      input: '["\\u12"]',
      expected: {
        line: 1,
        column: 3,
        detail: 'invalid escape "\\u12": "\\u" takes four hex digits',
      },
    },
    {
      name: "a backslash at the end of the text",
      input: '"\\',
      expected: { line: 1, column: 3, detail: "unexpected end of the document" },
    },
    {
      name: "an escaped newline is quoted on one line",
      input: '"\\\n"',
      expected: { line: 1, column: 2, detail: 'invalid escape "\\\\n"' },
    },
    {
      name: "every escape JSON defines",
      input: '"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00"',
      expected: undefined,
    },
    {
      name: "a line separator in the detail is escaped",
      input: "[\u2028]",
      expected: { line: 1, column: 2, detail: 'unexpected "\\u2028"' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(findJsonSyntaxError(c.input), c.expected);
      let parses = true;
      try {
        JSON.parse(c.input);
      } catch {
        parses = false;
      }
      deepStrictEqual(parses, c.expected === undefined, "agrees with JSON.parse");
    });
  }
});

Deno.test("findJsonSyntaxError does not recurse: 100,000 levels are scanned", async (t) => {
  const cases = [
    {
      name: "5,000 levels of arrays",
      input: "[".repeat(5_000) + "]".repeat(5_000),
      expected: undefined,
    },
    {
      name: "100,000 levels of arrays",
      input: "[".repeat(100_000) + "]".repeat(100_000),
      expected: undefined,
    },
    {
      name: "100,000 levels of objects",
      input: '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000),
      expected: undefined,
    },
    {
      name: "100,000 levels of arrays, unclosed",
      input: "[".repeat(100_000),
      expected: { line: 1, column: 100_001, detail: "unexpected end of the document" },
    },
    {
      name: "100,000 levels closed by the wrong bracket",
      input: "[".repeat(100_000) + "}",
      expected: { line: 1, column: 100_001, detail: 'unexpected "}"' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(findJsonSyntaxError(c.input, { uniqueKeys: true }), c.expected);
    });
  }
});
