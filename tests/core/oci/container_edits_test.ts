import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  applyContainerEdits,
  type ContainerEdits,
  hasHookNamed,
  removeHooksNamed,
} from "../../../src/core/oci/container_edits.ts";
import { SpecError } from "../../../src/core/errors.ts";
import type { OciSpec } from "../../../src/core/oci/oci_spec.ts";

const RO = ["ro", "nosuid", "nodev", "bind"];
const XPU0 = { path: "/dev/xpu0", type: "c" as const, major: 195, minor: 0 };
const XPU0_RULE = { allow: true, type: "c", major: 195, minor: 0, access: "rwm" };
const DENY_ALL = { allow: false, access: "rwm" };

Deno.test("applyContainerEdits", async (t) => {
  const cases: {
    name: string;
    input: { spec: OciSpec; edits: ContainerEdits };
    expected: OciSpec;
  }[] = [
    {
      name: "no edits leave the spec untouched",
      input: { spec: { ociVersion: "1.0.2" }, edits: {} },
      expected: { ociVersion: "1.0.2" },
    },
    {
      name: "empty edit lists create nothing",
      input: {
        spec: { ociVersion: "1.0.2" },
        edits: { env: [], deviceNodes: [], mounts: [], hooks: [], additionalGids: [] },
      },
      expected: { ociVersion: "1.0.2" },
    },
    {
      name: "env replaced by name, new names appended",
      input: {
        spec: { process: { env: ["PATH=/bin", "A=1", "AB=keep"] } },
        edits: { env: ["A=2", "B=3"] },
      },
      expected: { process: { env: ["PATH=/bin", "A=2", "AB=keep", "B=3"] } },
    },
    {
      name: "env created when missing",
      input: { spec: {}, edits: { env: ["XPU_VISIBLE_DEVICES=0"] } },
      expected: { process: { env: ["XPU_VISIBLE_DEVICES=0"] } },
    },
    {
      name: "device node added with a cgroup allow rule",
      input: {
        spec: { linux: { resources: { devices: [DENY_ALL] } } },
        edits: { deviceNodes: [XPU0] },
      },
      expected: {
        linux: {
          devices: [{ path: "/dev/xpu0", type: "c", major: 195, minor: 0 }],
          resources: { devices: [DENY_ALL, XPU0_RULE] },
        },
      },
    },
    {
      name: "device node fields and permissions",
      input: {
        spec: {},
        edits: {
          deviceNodes: [{
            path: "/dev/xpuctl",
            hostPath: "/host/dev/xpuctl",
            type: "c",
            major: 195,
            minor: 255,
            fileMode: 0o666,
            uid: 0,
            gid: 44,
            permissions: "rw",
          }],
        },
      },
      expected: {
        linux: {
          devices: [{
            path: "/dev/xpuctl",
            type: "c",
            major: 195,
            minor: 255,
            fileMode: 0o666,
            uid: 0,
            gid: 44,
          }],
          resources: {
            devices: [{ allow: true, type: "c", major: 195, minor: 255, access: "rw" }],
          },
        },
      },
    },
    {
      name: "the same node twice is added once",
      input: { spec: {}, edits: { deviceNodes: [XPU0, { ...XPU0 }] } },
      expected: {
        linux: {
          devices: [{ path: "/dev/xpu0", type: "c", major: 195, minor: 0 }],
          resources: { devices: [XPU0_RULE] },
        },
      },
    },
    {
      name: "a node already in the spec is not duplicated",
      input: {
        spec: {
          linux: {
            devices: [{ path: "/dev/xpu0", type: "c", major: 195, minor: 0 }],
            resources: { devices: [XPU0_RULE] },
          },
        },
        edits: { deviceNodes: [XPU0] },
      },
      expected: {
        linux: {
          devices: [{ path: "/dev/xpu0", type: "c", major: 195, minor: 0 }],
          resources: { devices: [XPU0_RULE] },
        },
      },
    },
    {
      name: "a node with the same path but other numbers replaces it",
      input: {
        spec: {
          linux: {
            devices: [
              { path: "/dev/null", type: "c", major: 1, minor: 3 },
              { path: "/dev/xpu0", type: "c", major: 10, minor: 1 },
            ],
          },
        },
        edits: { deviceNodes: [XPU0] },
      },
      expected: {
        linux: {
          devices: [
            { path: "/dev/null", type: "c", major: 1, minor: 3 },
            { path: "/dev/xpu0", type: "c", major: 195, minor: 0 },
          ],
          resources: { devices: [XPU0_RULE] },
        },
      },
    },
    {
      name: "mount at an existing destination replaces it",
      input: {
        spec: {
          mounts: [
            { destination: "/proc", type: "proc", source: "proc" },
            { destination: "/usr/lib/libxpu.so.1", type: "bind", source: "/old", options: ["rw"] },
          ],
        },
        edits: {
          mounts: [{
            hostPath: "/usr/lib/libxpu.so.1",
            containerPath: "/usr/lib/libxpu.so.1",
            type: "bind",
            options: RO,
          }],
        },
      },
      expected: {
        mounts: [
          { destination: "/proc", type: "proc", source: "proc" },
          {
            destination: "/usr/lib/libxpu.so.1",
            type: "bind",
            source: "/usr/lib/libxpu.so.1",
            options: RO,
          },
        ],
      },
    },
    {
      name: "an identical mount is not re-added and keeps its place",
      input: {
        spec: {
          mounts: [
            {
              destination: "/usr/bin/xpu-smi",
              type: "bind",
              source: "/usr/bin/xpu-smi",
              options: RO,
            },
            { destination: "/proc", type: "proc", source: "proc" },
          ],
        },
        edits: {
          mounts: [{
            hostPath: "/usr/bin/xpu-smi",
            containerPath: "/usr/bin/xpu-smi",
            type: "bind",
            options: RO,
          }],
        },
      },
      expected: {
        mounts: [
          {
            destination: "/usr/bin/xpu-smi",
            type: "bind",
            source: "/usr/bin/xpu-smi",
            options: RO,
          },
          { destination: "/proc", type: "proc", source: "proc" },
        ],
      },
    },
    {
      name: "mounts are written as given and ordered by depth (parents first)",
      input: {
        spec: { mounts: [{ destination: "/a/b/c", source: "x" }] },
        edits: { mounts: [{ hostPath: "/h", containerPath: "/a" }] },
      },
      expected: {
        mounts: [{ destination: "/a", source: "/h" }, { destination: "/a/b/c", source: "x" }],
      },
    },
    {
      name: "additional gid 0 and ones already there are skipped",
      input: {
        spec: { process: { user: { additionalGids: [5] } } },
        edits: { additionalGids: [0, 5, 6, 6] },
      },
      expected: { process: { user: { additionalGids: [5, 6] } } },
    },
    {
      name: "two mounts to one destination in one edit: the last wins",
      input: {
        spec: {},
        edits: {
          mounts: [
            { hostPath: "/a", containerPath: "/x", options: ["ro", "bind"] },
            { hostPath: "/b", containerPath: "/x", type: "none", options: ["rbind"] },
          ],
        },
      },
      expected: { mounts: [{ destination: "/x", type: "none", source: "/b", options: ["rbind"] }] },
    },
    {
      name: "hooks appended by stage, an existing one not duplicated",
      input: {
        spec: { hooks: { prestart: [{ path: "/usr/bin/other-hook", args: ["other-hook"] }] } },
        edits: {
          hooks: [
            { hookName: "prestart", path: "/usr/bin/other-hook", args: ["other-hook"] },
            {
              hookName: "createContainer",
              path: "/usr/bin/xpu-ctk",
              args: ["xpu-ctk", "hook", "update-ldcache"],
            },
            {
              hookName: "createContainer",
              path: "/usr/bin/xpu-ctk",
              args: ["xpu-ctk", "hook", "update-ldcache"],
            },
            { hookName: "poststop", path: "/bin/cleanup", env: ["A=1"], timeout: 5 },
          ],
        },
      },
      expected: {
        hooks: {
          prestart: [{ path: "/usr/bin/other-hook", args: ["other-hook"] }],
          createContainer: [{
            path: "/usr/bin/xpu-ctk",
            args: ["xpu-ctk", "hook", "update-ldcache"],
          }],
          poststop: [{ path: "/bin/cleanup", env: ["A=1"], timeout: 5 }],
        },
      },
    },
    {
      name: "a hook with other args is a different hook",
      input: {
        spec: { hooks: { createContainer: [{ path: "/usr/bin/xpu-ctk", args: ["a"] }] } },
        edits: { hooks: [{ hookName: "createContainer", path: "/usr/bin/xpu-ctk", args: ["b"] }] },
      },
      expected: {
        hooks: {
          createContainer: [
            { path: "/usr/bin/xpu-ctk", args: ["a"] },
            { path: "/usr/bin/xpu-ctk", args: ["b"] },
          ],
        },
      },
    },
    {
      name: "additionalGids unique",
      input: {
        spec: { process: { user: { uid: 1000, gid: 1000, additionalGids: [44] } } },
        edits: { additionalGids: [44, 45, 45, 109] },
      },
      expected: { process: { user: { uid: 1000, gid: 1000, additionalGids: [44, 45, 109] } } },
    },
    {
      name: "additionalGids created when missing",
      input: { spec: { process: { user: { uid: 0, gid: 0 } } }, edits: { additionalGids: [44] } },
      expected: { process: { user: { uid: 0, gid: 0, additionalGids: [44] } } },
    },
    {
      name: "unknown fields survive",
      input: {
        spec: { "x-future": { a: [1] }, linux: { seccomp: { defaultAction: "SCMP_ACT_ERRNO" } } },
        edits: { deviceNodes: [{ path: "/dev/fifo", type: "p", major: 0, minor: 0 }] },
      },
      expected: {
        "x-future": { a: [1] },
        linux: {
          seccomp: { defaultAction: "SCMP_ACT_ERRNO" },
          devices: [{ path: "/dev/fifo", type: "p", major: 0, minor: 0 }],
        },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = structuredClone(c.input.spec);
      applyContainerEdits(spec, c.input.edits);
      deepStrictEqual(spec, c.expected);
    });
  }
});

