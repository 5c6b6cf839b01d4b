import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  type Container,
  type ContainerAdjustment,
  decodeConfigureRequest,
  decodeConfigureResponse,
  decodeContainer,
  decodeContainerAdjustment,
  decodeCreateContainerRequest,
  decodeCreateContainerResponse,
  decodeEmpty,
  decodeHook,
  decodeHooks,
  decodeKeyValue,
  decodeLinuxDevice,
  decodeLinuxDeviceCgroup,
  decodeMount,
  decodePodSandbox,
  decodeRegisterPluginRequest,
  decodeStateChangeEvent,
  decodeSynchronizeMore,
  decodeSynchronizeRequest,
  decodeSynchronizeResponse,
  encodeConfigureRequest,
  encodeConfigureResponse,
  encodeContainer,
  encodeContainerAdjustment,
  encodeCreateContainerRequest,
  encodeCreateContainerResponse,
  encodeEmpty,
  encodeHook,
  encodeHooks,
  encodeKeyValue,
  encodeLinuxDevice,
  encodeLinuxDeviceCgroup,
  encodeMount,
  encodePodSandbox,
  encodeRegisterPluginRequest,
  encodeStateChangeEvent,
  encodeSynchronizeRequest,
  encodeSynchronizeResponse,
  eventMask,
  type Hooks,
  NriContainerState,
  NriEvent,
  type PodSandbox,
} from "../../src/nri/nri_messages.ts";
import { WireError } from "../../src/nri/protobuf_wire.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const ALL_HOOK_STAGES: Required<Hooks> = {
  prestart: [],
  createRuntime: [],
  createContainer: [],
  startContainer: [],
  poststart: [],
  poststop: [],
};

const POD: PodSandbox = {
  id: "pod-1",
  name: "gpu-job",
  uid: "uid-1",
  namespace: "team-a",
  labels: { app: "train" },
  annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=0" },
  runtimeHandler: "runc",
  linux: { cgroupParent: "/kubepods", cgroupsPath: "", namespaces: [{ type: "ipc", path: "" }] },
  pid: 0,
  ips: ["10.0.0.2"],
};

const CONTAINER: Container = {
  id: "c-1",
  podSandboxId: "pod-1",
  name: "worker",
  state: NriContainerState.CONTAINER_CREATED,
  labels: {},
  annotations: { "io.kubernetes.cri.container-type": "container" },
  args: ["/bin/sh", "-c", "sleep 1"],
  env: ["PATH=/bin", "XPU_VISIBLE_DEVICES=0"],
  mounts: [{ destination: "/etc/hosts", type: "bind", source: "/var/x", options: ["rbind", "ro"] }],
  hooks: {
    ...ALL_HOOK_STAGES,
    createContainer: [{
      path: "/usr/bin/hook",
      args: ["hook", "x"],
      env: [],
      timeout: { value: 5 },
    }],
  },
  linux: {
    namespaces: [{ type: "pid", path: "" }, { type: "mount", path: "" }],
    devices: [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: { value: 0o666 } }],
    resources: {
      devices: [
        { allow: false, type: "", access: "rwm" },
        { allow: true, type: "c", major: { value: 10 }, minor: { value: 229 }, access: "rwm" },
      ],
    },
    oomScoreAdj: { value: -998 },
    cgroupsPath: "/kubepods/pod-1/c-1",
  },
  pid: 0,
};

const ADJUSTMENT: ContainerAdjustment = {
  annotations: { "xpu.dev/injected": "true" },
  mounts: [{
    destination: "/usr/lib/libxpu.so.1",
    type: "bind",
    source: "/usr/lib/libxpu.so.1",
    options: ["ro", "nosuid", "nodev", "bind"],
  }],
  env: [{ key: "XPU_NRI_SEEN", value: "1" }, { key: "-REMOVED", value: "" }],
  hooks: {
    ...ALL_HOOK_STAGES,
    createContainer: [{
      path: "/usr/bin/xpu-ctk",
      args: ["xpu-ctk", "hook", "update-ldcache"],
      env: ["PATH=/usr/bin"],
    }],
  },
  linux: {
    devices: [{
      path: "/dev/xpu0",
      type: "c",
      major: 240,
      minor: 0,
      fileMode: { value: 0o666 },
      uid: { value: 0 },
      gid: { value: 0 },
    }],
    resources: {
      devices: [{
        allow: true,
        type: "c",
        major: { value: 240 },
        minor: { value: 0 },
        access: "rw",
      }],
    },
    cgroupsPath: "",
  },
  cdiDevices: [{ name: "xpu.dev/xpu=0" }],
};

