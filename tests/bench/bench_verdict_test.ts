/**
 * The benchmark's verdict lines, from made-up figures (never real timings): at, under and over a
 * limit, missing and non-finite figures, several targets in their table's order.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  type BenchTarget,
  judgeTargets,
  limitText,
  verdictLine,
} from "../../bench/bench_verdict.ts";

const PASS: BenchTarget = {
  figure: "passThrough",
  what: "pass-through overhead",
  limit: 1.3,
  unit: "×",
  baseline: "hello world",
};
const CREATE: BenchTarget = {
  figure: "create",
  what: "create overhead",
  limit: 1.6,
  unit: "×",
  baseline: "hello world",
};

Deno.test("judgeTargets and verdictLine: one line per target, met at or under the limit", async (t) => {
  const cases: {
    name: string;
    input: { targets: BenchTarget[]; measured: Record<string, number> };
    expected: string[];
  }[] = [
    {
      name: "well under the limit",
      input: { targets: [PASS], measured: { passThrough: 0.42 } },
      expected: ["target pass-through overhead ≤ 1.3× hello world: 0.42× — met"],
    },
    {
      name: "exactly at the limit is met",
      input: { targets: [CREATE], measured: { create: 1.6 } },
      expected: ["target create overhead ≤ 1.6× hello world: 1.60× — met"],
    },
    {
      name: "just over the limit is missed, though it prints rounded to the limit",
      input: { targets: [CREATE], measured: { create: 1.6001 } },
      expected: ["target create overhead ≤ 1.6× hello world: 1.60× — missed"],
    },
    {
      name: "far over the limit",
      input: { targets: [PASS], measured: { passThrough: 3.25 } },
      expected: ["target pass-through overhead ≤ 1.3× hello world: 3.25× — missed"],
    },
    {
      name: "a negative overhead (the shim sampled faster than runc) is met",
      input: { targets: [PASS], measured: { passThrough: -0.05 } },
      expected: ["target pass-through overhead ≤ 1.3× hello world: -0.05× — met"],
    },
    {
      name: "several targets keep the table's order, not the record's",
      input: { targets: [PASS, CREATE], measured: { create: 2, passThrough: 1 } },
      expected: [
        "target pass-through overhead ≤ 1.3× hello world: 1.00× — met",
        "target create overhead ≤ 1.6× hello world: 2.00× — missed",
      ],
    },
    {
      name: "a missing figure is missed",
      input: { targets: [PASS, CREATE], measured: { create: 1 } },
      expected: [
        "target pass-through overhead ≤ 1.3× hello world: no figure — missed",
        "target create overhead ≤ 1.6× hello world: 1.00× — met",
      ],
    },
    {
      name: "NaN (no samples) is missed",
      input: { targets: [PASS], measured: { passThrough: NaN } },
      expected: ["target pass-through overhead ≤ 1.3× hello world: no figure — missed"],
    },
    {
      name: "-Infinity (a zero baseline) is missed, though it is below every limit",
      input: { targets: [PASS], measured: { passThrough: -Infinity } },
      expected: ["target pass-through overhead ≤ 1.3× hello world: no figure — missed"],
    },
    {
      name: "a figure named like an Object.prototype key is not found there",
      input: {
        targets: [{ figure: "toString", what: "x", limit: 1, unit: " ms" }],
        measured: {},
      },
      expected: ["target x ≤ 1 ms: no figure — missed"],
    },
    {
      name: "a target without a baseline, in milliseconds",
      input: {
        targets: [{ figure: "wrapper", what: "wrapper cost", limit: 2.5, unit: " ms" }],
        measured: { wrapper: 0.7 },
      },
      expected: ["target wrapper cost ≤ 2.5 ms: 0.70 ms — met"],
    },
    {
      name: "no targets, no lines",
      input: { targets: [], measured: { create: 1 } },
      expected: [],
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => {
      deepStrictEqual(judgeTargets(input.targets, input.measured).map(verdictLine), expected);
    });
  }
});

Deno.test("judgeTargets: the verdict carries the figure and the decision", async (t) => {
  const cases = [
    {
      name: "met",
      input: { passThrough: 0.9 },
      expected: { target: PASS, measured: 0.9, met: true },
    },
    {
      name: "missed",
      input: { passThrough: 1.31 },
      expected: { target: PASS, measured: 1.31, met: false },
    },
    {
      name: "Infinity is no figure",
      input: { passThrough: Infinity },
      expected: { target: PASS, measured: undefined, met: false },
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => deepStrictEqual(judgeTargets([PASS], input), [expected]));
  }
});

Deno.test("limitText: the limit as the bench states it", async (t) => {
  const cases = [
    { name: "with a baseline", input: PASS, expected: "≤ 1.3× hello world" },
    {
      name: "without one",
      input: { figure: "f", what: "w", limit: 10, unit: " ms" },
      expected: "≤ 10 ms",
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => strictEqual(limitText(input), expected));
  }
});
