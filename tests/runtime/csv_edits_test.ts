import assert from "node:assert/strict";
import type {
  ContainerEdits,
  DeviceNodeEdit,
  HookEdit,
  MountEdit,
} from "../../src/core/oci/container_edits.ts";
import { csvContainerEdits } from "../../src/runtime/csv_edits.ts";
import type { CsvEntry } from "../../src/runtime/csv_mount_spec.ts";
import { memoryHostFs } from "../helpers/memory_fs.ts";

const DRIVER_ROOT = "/drv";
const CTK = "/usr/local/xpu/toolkit/xpu-ctk";
/** The env the shim gives its hooks: never the container's. */
const HOOK_ENV = ["PATH=/usr/sbin:/usr/bin", "XPU_CTK_CONFIG_FILE_PATH=/etc/xpu/config.toml"];

const FS = memoryHostFs({
  "/drv/dev/xpu0": { char: [511, 0], mode: 0o666 },
  "/drv/dev/xpu1": { char: [511, 1], mode: 0o660 },
  "/drv/dev/xpuctl": { char: [511, 255], mode: 0o666 },
  "/drv/dev/xpu-notdev": "a regular file",
  "/drv/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/drv/usr/lib/libxpu.so.1": { link: "libxpu.so.1.0.0" },
  "/drv/usr/lib/libxpu.so.1.0.0": "ELF",
  "/drv/usr/lib/libxpu-ml.so.1": "ELF",
  "/drv/usr/lib/libdangling.so": { link: "libgone.so.1" },
  // An absolute target names a path in the driver root, never on the host running the shim.
  "/drv/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so": { link: "/usr/lib/libxpu-ml.so.1" },
  "/drv/usr/share/xpu/profile.json": "{}",
  // Decoys at the host paths: using them would mean the driver root was ignored.
  "/usr/lib/libxpu-ml.so.1": "host copy",
  "/dev/xpu0": { char: [1, 1], mode: 0o600 },
});

function node(path: string, minor: number, fileMode = 0o666): DeviceNodeEdit {
  return { path, hostPath: DRIVER_ROOT + path, type: "c", major: 511, minor, fileMode };
}

function bind(containerPath: string, realPath: string): MountEdit {
  return {
    hostPath: DRIVER_ROOT + realPath,
    containerPath,
    type: "bind",
    options: ["ro", "nosuid", "nodev", "bind"],
  };
}

function ldcache(...folders: string[]): HookEdit {
  return {
    hookName: "createContainer",
    path: CTK,
    args: ["xpu-ctk", "hook", "update-ldcache", ...folders.flatMap((f) => ["--folder", f])],
    env: HOOK_ENV,
  };
}

function symlinks(...links: string[]): HookEdit {
  return {
    hookName: "createContainer",
    path: CTK,
    args: ["xpu-ctk", "hook", "create-symlinks", ...links.flatMap((l) => ["--link", l])],
    env: HOOK_ENV,
  };
}

function edits(parts: ContainerEdits): ContainerEdits {
  return { deviceNodes: [], mounts: [], hooks: [], ...parts };
}