/** Each message's round trip: encode, decode, the same value (defaults filled in). */
Deno.test("nri messages: every message survives encode then decode", async (t) => {
  const cases: { name: string; input: unknown; roundTrip: (v: never) => unknown }[] = [
    {
      name: "KeyValue",
      input: { key: "A", value: "b=c" },
      roundTrip: (v) => decodeKeyValue(encodeKeyValue(v)),
    },
    {
      name: "Mount",
      input: CONTAINER.mounts[0],
      roundTrip: (v) => decodeMount(encodeMount(v)),
    },
    {
      name: "Hook with a timeout",
      input: CONTAINER.hooks!.createContainer![0],
      roundTrip: (v) => decodeHook(encodeHook(v)),
    },
    {
      name: "Hooks",
      input: ADJUSTMENT.hooks,
      roundTrip: (v) => decodeHooks(encodeHooks(v)),
    },
    {
      name: "LinuxDevice",
      input: ADJUSTMENT.linux!.devices![0],
      roundTrip: (v) => decodeLinuxDevice(encodeLinuxDevice(v)),
    },
    {
      name: "LinuxDeviceCgroup: a deny-all rule (no major, no minor)",
      input: CONTAINER.linux!.resources!.devices![0],
      roundTrip: (v) => decodeLinuxDeviceCgroup(encodeLinuxDeviceCgroup(v)),
    },
    {
      name: "Container",
      input: CONTAINER,
      roundTrip: (v) => decodeContainer(encodeContainer(v)),
    },
    {
      name: "PodSandbox",
      input: POD,
      roundTrip: (v) => decodePodSandbox(encodePodSandbox(v)),
    },
    {
      name: "ContainerAdjustment",
      input: ADJUSTMENT,
      roundTrip: (v) => decodeContainerAdjustment(encodeContainerAdjustment(v)),
    },
    {
      name: "RegisterPluginRequest",
      input: { pluginName: "xpu-container-toolkit", pluginIdx: "10" },
      roundTrip: (v) => decodeRegisterPluginRequest(encodeRegisterPluginRequest(v)),
    },
    {
      name: "ConfigureRequest",
      input: {
        config: "",
        runtimeName: "containerd",
        runtimeVersion: "v2.1.9",
        registrationTimeout: 5000,
        requestTimeout: 2000,
      },
      roundTrip: (v) => decodeConfigureRequest(encodeConfigureRequest(v)),
    },
    {
      name: "ConfigureResponse",
      input: { events: 8 },
      roundTrip: (v) => decodeConfigureResponse(encodeConfigureResponse(v)),
    },
    {
      name: "SynchronizeRequest",
      input: { pods: [POD], containers: [CONTAINER], more: true },
      roundTrip: (v) => decodeSynchronizeRequest(encodeSynchronizeRequest(v)),
    },
    {
      name: "SynchronizeResponse",
      input: { more: true },
      roundTrip: (v) => decodeSynchronizeResponse(encodeSynchronizeResponse(v)),
    },
    {
      name: "CreateContainerRequest",
      input: { pod: POD, container: CONTAINER },
      roundTrip: (v) => decodeCreateContainerRequest(encodeCreateContainerRequest(v)),
    },
    {
      name: "CreateContainerResponse",
      input: { adjust: ADJUSTMENT },
      roundTrip: (v) => decodeCreateContainerResponse(encodeCreateContainerResponse(v)),
    },
    {
      name: "StateChangeEvent",
      input: { event: NriEvent.START_CONTAINER, pod: POD, container: CONTAINER },
      roundTrip: (v) => decodeStateChangeEvent(encodeStateChangeEvent(v)),
    },
    { name: "Empty", input: {}, roundTrip: (v) => decodeEmpty(encodeEmpty(v)) },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(c.roundTrip(c.input as never), c.input);
    });
  }
});

