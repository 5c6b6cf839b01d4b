import assert from "node:assert/strict";
import type { DeviceRule as CgroupRule } from "../../../src/core/device/device_cgroup.ts";
import {
  allowDevices,
  allowLine,
  type DeviceCgroup,
  deviceCgroupOf,
  devicesCgroupPath,
  devicesMountPoint,
  readDeviceCgroup,
} from "../../../src/core/device/device_cgroup.ts";
import { e2eTest } from "../../helpers/e2e.ts";

Deno.test("devicesCgroupPath finds the v1 devices hierarchy in /proc/<pid>/cgroup", async (t) => {
  const cases: { name: string; input: string; expected: string | undefined }[] = [
    {
      name: "hybrid host",
      input: [
        "12:devices:/xpu-test/c1",
        "11:cpu,cpuacct:/x",
        "10:memory:/x",
        "1:name=systemd:/x",
        "0::/x",
        "",
      ].join("\n"),
      expected: "/xpu-test/c1",
    },
    {
      name: "devices listed after other lines",
      input: "11:cpu,cpuacct:/x\n0::/x\n5:devices:/docker/abc\n",
      expected: "/docker/abc",
    },
    {
      name: "devices co-mounted with another controller",
      input: "4:devices,cpu:/a\n0::/b\n",
      expected: "/a",
    },
    { name: "the root cgroup", input: "5:devices:/\n", expected: "/" },
    { name: "a path containing a colon", input: "5:devices:/k8s/pod:1\n", expected: "/k8s/pod:1" },
    { name: "pure cgroup v2", input: "0::/a\n", expected: undefined },
    {
      name: "a named hierarchy called devices-like is not the controller",
      input: "1:name=devices:/x\n0::/x\n",
      expected: undefined,
    },
    { name: "empty", input: "", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(devicesCgroupPath(c.input), c.expected));
  }
});

// From this host's /proc/self/mountinfo (hybrid layout) and a systemd host with optional fields.
const HYBRID_MOUNTINFO = [
  "22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w",
  "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
  "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices",
  "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
  "40 30 0:37 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 " +
  "rw,nsdelegate",
  "",
].join("\n");

Deno.test("devicesMountPoint finds the v1 devices controller in mountinfo", async (t) => {
  const cases: { name: string; input: string; expected: string | undefined }[] = [
    { name: "hybrid host", input: HYBRID_MOUNTINFO, expected: "/sys/fs/cgroup/devices" },
    {
      name: "optional fields before the separator, co-mounted controllers",
      input: [
        "25 24 0:22 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw",
        "33 24 0:30 / /sys/fs/cgroup/devices,cpu rw,nosuid,nodev,noexec,relatime shared:15 - " +
        "cgroup cgroup rw,cpu,devices",
      ].join("\n"),
      expected: "/sys/fs/cgroup/devices,cpu",
    },
    {
      name: "pure cgroup v2",
      input: "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw\n",
      expected: undefined,
    },
    {
      name: "a non-cgroup mount whose options mention devices",
      input: "50 22 0:40 / /mnt/devices rw - tmpfs devices rw,devices\n",
      expected: undefined,
    },
    { name: "empty", input: "", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(devicesMountPoint(c.input), c.expected));
  }
});

Deno.test("allowLine writes the devices.allow syntax", async (t) => {
  const cases: { name: string; input: CgroupRule; expected: string }[] = [
    { name: "char device", input: { type: "c", major: 240, minor: 0 }, expected: "c 240:0 rwm" },
    { name: "block device", input: { type: "b", major: 8, minor: 16 }, expected: "b 8:16 rwm" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(allowLine(c.input), c.expected));
  }
});

const DEVICES_HIERARCHY = "/sys/fs/cgroup/devices";

/** Why the real v1 test cannot apply here: a cgroup v2-only host has no devices.allow to write. */
function noV1DevicesHierarchy(): string | undefined {
  try {
    Deno.statSync(DEVICES_HIERARCHY);
    return undefined;
  } catch {
    return `no cgroup v1 devices hierarchy at ${DEVICES_HIERARCHY} (cgroup v2 only: ` +
      `tests/e2e/hook_cgroup2_test.ts covers that case)`;
  }
}