Deno.test("csvContainerEdits turns mount-spec entries into container edits", async (t) => {
  const cases: {
    name: string;
    input: { entries: CsvEntry[]; includeDevices?: boolean };
    expected: { edits: ContainerEdits; missing: string[] };
  }[] = [
    {
      name: "no entries",
      input: { entries: [] },
      expected: { edits: edits({}), missing: [] },
    },
    {
      name: "dev entry gives a device node with the host's numbers and mode",
      input: { entries: [{ type: "dev", path: "/dev/xpu1" }] },
      expected: { edits: edits({ deviceNodes: [node("/dev/xpu1", 1, 0o660)] }), missing: [] },
    },
    {
      name: "dev glob gives every matching node once",
      input: {
        entries: [{ type: "dev", path: "/dev/xpu[0-9]*" }, { type: "dev", path: "/dev/xpu0" }],
      },
      expected: {
        edits: edits({ deviceNodes: [node("/dev/xpu0", 0), node("/dev/xpu1", 1, 0o660)] }),
        missing: [],
      },
    },
    {
      name: "dev entry that is not a device node is missing",
      input: { entries: [{ type: "dev", path: "/dev/xpu-notdev" }] },
      expected: { edits: edits({}), missing: ["/dev/xpu-notdev"] },
    },
    {
      name: "includeDevices false drops dev entries but keeps libs",
      input: {
        entries: [{ type: "dev", path: "/dev/xpu0" }, {
          type: "lib",
          path: "/usr/lib/libxpu.so.1",
        }],
        includeDevices: false,
      },
      expected: {
        edits: edits({
          mounts: [bind("/usr/lib/libxpu.so.1", "/usr/lib/libxpu.so.1.0.0")],
          hooks: [ldcache("/usr/lib")],
        }),
        missing: [],
      },
    },
    {
      name: "lib symlink is mounted at the listed path from the resolved file",
      input: { entries: [{ type: "lib", path: "/usr/lib/libxpu.so.1" }] },
      expected: {
        edits: edits({
          mounts: [bind("/usr/lib/libxpu.so.1", "/usr/lib/libxpu.so.1.0.0")],
          hooks: [ldcache("/usr/lib")],
        }),
        missing: [],
      },
    },
    {
      name: "lib with an absolute link target resolves inside the driver root",
      input: {
        entries: [{ type: "lib", path: "/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so" }],
      },
      expected: {
        edits: edits({
          mounts: [
            bind("/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so", "/usr/lib/libxpu-ml.so.1"),
          ],
          hooks: [ldcache("/usr/lib/aarch64-linux-gnu/tegra")],
        }),
        missing: [],
      },
    },
    {
      name: "sym entry mounts the final target and recreates every hop",
      input: { entries: [{ type: "sym", path: "/usr/lib/libxpu.so" }] },
      expected: {
        edits: edits({
          mounts: [bind("/usr/lib/libxpu.so.1.0.0", "/usr/lib/libxpu.so.1.0.0")],
          hooks: [
            {
              hookName: "createContainer",
              path: CTK,
              args: [
                "xpu-ctk",
                "hook",
                "create-symlinks",
                "--link",
                "libxpu.so.1::/usr/lib/libxpu.so",
                "--link",
                "libxpu.so.1.0.0::/usr/lib/libxpu.so.1",
              ],
              env: HOOK_ENV,
            },
            ldcache("/usr/lib"),
          ],
        }),
        missing: [],
      },
    },
    {
      name: "sym entry with an absolute hop",
      input: {
        entries: [{ type: "sym", path: "/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so" }],
      },
      expected: {
        edits: edits({
          mounts: [bind("/usr/lib/libxpu-ml.so.1", "/usr/lib/libxpu-ml.so.1")],
          hooks: [
            symlinks("/usr/lib/libxpu-ml.so.1::/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so"),
            ldcache("/usr/lib"),
          ],
        }),
        missing: [],
      },
    },
    {
      name: "dir entry is a bind mount without ldcache",
      input: { entries: [{ type: "dir", path: "/usr/share/xpu" }] },
      expected: {
        edits: edits({ mounts: [bind("/usr/share/xpu", "/usr/share/xpu")] }),
        missing: [],
      },
    },
    {
      name: "entries matching nothing are reported missing",
      input: {
        entries: [
          { type: "lib", path: "/usr/lib/libnothere.so" },
          { type: "lib", path: "/usr/lib/libnone*.so" },
          { type: "lib", path: "/usr/lib/libdangling.so" },
          { type: "sym", path: "/usr/lib/libdangling.so" },
          { type: "dir", path: "/opt/none" },
          { type: "dev", path: "/dev/npu0" },
        ],
      },
      expected: {
        edits: edits({}),
        missing: [
          "/usr/lib/libnothere.so",
          "/usr/lib/libnone*.so",
          "/usr/lib/libdangling.so",
          "/usr/lib/libdangling.so",
          "/opt/none",
          "/dev/npu0",
        ],
      },
    },
    {
      name: "lib glob expands to every match",
      input: { entries: [{ type: "lib", path: "/usr/lib/libxpu*.so*" }] },
      expected: {
        edits: edits({
          mounts: [
            bind("/usr/lib/libxpu-ml.so.1", "/usr/lib/libxpu-ml.so.1"),
            bind("/usr/lib/libxpu.so", "/usr/lib/libxpu.so.1.0.0"),
            bind("/usr/lib/libxpu.so.1", "/usr/lib/libxpu.so.1.0.0"),
            bind("/usr/lib/libxpu.so.1.0.0", "/usr/lib/libxpu.so.1.0.0"),
          ],
          hooks: [ldcache("/usr/lib")],
        }),
        missing: [],
      },
    },
    {
      name: "the same file listed twice is mounted once",
      input: {
        entries: [
          { type: "lib", path: "/usr/lib/libxpu.so.1.0.0" },
          { type: "lib", path: "/usr/lib/libxpu.so.1.0.0" },
          { type: "sym", path: "/usr/lib/libxpu.so" },
          { type: "sym", path: "/usr/lib/libxpu.so" },
        ],
      },
      expected: {
        edits: edits({
          mounts: [bind("/usr/lib/libxpu.so.1.0.0", "/usr/lib/libxpu.so.1.0.0")],
          hooks: [
            symlinks("libxpu.so.1::/usr/lib/libxpu.so", "libxpu.so.1.0.0::/usr/lib/libxpu.so.1"),
            ldcache("/usr/lib"),
          ],
        }),
        missing: [],
      },
    },
    {
      name: "libraries in several folders give one ldcache hook listing each folder once",
      input: {
        entries: [
          { type: "lib", path: "/usr/lib/libxpu.so.1" },
          { type: "lib", path: "/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so" },
          { type: "lib", path: "/usr/lib/libxpu-ml.so.1" },
        ],
      },
      expected: {
        edits: edits({
          mounts: [
            bind("/usr/lib/libxpu.so.1", "/usr/lib/libxpu.so.1.0.0"),
            bind("/usr/lib/aarch64-linux-gnu/tegra/libxpu-tegra.so", "/usr/lib/libxpu-ml.so.1"),
            bind("/usr/lib/libxpu-ml.so.1", "/usr/lib/libxpu-ml.so.1"),
          ],
          hooks: [ldcache("/usr/lib", "/usr/lib/aarch64-linux-gnu/tegra")],
        }),
        missing: [],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const actual = csvContainerEdits(c.input.entries, {
        fs: FS,
        driverRoot: DRIVER_ROOT,
        includeDevices: c.input.includeDevices ?? true,
        ctkPath: () => CTK,
        hookEnv: HOOK_ENV,
      });
      assert.deepEqual(actual, c.expected);
    });
  }
});