Deno.test("applyContainerEdits is idempotent", async (t) => {
  const edits: ContainerEdits = {
    env: ["XPU_VISIBLE_DEVICES=0", "A=1"],
    deviceNodes: [XPU0, { path: "/dev/xpuctl", type: "c", major: 195, minor: 255 }],
    mounts: [
      { hostPath: "/usr/lib/libxpu.so.1", containerPath: "/usr/lib/libxpu.so.1" },
      { hostPath: "/usr/bin/xpu-smi", containerPath: "/usr/bin/xpu-smi", options: ["ro", "bind"] },
    ],
    hooks: [
      { hookName: "createContainer", path: "/usr/bin/xpu-ctk", args: ["xpu-ctk", "hook"] },
      { hookName: "prestart", path: "/usr/bin/xpu-container-runtime-hook" },
    ],
    additionalGids: [44],
  };
  const specs: { name: string; input: OciSpec }[] = [
    { name: "empty spec", input: {} },
    {
      name: "typical spec",
      input: {
        ociVersion: "1.0.2",
        process: { env: ["PATH=/bin", "A=0"], user: { uid: 0, gid: 0 } },
        mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
        linux: { resources: { devices: [DENY_ALL] }, namespaces: [{ type: "pid" }] },
      },
    },
  ];
  for (const s of specs) {
    await t.step(s.name, () => {
      const spec = structuredClone(s.input);
      applyContainerEdits(spec, edits);
      const once = JSON.stringify(spec);
      applyContainerEdits(spec, edits);
      strictEqual(JSON.stringify(spec), once);
      ok(once !== JSON.stringify(s.input));
    });
  }
});