Deno.test("nri messages: decoding bytes written by hand from api.proto", async (t) => {
  const text = (s: string) => [...new TextEncoder().encode(s)];
  const len = (field: number, body: number[]) => [field * 8 + 2, body.length, ...body];
  // A varint field: 7 bits a byte, low group first, the high bit set on all but the last.
  const varint = (field: number, value: number) => {
    const out = [field * 8];
    for (; value >= 0x80; value = Math.floor(value / 0x80)) out.push((value % 0x80) | 0x80);
    return [...out, value];
  };
  const cases: {
    name: string;
    input: number[];
    decode: (b: Uint8Array) => unknown;
    expected: unknown;
  }[] = [
    {
      name: "RegisterPluginRequest { plugin_name 1, plugin_idx 2 }",
      input: [...len(1, text("xpu")), ...len(2, text("10"))],
      decode: decodeRegisterPluginRequest,
      expected: { pluginName: "xpu", pluginIdx: "10" },
    },
    {
      name: "ConfigureRequest: timeouts are int64 fields 4 and 5",
      input: [
        ...len(2, text("containerd")),
        ...len(3, text("v2")),
        4 * 8,
        0x88,
        0x27, // 5000
        5 * 8,
        0xd0,
        0x0f, // 2000
      ],
      decode: decodeConfigureRequest,
      expected: {
        config: "",
        runtimeName: "containerd",
        runtimeVersion: "v2",
        registrationTimeout: 5000,
        requestTimeout: 2000,
      },
    },
    {
      name: "ConfigureResponse: events is field 2",
      input: varint(2, 8),
      decode: decodeConfigureResponse,
      expected: { events: 8 },
    },
    {
      name: "SynchronizeResponse: more is field 2",
      input: varint(2, 1),
      decode: decodeSynchronizeResponse,
      expected: { more: true },
    },
    {
      name: "KeyValue with an unknown field 3 of each wire type between",
      input: [
        ...len(1, text("K")),
        3 * 8,
        1, // 3: varint
        (3 * 8) | 5,
        0,
        0,
        0,
        0, // 3: fixed32
        (3 * 8) | 1,
        ...Array(8).fill(0), // 3: fixed64
        ...len(3, [1, 2]), // 3: bytes
        (3 * 8) | 3,
        (3 * 8) | 4, // 3: empty group
        ...len(2, text("V")),
      ],
      decode: decodeKeyValue,
      expected: { key: "K", value: "V" },
    },
    {
      name: "Container: env field 8, a labels map entry (field 5), linux.devices (11 → 2)",
      input: [
        ...len(1, text("c1")),
        ...len(5, [...len(1, text("a")), ...len(2, text("b"))]),
        ...len(8, text("A=1")),
        ...len(8, text("B=2")),
        ...len(11, len(2, [...len(1, text("/dev/x")), ...len(2, text("c")), ...varint(3, 240)])),
        // rlimits (13) are not read: skipped.
        ...len(13, [...len(1, text("RLIMIT_NOFILE")), ...varint(2, 9)]),
      ],
      decode: decodeContainer,
      expected: {
        id: "c1",
        podSandboxId: "",
        name: "",
        state: 0,
        labels: { a: "b" },
        annotations: {},
        args: [],
        env: ["A=1", "B=2"],
        mounts: [],
        linux: {
          namespaces: [],
          devices: [{ path: "/dev/x", type: "c", major: 240, minor: 0 }],
          cgroupsPath: "",
        },
        pid: 0,
      },
    },
    {
      name: "ContainerAdjustment: env (4) as KeyValues, CDI_devices (8)",
      input: [
        ...len(4, [...len(1, text("XPU_NRI_SEEN")), ...len(2, text("1"))]),
        ...len(8, len(1, text("xpu.dev/xpu=0"))),
      ],
      decode: decodeContainerAdjustment,
      expected: {
        annotations: {},
        mounts: [],
        env: [{ key: "XPU_NRI_SEEN", value: "1" }],
        cdiDevices: [{ name: "xpu.dev/xpu=0" }],
      },
    },
    {
      name: "a nested message sent twice is merged (later scalars win, lists add up)",
      input: [
        ...len(11, [...len(5, text("/a")), ...len(1, len(1, text("pid")))]),
        ...len(11, [...len(5, text("/b")), ...len(1, len(1, text("net")))]),
      ],
      decode: (b) => decodeContainer(b).linux,
      expected: {
        namespaces: [{ type: "pid", path: "" }, { type: "net", path: "" }],
        devices: [],
        cgroupsPath: "/b",
      },
    },
  ];
  await t.step("the hand encoder's varints (checked against the format's own example)", () => {
    deepStrictEqual(varint(1, 150), [0x08, 0x96, 0x01]);
    deepStrictEqual(varint(3, 240), [0x18, 0xf0, 0x01]);
  });
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(c.decode(new Uint8Array(c.input)), c.expected);
    });
  }
  await t.step('a map key "__proto__" stays data', () => {
    const input = new Uint8Array(len(6, [...len(1, text("__proto__")), ...len(2, text("x"))]));
    const container = decodeContainer(input);
    deepStrictEqual(Object.keys(container.annotations), ["__proto__"]);
    strictEqual(Object.getPrototypeOf(container.annotations), Object.prototype);
    strictEqual(Object.getOwnPropertyDescriptor(container.annotations, "__proto__")?.value, "x");
  });
});

