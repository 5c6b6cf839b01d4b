/**
 * The benchmarks' paired samples, from made-up numbers (never real timings): quantiles at the
 * ranks the benches read, paired differences and their refusal of unpaired samples, and the
 * order variants run in (pairs adjacent, each side first as often, each slot filled evenly).
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { pairedDifferences, pairedOrder, quantile, spread } from "../../bench/paired_samples.ts";

Deno.test("quantile: the value at rank ⌊q·n⌋ of the sorted samples", async (t) => {
  const cases: { name: string; input: { values: number[]; q: number }; expected: number }[] = [
    { name: "median of an odd count", input: { values: [5, 1, 3], q: 0.5 }, expected: 3 },
    {
      name: "median of an even count: upper middle",
      input: { values: [4, 1, 3, 2], q: 0.5 },
      expected: 3,
    },
    {
      name: "p90 of ten samples is the largest",
      input: { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], q: 0.9 },
      expected: 10,
    },
    {
      name: "p90 of twenty samples is the 19th",
      input: { values: Array.from({ length: 20 }, (_, i) => 20 - i), q: 0.9 },
      expected: 19,
    },
    { name: "one sample", input: { values: [7], q: 0.9 }, expected: 7 },
    {
      name: "negative values sort below zero",
      input: { values: [-2, 1, -5], q: 0.5 },
      expected: -2,
    },
    {
      name: "q = 1 is the largest, not past the end",
      input: { values: [1, 2], q: 1 },
      expected: 2,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(quantile(c.input.values, c.input.q), c.expected));
  }
  await t.step("no samples: NaN (no figure), not a number read past the end", () => {
    ok(Number.isNaN(quantile([], 0.5)));
  });
  await t.step("the samples are not reordered", () => {
    const values = [3, 1, 2];
    quantile(values, 0.5);
    deepStrictEqual(values, [3, 1, 2]);
  });
});

Deno.test("spread: median and p90", () => {
  deepStrictEqual(spread([10, 30, 20, 40, 50, 60, 70, 80, 90, 100]), { median: 60, p90: 100 });
});

Deno.test("pairedDifferences: per iteration, with − without", async (t) => {
  await t.step("each iteration's own difference", () => {
    deepStrictEqual(pairedDifferences([12, 15, 11], [10, 10, 10]), [2, 5, 1]);
  });
  await t.step("a load that slows both samples of an iteration cancels out", () => {
    // Iteration 1 ran under load (+90 on both sides): its difference is still 2.
    deepStrictEqual(pairedDifferences([12, 102, 12], [10, 100, 10]), [2, 2, 2]);
  });
  await t.step("unpaired samples are refused", () => {
    throws(() => pairedDifferences([1, 2], [1]), {
      name: "RangeError",
      message: /Cannot pair 2 samples with 1: each iteration must measure both variants/,
    });
  });
});

Deno.test("pairedOrder: pairs back to back, rotated, each side first as often", async (t) => {
  const pairs = [["a", "A"], ["b", "B"]] as const;
  const cases: { name: string; input: number; expected: string[] }[] = [
    { name: "iteration 0: as given", input: 0, expected: ["a", "A", "b", "B"] },
    { name: "iteration 1: pairs rotated", input: 1, expected: ["b", "B", "a", "A"] },
    { name: "iteration 2: sides swapped", input: 2, expected: ["A", "a", "B", "b"] },
    { name: "iteration 3: rotated and swapped", input: 3, expected: ["B", "b", "A", "a"] },
    { name: "iteration 4: as iteration 0", input: 4, expected: ["a", "A", "b", "B"] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(pairedOrder(pairs, c.input), c.expected));
  }
  await t.step("over 2 × pairs iterations every variant fills every slot once", () => {
    const three = [["a", "A"], ["b", "B"], ["c", "C"]] as const;
    const slots = new Map<string, number[]>();
    for (let i = 0; i < 6; i++) {
      pairedOrder(three, i).forEach((v, slot) => slots.set(v, [...(slots.get(v) ?? []), slot]));
    }
    strictEqual(slots.size, 6);
    for (const [variant, seen] of slots) {
      deepStrictEqual([...seen].sort(), [0, 1, 2, 3, 4, 5], variant);
    }
  });
  await t.step("no pairs: nothing to run", () => deepStrictEqual(pairedOrder([], 3), []));
});
