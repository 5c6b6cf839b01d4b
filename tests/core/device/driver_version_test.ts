import assert from "node:assert/strict";
import { readDriverVersion } from "../../../src/core/device/device_discovery.ts";
import { type DeviceProfile, XPU_PROFILE } from "../../../src/core/device/device_profile.ts";
import { memoryHostFs, type MemoryTree } from "../../helpers/memory_fs.ts";

const NO_VERSION_LIBRARY: DeviceProfile = { ...XPU_PROFILE, versionLibrary: undefined };

Deno.test("readDriverVersion reads the version from the library's file name", async (t) => {
  const cases: {
    name: string;
    input: { tree: MemoryTree; profile?: DeviceProfile; driverRoot?: string };
    expected: string | undefined;
  }[] = [
    {
      name: "libxpu.so.1.0.0 with its soname links",
      input: {
        tree: {
          "/usr/lib/x86_64-linux-gnu/libxpu.so": { link: "libxpu.so.1" },
          "/usr/lib/x86_64-linux-gnu/libxpu.so.1": { link: "libxpu.so.1.0.0" },
          "/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0": "ELF",
        },
      },
      expected: "1.0.0",
    },
    {
      name: "several versions: the highest, compared numerically",
      input: {
        tree: {
          "/usr/lib64/libxpu.so.1.9.5": "ELF",
          "/usr/lib/libxpu.so.1.10.0": "ELF",
          "/usr/lib/libxpu.so.1.2.0": "ELF",
        },
      },
      expected: "1.10.0",
    },
    {
      name: "several versions in one dir",
      input: {
        tree: { "/usr/lib/libxpu.so.1.10.0": "ELF", "/usr/lib/libxpu.so.1.9.5": "ELF" },
      },
      expected: "1.10.0",
    },
    {
      name: "a symlink named like a higher version is ignored",
      input: {
        tree: {
          "/usr/lib/libxpu.so.2.0.0": { link: "libxpu.so.1.0.0" },
          "/usr/lib/libxpu.so.1.0.0": "ELF",
        },
      },
      expected: "1.0.0",
    },
    {
      name: "only symlinks named like versions",
      input: {
        tree: {
          "/usr/lib/libxpu.so.2.0.0": { link: "/opt/xpu/libxpu.so.2.0.0" },
          "/opt/xpu/libxpu.so.2.0.0": "ELF",
        },
      },
      expected: undefined,
    },
    {
      name: "names that are not a dotted version are ignored",
      input: {
        tree: {
          "/usr/lib/libxpu.so.1": "ELF",
          "/usr/lib/libxpu.so.1.0.0.bak": "ELF",
          "/usr/lib/libxpu-ml.so.3.0.0": "ELF",
          "/usr/lib/libxpu.so.1.0.0": { dir: true },
        },
      },
      expected: undefined,
    },
    {
      name: "read under the driver root",
      input: {
        tree: { "/usr/lib/libxpu.so.9.0.0": "ELF", "/drv/usr/lib64/libxpu.so.2.1.0": "ELF" },
        driverRoot: "/drv",
      },
      expected: "2.1.0",
    },
    {
      name: "a library outside the profile's dirs does not count",
      input: { tree: { "/opt/lib/libxpu.so.1.0.0": "ELF" } },
      expected: undefined,
    },
    { name: "no library", input: { tree: { "/usr/lib/libc.so.6": "ELF" } }, expected: undefined },
    {
      name: "profile without versionLibrary",
      input: { tree: { "/usr/lib/libxpu.so.1.0.0": "ELF" }, profile: NO_VERSION_LIBRARY },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.equal(
        readDriverVersion(
          memoryHostFs(c.input.tree),
          c.input.profile ?? XPU_PROFILE,
          c.input.driverRoot ?? "/",
        ),
        c.expected,
      );
    });
  }
});
