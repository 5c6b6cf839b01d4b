import assert from "node:assert/strict";
import type { Capability } from "../../../src/core/device/capabilities.ts";
import {
  describeDevices,
  type DeviceNode,
  type DeviceSelection,
  discoverDevices,
  discoverDriverFiles,
  type DriverFile,
  type HostDevices,
  type HostRoots,
  selectDevices,
  type XpuDevice,
} from "../../../src/core/device/device_discovery.ts";
import { type DeviceProfile, XPU_PROFILE } from "../../../src/core/device/device_profile.ts";
import { realHostFs } from "../../../src/core/io/host_fs.ts";
import { memoryHostFs, type MemoryTree } from "../../helpers/memory_fs.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";
import { e2eTest } from "../../helpers/e2e.ts";

const MAJOR = 511;

function charNode(path: string, minor: number, fileMode = 0o666, root = "/"): DeviceNode {
  const hostPath = (root === "/" ? "" : root) + path;
  return { path, hostPath, type: "c", major: MAJOR, minor, fileMode, uid: 0, gid: 0 };
}

const HOST: MemoryTree = {
  // Listed out of order on purpose: discovery must sort by numeric index, not by name.
  "/dev/xpu10": { char: [MAJOR, 10], mode: 0o666 },
  "/dev/xpu1": { char: [MAJOR, 1], mode: 0o660 },
  "/dev/xpu0": { char: [MAJOR, 0], mode: 0o666 },
  "/dev/xpu2": "a regular file, not a device",
  "/dev/xpuctl": { char: [MAJOR, 255], mode: 0o666 },
  "/dev/xpu-uvm": { char: [MAJOR - 1, 0], mode: 0o666 },
  "/dev/xpufoo": { char: [MAJOR, 200], mode: 0o666 },
  "/dev/null": { char: [1, 3], mode: 0o666 },
  "/sys/class/xpu/xpu0/uuid": "XPU-aaaa\n",
  "/sys/class/xpu/xpu0/name": "  XPU Model A \n",
  "/sys/class/xpu/xpu1/uuid": "XPU-bbbb",
  "/sys/class/xpu/xpu10/uuid": "\n",
  "/sys/class/xpu/xpu2/uuid": "XPU-cccc\n",
};

const withoutUvm: MemoryTree = Object.fromEntries(
  Object.entries(HOST).filter(([path]) => path !== "/dev/xpu-uvm"),
);

Deno.test("discoverDevices finds the xpu profile's devices and control nodes", async (t) => {
  const cases: {
    name: string;
    input: { tree: MemoryTree; roots: HostRoots };
    expected: HostDevices;
  }[] = [
    {
      name: "devices sorted by index with identity, regular files ignored",
      input: { tree: HOST, roots: { driverRoot: "/" } },
      expected: {
        devices: [
          {
            index: 0,
            uuid: "XPU-aaaa",
            name: "XPU Model A",
            nodes: [charNode("/dev/xpu0", 0)],
          },
          { index: 1, uuid: "XPU-bbbb", nodes: [charNode("/dev/xpu1", 1, 0o660)] },
          { index: 10, nodes: [charNode("/dev/xpu10", 10)] },
        ],
        controlNodes: [
          charNode("/dev/xpuctl", 255),
          { ...charNode("/dev/xpu-uvm", 0), major: MAJOR - 1 },
        ],
      },
    },
    {
      name: "xpu-uvm only when present",
      input: { tree: withoutUvm, roots: { driverRoot: "/" } },
      expected: {
        devices: [
          { index: 0, uuid: "XPU-aaaa", name: "XPU Model A", nodes: [charNode("/dev/xpu0", 0)] },
          { index: 1, uuid: "XPU-bbbb", nodes: [charNode("/dev/xpu1", 1, 0o660)] },
          { index: 10, nodes: [charNode("/dev/xpu10", 10)] },
        ],
        controlNodes: [charNode("/dev/xpuctl", 255)],
      },
    },
    {
      name: "a block device node is a device of type b",
      input: {
        tree: { "/dev/xpu3": { block: [MAJOR, 3], mode: 0o600 } },
        roots: { driverRoot: "/" },
      },
      expected: {
        devices: [{ index: 3, nodes: [{ ...charNode("/dev/xpu3", 3, 0o600), type: "b" }] }],
        controlNodes: [],
      },
    },
    {
      name: "a symlinked node is read through the link",
      input: {
        tree: {
          "/dev/xpu0": { link: "xpu/card0" },
          "/dev/xpu/card0": { char: [MAJOR, 0], mode: 0o666 },
        },
        roots: { driverRoot: "/" },
      },
      expected: { devices: [{ index: 0, nodes: [charNode("/dev/xpu0", 0)] }], controlNodes: [] },
    },
    {
      name: "nodes from the dev root, identity from the driver root",
      input: {
        tree: {
          "/host-dev/dev/xpu0": { char: [MAJOR, 0], mode: 0o666 },
          "/host-dev/dev/xpuctl": { char: [MAJOR, 255], mode: 0o666 },
          "/host-dev/sys/class/xpu/xpu0/uuid": "XPU-from-dev-root",
          "/drv/dev/xpu5": { char: [MAJOR, 5], mode: 0o666 },
          "/drv/sys/class/xpu/xpu0/uuid": "XPU-from-driver-root\n",
        },
        roots: { driverRoot: "/drv", devRoot: "/host-dev" },
      },
      expected: {
        devices: [
          {
            index: 0,
            uuid: "XPU-from-driver-root",
            nodes: [charNode("/dev/xpu0", 0, 0o666, "/host-dev")],
          },
        ],
        controlNodes: [charNode("/dev/xpuctl", 255, 0o666, "/host-dev")],
      },
    },
    {
      name: "no devices",
      input: { tree: { "/dev/null": { char: [1, 3] } }, roots: { driverRoot: "/" } },
      expected: { devices: [], controlNodes: [] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const fs = memoryHostFs(c.input.tree);
      assert.deepEqual(discoverDevices(fs, XPU_PROFILE, c.input.roots), c.expected);
    });
  }
});