// Makes a cgroup in the real v1 devices hierarchy and moves a process into it: root.
await e2eTest(
  "readDeviceCgroup and allowDevices find and write a real process's devices cgroup",
  ["root"],
  async () => {
    const cgroup = `${DEVICES_HIERARCHY}/xpu-ctk-test-${crypto.randomUUID()}`;
    Deno.mkdirSync(cgroup);
    try {
      // Start from "nothing allowed", so the list shows exactly what allowDevices added.
      Deno.writeTextFileSync(`${cgroup}/devices.deny`, "a");
      assert.equal(Deno.readTextFileSync(`${cgroup}/devices.list`), "");
      const sleeper = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" })
        .spawn();
      try {
        Deno.writeTextFileSync(`${cgroup}/cgroup.procs`, String(sleeper.pid));
        const found = readDeviceCgroup(sleeper.pid);
        assert.deepStrictEqual(found, { version: 1, allowFile: `${cgroup}/devices.allow` });
        const file = `${cgroup}/devices.allow`;
        allowDevices(file, [{ type: "c", major: 240, minor: 0 }]);
        assert.equal(Deno.readTextFileSync(`${cgroup}/devices.list`), "c 240:0 rwm\n");
        // Several rules: the kernel takes one per write, so each must land.
        allowDevices(file, [
          { type: "c", major: 240, minor: 1 },
          { type: "b", major: 8, minor: 16 },
        ]);
        assert.deepStrictEqual(
          Deno.readTextFileSync(`${cgroup}/devices.list`).split("\n").filter((l) => l).sort(),
          ["b 8:16 rwm", "c 240:0 rwm", "c 240:1 rwm"],
        );
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
    } finally {
      Deno.removeSync(cgroup);
    }
  },
  { notApplicable: noV1DevicesHierarchy },
);

Deno.test("devicesMountPoint decodes mountinfo's octal escapes", () => {
  assert.strictEqual(
    devicesMountPoint(
      "40 30 0:35 / /sys/fs/cgroup/dev\\040ices rw,nosuid - cgroup cgroup rw,devices\n",
    ),
    "/sys/fs/cgroup/dev ices",
  );
});

// What this host's hybrid layout and a cgroup v2 host (or a namespace with only cgroup2 mounted,
// where the kernel still lists the v1 hierarchies in /proc/<pid>/cgroup) look like.
const HYBRID_CGROUP = "12:devices:/c1\n9:name=systemd:/c1\n0::/c1\n";
const V2_MOUNTINFO =
  "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n";

Deno.test("deviceCgroupOf tells cgroup v1 from v2", async (t) => {
  const cases: {
    name: string;
    input: { procCgroup: string; mountinfo: string };
    expected: DeviceCgroup;
  }[] = [
    {
      name: "hybrid host: the v1 devices controller",
      input: { procCgroup: HYBRID_CGROUP, mountinfo: HYBRID_MOUNTINFO },
      expected: { version: 1, allowFile: "/sys/fs/cgroup/devices/c1/devices.allow" },
    },
    {
      name: "v1 root cgroup",
      input: { procCgroup: "5:devices:/\n", mountinfo: HYBRID_MOUNTINFO },
      expected: { version: 1, allowFile: "/sys/fs/cgroup/devices/devices.allow" },
    },
    {
      name: "cgroup v2 host",
      input: { procCgroup: "0::/system.slice/c1\n", mountinfo: V2_MOUNTINFO },
      expected: { version: 2, path: "/system.slice/c1" },
    },
    {
      name: "v1 hierarchies listed but not mounted here: v2",
      input: { procCgroup: HYBRID_CGROUP, mountinfo: V2_MOUNTINFO },
      expected: { version: 2, path: "/c1" },
    },
    {
      name: "v1 devices mounted but the process has no devices line: v2",
      input: { procCgroup: "0::/c1\n", mountinfo: HYBRID_MOUNTINFO },
      expected: { version: 2, path: "/c1" },
    },
    {
      name: "neither",
      input: { procCgroup: "3:cpu:/c1\n", mountinfo: V2_MOUNTINFO },
      expected: { version: "none" },
    },
    { name: "empty", input: { procCgroup: "", mountinfo: "" }, expected: { version: "none" } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepStrictEqual(deviceCgroupOf(c.input.procCgroup, c.input.mountinfo), c.expected);
    });
  }
});
