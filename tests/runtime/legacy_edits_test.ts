import assert from "node:assert/strict";
import type { DeviceNode, XpuDevice } from "../../src/core/device/device_discovery.ts";
import type { OciSpec } from "../../src/core/oci/oci_spec.ts";
import { applyLegacyEdits } from "../../src/runtime/legacy_edits.ts";

const HOOK = "/usr/bin/xpu-container-runtime-hook";
/** The env the shim gives its hook: never the container's. */
const HOOK_ENV = ["PATH=/usr/sbin:/usr/bin", "XPU_CTK_CONFIG_FILE_PATH=/etc/xpu/config.toml"];
const OUR_HOOK = {
  path: HOOK,
  args: ["xpu-container-runtime-hook", "prestart"],
  env: HOOK_ENV,
};

function node(path: string, major: number, minor: number): DeviceNode {
  return { path, hostPath: path, type: "c", major, minor, fileMode: 0o666, uid: 0, gid: 0 };
}

function rule(major: number, minor: number) {
  return { allow: true, type: "c", major, minor, access: "rwm" };
}

const XPU0: XpuDevice = { index: 0, uuid: "XPU-aaaa", nodes: [node("/dev/xpu0", 511, 0)] };
const XPU1: XpuDevice = { index: 1, nodes: [node("/dev/xpu1", 511, 1)] };
const CONTROL = [node("/dev/xpuctl", 511, 255), node("/dev/xpu-uvm", 510, 0)];

Deno.test("applyLegacyEdits adds the prestart hook and the cgroup rules", async (t) => {
  const cases: {
    name: string;
    input: { spec: OciSpec; devices: XpuDevice[]; times?: number };
    expected: OciSpec;
  }[] = [
    {
      name: "one device: hook, device rule and control-node rules",
      input: { spec: {}, devices: [XPU0] },
      expected: {
        hooks: { prestart: [OUR_HOOK] },
        linux: { resources: { devices: [rule(511, 0), rule(511, 255), rule(510, 0)] } },
      },
    },
    {
      name: "two devices",
      input: { spec: {}, devices: [XPU0, XPU1] },
      expected: {
        hooks: { prestart: [OUR_HOOK] },
        linux: {
          resources: { devices: [rule(511, 0), rule(511, 1), rule(511, 255), rule(510, 0)] },
        },
      },
    },
    {
      name: "applied twice: still one hook and one rule each",
      input: { spec: {}, devices: [XPU0], times: 2 },
      expected: {
        hooks: { prestart: [OUR_HOOK] },
        linux: { resources: { devices: [rule(511, 0), rule(511, 255), rule(510, 0)] } },
      },
    },
    {
      name: "an existing xpu-container-toolkit hook is not doubled",
      input: {
        spec: { hooks: { prestart: [{ path: "/usr/local/bin/xpu-container-toolkit" }] } },
        devices: [],
      },
      expected: { hooks: { prestart: [{ path: "/usr/local/bin/xpu-container-toolkit" }] } },
    },
    {
      name: "an existing hook with other args is not doubled",
      input: {
        spec: {
          hooks: {
            prestart: [{ path: HOOK, args: ["xpu-container-runtime-hook", "-debug", "prestart"] }],
          },
        },
        devices: [],
      },
      expected: {
        hooks: {
          prestart: [{ path: HOOK, args: ["xpu-container-runtime-hook", "-debug", "prestart"] }],
        },
      },
    },
    {
      name: "unrelated hooks and rules are kept, ours appended",
      input: {
        spec: {
          ociVersion: "1.2.0",
          hooks: { prestart: [{ path: "/usr/bin/other-hook" }], poststop: [{ path: "/bin/true" }] },
          linux: { resources: { devices: [{ allow: false, access: "rwm" }] }, namespaces: [] },
        },
        devices: [XPU0],
      },
      expected: {
        ociVersion: "1.2.0",
        hooks: {
          prestart: [{ path: "/usr/bin/other-hook" }, OUR_HOOK],
          poststop: [{ path: "/bin/true" }],
        },
        linux: {
          resources: {
            devices: [{ allow: false, access: "rwm" }, rule(511, 0), rule(511, 255), rule(510, 0)],
          },
          namespaces: [],
        },
      },
    },
    {
      name: "no devices: hook, but no device and no control-node rules",
      input: { spec: { process: { env: ["XPU_VISIBLE_DEVICES=none"] } }, devices: [] },
      expected: { process: { env: ["XPU_VISIBLE_DEVICES=none"] }, hooks: { prestart: [OUR_HOOK] } },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = structuredClone(c.input.spec);
      for (let i = 0; i < (c.input.times ?? 1); i++) {
        applyLegacyEdits(spec, {
          hookPath: HOOK,
          hookEnv: HOOK_ENV,
          devices: c.input.devices,
          controlNodes: CONTROL,
        });
      }
      assert.deepEqual(spec, c.expected);
    });
  }
});
