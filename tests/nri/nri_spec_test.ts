/**
 * The OCI spec built from an NRI container: every field the mode edits read, as the runtime gave
 * it; privileged-ness from the device cgroup; a request not shaped like NRI's refused with one
 * clean line; and the bound on the values a request is read from, with the honest request of the
 * same shape still accepted.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { defaultConfig } from "../../src/core/config/config.ts";
import { RequestError } from "../../src/core/errors.ts";
import { isPrivileged, type OciSpec, specAnnotations } from "../../src/core/oci/oci_spec.ts";
import {
  checkRequestSize,
  isNriPrivileged,
  MAX_REQUEST_BYTES,
  type NriContainer,
  type NriLinuxDeviceCgroup,
  ociSpecFromNri,
} from "../../src/nri/nri_spec.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

/** The device cgroup containerd gives a privileged container. */
const ALLOW_ALL: NriLinuxDeviceCgroup = { allow: true, type: "", access: "rwm" };
/** The start of every other container's device cgroup. */
const DENY_ALL: NriLinuxDeviceCgroup = { allow: false, type: "", access: "rwm" };
/** One of the default devices an unprivileged container may use (c 1:3, /dev/null). */
const DEV_NULL: NriLinuxDeviceCgroup = {
  allow: true,
  type: "c",
  major: { value: 1 },
  minor: { value: 3 },
  access: "rwm",
};

Deno.test("ociSpecFromNri: the spec the mode edits see", async (t) => {
  const cases: { name: string; input: NriContainer; expected: OciSpec }[] = [
    {
      name: "a container with nothing: an empty env, no mounts, unprivileged",
      input: { id: "c1", name: "app" },
      expected: {
        process: { args: [], env: [], capabilities: { bounding: [] } },
        mounts: [],
        annotations: {},
        linux: {},
      },
    },
    {
      name: "every field the edits read, proto3 defaults (empty strings and lists) left out",
      input: {
        id: "c1",
        name: "app",
        args: ["/bin/sh"],
        env: ["PATH=/bin", "XPU_VISIBLE_DEVICES=0"],
        mounts: [
          { destination: "/proc", type: "proc", source: "proc", options: [] },
          { destination: "/data", type: "", source: "/srv/data", options: ["rbind", "ro"] },
        ],
        hooks: {
          prestart: [{ path: "/usr/bin/h", args: ["h"], env: [], timeout: { value: 5 } }],
          poststop: [],
        },
        annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=0", "org.example/a": "b" },
        linux: {
          devices: [{
            path: "/dev/fuse",
            type: "c",
            major: 10,
            minor: 229,
            fileMode: { value: 0o666 },
            uid: { value: 0 },
            gid: { value: 0 },
          }],
          resources: { devices: [DENY_ALL, DEV_NULL] },
        },
      },
      expected: {
        process: {
          args: ["/bin/sh"],
          env: ["PATH=/bin", "XPU_VISIBLE_DEVICES=0"],
          capabilities: { bounding: [] },
        },
        mounts: [
          { destination: "/proc", type: "proc", source: "proc" },
          { destination: "/data", source: "/srv/data", options: ["rbind", "ro"] },
        ],
        hooks: { prestart: [{ path: "/usr/bin/h", args: ["h"], timeout: 5 }] },
        annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=0", "org.example/a": "b" },
        linux: {
          devices: [{
            path: "/dev/fuse",
            type: "c",
            major: 10,
            minor: 229,
            fileMode: 0o666,
            uid: 0,
            gid: 0,
          }],
          resources: {
            devices: [
              { allow: false, access: "rwm" },
              { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
            ],
          },
        },
      },
    },
    {
      name: "a privileged container: the shim's privileged test sees CAP_SYS_ADMIN",
      input: { linux: { resources: { devices: [ALLOW_ALL] } } },
      expected: {
        process: { args: [], env: [], capabilities: { bounding: ["CAP_SYS_ADMIN"] } },
        mounts: [],
        annotations: {},
        linux: { resources: { devices: [{ allow: true, access: "rwm" }] } },
      },
    },
    {
      name: "int64 fields given as bigint, annotations as a Map",
      input: {
        annotations: new Map([["k", "v"]]),
        linux: { devices: [{ path: "/dev/x", type: "b", major: 8n, minor: 1n }] },
      },
      expected: {
        process: { args: [], env: [], capabilities: { bounding: [] } },
        mounts: [],
        annotations: { k: "v" },
        linux: { devices: [{ path: "/dev/x", type: "b", major: 8, minor: 1 }] },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = ociSpecFromNri(c.input);
      deepStrictEqual(spec, c.expected);
      strictEqual(isPrivileged(spec), isNriPrivileged(c.input));
    });
  }
});

Deno.test("ociSpecFromNri: an annotation named __proto__ stays an annotation", () => {
  const annotations = JSON.parse('{"__proto__": "xpu.dev/xpu=0", "cdi.k8s.io/x": "xpu.dev/xpu=1"}');
  const spec = ociSpecFromNri({ annotations });
  deepStrictEqual(
    [...specAnnotations(spec)],
    [["__proto__", "xpu.dev/xpu=0"], ["cdi.k8s.io/x", "xpu.dev/xpu=1"]],
  );
  strictEqual(Object.getPrototypeOf(spec.annotations), Object.prototype);
});

Deno.test("isNriPrivileged: a device cgroup that allows every device", async (t) => {
  const cases: { name: string; input: NriLinuxDeviceCgroup[] | undefined; expected: boolean }[] = [
    { name: "containerd's privileged container: allow all", input: [ALLOW_ALL], expected: true },
    {
      name: "allow all, then devices added by CDI: still every device",
      input: [ALLOW_ALL, DEV_NULL],
      expected: true,
    },
    {
      name: "type 'a' with runc's -1 wildcards",
      input: [{
        allow: true,
        type: "a",
        major: { value: -1 },
        minor: { value: -1 },
        access: "mrw",
      }],
      expected: true,
    },
    {
      name: "an unprivileged container: deny all, then named devices",
      input: [DENY_ALL, DEV_NULL],
      expected: false,
    },
    {
      name: "allow all, then a deny: not every device",
      input: [ALLOW_ALL, { ...DEV_NULL, allow: false }],
      expected: false,
    },
    {
      name: "allow all, then deny all",
      input: [ALLOW_ALL, DENY_ALL],
      expected: false,
    },
    {
      name: "every device read-write but no mknod",
      input: [{ ...ALLOW_ALL, access: "rw" }],
      expected: false,
    },
    { name: "every character device only", input: [{ ...ALLOW_ALL, type: "c" }], expected: false },
    {
      name: "every minor of one major",
      input: [{ allow: true, type: "a", major: { value: 511 }, access: "rwm" }],
      expected: false,
    },
    { name: "no rules at all", input: [], expected: false },
    { name: "no resources", input: undefined, expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const container = c.input === undefined ? { linux: {} } : {
        linux: { resources: { devices: c.input } },
      };
      strictEqual(isNriPrivileged(container), c.expected);
    });
  }
});