// mknod of a device node needs CAP_MKNOD: root.
await e2eTest("discoverDevices reads real device nodes made with mknod", ["root"], async () => {
  await withTempDir((root) => {
    Deno.mkdirSync(`${root}/dev`);
    Deno.mkdirSync(`${root}/sys/class/xpu/xpu0`, { recursive: true });
    Deno.writeTextFileSync(`${root}/sys/class/xpu/xpu0/uuid`, "XPU-real\n");
    for (const [name, minor] of [["xpu0", 0], ["xpuctl", 255]] as const) {
      const args = ["-m", "666", `${root}/dev/${name}`, "c", "240", String(minor)];
      const { code } = new Deno.Command("mknod", { args }).outputSync();
      assert.equal(code, 0, `mknod ${args.join(" ")}`);
    }
    const node = (path: string, minor: number): DeviceNode => ({
      path,
      hostPath: root + path,
      type: "c",
      major: 240,
      minor,
      fileMode: 0o666,
      uid: 0,
      gid: 0,
    });
    assert.deepEqual(discoverDevices(realHostFs, XPU_PROFILE, { driverRoot: root }), {
      devices: [{ index: 0, uuid: "XPU-real", nodes: [node("/dev/xpu0", 0)] }],
      controlNodes: [node("/dev/xpuctl", 255)],
    });
  });
});

const DRIVER_TREE: MemoryTree = {
  "/drv/usr/lib64/libxpu.so.2": "ELF",
  "/drv/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0": "ELF",
  "/drv/usr/lib/x86_64-linux-gnu/libxpu.so.1": { link: "libxpu.so.1.0.0" },
  "/drv/usr/lib/x86_64-linux-gnu/libother.so.1": "ELF",
  "/drv/usr/lib/libxpu-ml.so.1": "ELF",
  "/drv/usr/lib/libxpu.a": "archive",
  "/drv/usr/bin/xpu-smi": "#!/bin/sh\n",
  "/drv/usr/bin/xpu-other": "#!/bin/sh\n",
};

const LIBRARY_CAPABILITIES: readonly Capability[] = [
  "compute",
  "utility",
  "graphics",
  "video",
  "display",
];

function driverFile(path: string, capabilities: readonly Capability[]): DriverFile {
  return { path, hostPath: `/drv${path}`, capabilities };
}