Deno.test("applyContainerEdits rejects specs of the wrong shape", async (t) => {
  const cases: {
    name: string;
    input: { spec: OciSpec; edits: ContainerEdits };
    expected: { error: typeof SpecError; fragment: string };
  }[] = [
    {
      name: '"linux" is a string',
      input: { spec: { linux: "x" }, edits: { deviceNodes: [XPU0] } },
      expected: { error: SpecError, fragment: '"linux" is not an object' },
    },
    {
      name: '"linux.devices" is an object',
      input: { spec: { linux: { devices: {} } }, edits: { deviceNodes: [XPU0] } },
      expected: { error: SpecError, fragment: '"linux.devices" is not an array' },
    },
    {
      name: '"mounts" is an object',
      input: { spec: { mounts: {} }, edits: { mounts: [{ hostPath: "/a", containerPath: "/a" }] } },
      expected: { error: SpecError, fragment: '"mounts" is not an array' },
    },
    {
      name: '"process.env" is a string',
      input: { spec: { process: { env: "A=1" } }, edits: { env: ["B=2"] } },
      expected: { error: SpecError, fragment: '"process.env" is not an array' },
    },
    {
      name: '"hooks" is an array',
      input: { spec: { hooks: [] }, edits: { hooks: [{ hookName: "prestart", path: "/x" }] } },
      expected: { error: SpecError, fragment: '"hooks" is not an object' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      throws(() => applyContainerEdits(c.input.spec, c.input.edits), (error: unknown) => {
        ok(error instanceof c.expected.error, `expected SpecError, got ${error}`);
        ok(error.message.includes(c.expected.fragment), error.message);
        return true;
      });
    });
  }
});