Deno.test("ociSpecFromNri refuses a request not shaped like NRI's with one clean line", async (t) => {
  const fix = "the runtime sent a message this plugin does not understand; update containerd or " +
    "CRI-O and the toolkit";
  const cases: { name: string; input: unknown; expected: string }[] = [
    { name: "no container", input: undefined, expected: '"container" is missing' },
    { name: "env not a list", input: { env: "A=1" }, expected: '"container.env" is not a list' },
    {
      name: "an env entry that is not a string",
      input: { env: ["A=1", 7] },
      expected: '"container.env[1]" is not a string',
    },
    {
      name: "a mount that is not a message",
      input: { mounts: ["/data"] },
      expected: '"container.mounts[0]" is not a message',
    },
    {
      name: "an annotation value that is not a string",
      input: { annotations: { "cdi.k8s.io/x": 1 } },
      expected: '"container.annotations[\\"cdi.k8s.io/x\\"]" is not a string',
    },
    {
      name: "a hook stage that is not a list",
      input: { hooks: { prestart: {} } },
      expected: '"container.hooks.prestart" is not a list',
    },
    {
      name: "a device major that is not an integer",
      input: { linux: { devices: [{ path: "/dev/x", type: "c", major: "511", minor: 0 }] } },
      expected: '"container.linux.devices[0].major" is not an integer',
    },
    {
      name: "a device major beyond 2^53",
      input: { linux: { devices: [{ path: "/dev/x", type: "c", major: 2n ** 60n, minor: 0 }] } },
      expected: '"container.linux.devices[0].major" is not an integer',
    },
    {
      name: "a cgroup rule's wrapper that is not a message",
      input: { linux: { resources: { devices: [{ allow: true, major: 5 }] } } },
      expected: '"container.linux.resources.devices[0].major" is not a message',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => ociSpecFromNri(c.input as NriContainer),
        RequestError,
        `Cannot read the NRI CreateContainer request: ${c.expected}: ${fix}`,
      );
      ok(!error.message.includes("\n"), "one line");
    });
  }
});

