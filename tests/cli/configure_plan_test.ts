import assert from "node:assert/strict";
import {
  type ConfigureInput,
  type ConfigurePlan,
  parseOwner,
  planConfigure,
} from "../../src/cli/configure_plan.ts";
import type { DeviceNode, DriverFile, XpuDevice } from "../../src/core/device/device_discovery.ts";
import { memoryHostFs } from "../helpers/memory_fs.ts";

const MAJOR = 240;
const ROOT = "/drv";

function charNode(path: string, minor: number, fileMode = 0o666, uid = 0, gid = 0): DeviceNode {
  return { path, hostPath: ROOT + path, type: "c", major: MAJOR, minor, fileMode, uid, gid };
}

const XPU0 = charNode("/dev/xpu0", 0, 0o666);
const XPU1 = charNode("/dev/xpu1", 1, 0o660, 0, 44);
const XPUCTL = charNode("/dev/xpuctl", 255);
const UVM: DeviceNode = { ...charNode("/dev/xpu-uvm", 0), major: MAJOR - 1 };

const DEVICE0: XpuDevice = { index: 0, nodes: [XPU0] };
const DEVICE1: XpuDevice = { index: 1, uuid: "XPU-bbbb", nodes: [XPU1] };

const fs = memoryHostFs({
  [`${ROOT}/usr/lib/libxpu.so.1`]: { link: "libxpu.so.1.0.0" },
  [`${ROOT}/usr/lib/libxpu.so.1.0.0`]: "ELF lib",
  [`${ROOT}/usr/lib/libxpu-ml.so`]: "ELF lib",
  [`${ROOT}/usr/lib64/libxpu.so.1.0.0`]: "ELF lib",
  [`${ROOT}/usr/bin/xpu-smi`]: "ELF exe",
  [`${ROOT}/usr/bin/xpu-smi-link`]: { link: "/usr/bin/xpu-smi" },
  [`${ROOT}/usr/lib/libxpu-dir.so`]: { dir: true },
});

function driverFile(path: string): DriverFile {
  return { path, hostPath: ROOT + path, capabilities: ["compute"] };
}

function nodeOp(node: DeviceNode, owner?: { uid: number; gid: number }) {
  return {
    op: "node" as const,
    path: node.path,
    source: node.hostPath,
    type: node.type,
    major: node.major,
    minor: node.minor,
    mode: node.fileMode,
    uid: owner?.uid ?? node.uid,
    gid: owner?.gid ?? node.gid,
  };
}

function rule(node: DeviceNode) {
  return { type: node.type, major: node.major, minor: node.minor };
}

