import assert from "node:assert/strict";
import { parseMountinfo } from "../../../src/core/path/mountinfo.ts";

Deno.test("parseMountinfo reads mount point, options, type and super options", async (t) => {
  const cases: { name: string; input: string; expected: ReturnType<typeof parseMountinfo> }[] = [
    {
      name: "a plain line",
      input: "22 27 0:21 / /proc rw,relatime - proc proc rw\n",
      expected: [
        { mountPoint: "/proc", options: ["rw", "relatime"], fsType: "proc", superOptions: ["rw"] },
      ],
    },
    {
      name: "optional fields before the separator; a cgroup v1 controller",
      input: "35 31 0:32 / /sys/fs/cgroup/devices rw,nosuid shared:15 master:2 - cgroup cgroup " +
        "rw,devices\n",
      expected: [{
        mountPoint: "/sys/fs/cgroup/devices",
        options: ["rw", "nosuid"],
        fsType: "cgroup",
        superOptions: ["rw", "devices"],
      }],
    },
    {
      name: "octal escapes in the mount point",
      input: "40 27 0:40 / /tmp/a\\040b\\134c ro - tmpfs tmpfs rw\n",
      expected: [
        { mountPoint: "/tmp/a b\\c", options: ["ro"], fsType: "tmpfs", superOptions: ["rw"] },
      ],
    },
    { name: "lines without the separator are skipped", input: "garbage\n\n", expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(parseMountinfo(c.input), c.expected));
  }
});
