import assert from "node:assert/strict";
import type { Mode } from "../../../src/core/config/config.ts";
import {
  describeMode,
  isCsvPlatform,
  modeFromExecutableName,
  type ModeSource,
  type ResolvedMode,
  resolveMode,
} from "../../../src/core/request/mode.ts";
import { memoryHostFs, type MemoryTree } from "../../helpers/memory_fs.ts";

Deno.test("modeFromExecutableName reads the mode pinned by the shim's name", async (t) => {
  const cases: { name: string; input: string; expected: ResolvedMode | undefined }[] = [
    { name: "plain shim", input: "xpu-container-runtime", expected: undefined },
    { name: ".cdi", input: "xpu-container-runtime.cdi", expected: "cdi" },
    { name: ".legacy", input: "xpu-container-runtime.legacy", expected: "legacy" },
    { name: ".csv", input: "xpu-container-runtime.csv", expected: "csv" },
    { name: "absolute path", input: "/usr/bin/xpu-container-runtime.legacy", expected: "legacy" },
    { name: "installer copy with .real", input: "xpu-container-runtime.cdi.real", expected: "cdi" },
    {
      name: "plain .real copy",
      input: "/usr/local/xpu/toolkit/xpu-container-runtime.real",
      expected: undefined,
    },
    { name: "unknown suffix", input: "xpu-container-runtime.bogus", expected: undefined },
    { name: "auto is not pinnable", input: "xpu-container-runtime.auto", expected: undefined },
    { name: "another program", input: "deno", expected: undefined },
    {
      name: "suffix in a directory name only",
      input: "/opt/xpu-container-runtime.cdi/runc",
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(modeFromExecutableName(c.input), c.expected));
  }
});

Deno.test("resolveMode applies pinning, config and the auto rules", async (t) => {
  const cases: {
    name: string;
    input: {
      configured: Mode;
      pinned?: ResolvedMode;
      requested: "all" | string[];
      csvPlatform: boolean;
    };
    expected: { mode: ResolvedMode; source: ModeSource; platformChecks: number };
  }[] = [
    {
      name: "pinned wins over config",
      input: { configured: "csv", pinned: "cdi", requested: ["0"], csvPlatform: true },
      expected: { mode: "cdi", source: "executable-name", platformChecks: 0 },
    },
    {
      name: "configured non-auto mode is used",
      input: { configured: "legacy", requested: ["xpu.dev/xpu=0"], csvPlatform: true },
      expected: { mode: "legacy", source: "config", platformChecks: 0 },
    },
    {
      name: "auto, every id a CDI name",
      input: {
        configured: "auto",
        requested: ["xpu.dev/xpu=0", "xpu.dev/xpu=1"],
        csvPlatform: true,
      },
      expected: { mode: "cdi", source: "auto", platformChecks: 0 },
    },
    {
      name: "auto, mixed ids",
      input: { configured: "auto", requested: ["xpu.dev/xpu=0", "1"], csvPlatform: false },
      expected: { mode: "legacy", source: "auto", platformChecks: 1 },
    },
    {
      name: "auto, all",
      input: { configured: "auto", requested: "all", csvPlatform: false },
      expected: { mode: "legacy", source: "auto", platformChecks: 1 },
    },
    {
      name: "auto, no ids",
      input: { configured: "auto", requested: [], csvPlatform: false },
      expected: { mode: "legacy", source: "auto", platformChecks: 1 },
    },
    {
      name: "auto on a csv platform",
      input: { configured: "auto", requested: ["0"], csvPlatform: true },
      expected: { mode: "csv", source: "auto", platformChecks: 1 },
    },
    {
      name: "auto, all, on a csv platform",
      input: { configured: "auto", requested: "all", csvPlatform: true },
      expected: { mode: "csv", source: "auto", platformChecks: 1 },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      let platformChecks = 0;
      const { csvPlatform, ...rest } = c.input;
      const resolved = resolveMode({
        ...rest,
        isCsvPlatform: () => {
          platformChecks++;
          return csvPlatform;
        },
      });
      assert.deepEqual({ ...resolved, platformChecks }, c.expected);
    });
  }
});

Deno.test("describeMode gives the log line operators grep for", async (t) => {
  const cases: {
    name: string;
    input: { mode: ResolvedMode; source: ModeSource };
    expected: string;
  }[] = [
    {
      name: "auto",
      input: { mode: "csv", source: "auto" },
      expected: "Auto-detected mode as 'csv'",
    },
    {
      name: "config",
      input: { mode: "legacy", source: "config" },
      expected: "Using requested mode 'legacy'",
    },
    {
      name: "executable name",
      input: { mode: "cdi", source: "executable-name" },
      expected: "Using mode 'cdi' pinned by the executable name",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(describeMode(c.input), c.expected));
  }
});

Deno.test("isCsvPlatform recognises Tegra hosts under the driver root", async (t) => {
  const cases: {
    name: string;
    input: { tree: MemoryTree; driverRoot: string };
    expected: boolean;
  }[] = [
    {
      name: "nv_tegra_release present",
      input: { tree: { "/etc/nv_tegra_release": "# R35 (release)\n" }, driverRoot: "/" },
      expected: true,
    },
    {
      name: "empty nv_tegra_release is enough",
      input: { tree: { "/etc/nv_tegra_release": "" }, driverRoot: "/" },
      expected: true,
    },
    {
      name: "soc0 family Tegra194",
      input: { tree: { "/sys/devices/soc0/family": "Tegra194\n" }, driverRoot: "/" },
      expected: true,
    },
    {
      name: "soc0 family x86",
      input: { tree: { "/sys/devices/soc0/family": "x86\n" }, driverRoot: "/" },
      expected: false,
    },
    {
      name: "nothing",
      input: { tree: { "/etc/os-release": "ID=debian\n" }, driverRoot: "/" },
      expected: false,
    },
    {
      name: "looked up under the driver root",
      input: { tree: { "/drv/etc/nv_tegra_release": "" }, driverRoot: "/drv" },
      expected: true,
    },
    {
      name: "the host's files outside the driver root do not count",
      input: {
        tree: { "/etc/nv_tegra_release": "", "/sys/devices/soc0/family": "tegra\n" },
        driverRoot: "/drv",
      },
      expected: false,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.equal(isCsvPlatform(memoryHostFs(c.input.tree), c.input.driverRoot), c.expected);
    });
  }
});
