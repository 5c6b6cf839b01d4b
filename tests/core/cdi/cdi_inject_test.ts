/**
 * CDI injection as the reference consumer does it (cache.go InjectDevices, container-edits.go
 * Append/Apply, fillMissingInfo): resolution before any edit, the spec's edits once before its
 * first device's, device nodes completed from the host, and the outcomes of the reference's
 * TestApplyContainerEdits on an OCI spec object.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  fillDeviceNode,
  type ProcessUser,
  resolveCdiDevices,
  toContainerEdits,
} from "../../../src/core/cdi/cdi_inject.ts";
import { buildCdiRegistry, type CdiSource } from "../../../src/core/cdi/cdi_registry.ts";
import type { CdiDeviceNode, CdiEdits, CdiSpec } from "../../../src/core/cdi/cdi_spec.ts";
import { applyContainerEdits, type DeviceNodeEdit } from "../../../src/core/oci/container_edits.ts";
import { RequestError } from "../../../src/core/errors.ts";
import type { HostFs } from "../../../src/core/io/host_fs.ts";
import type { OciSpec } from "../../../src/core/oci/oci_spec.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { memoryHostFs } from "../../helpers/memory_fs.ts";

/** Drops keys whose value is undefined, as the JSON written to config.json would. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** `memoryHostFs` plus FIFOs (which the in-memory tree cannot describe). */
function withFifos(fs: HostFs, fifos: Record<string, number>): HostFs {
  const fifo = (path: string) =>
    path in fifos
      ? { kind: "fifo" as const, mode: fifos[path], uid: 0, gid: 0, major: 0, minor: 0 }
      : undefined;
  return {
    ...fs,
    stat: (path) => fifo(path) ?? fs.stat(path),
    lstat: (path) => fifo(path) ?? fs.lstat(path),
  };
}

const HOST = withFifos(
  memoryHostFs({
    "/dev/null": { char: [1, 3], mode: 0o666 },
    "/dev/zero": { char: [1, 5], mode: 0o666 },
    "/dev/sda": { block: [8, 0], mode: 0o660 },
    "/host/dev/xpu0": { char: [240, 0], mode: 0o660 },
    "/dev/link-to-null": { link: "/dev/null" },
    "/etc/regular": "a file",
  }),
  { "/run/fifo": 0o640 },
);

const SPEC_A: CdiSpec = {
  cdiVersion: "0.3.0",
  kind: "vendor.com/a",
  containerEdits: { env: ["SPEC_A=1"] },
  devices: [
    { name: "d1", containerEdits: { env: ["D1=1"] } },
    { name: "d2", containerEdits: { env: ["D2=1"] } },
  ],
};
const SPEC_B: CdiSpec = {
  cdiVersion: "0.3.0",
  kind: "vendor.com/b",
  containerEdits: { env: ["SPEC_B=1"] },
  devices: [{ name: "x", containerEdits: { env: ["X=1"] } }],
};
const SPEC_C: CdiSpec = {
  cdiVersion: "0.3.0",
  kind: "vendor.com/c",
  devices: [{ name: "y", containerEdits: { env: ["Y=1"] } }],
};

const REGISTRY = buildCdiRegistry(["/etc/cdi"], [
  { path: "/etc/cdi/a.yaml", priority: 0, spec: SPEC_A },
  { path: "/etc/cdi/b.yaml", priority: 0, spec: SPEC_B },
  { path: "/etc/cdi/c.yaml", priority: 0, spec: SPEC_C },
]);

