import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  type DeviceRequest,
  parseDeviceRequest,
  parseVisibleDevices,
  requestAnnotations,
  type RequestInput,
  type RequestRules,
  volumeMountDeviceIds,
} from "../../../src/core/request/device_request.ts";

Deno.test("parseVisibleDevices", async (t) => {
  const cases: {
    name: string;
    input: string | undefined;
    expected: { devices: "all" | string[] } | undefined;
  }[] = [
    { name: "unset: no request", input: undefined, expected: undefined },
    { name: "empty: no request", input: "", expected: undefined },
    { name: "whitespace only: no request", input: "  ", expected: undefined },
    { name: "void: no request", input: "void", expected: undefined },
    { name: "all", input: "all", expected: { devices: "all" } },
    { name: "none: no devices", input: "none", expected: { devices: [] } },
    { name: "one index", input: "0", expected: { devices: ["0"] } },
    {
      name: "whitespace and duplicates",
      input: "0, 1,0",
      expected: { devices: ["0", "1"] },
    },
    {
      name: "UUID list keeps request order",
      input: "XPU-bbbb-2222,XPU-aaaa-1111",
      expected: { devices: ["XPU-bbbb-2222", "XPU-aaaa-1111"] },
    },
    {
      name: "CDI names",
      input: "xpu.dev/xpu=0,xpu.dev/xpu=1",
      expected: { devices: ["xpu.dev/xpu=0", "xpu.dev/xpu=1"] },
    },
    { name: '"0,all" is all', input: "0,all", expected: { devices: "all" } },
    { name: '" all " is all', input: " all ", expected: { devices: "all" } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(parseVisibleDevices(c.input), c.expected));
  }
});

Deno.test("volumeMountDeviceIds", async (t) => {
  const cases: { name: string; input: string[]; expected: string[] }[] = [
    { name: "no mounts", input: [], expected: [] },
    { name: "unrelated mounts", input: ["/proc", "/dev/shm"], expected: [] },
    {
      name: "ids in order, duplicates dropped",
      input: [
        "/var/run/xpu-container-devices/1",
        "/etc/hosts",
        "/var/run/xpu-container-devices/0",
        "/var/run/xpu-container-devices/1",
      ],
      expected: ["1", "0"],
    },
    { name: "all", input: ["/var/run/xpu-container-devices/all"], expected: ["all"] },
    { name: "trailing slash", input: ["/var/run/xpu-container-devices/2/"], expected: ["2"] },
    { name: "the bare prefix is no id", input: ["/var/run/xpu-container-devices/"], expected: [] },
    {
      name: "nested paths are no id",
      input: ["/var/run/xpu-container-devices/a/b"],
      expected: [],
    },
    {
      name: "a similar prefix is not a request",
      input: ["/var/run/xpu-container-devices-x/0"],
      expected: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(
        volumeMountDeviceIds(c.input.map((destination) => ({ destination }))),
        c.expected,
      );
    });
  }
});

const RULES: RequestRules = {
  swarmResource: "",
  acceptEnvvarUnprivileged: true,
  acceptVolumeMounts: false,
};

function input(
  env: Record<string, string>,
  options: { mounts?: string[]; privileged?: boolean } = {},
): RequestInput {
  return {
    env: new Map(Object.entries(env)),
    mounts: (options.mounts ?? []).map((destination) => ({ destination })),
    privileged: options.privileged ?? false,
  };
}

