import assert from "node:assert/strict";
import { findDepthExcess, MAX_JSON_DEPTH } from "../../../src/core/text/json_depth.ts";

Deno.test("findDepthExcess finds the bracket that nests too deep, without recursion", async (t) => {
  const cases: [string, string, number, ReturnType<typeof findDepthExcess>][] = [
    ["flat object", '{"a": 1}', 1, undefined],
    ["at the limit", "[[1]]", 2, undefined],
    ["one deeper", "[[[1]]]", 2, { line: 1, column: 3, limit: 2 }],
    ["brackets in strings do not count", '["[[[", "{{{"]', 1, undefined],
    ["an escaped quote stays in the string", '["\\"[[["]', 1, undefined],
    ["the line of the excess", '{\n  "a": {\n    "b": [1]\n  }\n}', 2, {
      line: 3,
      column: 10,
      limit: 2,
    }],
    ["closing brackets lower the depth", "[[]][[]]", 2, undefined],
  ];
  for (const [name, text, limit, expected] of cases) {
    await t.step(name, () => assert.deepEqual(findDepthExcess(text, limit), expected));
  }
  await t.step("100,000 levels: found, not a stack overflow", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    assert.equal(findDepthExcess(deep)?.column, MAX_JSON_DEPTH + 1);
  });
});