Deno.test("removeHooksNamed and hasHookNamed match by basename", async (t) => {
  const NAMES = ["xpu-container-runtime-hook", "xpu-container-toolkit"];
  const cases: {
    name: string;
    input: OciSpec;
    expected: { before: boolean; after: OciSpec };
  }[] = [
    {
      name: "removes both names at any path, keeps others",
      input: {
        hooks: {
          prestart: [
            { path: "/usr/bin/xpu-container-runtime-hook", args: ["x", "prestart"] },
            { path: "/opt/other-hook" },
            { path: "/usr/local/xpu/toolkit/xpu-container-toolkit" },
            { path: "xpu-container-runtime-hook" },
          ],
          poststop: [{ path: "/usr/bin/xpu-container-runtime-hook" }],
        },
      },
      expected: {
        before: true,
        after: {
          hooks: {
            prestart: [{ path: "/opt/other-hook" }],
            poststop: [{ path: "/usr/bin/xpu-container-runtime-hook" }],
          },
        },
      },
    },
    {
      name: "a longer name is not a match",
      input: {
        hooks: {
          prestart: [
            { path: "/usr/bin/xpu-container-runtime-hook-v2" },
            { path: "/xpu-container-runtime-hook/bin/run" },
          ],
        },
      },
      expected: {
        before: false,
        after: {
          hooks: {
            prestart: [
              { path: "/usr/bin/xpu-container-runtime-hook-v2" },
              { path: "/xpu-container-runtime-hook/bin/run" },
            ],
          },
        },
      },
    },
    {
      name: "a spec without hooks is left as it is",
      input: { ociVersion: "1.0.2" },
      expected: { before: false, after: { ociVersion: "1.0.2" } },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = structuredClone(c.input);
      strictEqual(hasHookNamed(spec, "prestart", NAMES), c.expected.before);
      removeHooksNamed(spec, "prestart", NAMES);
      deepStrictEqual(spec, c.expected.after);
      strictEqual(hasHookNamed(spec, "prestart", NAMES), false);
    });
  }
});

Deno.test("device nodes in a spec with a user namespace", async (t) => {
  const USERNS = { type: "user" };
  const DEV = { destination: "/dev", type: "tmpfs", source: "tmpfs" };
  const BOUND = {
    destination: "/dev/xpu0",
    type: "bind",
    source: "/run/xpu/driver/dev/xpu0",
    options: ["bind", "nosuid", "noexec"],
  };
  const cases: {
    name: string;
    input: { spec: OciSpec; edits: ContainerEdits };
    expected: OciSpec;
  }[] = [
    {
      // runc cannot mknod in a user namespace and binds /dev/xpu0 from the host itself.
      name: "a node at its host path stays a linux.devices entry",
      input: {
        spec: { linux: { namespaces: [USERNS] } },
        edits: { deviceNodes: [{ ...XPU0, hostPath: "/dev/xpu0" }] },
      },
      expected: {
        linux: {
          namespaces: [USERNS],
          devices: [{ path: "/dev/xpu0", type: "c", major: 195, minor: 0 }],
          resources: { devices: [XPU0_RULE] },
        },
      },
    },
    {
      name: "a node under a driver root is bound from there, after /dev, with its cgroup rule",
      input: {
        spec: {
          mounts: [DEV],
          linux: {
            namespaces: [USERNS],
            devices: [{ path: "/dev/xpu0", type: "c", major: 1, minor: 1 }],
          },
        },
        edits: { deviceNodes: [{ ...XPU0, hostPath: "/run/xpu/driver/dev/xpu0" }] },
      },
      expected: {
        mounts: [DEV, BOUND],
        linux: {
          namespaces: [USERNS],
          devices: [],
          resources: { devices: [XPU0_RULE] },
        },
      },
    },
    {
      name: "without a user namespace the same node is made by the runtime",
      input: {
        spec: { linux: { namespaces: [{ type: "mount" }] } },
        edits: { deviceNodes: [{ ...XPU0, hostPath: "/run/xpu/driver/dev/xpu0" }] },
      },
      expected: {
        linux: {
          namespaces: [{ type: "mount" }],
          devices: [{ path: "/dev/xpu0", type: "c", major: 195, minor: 0 }],
          resources: { devices: [XPU0_RULE] },
        },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = structuredClone(c.input.spec);
      applyContainerEdits(spec, c.input.edits);
      deepStrictEqual(spec, c.expected);
      applyContainerEdits(spec, c.input.edits);
      deepStrictEqual(spec, c.expected, "applied twice");
    });
  }
});