const LIBRARIES = [
  driverFile("/usr/lib64/libxpu.so.2", LIBRARY_CAPABILITIES),
  driverFile("/usr/lib/x86_64-linux-gnu/libxpu.so.1", LIBRARY_CAPABILITIES),
  driverFile("/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0", LIBRARY_CAPABILITIES),
  driverFile("/usr/lib/libxpu-ml.so.1", LIBRARY_CAPABILITIES),
];
const SMI = driverFile("/usr/bin/xpu-smi", ["utility"]);

/** A profile whose groups overlap, so the same file is matched several times. */
const OVERLAPPING: DeviceProfile = {
  ...XPU_PROFILE,
  driverFiles: [
    {
      capabilities: ["compute"],
      dirs: ["/usr/lib", "/usr/lib"],
      patterns: ["libxpu*.so*", "libxpu-ml.so*"],
    },
    { capabilities: ["compute", "utility"], dirs: ["/usr/lib"], patterns: ["*.so.1"] },
  ],
};

Deno.test("discoverDriverFiles finds the files of the requested capabilities", async (t) => {
  const cases: {
    name: string;
    input: { profile: DeviceProfile; capabilities: Capability[] };
    expected: DriverFile[];
  }[] = [
    {
      name: "compute: libraries in search order, no utilities",
      input: { profile: XPU_PROFILE, capabilities: ["compute"] },
      expected: LIBRARIES,
    },
    {
      name: "compute and utility: libraries and xpu-smi",
      input: { profile: XPU_PROFILE, capabilities: ["compute", "utility"] },
      expected: [...LIBRARIES, SMI],
    },
    {
      name: "utility alone also gets the libraries xpu-smi needs",
      input: { profile: XPU_PROFILE, capabilities: ["utility"] },
      expected: [...LIBRARIES, SMI],
    },
    {
      name: "a capability no group serves",
      input: { profile: XPU_PROFILE, capabilities: ["compat32"] },
      expected: [],
    },
    {
      name: "overlapping dirs, patterns and groups give each file once",
      input: { profile: OVERLAPPING, capabilities: ["compute"] },
      expected: [driverFile("/usr/lib/libxpu-ml.so.1", ["compute"])],
    },
  ];
  const fs = memoryHostFs(DRIVER_TREE);
  for (const c of cases) {
    await t.step(c.name, () => {
      const options = { driverRoot: "/drv", capabilities: c.input.capabilities };
      assert.deepEqual(discoverDriverFiles(fs, c.input.profile, options), c.expected);
    });
  }
});

const DEVICES: XpuDevice[] = [
  { index: 0, uuid: "XPU-aaaa", nodes: [charNode("/dev/xpu0", 0)] },
  { index: 1, uuid: "XPU-bbbb", nodes: [charNode("/dev/xpu1", 1)] },
  { index: 2, nodes: [charNode("/dev/xpu2", 2)] },
];

Deno.test("selectDevices chooses devices by index or UUID", async (t) => {
  const cases: { name: string; input: "all" | string[]; expected: DeviceSelection }[] = [
    { name: "all", input: "all", expected: { ok: true, devices: DEVICES } },
    { name: "by index", input: ["1"], expected: { ok: true, devices: [DEVICES[1]] } },
    { name: "by UUID", input: ["XPU-bbbb"], expected: { ok: true, devices: [DEVICES[1]] } },
    {
      name: "request order kept",
      input: ["2", "0"],
      expected: { ok: true, devices: [DEVICES[2], DEVICES[0]] },
    },
    {
      name: "duplicates collapsed, first occurrence wins",
      input: ["1", "XPU-aaaa", "XPU-bbbb", "0", "1"],
      expected: { ok: true, devices: [DEVICES[1], DEVICES[0]] },
    },
    {
      name: "unknown ids reported",
      input: ["0", "7", "XPU-zzzz"],
      expected: { ok: false, unknown: ["7", "XPU-zzzz"] },
    },
    { name: "empty request", input: [], expected: { ok: true, devices: [] } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(selectDevices(DEVICES, c.input), c.expected));
  }
});

Deno.test("describeDevices lists devices for messages", async (t) => {
  const cases = [
    { name: "none", input: [], expected: "none" },
    { name: "with and without UUID", input: DEVICES, expected: "0 (XPU-aaaa), 1 (XPU-bbbb), 2" },
    { name: "one without UUID", input: [DEVICES[2]], expected: "2" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(describeDevices(c.input), c.expected));
  }
});