Deno.test("planConfigure plans nodes, driver files, cgroup rules and ld cache dirs", async (t) => {
  const cases: { name: string; input: Omit<ConfigureInput, "fs">; expected: ConfigurePlan }[] = [
    {
      name: "devices: nodes with the host's numbers, mode and owner, then control nodes",
      input: { devices: [DEVICE0, DEVICE1], controlNodes: [XPUCTL, UVM], driverFiles: [] },
      expected: {
        ops: [nodeOp(XPU0), nodeOp(XPU1), nodeOp(XPUCTL), nodeOp(UVM)],
        cgroupRules: [rule(XPU0), rule(XPU1), rule(XPUCTL), rule(UVM)],
        libraryDirs: [],
      },
    },
    {
      name: "no device: no control nodes, no rules",
      input: { devices: [], controlNodes: [XPUCTL, UVM], driverFiles: [] },
      expected: { ops: [], cgroupRules: [], libraryDirs: [] },
    },
    {
      name: "duplicate node paths are collapsed",
      input: {
        devices: [{ index: 0, nodes: [XPU0, XPUCTL] }, DEVICE0],
        controlNodes: [XPUCTL],
        driverFiles: [],
      },
      expected: {
        ops: [nodeOp(XPU0), nodeOp(XPUCTL)],
        cgroupRules: [rule(XPU0), rule(XPUCTL)],
        libraryDirs: [],
      },
    },
    {
      name: "owner override applies to every node",
      input: {
        devices: [DEVICE0, DEVICE1],
        controlNodes: [XPUCTL],
        driverFiles: [],
        owner: { uid: 1000, gid: 44 },
      },
      expected: {
        ops: [
          nodeOp(XPU0, { uid: 1000, gid: 44 }),
          nodeOp(XPU1, { uid: 1000, gid: 44 }),
          nodeOp(XPUCTL, { uid: 1000, gid: 44 }),
        ],
        cgroupRules: [rule(XPU0), rule(XPU1), rule(XPUCTL)],
        libraryDirs: [],
      },
    },
    {
      name: "driver files: symlink -> link with the raw target, file -> bind from the host path",
      input: {
        devices: [],
        controlNodes: [XPUCTL],
        driverFiles: [
          driverFile("/usr/lib/libxpu.so.1"),
          driverFile("/usr/lib/libxpu.so.1.0.0"),
          driverFile("/usr/bin/xpu-smi-link"),
        ],
      },
      expected: {
        ops: [
          { op: "bind", source: "/drv/usr/lib/libxpu.so.1.0.0", path: "/usr/lib/libxpu.so.1.0.0" },
          { op: "link", target: "libxpu.so.1.0.0", path: "/usr/lib/libxpu.so.1" },
          { op: "link", target: "/usr/bin/xpu-smi", path: "/usr/bin/xpu-smi-link" },
        ],
        cgroupRules: [],
        libraryDirs: ["/usr/lib"],
      },
    },
    {
      name: "missing files and directories are skipped",
      input: {
        devices: [],
        controlNodes: [],
        driverFiles: [
          driverFile("/usr/lib/libxpu-gone.so.2"),
          driverFile("/usr/lib/libxpu-dir.so"),
        ],
      },
      expected: { ops: [], cgroupRules: [], libraryDirs: [] },
    },
    {
      name: "library dirs: .so files only, de-duplicated, in first-seen order",
      input: {
        devices: [DEVICE0],
        controlNodes: [],
        driverFiles: [
          driverFile("/usr/lib64/libxpu.so.1.0.0"),
          driverFile("/usr/bin/xpu-smi"),
          driverFile("/usr/lib/libxpu.so.1"),
          driverFile("/usr/lib/libxpu.so.1.0.0"),
          driverFile("/usr/lib/libxpu-ml.so"),
        ],
      },
      expected: {
        ops: [
          nodeOp(XPU0),
          {
            op: "bind",
            source: "/drv/usr/lib64/libxpu.so.1.0.0",
            path: "/usr/lib64/libxpu.so.1.0.0",
          },
          { op: "bind", source: "/drv/usr/bin/xpu-smi", path: "/usr/bin/xpu-smi" },
          { op: "bind", source: "/drv/usr/lib/libxpu.so.1.0.0", path: "/usr/lib/libxpu.so.1.0.0" },
          { op: "bind", source: "/drv/usr/lib/libxpu-ml.so", path: "/usr/lib/libxpu-ml.so" },
          { op: "link", target: "libxpu.so.1.0.0", path: "/usr/lib/libxpu.so.1" },
        ],
        cgroupRules: [rule(XPU0)],
        libraryDirs: ["/usr/lib64", "/usr/lib"],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepStrictEqual(planConfigure({ ...c.input, fs }), c.expected);
    });
  }
});

Deno.test("parseOwner reads --user UID[:GID]", async (t) => {
  const cases: {
    name: string;
    input: string;
    expected: { uid: number; gid: number } | undefined;
  }[] = [
    {
      name: "uid only: gid defaults to the uid",
      input: "1000",
      expected: { uid: 1000, gid: 1000 },
    },
    { name: "uid:gid", input: "1000:44", expected: { uid: 1000, gid: 44 } },
    { name: "root", input: "0:0", expected: { uid: 0, gid: 0 } },
    { name: "surrounding spaces", input: " 7:8 ", expected: { uid: 7, gid: 8 } },
    { name: "empty", input: "", expected: undefined },
    { name: "a name", input: "abc", expected: undefined },
    { name: "three parts", input: "1:2:3", expected: undefined },
    { name: "empty gid", input: "1000:", expected: undefined },
    { name: "negative", input: "-1", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepStrictEqual(parseOwner(c.input), c.expected));
  }
});