Deno.test("parseDeviceRequest", async (t) => {
  const cases: {
    name: string;
    input: { request: RequestInput; rules: Partial<RequestRules> };
    expected: { request: DeviceRequest | undefined; notes: RegExp[] };
  }[] = [
    {
      name: "no variable: not an XPU container",
      input: { request: input({ PATH: "/bin" }), rules: {} },
      expected: { request: undefined, notes: [] },
    },
    {
      name: "env request",
      input: { request: input({ XPU_VISIBLE_DEVICES: "0,1" }), rules: {} },
      expected: { request: { devices: ["0", "1"], source: "env" }, notes: [] },
    },
    {
      name: "env none: a request without devices",
      input: { request: input({ XPU_VISIBLE_DEVICES: "none" }), rules: {} },
      expected: { request: { devices: [], source: "env" }, notes: [] },
    },
    {
      name: "env void: no request",
      input: { request: input({ XPU_VISIBLE_DEVICES: "void" }), rules: {} },
      expected: { request: undefined, notes: [] },
    },
    {
      name: "volume mounts are ignored unless accepted",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "0" }, {
          mounts: ["/var/run/xpu-container-devices/1"],
        }),
        rules: {},
      },
      expected: { request: { devices: ["0"], source: "env" }, notes: [] },
    },
    {
      name: "accepted volume mounts win over env",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "all" }, {
          mounts: ["/var/run/xpu-container-devices/1", "/var/run/xpu-container-devices/0"],
        }),
        rules: { acceptVolumeMounts: true },
      },
      expected: { request: { devices: ["1", "0"], source: "volume-mounts" }, notes: [] },
    },
    {
      name: "volume mount all",
      input: {
        request: input({}, {
          mounts: ["/var/run/xpu-container-devices/0", "/var/run/xpu-container-devices/all"],
        }),
        rules: { acceptVolumeMounts: true },
      },
      expected: { request: { devices: "all", source: "volume-mounts" }, notes: [] },
    },
    {
      name: "accepted volume mounts, none present: env is used",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "2" }, { mounts: ["/etc/hosts"] }),
        rules: { acceptVolumeMounts: true },
      },
      expected: { request: { devices: ["2"], source: "env" }, notes: [] },
    },
    {
      name: "swarm-resource variable replaces XPU_VISIBLE_DEVICES when set",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "all", DOCKER_RESOURCE_XPU: "3" }),
        rules: { swarmResource: "DOCKER_RESOURCE_XPU" },
      },
      expected: { request: { devices: ["3"], source: "env" }, notes: [] },
    },
    {
      name: "the first swarm variable that is set wins",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "all", SECOND: "5", THIRD: "6" }),
        rules: { swarmResource: "FIRST, SECOND,THIRD" },
      },
      expected: { request: { devices: ["5"], source: "env" }, notes: [] },
    },
    {
      name: "swarm variable not set: falls back to XPU_VISIBLE_DEVICES",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "1" }),
        rules: { swarmResource: "DOCKER_RESOURCE_XPU" },
      },
      expected: { request: { devices: ["1"], source: "env" }, notes: [] },
    },
    {
      name: "unprivileged container, env refused: no request and a note",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "0" }, { privileged: false }),
        rules: { acceptEnvvarUnprivileged: false },
      },
      expected: {
        request: undefined,
        notes: [/XPU_VISIBLE_DEVICES/, /accept-xpu-visible-devices-envvar-when-unprivileged/],
      },
    },
    {
      name: "unprivileged container, env refused, swarm variable named in the note",
      input: {
        request: input({ DOCKER_RESOURCE_XPU: "0" }),
        rules: { acceptEnvvarUnprivileged: false, swarmResource: "DOCKER_RESOURCE_XPU" },
      },
      expected: { request: undefined, notes: [/DOCKER_RESOURCE_XPU/] },
    },
    {
      name: "privileged container, env refused for unprivileged: served",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "0" }, { privileged: true }),
        rules: { acceptEnvvarUnprivileged: false },
      },
      expected: { request: { devices: ["0"], source: "env" }, notes: [] },
    },
    {
      name: "unprivileged container, env refused, volume mounts accepted: served by mounts",
      input: {
        request: input({ XPU_VISIBLE_DEVICES: "0" }, {
          mounts: ["/var/run/xpu-container-devices/1"],
        }),
        rules: { acceptEnvvarUnprivileged: false, acceptVolumeMounts: true },
      },
      expected: { request: { devices: ["1"], source: "volume-mounts" }, notes: [] },
    },
    {
      name: "unprivileged container, env refused, no variable: no note",
      input: { request: input({}), rules: { acceptEnvvarUnprivileged: false } },
      expected: { request: undefined, notes: [] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const actual = parseDeviceRequest(c.input.request, { ...RULES, ...c.input.rules });
      deepStrictEqual(actual.request, c.expected.request);
      if (c.expected.notes.length === 0) deepStrictEqual(actual.notes, []);
      else {
        strictEqual(actual.notes.length, 1, actual.notes.join("\n"));
        for (const fragment of c.expected.notes) {
          ok(fragment.test(actual.notes[0]), `${actual.notes[0]} !~ ${fragment}`);
        }
      }
    });
  }
});

Deno.test("requestAnnotations: the unprivileged rule covers CDI annotations", async (t) => {
  const prefixes = ["cdi.k8s.io/", "xpu.dev/cdi-"];
  const annotations = {
    "cdi.k8s.io/xpu": "xpu.dev/xpu=0",
    "xpu.dev/cdi-mgmt": "management.xpu.dev/xpu=all",
    "io.kubernetes.cri.container-type": "container",
  };
  const cases: {
    name: string;
    input: {
      annotations: Record<string, string>;
      privileged: boolean;
      rules: Partial<RequestRules>;
    };
    expected: { annotations: Record<string, string>; notes: RegExp[] };
  }[] = [
    {
      name: "honest: the default rule keeps every annotation",
      input: { annotations, privileged: false, rules: {} },
      expected: { annotations, notes: [] },
    },
    {
      name: "honest: a privileged container under the strict rule keeps them",
      input: { annotations, privileged: true, rules: { acceptEnvvarUnprivileged: false } },
      expected: { annotations, notes: [] },
    },
    {
      name: "hostile: an unprivileged container under the strict rule loses every request",
      input: { annotations, privileged: false, rules: { acceptEnvvarUnprivileged: false } },
      expected: {
        annotations: { "io.kubernetes.cri.container-type": "container" },
        notes: [
          /^Ignoring CDI devices requested by annotations "cdi\.k8s\.io\/xpu", "xpu\.dev\/cdi-mgmt"/,
          /in an unprivileged container: accept-xpu-visible-devices-envvar-when-unprivileged is false$/,
        ],
      },
    },
    {
      name: "hostile with volume mounts accepted: the note says they still count",
      input: {
        annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=all" },
        privileged: false,
        rules: { acceptEnvvarUnprivileged: false, acceptVolumeMounts: true },
      },
      expected: {
        annotations: {},
        notes: [/annotation "cdi\.k8s\.io\/x" in/, /\(volume-mount requests still count\)$/],
      },
    },
    {
      name: "an unprivileged container without request annotations: nothing to say",
      input: {
        annotations: { "io.kubernetes.cri.container-type": "container" },
        privileged: false,
        rules: { acceptEnvvarUnprivileged: false },
      },
      expected: { annotations: { "io.kubernetes.cri.container-type": "container" }, notes: [] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const actual = requestAnnotations(
        {
          annotations: new Map(Object.entries(c.input.annotations)),
          privileged: c.input.privileged,
          prefixes,
        },
        { ...RULES, ...c.input.rules },
      );
      deepStrictEqual(Object.fromEntries(actual.annotations), c.expected.annotations);
      if (c.expected.notes.length === 0) deepStrictEqual(actual.notes, []);
      else {
        strictEqual(actual.notes.length, 1, actual.notes.join("\n"));
        for (const fragment of c.expected.notes) {
          ok(fragment.test(actual.notes[0]), `${actual.notes[0]} !~ ${fragment}`);
        }
      }
    });
  }
});
