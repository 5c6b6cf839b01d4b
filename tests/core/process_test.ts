import { deepStrictEqual } from "node:assert/strict";
import { ignoredSignals } from "../../src/core/process.ts";

Deno.test("ignoredSignals reads the SigIgn mask of /proc/<pid>/status", async (t) => {
  const cases = [
    {
      name: "nothing ignored",
      input: "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
      expected: [],
    },
    { name: "SIGPIPE (Deno's default)", input: "SigIgn:\t0000000000001000\n", expected: [13] },
    {
      name: "SIGINT, SIGQUIT, SIGPIPE and 32",
      input: "SigIgn:\t0000000080001006\n",
      expected: [2, 3, 13, 32],
    },
    { name: "signal 64", input: "SigIgn:\t8000000000000000\n", expected: [64] },
    { name: "no SigIgn line", input: "Name:\tdeno\n", expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(ignoredSignals(c.input), c.expected));
  }
});