Deno.test("checkRequestSize bounds the values a request is read from", async (t) => {
  const big = (n: number) => Array.from({ length: n }, (_, i) => String(i % 8)).join(",");
  const cases: {
    name: string;
    input: { container: NriContainer; swarm?: string; volumeMounts?: boolean };
    expected: string | undefined;
  }[] = [
    {
      name: "honest: 64 devices by CDI name",
      input: {
        container: {
          env: [
            `XPU_VISIBLE_DEVICES=${
              Array.from({ length: 64 }, (_, i) => `xpu.dev/xpu=${i}`).join(",")
            }`,
          ],
        },
      },
      expected: undefined,
    },
    {
      name: "honest: a large env and annotations that are no request",
      input: {
        container: {
          env: [`CERT=${"x".repeat(2 * MAX_REQUEST_BYTES)}`],
          annotations: { "org.example/big": "y".repeat(2 * MAX_REQUEST_BYTES) },
        },
      },
      expected: undefined,
    },
    {
      name: "hostile: an XPU_VISIBLE_DEVICES of 100,000 ids",
      input: { container: { env: [`XPU_VISIBLE_DEVICES=${big(100_000)}`] } },
      expected: "Cannot start the container: its device request is 199999 characters " +
        `(XPU_VISIBLE_DEVICES), more than ${MAX_REQUEST_BYTES}: request fewer devices, or "all"`,
    },
    {
      name: "hostile: many CDI annotations, each small",
      input: {
        container: {
          annotations: Object.fromEntries(
            Array.from({ length: 5000 }, (_, i) => [`cdi.k8s.io/a${i}`, "xpu.dev/xpu=0"]),
          ),
        },
      },
      expected: '(annotations under "cdi.k8s.io/")',
    },
    {
      name: "hostile: a swarm-resource variable counts as the request",
      input: {
        container: { env: [`DOCKER_RESOURCE_XPU=${big(40_000)}`, "XPU_VISIBLE_DEVICES=0"] },
        swarm: "DOCKER_RESOURCE_XPU",
      },
      expected: "(DOCKER_RESOURCE_XPU, XPU_VISIBLE_DEVICES)",
    },
    {
      name: "hostile: volume-mount requests, when accepted",
      input: {
        container: {
          mounts: Array.from({ length: 3000 }, (_, i) => ({
            destination: `/var/run/xpu-container-devices/${i}`,
            source: "/dev/null",
          })),
        },
        volumeMounts: true,
      },
      expected: '(volume mounts under "/var/run/xpu-container-devices/")',
    },
    {
      name: "hostile: the request variable twice (which one wins would differ)",
      input: { container: { env: ["XPU_VISIBLE_DEVICES=0", "XPU_VISIBLE_DEVICES=all"] } },
      expected: "Cannot start the container: XPU_VISIBLE_DEVICES is set 2 times in its " +
        "environment: set it once",
    },
    {
      name: "honest: other variables twice are no matter",
      input: { container: { env: ["A=1", "A=2", "XPU_VISIBLE_DEVICES=0"] } },
      expected: undefined,
    },
    {
      name: "volume mounts are no request when not accepted",
      input: {
        container: {
          mounts: Array.from({ length: 3000 }, (_, i) => ({
            destination: `/var/run/xpu-container-devices/${i}`,
            source: "/dev/null",
          })),
        },
      },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const config = defaultConfig();
      config.swarmResource = c.input.swarm ?? "";
      config.acceptVolumeMounts = c.input.volumeMounts ?? false;
      const spec = ociSpecFromNri(c.input.container);
      if (c.expected === undefined) return checkRequestSize(spec, config);
      assertThrowsError(() => checkRequestSize(spec, config), RequestError, c.expected);
    });
  }
});