Deno.test("nri messages: hostile input fails with a WireError", async (t) => {
  const cases: { name: string; input: number[]; expected: string }[] = [
    { name: "a container cut inside its id", input: [0x0a, 5, 0x61], expected: "truncated" },
    {
      name: "a nested mount cut short",
      input: [0x4a, 4, 0x0a, 9, 0x61, 0x62],
      expected: "truncated",
    },
    { name: "a string sent as a varint (id, field 1)", input: [0x08, 1], expected: "wire type 0" },
    {
      name: "an int64 major beyond 2^53 (2^63 - 1)",
      input: [0x5a, 12, 0x12, 10, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
      expected: "is too large",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertThrowsError(() => decodeContainer(new Uint8Array(c.input)), WireError, c.expected);
    });
  }
});

Deno.test("nri messages: event masks", async (t) => {
  const cases: { name: string; input: number[]; expected: number }[] = [
    { name: "CreateContainer alone is bit 3", input: [NriEvent.CREATE_CONTAINER], expected: 8 },
    { name: "RunPodSandbox is bit 0", input: [NriEvent.RUN_POD_SANDBOX], expected: 1 },
    {
      name: "every event below LAST",
      input: Array.from({ length: 11 }, (_, i) => i + 1),
      expected: (1 << 11) - 1,
    },
    { name: "none", input: [], expected: 0 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(eventMask(c.input), c.expected));
  }
  ok(true);
});

Deno.test("nri messages: a message field sent many times is merged in one pass", () => {
  // 20,000 copies of `container { env: "" }` (12 02 42 00): merged, every env entry kept. Merging
  // by copying the lists each time took seconds here and hours for a full 4 MiB message.
  const copies = 20_000;
  const payload = new Uint8Array(copies * 4);
  for (let i = 0; i < copies; i++) payload.set([0x12, 0x02, 0x42, 0x00], i * 4);
  strictEqual(decodeCreateContainerRequest(payload).container?.env.length, copies);
});

Deno.test("nri messages: Synchronize is read for its `more` only", () => {
  // 100,000 empty containers (12 00) and more = true (18 01): nothing of the containers is kept.
  const payload = new Uint8Array(200_002);
  for (let i = 0; i < 100_000; i++) payload.set([0x12, 0x00], i * 2);
  payload.set([0x18, 0x01], 200_000);
  deepStrictEqual(decodeSynchronizeMore(payload), { more: true });
  deepStrictEqual(decodeSynchronizeMore(new Uint8Array(0)), { more: false });
});