Deno.test("resolveCdiDevices", async (t) => {
  const cases: {
    name: string;
    input: string[];
    expected: ReturnType<typeof resolveCdiDevices>;
  }[] = [
    {
      name: "A:d1, B:x, A:d2 -> spec A, d1, spec B, x, d2",
      input: ["vendor.com/a=d1", "vendor.com/b=x", "vendor.com/a=d2"],
      expected: {
        ok: true,
        edits: [
          SPEC_A.containerEdits!,
          SPEC_A.devices[0].containerEdits,
          SPEC_B.containerEdits!,
          SPEC_B.devices[0].containerEdits,
          SPEC_A.devices[1].containerEdits,
        ],
      },
    },
    {
      name: "a spec without its own edits adds only the device's",
      input: ["vendor.com/c=y", "vendor.com/a=d2"],
      expected: {
        ok: true,
        edits: [
          SPEC_C.devices[0].containerEdits,
          SPEC_A.containerEdits!,
          SPEC_A.devices[1].containerEdits,
        ],
      },
    },
    {
      name: "the same device twice appends its edits twice",
      input: ["vendor.com/a=d1", "vendor.com/a=d1"],
      expected: {
        ok: true,
        edits: [
          SPEC_A.containerEdits!,
          SPEC_A.devices[0].containerEdits,
          SPEC_A.devices[0].containerEdits,
        ],
      },
    },
    { name: "no names, no edits", input: [], expected: { ok: true, edits: [] } },
    {
      name: "unresolvable: only the missing names, in request order",
      input: ["vendor.com/z=1", "vendor.com/a=d1", "vendor.com/a=nope", "vendor.com/b=x"],
      expected: { ok: false, unresolvable: ["vendor.com/z=1", "vendor.com/a=nope"] },
    },
    {
      name: "lookup is an exact match (no case folding, no trimming)",
      input: ["vendor.com/a=D1", " vendor.com/a=d1"],
      expected: { ok: false, unresolvable: ["vendor.com/a=D1", " vendor.com/a=d1"] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(resolveCdiDevices(REGISTRY, c.input), c.expected));
  }
});

Deno.test("fillDeviceNode completes nodes from the host", async (t) => {
  const cases: {
    name: string;
    input: { node: CdiDeviceNode; user?: ProcessUser };
    expected: DeviceNodeEdit | { error: string };
  }[] = [
    {
      name: "path only: type, major, minor and mode from the host char device",
      input: { node: { path: "/dev/null" } },
      expected: { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666 },
    },
    {
      name: "path only: a block device",
      input: { node: { path: "/dev/sda" } },
      expected: { path: "/dev/sda", type: "b", major: 8, minor: 0, fileMode: 0o660 },
    },
    {
      name: "hostPath is looked up and kept",
      input: { node: { path: "/dev/xpu0", hostPath: "/host/dev/xpu0" } },
      expected: {
        path: "/dev/xpu0",
        hostPath: "/host/dev/xpu0",
        type: "c",
        major: 240,
        minor: 0,
        fileMode: 0o660,
      },
    },
    {
      name: "hostPath equal to path is not repeated",
      input: { node: { path: "/dev/null", hostPath: "/dev/null" } },
      expected: { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666 },
    },
    {
      name: "type c without major is completed (major and minor from the host)",
      input: { node: { path: "/dev/null", type: "c", minor: 9 } },
      expected: { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666 },
    },
    {
      name: "minimally specified (type c + major) on a missing host node is kept as given",
      input: { node: { path: "/dev/gone", type: "c", major: 99, minor: 2 } },
      expected: { path: "/dev/gone", type: "c", major: 99, minor: 2 },
    },
    {
      name: "minimally specified fifo (type p) on a missing host node is kept",
      input: { node: { path: "/run/gone", type: "p" } },
      expected: { path: "/run/gone", type: "p", major: 0, minor: 0 },
    },
    {
      name: "minimally specified on a present host node: numbers as given, mode from the host",
      input: { node: { path: "/dev/null", type: "c", major: 7, minor: 7 } },
      expected: { path: "/dev/null", type: "c", major: 7, minor: 7, fileMode: 0o666 },
    },
    {
      name: "fileMode given is kept",
      input: { node: { path: "/dev/null", fileMode: 0o600 } },
      expected: { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o600 },
    },
    {
      name: "a fifo: type p, no numbers",
      input: { node: { path: "/run/fifo" } },
      expected: { path: "/run/fifo", type: "p", major: 0, minor: 0, fileMode: 0o640 },
    },
    {
      name: "missing host node and not minimal",
      input: { node: { path: "/dev/gone" } },
      expected: { error: '"/dev/gone" is missing on this host' },
    },
    {
      name: "missing host node, type c without major",
      input: { node: { path: "/dev/gone", type: "c" } },
      expected: { error: "missing" },
    },
    {
      name: "a symlink is not a device node (lstat)",
      input: { node: { path: "/dev/link-to-null" } },
      expected: { error: '"/dev/link-to-null" is not a device node' },
    },
    {
      name: "a regular file is not a device node",
      input: { node: { path: "/dev/x", hostPath: "/etc/regular" } },
      expected: { error: '"/etc/regular" is not a device node' },
    },
    {
      name: 'type mismatch: "b" against a host char device',
      input: { node: { path: "/dev/null", type: "b" } },
      expected: { error: 'the spec says type "b" but "/dev/null" has type "c"' },
    },
    {
      name: 'type mismatch: "u" against a host char device (not minimal)',
      input: { node: { path: "/dev/null", type: "u" } },
      expected: { error: 'type "u"' },
    },
    {
      name: "uid and gid from the process user when unset and > 0",
      input: { node: { path: "/dev/null" }, user: { uid: 1000, gid: 1001 } },
      expected: {
        path: "/dev/null",
        type: "c",
        major: 1,
        minor: 3,
        fileMode: 0o666,
        uid: 1000,
        gid: 1001,
      },
    },
    {
      name: "uid and gid not set from a root process user",
      input: { node: { path: "/dev/null" }, user: { uid: 0, gid: 0 } },
      expected: { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666 },
    },
    {
      name: "uid and gid given (even 0) win over the process user",
      input: { node: { path: "/dev/null", uid: 0, gid: 44 }, user: { uid: 1000, gid: 1001 } },
      expected: {
        path: "/dev/null",
        type: "c",
        major: 1,
        minor: 3,
        fileMode: 0o666,
        uid: 0,
        gid: 44,
      },
    },
    {
      name: "permissions kept",
      input: { node: { path: "/dev/null", permissions: "rw" } },
      expected: {
        path: "/dev/null",
        type: "c",
        major: 1,
        minor: 3,
        fileMode: 0o666,
        permissions: "rw",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      if ("error" in c.expected) {
        const error = assertThrowsError(
          () => fillDeviceNode(c.input.node, HOST, c.input.user),
          RequestError,
          c.expected.error,
        );
        ok(error.message.includes(`"${c.input.node.path}"`), error.message);
      } else {
        deepStrictEqual(plain(fillDeviceNode(c.input.node, HOST, c.input.user)), c.expected);
      }
    });
  }
});

Deno.test("toContainerEdits merges edits in order", async (t) => {
  const first: CdiEdits = {
    env: ["A=1"],
    deviceNodes: [{ path: "/dev/null" }],
    mounts: [{ hostPath: "/h1", containerPath: "/c1" }],
    hooks: [{ hookName: "createContainer", path: "/bin/h1" }],
    additionalGids: [4, 5],
    netDevices: [{ hostInterfaceName: "eth0", name: "net0" }],
    intelRdt: { closID: "first", l3CacheSchema: "L3:0=f" },
  };
  const second: CdiEdits = {
    env: ["B=2", "A=3"],
    deviceNodes: [{ path: "/dev/zero", permissions: "r" }],
    mounts: [{ hostPath: "/h2", containerPath: "/c2", type: "bind", options: ["ro", "bind"] }],
    hooks: [{
      hookName: "poststop",
      path: "/bin/h2",
      args: ["h2", "-x"],
      env: ["E=1"],
      timeout: 5,
    }],
    additionalGids: [5, 0],
    netDevices: [{ hostInterfaceName: "eth1", name: "net1" }],
    intelRdt: { closID: "second" },
  };
  const third: CdiEdits = { env: ["C=3"] };
  const merged = toContainerEdits([first, second, third], { fs: HOST, user: { uid: 7 } });

  await t.step("env concatenated in order (replacement is the apply step's)", () => {
    deepStrictEqual(merged.env, ["A=1", "B=2", "A=3", "C=3"]);
  });
  await t.step("device nodes filled from the host, in order", () => {
    deepStrictEqual(plain(merged.deviceNodes), [
      { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 7 },
      {
        path: "/dev/zero",
        type: "c",
        major: 1,
        minor: 5,
        fileMode: 0o666,
        uid: 7,
        permissions: "r",
      },
    ]);
  });
  await t.step("mounts: type and options as given, absent ones stay absent", () => {
    deepStrictEqual(plain(merged.mounts), [
      { hostPath: "/h1", containerPath: "/c1" },
      { hostPath: "/h2", containerPath: "/c2", type: "bind", options: ["ro", "bind"] },
    ]);
    strictEqual(merged.mounts![0].type, undefined);
    strictEqual(merged.mounts![0].options, undefined);
  });
  await t.step("hooks in order with args, env and timeout", () => {
    deepStrictEqual(plain(merged.hooks), [
      { hookName: "createContainer", path: "/bin/h1" },
      { hookName: "poststop", path: "/bin/h2", args: ["h2", "-x"], env: ["E=1"], timeout: 5 },
    ]);
  });
  await t.step("additionalGids concatenated, not deduplicated", () => {
    deepStrictEqual(merged.additionalGids, [4, 5, 5, 0]);
  });
  await t.step("netDevices concatenated", () => {
    deepStrictEqual(merged.netDevices, [
      { hostInterfaceName: "eth0", name: "net0" },
      { hostInterfaceName: "eth1", name: "net1" },
    ]);
  });
  await t.step("the last intelRdt wins whole (not merged), later edits without one keep it", () => {
    deepStrictEqual(merged.intelRdt, { closID: "second" });
  });
  await t.step("no edits: empty lists and no intelRdt", () => {
    const empty = toContainerEdits([], { fs: HOST });
    deepStrictEqual(empty, {
      env: [],
      deviceNodes: [],
      mounts: [],
      hooks: [],
      additionalGids: [],
      netDevices: [],
    });
  });
  await t.step("a node that cannot be completed fails the merge", () => {
    assertThrowsError(
      () =>
        toContainerEdits([{ env: ["A=1"] }, { deviceNodes: [{ path: "/dev/gone" }] }], {
          fs: HOST,
        }),
      RequestError,
      '"/dev/gone"',
    );
  });
});

/** Resolves `names` against a one-spec registry and applies the merged edits to `oci`. */
function inject(spec: CdiSpec, names: string[], oci: OciSpec): OciSpec {
  const source: CdiSource = { path: "/etc/cdi/vendor1.yaml", priority: 0, spec };
  const resolution = resolveCdiDevices(buildCdiRegistry(["/etc/cdi"], [source]), names);
  ok(resolution.ok, "the devices resolve");
  const process = oci.process as { user?: { uid?: number; gid?: number } } | undefined;
  applyContainerEdits(
    oci,
    toContainerEdits(resolution.edits, { fs: HOST, user: process?.user ?? {} }),
  );
  return oci;
}

/** A spec of kind vendor1.com/device whose device `dev` carries `edits`. */
function oneDevice(edits: CdiEdits, global?: CdiEdits): CdiSpec {
  const spec: CdiSpec = {
    cdiVersion: "1.1.0",
    kind: "vendor1.com/device",
    devices: [{ name: "dev", containerEdits: edits }],
  };
  if (global) spec.containerEdits = global;
  return spec;
}

Deno.test("injection applied to an OCI spec (TestApplyContainerEdits outcomes)", async (t) => {
  const DEV = ["vendor1.com/device=dev"];
  const cases: { name: string; input: { spec: CdiSpec; oci: OciSpec }; expected: OciSpec }[] = [
    {
      name: "env on an empty spec",
      input: { spec: oneDevice({ env: ["BAR=BARVALUE1"] }), oci: {} },
      expected: { process: { env: ["BAR=BARVALUE1"] } },
    },
    {
      name: "env replaced in place, new names appended",
      input: {
        spec: oneDevice({ env: ["BAR=BARVALUE1", "NEW=1"] }),
        oci: { process: { env: ["ORIG=1", "BAR=old", "X=1"] } },
      },
      expected: { process: { env: ["ORIG=1", "BAR=BARVALUE1", "X=1", "NEW=1"] } },
    },
    {
      name: "env order: existing, spec, device (cache_test)",
      input: {
        spec: oneDevice({ env: ["VENDOR1_VAR1=VAL1"] }, { env: ["VENDOR1_SPEC_VAR1=VAL1"] }),
        oci: { process: { env: ["ORIG_VAR1=VAL1", "ORIG_VAR2=VAL2"] } },
      },
      expected: {
        process: {
          env: ["ORIG_VAR1=VAL1", "ORIG_VAR2=VAL2", "VENDOR1_SPEC_VAR1=VAL1", "VENDOR1_VAR1=VAL1"],
        },
      },
    },
    {
      name: "/dev/null: the device entry and a cgroup rule, existing devices kept",
      input: {
        spec: oneDevice({ deviceNodes: [{ path: "/dev/null" }] }),
        oci: { linux: { devices: [{ path: "/dev/zero" }] } },
      },
      expected: {
        linux: {
          devices: [
            { path: "/dev/zero" },
            { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666 },
          ],
          resources: {
            devices: [{ allow: true, type: "c", major: 1, minor: 3, access: "rwm" }],
          },
        },
      },
    },
    {
      name: "device permissions become the rule's access; hostPath is not copied",
      input: {
        spec: oneDevice({
          deviceNodes: [{ path: "/dev/xpu0", hostPath: "/host/dev/xpu0", permissions: "rw" }],
        }),
        oci: {},
      },
      expected: {
        linux: {
          devices: [{ path: "/dev/xpu0", type: "c", major: 240, minor: 0, fileMode: 0o660 }],
          resources: {
            devices: [{ allow: true, type: "c", major: 240, minor: 0, access: "rw" }],
          },
        },
      },
    },
    {
      name: "a fifo gets a device entry but no cgroup rule",
      input: { spec: oneDevice({ deviceNodes: [{ path: "/run/fifo" }] }), oci: {} },
      expected: {
        linux: { devices: [{ path: "/run/fifo", type: "p", major: 0, minor: 0, fileMode: 0o640 }] },
      },
    },
    {
      name: "the process user's ids fill the node's owner",
      input: {
        spec: oneDevice({ deviceNodes: [{ path: "/dev/null" }] }),
        oci: { process: { user: { uid: 1000, gid: 1000 } } },
      },
      expected: {
        process: { user: { uid: 1000, gid: 1000 } },
        linux: {
          devices: [{
            path: "/dev/null",
            type: "c",
            major: 1,
            minor: 3,
            fileMode: 0o666,
            uid: 1000,
            gid: 1000,
          }],
          resources: {
            devices: [{ allow: true, type: "c", major: 1, minor: 3, access: "rwm" }],
          },
        },
      },
    },
    {
      name: "mounts replace by destination and are ordered by depth",
      input: {
        spec: oneDevice({
          mounts: [
            { hostPath: "/new", containerPath: "/destination" },
            { hostPath: "/m1", containerPath: "/mnt/mount1", type: "bind", options: ["ro"] },
          ],
        }),
        oci: {
          mounts: [
            { destination: "/a/b/c", source: "/deep" },
            { destination: "/destination", source: "/old", type: "bind" },
          ],
        },
      },
      expected: {
        mounts: [
          { destination: "/destination", source: "/new" },
          { destination: "/mnt/mount1", type: "bind", source: "/m1", options: ["ro"] },
          { destination: "/a/b/c", source: "/deep" },
        ],
      },
    },
    {
      name: "hooks appended per stage after the existing ones",
      input: {
        spec: oneDevice({
          hooks: [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
          ].map((hookName) => ({ hookName, path: `/bin/${hookName}`, args: [hookName] })),
        }),
        oci: { hooks: { prestart: [{ path: "/existing" }] } },
      },
      expected: {
        hooks: {
          prestart: [{ path: "/existing" }, { path: "/bin/prestart", args: ["prestart"] }],
          createRuntime: [{ path: "/bin/createRuntime", args: ["createRuntime"] }],
          createContainer: [{ path: "/bin/createContainer", args: ["createContainer"] }],
          startContainer: [{ path: "/bin/startContainer", args: ["startContainer"] }],
          poststart: [{ path: "/bin/poststart", args: ["poststart"] }],
          poststop: [{ path: "/bin/poststop", args: ["poststop"] }],
        },
      },
    },
    {
      name: "additionalGids [4,5,6,5,6,4] -> [4,5,6]",
      input: { spec: oneDevice({ additionalGids: [4, 5, 6, 5, 6, 4] }), oci: {} },
      expected: { process: { user: { additionalGids: [4, 5, 6] } } },
    },
    {
      name: "additionalGids already present are skipped",
      input: {
        spec: oneDevice({ additionalGids: [5, 7] }),
        oci: { process: { user: { uid: 0, gid: 0, additionalGids: [5] } } },
      },
      expected: { process: { user: { uid: 0, gid: 0, additionalGids: [5, 7] } } },
    },
    {
      name: "additionalGids [0] leave the spec untouched",
      input: { spec: oneDevice({ additionalGids: [0] }), oci: { ociVersion: "1.0.2" } },
      expected: { ociVersion: "1.0.2" },
    },
    {
      name: "intelRdt replaced wholesale",
      input: {
        spec: oneDevice({ intelRdt: { closID: "new", l3CacheSchema: "L3:0=ff" } }),
        oci: {
          linux: {
            intelRdt: { closID: "old", memBwSchema: "MB:0=50", enableCMT: true, enableMBM: true },
          },
        },
      },
      expected: { linux: { intelRdt: { closID: "new", l3CacheSchema: "L3:0=ff" } } },
    },
    {
      name: "the device's intelRdt replaces the spec's",
      input: {
        spec: oneDevice({ intelRdt: { closID: "dev" } }, { intelRdt: { closID: "spec" } }),
        oci: {},
      },
      expected: { linux: { intelRdt: { closID: "dev" } } },
    },
    {
      name: "netDevices become a map by host interface name",
      input: {
        spec: oneDevice({
          netDevices: [
            { hostInterfaceName: "eth1", name: "net1" },
            { hostInterfaceName: "eth2", name: "net2" },
          ],
        }),
        oci: { linux: { netDevices: { eth0: { name: "keep" } } } },
      },
      expected: {
        linux: {
          netDevices: { eth0: { name: "keep" }, eth1: { name: "net1" }, eth2: { name: "net2" } },
        },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(inject(c.input.spec, DEV, c.input.oci), c.expected));
  }
});
