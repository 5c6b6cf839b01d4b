import assert from "node:assert/strict";
import { planSandboxMounts } from "../../../src/core/io/isolated_exec.ts";
import type { MountInfo } from "../../../src/core/path/mountinfo.ts";

const mount = (mountPoint: string, fsType: string, options = ["rw", "relatime"]): MountInfo => ({
  mountPoint,
  options,
  fsType,
  superOptions: ["rw"],
});

Deno.test("planSandboxMounts unmounts kernel file systems and remounts the rest nodev,nosuid", async (t) => {
  // MS_BIND | MS_REMOUNT | MS_NODEV | MS_NOSUID, plus the flags a mount already has.
  const BASE = 4096n | 32n | 4n | 2n;
  const cases: {
    name: string;
    input: MountInfo[];
    expected: ReturnType<typeof planSandboxMounts>;
  }[] = [
    {
      name: "the rootfs's proc, sys and cgroup go, deepest first; host mounts are ignored",
      input: [
        mount("/", "ext4"),
        mount("/proc", "proc"),
        mount("/r", "overlay"),
        mount("/r/proc", "proc"),
        mount("/r/proc/sys", "proc", ["ro"]),
        mount("/r/sys", "sysfs"),
        mount("/r/sys/fs/cgroup", "cgroup2"),
        mount("/rr", "tmpfs"),
      ],
      expected: {
        unmount: ["/r/sys/fs/cgroup", "/r/proc/sys", "/r/proc", "/r/sys"],
        remount: [{ path: "/r", flags: BASE | (1n << 21n) }],
      },
    },
    {
      name: "driver binds and /dev keep ro, noexec and atime flags",
      input: [
        mount("/r", "overlay", ["rw", "noatime"]),
        mount("/r/dev", "tmpfs", ["rw", "nosuid", "strictatime"]),
        mount("/r/usr/lib/libxpu.so.1", "ext4", ["ro", "nosuid", "nodev", "noexec", "relatime"]),
      ],
      expected: {
        unmount: [],
        remount: [
          { path: "/r", flags: BASE | 1024n },
          { path: "/r/dev", flags: BASE | (1n << 24n) },
          { path: "/r/usr/lib/libxpu.so.1", flags: BASE | 1n | 8n | (1n << 21n) },
        ],
      },
    },
    {
      name: "a mount stacked on the same point counts once, as the top one",
      input: [mount("/r", "overlay"), mount("/r", "overlay", ["ro"])],
      expected: { unmount: [], remount: [{ path: "/r", flags: BASE | 1n }] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(planSandboxMounts(c.input, "/r"), c.expected));
  }
});
