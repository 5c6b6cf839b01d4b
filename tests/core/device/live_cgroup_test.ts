import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { liveCgroupOf, nextDecisions, v1ListAllows } from "../../../src/core/device/live_cgroup.ts";
import { insn } from "../../helpers/bpf_insn.ts";

const MOUNTS = {
  hybrid: [
    "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw",
    "31 25 0:27 / /sys/fs/cgroup/devices rw,nosuid - cgroup cgroup rw,devices",
  ].join("\n"),
  v2: "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw",
};

Deno.test("liveCgroupOf", async (t) => {
  const cases: {
    name: string;
    input: { cgroup: string; mounts: string; programs: string[] };
    expected: ReturnType<typeof liveCgroupOf>;
  }[] = [
    {
      name: "hybrid host, runc in v1 mode: the devices cgroup",
      input: {
        cgroup: "5:devices:/xpu-1\n0::/xpu-1\n",
        mounts: MOUNTS.hybrid,
        programs: [],
      },
      expected: { version: 1, dir: "/sys/fs/cgroup/devices/xpu-1" },
    },
    {
      name: "hybrid host, runc in v2 mode: the unified cgroup with runc's program",
      input: {
        cgroup: "5:devices:/\n0::/xpu-2\n",
        mounts: MOUNTS.hybrid,
        programs: ["/sys/fs/cgroup/unified/xpu-2"],
      },
      expected: { version: 2, dir: "/sys/fs/cgroup/unified/xpu-2" },
    },
    {
      name: "a cgroup v2 host",
      input: {
        cgroup: "0::/system.slice/docker-abc.scope\n",
        mounts: MOUNTS.v2,
        programs: ["/sys/fs/cgroup/system.slice/docker-abc.scope"],
      },
      expected: { version: 2, dir: "/sys/fs/cgroup/system.slice/docker-abc.scope" },
    },
    {
      name: "a v2 cgroup without a program, no v1 cgroup: the v2 cgroup, to attach one to",
      input: { cgroup: "0::/free\n", mounts: MOUNTS.v2, programs: [] },
      expected: { version: 2, dir: "/sys/fs/cgroup/free" },
    },
    {
      name: "hybrid host, in the v1 root and without a program: the unified cgroup",
      input: { cgroup: "5:devices:/\n0::/free\n", mounts: MOUNTS.hybrid, programs: [] },
      expected: { version: 2, dir: "/sys/fs/cgroup/unified/free" },
    },
    {
      name: "no device cgroup mounted: none",
      input: { cgroup: "0::/free\n", mounts: "", programs: [] },
      expected: { version: "none", reason: "it is in no device cgroup this host mounts" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(
        liveCgroupOf(c.input.cgroup, c.input.mounts, (dir) => c.input.programs.includes(dir)),
        c.expected,
      );
    });
  }
});

Deno.test("v1ListAllows", async (t) => {
  const xpu1 = { type: "c" as const, major: 240, minor: 0 };
  const cases: { name: string; input: string; expected: boolean }[] = [
    { name: "an unrestricted cgroup", input: "a *:* rwm\n", expected: true },
    { name: "the exact rule", input: "c 1:3 rwm\nc 240:0 rwm\n", expected: true },
    { name: "a major wildcard", input: "c 240:* rwm\n", expected: true },
    { name: "read only is not every access", input: "c 240:0 r\n", expected: false },
    { name: "a block rule", input: "b 240:0 rwm\n", expected: false },
    { name: "runc's defaults only", input: "c 1:3 rwm\nc *:* m\nc 136:* rwm\n", expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(v1ListAllows(c.input, xpu1), c.expected));
  }
});

Deno.test("nextDecisions: a decision only where the runtime's program decides otherwise", () => {
  // allow c 1:3 only
  const i = insn;
  const runtime = [
    i(0x61, 2, 1, 0, 0),
    i(0x54, 2, 0, 0, 0xffff),
    i(0x61, 4, 1, 4, 0),
    i(0x61, 5, 1, 8, 0),
    i(0x55, 2, 0, 4, 2),
    i(0x55, 4, 0, 3, 1),
    i(0x55, 5, 0, 2, 3),
    i(0xb4, 0, 0, 0, 1),
    i(0x95, 0, 0, 0, 0),
    i(0xb4, 0, 0, 0, 0),
    i(0x95, 0, 0, 0, 0),
  ];
  const xpu1 = { type: "c" as const, major: 240, minor: 0 };
  const nul = { type: "c" as const, major: 1, minor: 3 };
  deepStrictEqual(nextDecisions([], runtime, [xpu1, nul], true), [{ ...xpu1, allow: true }]);
  deepStrictEqual(nextDecisions([{ ...xpu1, allow: true }], runtime, [xpu1], false), []);
  deepStrictEqual(nextDecisions([], runtime, [nul], false), [{ ...nul, allow: false }]);
  deepStrictEqual(nextDecisions([{ ...nul, allow: false }], runtime, [nul], true), []);
});
