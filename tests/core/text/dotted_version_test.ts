import assert from "node:assert/strict";
import { compareVersions } from "../../../src/core/text/dotted_version.ts";

Deno.test("compareVersions orders dotted versions numerically", async (t) => {
  const cases: { name: string; input: [string, string]; expected: -1 | 0 | 1 }[] = [
    { name: "1.10 > 1.9", input: ["1.10", "1.9"], expected: 1 },
    { name: "1.9 < 1.10", input: ["1.9", "1.10"], expected: -1 },
    { name: "2 == 2.0.0", input: ["2", "2.0.0"], expected: 0 },
    { name: "2.0.0 == 2", input: ["2.0.0", "2"], expected: 0 },
    { name: "1.0.1 > 1.0", input: ["1.0.1", "1.0"], expected: 1 },
    { name: "1.0 < 1.0.1", input: ["1.0", "1.0.1"], expected: -1 },
    { name: "10.0 > 9.99", input: ["10.0", "9.99"], expected: 1 },
    { name: "equal", input: ["535.104.05", "535.104.5"], expected: 0 },
    { name: "major decides first", input: ["2.0", "1.99.99"], expected: 1 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.equal(Math.sign(compareVersions(...c.input)), c.expected);
    });
  }
});

Deno.test("compareVersions sorts a list like a comparator", () => {
  assert.deepStrictEqual(
    ["1.10.0", "1.2", "1.9.5", "0.9", "1.10"].sort(compareVersions),
    ["0.9", "1.2", "1.9.5", "1.10.0", "1.10"],
  );
});
