/**
 * `decideAdjustment` against a host held in memory (a driver root with one XPU and its library
 * chain, a CSV mount spec, CDI spec dirs, the hook programs): what each mode answers, the shim's
 * refusals word for word, the unprivileged rule with NRI's privileged signal, the edits an
 * adjustment cannot express, hostile requests next to the honest one, and the equivalence with
 * the shim: for each request, the engine's spec adjusted as the runtime applies an adjustment
 * holds the env, mounts, device nodes, cgroup rules and hooks the shim writes into the same
 * engine spec.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { type Config, defaultConfig, type Mode } from "../../src/core/config/config.ts";
import { HOOK_PATH } from "../../src/core/config/hook_env.ts";
import type { Logger } from "../../src/core/io/log.ts";
import { HOOK_STAGES } from "../../src/core/oci/container_edits.ts";
import type { OciSpec } from "../../src/core/oci/oci_spec.ts";
import { editBundleForCreate, type SpecEditContext } from "../../src/runtime/create.ts";
import type { CreateFs } from "../../src/runtime/create_fs.ts";
import {
  adjustmentBetween,
  decideAdjustment,
  type NriContainerAdjustment,
  type NriDecision,
} from "../../src/nri/nri_adjust.ts";
import { MAX_ERROR_LENGTH, nriDecide } from "../../src/nri/nri_context.ts";
import type {
  NriContainer,
  NriCreateContainerRequest,
  NriLinuxDeviceCgroup,
} from "../../src/nri/nri_spec.ts";
import type { ContainerAdjustment, CreateContainerRequest } from "../../src/nri/nri_messages.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { memoryHostFs, type MemoryTree } from "../helpers/memory_fs.ts";
import { RequestError } from "../../src/core/errors.ts";

const PATH_ENV = `PATH=${HOOK_PATH}`;
const BIN = "/opt/xpu/bin";
const HOOK = `${BIN}/xpu-container-runtime-hook`;
const CTK = `${BIN}/xpu-ctk`;
const CONFIG_FILE = "/etc/xpu-lab/config.toml";
const READ_ONLY = ["ro", "nosuid", "nodev", "bind"];

/** A CDI spec of kind xpu.dev/xpu with one device, "0": the host's /dev/xpu0, and `edits`. */
function cdiSpec(edits: Record<string, unknown> = {}): string {
  return JSON.stringify({
    cdiVersion: "0.7.0",
    kind: "xpu.dev/xpu",
    devices: [{
      name: "0",
      containerEdits: {
        deviceNodes: [{ path: "/dev/xpu0", hostPath: "/drv/dev/xpu0", type: "c", major: 511 }],
        ...edits,
      },
    }],
  });
}

/**
 * The host: one XPU and its control node under the driver root /drv, the library chain
 * libxpu.so → libxpu.so.1, a CSV mount spec in /csv, the hook program and xpu-ctk in
 * /opt/xpu/bin, and CDI spec dirs: /cdi (env, a mount and a hook beside the node), /cdi-gids
 * (additionalGids), /cdi-rdt (intelRdt).
 */
const HOST: MemoryTree = {
  "/drv/dev/xpu0": { char: [511, 0], mode: 0o666 },
  "/drv/dev/xpuctl": { char: [511, 255], mode: 0o666 },
  "/drv/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/drv/usr/lib/libxpu.so.1": "ELF",
  "/csv/xpu.csv": "dev, /dev/xpu0\nsym, /usr/lib/libxpu.so\n",
  [HOOK]: { file: "#!/bin/sh\n", mode: 0o755 },
  [CTK]: { file: "#!/bin/sh\n", mode: 0o755 },
  "/cdi/xpu.json": cdiSpec({
    env: ["XPU_CDI=1"],
    mounts: [{
      hostPath: "/drv/usr/lib/libxpu.so.1",
      containerPath: "/usr/lib/libxpu.so.1",
      options: READ_ONLY,
    }],
    hooks: [{
      hookName: "createContainer",
      path: CTK,
      args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib"],
      env: [PATH_ENV],
    }],
  }),
  "/cdi-gids/xpu.json": cdiSpec({ additionalGids: [44] }),
  "/cdi-rdt/xpu.json": cdiSpec({ intelRdt: { closID: "gold" } }),
};

/** {@link HOST} as the create step sees it, plus a bundle's config.json held in memory. */
function memoryCreateFs(files: Record<string, Uint8Array> = {}): CreateFs {
  const host = memoryHostFs(HOST);
  const contents = new Map(Object.entries(files));
  const missing = (path: string) => new Deno.errors.NotFound(`no such file: "${path}"`);
  return {
    ...host,
    readRegularFile(path) {
      const data = contents.get(path);
      if (data === undefined) throw missing(path);
      return data.slice();
    },
    writeFileAtomic(path, data) {
      contents.set(path, data.slice());
    },
    prepareMountTargets: () => Promise.resolve([]),
    isExecutableFile(path) {
      const stat = host.stat(path);
      return stat?.kind === "file" && (stat.mode & 0o111) !== 0;
    },
    cdiSpecDirs: {
      listFiles: (dir) =>
        host.readDir(dir)?.filter((name) =>
          ["file", "symlink"].includes(host.lstat(join(dir, name))?.kind ?? "")
        ),
      readTextFile(path) {
        const text = host.readTextFile(path);
        if (text === undefined) throw missing(path);
        return text;
      },
    },
  };
}

function recordingLogger() {
  const lines: { level: string; message: string }[] = [];
  const logger: Logger = {
    debug: (message) => void lines.push({ level: "debug", message }),
    info: (message) => void lines.push({ level: "info", message }),
    warn: (message) => void lines.push({ level: "warn", message }),
    error: (message) => void lines.push({ level: "error", message }),
    enabled: () => true,
  };
  return { logger, lines };
}

/** What a case changes in the lab's config. */
interface ConfigInput {
  mode: Mode;
  strict?: boolean;
  volumeMounts?: boolean;
  specDirs?: string[];
  allowedKinds?: string[];
  hookPath?: string;
  mountSpecPath?: string;
}

function labConfig(input: ConfigInput): Config {
  const config = defaultConfig();
  config.cli.root = "/drv";
  config.runtime.mode = input.mode;
  config.runtime.modes.csv.mountSpecPath = input.mountSpecPath ?? "/csv";
  config.runtime.modes.cdi.specDirs = input.specDirs ?? ["/cdi"];
  config.runtime.modes.cdi.allowedKinds = input.allowedKinds ?? [];
  config.acceptEnvvarUnprivileged = !input.strict;
  config.acceptVolumeMounts = input.volumeMounts ?? false;
  config.hook.path = input.hookPath ?? HOOK;
  config.ctk.path = CTK;
  return config;
}

function context(input: ConfigInput, fs: CreateFs = memoryCreateFs()) {
  const { logger, lines } = recordingLogger();
  const ctx: SpecEditContext = {
    config: labConfig(input),
    env: { PATH: "/usr/bin:/bin" },
    logger,
    fs,
  };
  return { ctx, lines };
}

const ALLOW_ALL: NriLinuxDeviceCgroup = { allow: true, type: "", access: "rwm" };
const DENY_ALL: NriLinuxDeviceCgroup = { allow: false, type: "", access: "rwm" };

/**
 * A container as containerd describes it: the image's PATH and a hostile LD_PRELOAD in its env,
 * the default mounts, a device cgroup that starts with deny-all (or allows all when privileged).
 */
function container(
  options: {
    env?: string[];
    annotations?: Record<string, string>;
    privileged?: boolean;
    mounts?: { destination: string; source: string }[];
    hooks?: NriContainer["hooks"];
  } = {},
): NriContainer {
  return {
    id: "0123abcd",
    podSandboxId: "pod1",
    name: "app",
    args: ["/bin/sh"],
    env: ["PATH=/proc/self/cwd/bin", "LD_PRELOAD=/proc/self/cwd/evil.so", ...options.env ?? []],
    annotations: options.annotations ?? {},
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] },
      ...(options.mounts ?? []).map((m) => ({ ...m, type: "bind", options: ["rbind"] })),
    ],
    hooks: options.hooks,
    linux: {
      devices: [],
      resources: { devices: [options.privileged ? ALLOW_ALL : DENY_ALL] },
    },
  };
}

function request(c: NriContainer, podAnnotations: Record<string, string> = {}) {
  return {
    pod: { id: "pod1", name: "pod", namespace: "default", annotations: podAnnotations },
    container: c,
  };
}

function rule(major: number, minor: number) {
  return {
    allow: true,
    type: "c",
    major: { value: major },
    minor: { value: minor },
    access: "rwm",
  };
}

const XPU0_NODE = {
  path: "/dev/xpu0",
  type: "c",
  major: 511,
  minor: 0,
  fileMode: { value: 0o666 },
};

const LEGACY_ADJUSTMENT: NriContainerAdjustment = {
  hooks: {
    prestart: [{ path: HOOK, args: ["xpu-container-runtime-hook", "prestart"], env: [PATH_ENV] }],
  },
  linux: { resources: { devices: [rule(511, 0), rule(511, 255)] } },
};

const CSV_ADJUSTMENT: NriContainerAdjustment = {
  mounts: [{
    destination: "/usr/lib/libxpu.so.1",
    type: "bind",
    source: "/drv/usr/lib/libxpu.so.1",
    options: READ_ONLY,
  }],
  hooks: {
    createContainer: [
      {
        path: CTK,
        args: ["xpu-ctk", "hook", "create-symlinks", "--link", "libxpu.so.1::/usr/lib/libxpu.so"],
        env: [PATH_ENV],
      },
      {
        path: CTK,
        args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib"],
        env: [PATH_ENV],
      },
    ],
  },
  linux: { devices: [XPU0_NODE], resources: { devices: [rule(511, 0)] } },
};

const CDI_ADJUSTMENT: NriContainerAdjustment = {
  env: [{ key: "XPU_CDI", value: "1" }, { key: "XPU_VISIBLE_DEVICES", value: "void" }],
  mounts: [{
    destination: "/usr/lib/libxpu.so.1",
    type: "",
    source: "/drv/usr/lib/libxpu.so.1",
    options: READ_ONLY,
  }],
  hooks: {
    createContainer: [{
      path: CTK,
      args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib"],
      env: [PATH_ENV],
    }],
  },
  linux: { devices: [XPU0_NODE], resources: { devices: [rule(511, 0)] } },
};

/** The CDI adjustment when XPU_VISIBLE_DEVICES was set: the runtime replaces it by name. */
const CDI_BY_ENV: NriContainerAdjustment = {
  ...CDI_ADJUSTMENT,
  env: [{ key: "XPU_VISIBLE_DEVICES", value: "void" }, { key: "XPU_CDI", value: "1" }],
};

Deno.test("decideAdjustment: what each mode answers", async (t) => {
  const annotation = { "cdi.k8s.io/xpu": "xpu.dev/xpu=0" };
  const cases: {
    name: string;
    input: { config: ConfigInput; request: NriCreateContainerRequest };
    expected: NriContainerAdjustment;
  }[] = [
    ...(["legacy", "csv", "cdi", "auto"] as const).flatMap((mode) => [
      {
        name: `nothing asked: an empty adjustment: mode '${mode}'`,
        input: { config: { mode }, request: request(container()) },
        expected: {},
      },
      {
        name: `XPU_VISIBLE_DEVICES=void asks for nothing: mode '${mode}'`,
        input: {
          config: { mode },
          request: request(container({ env: ["XPU_VISIBLE_DEVICES=void"] })),
        },
        expected: {},
      },
      {
        name: `a CDI annotation on the pod only is no request: mode '${mode}'`,
        input: { config: { mode }, request: request(container(), annotation) },
        expected: {},
      },
    ]),
    {
      name: "legacy: XPU_VISIBLE_DEVICES=0 → the prestart hook (absolute path, explicit env) and " +
        "the cgroup rules of the device and the control node",
      input: {
        config: { mode: "legacy" },
        request: request(container({ env: ["XPU_VISIBLE_DEVICES=0"] })),
      },
      expected: LEGACY_ADJUSTMENT,
    },
    {
      name: "legacy: a legacy hook the engine already added is not doubled",
      input: {
        config: { mode: "legacy" },
        request: request(container({
          env: ["XPU_VISIBLE_DEVICES=0"],
          hooks: { prestart: [{ path: "/usr/bin/xpu-container-runtime-hook", args: [], env: [] }] },
        })),
      },
      expected: { linux: LEGACY_ADJUSTMENT.linux },
    },
    {
      name: "auto on a host that is no CSV platform: legacy",
      input: {
        config: { mode: "auto" },
        request: request(container({ env: ["XPU_VISIBLE_DEVICES=all"] })),
      },
      expected: LEGACY_ADJUSTMENT,
    },
    {
      name: "csv: XPU_VISIBLE_DEVICES=0 → the device node, its rule, the library and both hooks",
      input: {
        config: { mode: "csv" },
        request: request(container({ env: ["XPU_VISIBLE_DEVICES=0"] })),
      },
      expected: CSV_ADJUSTMENT,
    },
    {
      name: "cdi: XPU_VISIBLE_DEVICES=0 → the spec's edits, XPU_VISIBLE_DEVICES=void",
      input: {
        config: { mode: "cdi" },
        request: request(container({ env: ["XPU_VISIBLE_DEVICES=0"] })),
      },
      expected: CDI_BY_ENV,
    },
    {
      name: "cdi: a cdi.k8s.io/ annotation on the container → the spec's edits",
      input: { config: { mode: "cdi" }, request: request(container({ annotations: annotation })) },
      expected: CDI_ADJUSTMENT,
    },
    {
      name: "auto: only CDI names → mode 'cdi'",
      input: {
        config: { mode: "auto" },
        request: request(container({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] })),
      },
      expected: CDI_BY_ENV,
    },
    {
      name: "legacy: a CDI annotation beside the request is ignored, the request served",
      input: {
        config: { mode: "legacy" },
        request: request(container({ env: ["XPU_VISIBLE_DEVICES=0"], annotations: annotation })),
      },
      expected: LEGACY_ADJUSTMENT,
    },
    {
      name: "a volume-mount request, when accepted",
      input: {
        config: { mode: "legacy", volumeMounts: true },
        request: request(container({
          mounts: [{ destination: "/var/run/xpu-container-devices/0", source: "/dev/null" }],
        })),
      },
      expected: LEGACY_ADJUSTMENT,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { ctx } = context(c.input.config);
      deepStrictEqual(await decideAdjustment(c.input.request, ctx), { adjustment: c.expected });
    });
  }
});

Deno.test("decideAdjustment: the hooks get the plugin's config file, never the container's env", async () => {
  const { ctx } = context({ mode: "legacy" });
  ctx.configPath = CONFIG_FILE;
  const decision = await decideAdjustment(
    request(container({ env: ["XPU_VISIBLE_DEVICES=0"] })),
    ctx,
  );
  ok("adjustment" in decision, JSON.stringify(decision));
  deepStrictEqual(decision.adjustment.hooks?.prestart?.[0].env, [
    PATH_ENV,
    `XPU_CTK_CONFIG_FILE_PATH=${CONFIG_FILE}`,
  ]);
  ok(!JSON.stringify(decision).includes("/proc/self/cwd"), JSON.stringify(decision));
});

Deno.test("decideAdjustment refuses with the shim's message", async (t) => {
  const unresolvable = (name: string) =>
    `Cannot start the container: unresolvable CDI devices "${name}": xpu.dev/xpu has "0" ` +
    `(spec dirs searched: /cdi): request a listed device, or generate a spec with ` +
    `"xpu-ctk cdi generate"`;
  const cases: {
    name: string;
    input: { config: ConfigInput; container: NriContainer };
    expected: string;
  }[] = [
    {
      name: "an unknown device in mode 'legacy'",
      input: {
        config: { mode: "legacy" },
        container: container({ env: ["XPU_VISIBLE_DEVICES=0,7"] }),
      },
      expected: 'Cannot give the container XPU "7": no such device under "/drv" (devices: 0): ' +
        'request an existing index or UUID, or "all"',
    },
    {
      name: "an unknown device in mode 'cdi'",
      input: { config: { mode: "cdi" }, container: container({ env: ["XPU_VISIBLE_DEVICES=9"] }) },
      expected: unresolvable("xpu.dev/xpu=9"),
    },
    {
      name: "an unknown CDI name by annotation",
      input: {
        config: { mode: "cdi" },
        container: container({ annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=9" } }),
      },
      expected: unresolvable("xpu.dev/xpu=9"),
    },
    {
      name: "CDI names beside an index in mode 'auto'",
      input: {
        config: { mode: "auto" },
        container: container({ env: ["XPU_VISIBLE_DEVICES=0,xpu.dev/xpu=0"] }),
      },
      expected: `Cannot serve CDI devices "xpu.dev/xpu=0" in mode 'legacy': request devices ` +
        "by index or UUID, or request only CDI names",
    },
    {
      name: "a malformed CDI annotation in mode 'cdi'",
      input: {
        config: { mode: "cdi" },
        container: container({ annotations: { "cdi.k8s.io/x": "garbage" } }),
      },
      expected: `Cannot start the container: annotation "cdi.k8s.io/x" names "garbage", which is ` +
        "not a CDI device: write vendor/class=name, e.g. xpu.dev/xpu=0",
    },
    {
      name: "a kind outside allowed-kinds",
      input: {
        config: { mode: "cdi", allowedKinds: ["other.com/gpu"] },
        container: container({ env: ["XPU_VISIBLE_DEVICES=0"] }),
      },
      expected: 'Cannot start the container: CDI kind "xpu.dev/xpu" ("xpu.dev/xpu=0") not in ' +
        '[xpu-container-runtime.modes.cdi] allowed-kinds ("other.com/gpu"): request a device of ' +
        "an allowed kind, or add the kind to [xpu-container-runtime.modes.cdi] allowed-kinds",
    },
    {
      name: "a hook program the config does not name absolutely",
      input: {
        config: { mode: "legacy", hookPath: "bin/xpu-container-runtime-hook" },
        container: container({ env: ["XPU_VISIBLE_DEVICES=0"] }),
      },
      expected: "Cannot add the container's hook: [xpu-container-runtime-hook] path is " +
        '"bin/xpu-container-runtime-hook", a relative path, which runc would resolve in the ' +
        "container's directory: set [xpu-container-runtime-hook] path in " +
        '"/etc/xpu-container-runtime/config.toml" to the absolute path of the installed program',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { ctx } = context(c.input.config);
      deepStrictEqual(await decideAdjustment(request(c.input.container), ctx), {
        error: c.expected,
      });
    });
  }
});

Deno.test("decideAdjustment: the same message as the shim, for every refusal", async (t) => {
  const requests: { name: string; config: ConfigInput; env: string[] }[] = [
    { name: "legacy, unknown index", config: { mode: "legacy" }, env: ["XPU_VISIBLE_DEVICES=3"] },
    {
      name: "legacy, unknown UUID",
      config: { mode: "legacy" },
      env: ["XPU_VISIBLE_DEVICES=XPU-z"],
    },
    {
      name: "cdi, unknown name",
      config: { mode: "cdi" },
      env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=5"],
    },
    { name: "cdi, unknown kind", config: { mode: "cdi" }, env: ["XPU_VISIBLE_DEVICES=no.dev/x=0"] },
    {
      name: "csv, no mount specs",
      config: { mode: "csv", mountSpecPath: "/none" },
      env: ["XPU_VISIBLE_DEVICES=0"],
    },
  ];
  for (const r of requests) {
    await t.step(r.name, async () => {
      const engine = engineSpec({ env: r.env });
      const fs = memoryCreateFs({ [SPEC_PATH]: new TextEncoder().encode(JSON.stringify(engine)) });
      const { ctx } = context(r.config, fs);
      let shim = "";
      try {
        await editBundleForCreate({ ...ctx, bundle: BUNDLE, cwd: "/" });
      } catch (error) {
        shim = (error as Error).message;
      }
      ok(shim !== "", "the shim refuses it");
      deepStrictEqual(await decideAdjustment(request(nriFromOci(engine)), ctx), { error: shim });
    });
  }
});

Deno.test("decideAdjustment: the unprivileged rule, with NRI's privileged signal", async (t) => {
  const annotation = { "cdi.k8s.io/xpu": "xpu.dev/xpu=0" };
  const cases: {
    name: string;
    input: { strict: boolean; container: NriContainer };
    expected: NriContainerAdjustment;
    note?: string;
  }[] = [
    {
      name: "default rule: an unprivileged container's XPU_VISIBLE_DEVICES is served",
      input: { strict: false, container: container({ env: ["XPU_VISIBLE_DEVICES=0"] }) },
      expected: CDI_BY_ENV,
    },
    {
      name: "strict rule: an unprivileged container's XPU_VISIBLE_DEVICES is ignored, with a note",
      input: { strict: true, container: container({ env: ["XPU_VISIBLE_DEVICES=0"] }) },
      expected: {},
      note: "Ignoring devices requested by XPU_VISIBLE_DEVICES in an unprivileged container: " +
        "accept-xpu-visible-devices-envvar-when-unprivileged is false",
    },
    {
      name: "strict rule: a privileged container (allow-all device cgroup) is served",
      input: {
        strict: true,
        container: container({ env: ["XPU_VISIBLE_DEVICES=0"], privileged: true }),
      },
      expected: CDI_BY_ENV,
    },
    {
      name: "strict rule: an unprivileged container's CDI annotation is ignored, with a note",
      input: { strict: true, container: container({ annotations: annotation }) },
      expected: {},
      note: 'Ignoring CDI devices requested by annotation "cdi.k8s.io/xpu" in an unprivileged ' +
        "container: accept-xpu-visible-devices-envvar-when-unprivileged is false",
    },
    {
      name: "strict rule: a privileged container's CDI annotation is served",
      input: { strict: true, container: container({ annotations: annotation, privileged: true }) },
      expected: CDI_ADJUSTMENT,
    },
    {
      name: "hostile: strict rule, allow-all followed by a deny is not privileged",
      input: {
        strict: true,
        container: {
          ...container({ env: ["XPU_VISIBLE_DEVICES=0"] }),
          linux: { resources: { devices: [ALLOW_ALL, { ...DENY_ALL, type: "c" }] } },
        },
      },
      expected: {},
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { ctx, lines } = context({ mode: "cdi", strict: c.input.strict });
      deepStrictEqual(await decideAdjustment(request(c.input.container), ctx), {
        adjustment: c.expected,
      });
      if (c.note !== undefined) {
        ok(lines.some((l) => l.level === "info" && l.message === c.note), JSON.stringify(lines));
      }
    });
  }
});

Deno.test("decideAdjustment refuses an edit an adjustment cannot express, naming it", async (t) => {
  const fix = "run this container with the runtime shim (xpu-container-runtime) instead";
  const cases: {
    name: string;
    input: { config: ConfigInput; container: NriContainer };
    expected: string;
  }[] = [
    {
      name: "mode 'cdi' removes the legacy prestart hook the engine added",
      input: {
        config: { mode: "cdi" },
        container: container({
          env: ["XPU_VISIBLE_DEVICES=0"],
          hooks: {
            prestart: [{ path: "/usr/bin/xpu-container-runtime-hook", args: ["x", "prestart"] }],
          },
        }),
      },
      expected: "Cannot serve the container through NRI: mode 'cdi' removes the prestart hook " +
        '"/usr/bin/xpu-container-runtime-hook", which an NRI container adjustment cannot ' +
        "express: remove that hook from the engine's configuration (for CRI-O the hooks.d file " +
        `"/usr/share/containers/oci/hooks.d/oci-xpu-hook.json"), or ${fix}`,
    },
    {
      name: "mode 'csv' removes it too",
      input: {
        config: { mode: "csv" },
        container: container({
          env: ["XPU_VISIBLE_DEVICES=0"],
          hooks: { prestart: [{ path: "/usr/bin/xpu-container-toolkit" }] },
        }),
      },
      expected: "mode 'csv' removes the prestart hook \"/usr/bin/xpu-container-toolkit\"",
    },
    {
      name: "a CDI spec's additionalGids",
      input: {
        config: { mode: "cdi", specDirs: ["/cdi-gids"] },
        container: container({ env: ["XPU_VISIBLE_DEVICES=0"] }),
      },
      expected: "Cannot serve the container through NRI: mode 'cdi' sets " +
        '"process.user.additionalGids", which an NRI container adjustment cannot express: ' +
        `remove what needs it from the CDI spec, or ${fix}`,
    },
    {
      name: "a CDI spec's intelRdt",
      input: {
        config: { mode: "cdi", specDirs: ["/cdi-rdt"] },
        container: container({ env: ["XPU_VISIBLE_DEVICES=0"] }),
      },
      expected: "mode 'cdi' sets \"linux.intelRdt\"",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { ctx } = context(c.input.config);
      const decision = await decideAdjustment(request(c.input.container), ctx);
      ok("error" in decision && decision.error.includes(c.expected), JSON.stringify(decision));
    });
  }
  await t.step("the honest container without the engine's hook is served", async () => {
    const { ctx } = context({ mode: "cdi" });
    const decision = await decideAdjustment(
      request(container({ env: ["XPU_VISIBLE_DEVICES=0"] })),
      ctx,
    );
    deepStrictEqual(decision, { adjustment: CDI_BY_ENV });
  });
});

Deno.test("adjustmentBetween: what an edit may change, and what it may not", async (t) => {
  const base = (): OciSpec => ({
    process: { env: ["A=1", "B=2"] },
    mounts: [{ destination: "/a", source: "/x" }],
    linux: { devices: [{ path: "/dev/a", type: "c", major: 1, minor: 1 }] },
  });
  const cases: {
    name: string;
    input: (spec: OciSpec) => void;
    expected: NriContainerAdjustment | string;
  }[] = [
    { name: "nothing changed", input: () => {}, expected: {} },
    {
      name: "an env entry replaced by name",
      input: (s) => ((s.process as { env: string[] }).env[1] = "B=3"),
      expected: { env: [{ key: "B", value: "3" }] },
    },
    {
      name: "a mount replaced at its destination",
      input: (s) => (s.mounts = [{ destination: "/a", source: "/y" }]),
      expected: { mounts: [{ destination: "/a", type: "", source: "/y", options: [] }] },
    },
    {
      name: "a device replaced at its path",
      input: (s) => ((s.linux as { devices: unknown[] }).devices[0] = {
        path: "/dev/a",
        type: "c",
        major: 1,
        minor: 2,
        uid: 1000,
      }),
      expected: {
        linux: {
          devices: [{ path: "/dev/a", type: "c", major: 1, minor: 2, uid: { value: 1000 } }],
        },
      },
    },
    {
      name: "an env entry removed",
      input: (s) => ((s.process as { env: string[] }).env = ["A=1"]),
      expected: 'removes "process.env" entries',
    },
    {
      name: "an env entry renamed in place",
      input: (s) => ((s.process as { env: string[] }).env[0] = "C=1"),
      expected: 'writes the "process.env" entry "C=1"',
    },
    {
      name: "a mount removed",
      input: (s) => (s.mounts = []),
      expected: 'removes the mount at "/a"',
    },
    {
      name: "a device removed",
      input: (s) => ((s.linux as { devices: unknown[] }).devices = []),
      expected: 'removes the device "/dev/a"',
    },
    {
      name: "an existing cgroup rule changed",
      input: (s) => {
        const linux = s.linux as Record<string, unknown>;
        linux.resources = { devices: [{ allow: true, access: "rwm" }] };
      },
      expected: "", // set below: the before spec gets a rule first
    },
    {
      name: "an annotation set",
      input: (s) => (s.annotations = { a: "b" }),
      expected: 'sets "annotations.a"',
    },
    {
      name: "an empty object created on the way is no change",
      input: (s) => (s.hooks = { prestart: [] }),
      expected: {},
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const before = base();
      if (c.expected === "") {
        (before.linux as Record<string, unknown>).resources = {
          devices: [{ allow: false, access: "rwm" }],
        };
      }
      const after = structuredClone(before);
      c.input(after);
      if (typeof c.expected !== "string") {
        deepStrictEqual(adjustmentBetween(before, after, { mode: "cdi" }), c.expected);
        return;
      }
      assertThrowsError(
        () => adjustmentBetween(before, after, { mode: "cdi" }),
        RequestError,
        c.expected === "" ? 'changes the existing "linux.resources.devices" rules' : c.expected,
      );
    });
  }
});

Deno.test("decideAdjustment: hostile requests get one clean line, the honest one still works", async (t) => {
  const many = Array.from({ length: 40_000 }, (_, i) => `${i}`).join(",");
  const cases: {
    name: string;
    input: NriCreateContainerRequest;
    expected: { error: string } | { adjustment: NriContainerAdjustment };
  }[] = [
    {
      name: "honest: the request the hostile ones imitate",
      input: request(container({ env: ["XPU_VISIBLE_DEVICES=0"] })),
      expected: { adjustment: CDI_BY_ENV },
    },
    {
      name: "hostile: an oversized XPU_VISIBLE_DEVICES",
      input: request(container({ env: [`XPU_VISIBLE_DEVICES=${many}`] })),
      expected: {
        error: `Cannot start the container: its device request is ${many.length} characters ` +
          '(XPU_VISIBLE_DEVICES), more than 65536: request fewer devices, or "all"',
      },
    },
    {
      name: "hostile: an oversized CDI annotation",
      input: request(container({ annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=0,".repeat(6000) } })),
      expected: {
        error: "Cannot start the container: its device request is 84012 characters " +
          '(annotations under "cdi.k8s.io/"), more than 65536: request fewer devices, or "all"',
      },
    },
    {
      name: "hostile: a line break and an escape sequence in a device id stay inside quotes",
      input: request(
        container({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0\nlevel=error\u001b[2J"] }),
      ),
      expected: {
        // Not a qualified name (the line break), so it is qualified with the default kind.
        error: "Cannot start the container: unresolvable CDI devices " +
          '"xpu.dev/xpu=xpu.dev/xpu=0\\nlevel=error' +
          '\\u001b[2J": xpu.dev/xpu has "0" (spec dirs searched: /cdi): request a listed device, ' +
          'or generate a spec with "xpu-ctk cdi generate"',
      },
    },
    {
      name: "hostile: an annotation named __proto__ beside the request",
      input: request({
        ...container({ env: ["XPU_VISIBLE_DEVICES=0"] }),
        annotations: JSON.parse('{"__proto__": {"polluted": true}}'),
      }),
      expected: {
        error:
          'Cannot read the NRI CreateContainer request: "container.annotations[\\"__proto__\\"]" ' +
          "is not a string: the runtime sent a message this plugin does not understand; update " +
          "containerd or CRI-O and the toolkit",
      },
    },
    {
      name: "hostile: no container at all",
      input: { pod: { id: "p" } },
      expected: {
        error: 'Cannot read the NRI CreateContainer request: "container" is missing: the runtime ' +
          "sent a message this plugin does not understand; update containerd or CRI-O and the " +
          "toolkit",
      },
    },
    {
      name: "hostile: an env entry that is not a string",
      input: request({ ...container(), env: [42 as unknown as string] }),
      expected: {
        error: 'Cannot read the NRI CreateContainer request: "container.env[0]" is not a string: ' +
          "the runtime sent a message this plugin does not understand; update containerd or " +
          "CRI-O and the toolkit",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { ctx } = context({ mode: "cdi" });
      const decision = await decideAdjustment(c.input, ctx);
      deepStrictEqual(decision, c.expected);
      if ("error" in decision) {
        ok(!["\n", "\r", "\u001b"].some((c) => decision.error.includes(c)), "one clean line");
      }
      strictEqual(({} as Record<string, unknown>).polluted, undefined);
    });
  }
});

Deno.test("nriDecide: the config read per request, its errors and long messages", async (t) => {
  const cases: {
    name: string;
    input: { config?: string; env: string[] };
    expected: (decision: NriDecision) => void;
  }[] = [
    {
      name: "the config file the plugin's env names: read, and handed to the hooks",
      input: {
        config: '[xpu-container-runtime]\nmode = "legacy"\n',
        env: ["XPU_VISIBLE_DEVICES=0"],
      },
      expected: (d) =>
        deepStrictEqual(d, {
          adjustment: {
            ...LEGACY_ADJUSTMENT,
            hooks: {
              prestart: [{
                ...LEGACY_ADJUSTMENT.hooks!.prestart![0],
                env: [PATH_ENV, `XPU_CTK_CONFIG_FILE_PATH=${CONFIG_FILE}`],
              }],
            },
          },
        }),
    },
    {
      name: "an invalid config fails the container with the config's message",
      input: { config: '[xpu-container-runtime]\nmode = "fast"\n', env: ["XPU_VISIBLE_DEVICES=0"] },
      expected: (d) =>
        ok("error" in d && d.error.includes(`"${CONFIG_FILE}", line 2`), JSON.stringify(d)),
    },
    {
      name: "a missing config file it names fails the container with the shim's message",
      input: { env: ["XPU_VISIBLE_DEVICES=0"] },
      expected: (d) =>
        ok(
          "error" in d && d.error.startsWith(
            `Cannot load the config file "${CONFIG_FILE}" that ` +
              "XPU_CTK_CONFIG_FILE_PATH names: no such file",
          ),
          JSON.stringify(d),
        ),
    },
    {
      name: `a message longer than ${MAX_ERROR_LENGTH} characters is cut`,
      input: {
        config: '[xpu-container-runtime]\nmode = "legacy"\n',
        env: [`XPU_VISIBLE_DEVICES=${Array.from({ length: 3000 }, (_, i) => `9${i}`).join(",")}`],
      },
      expected: (d) => {
        ok("error" in d, JSON.stringify(d));
        strictEqual(d.error.length < MAX_ERROR_LENGTH + 40, true, `${d.error.length}`);
        ok(/^Cannot give the container XPU "90", "91", /.test(d.error), d.error.slice(0, 80));
        ok(/… \(\d+ characters\)$/.test(d.error), d.error.slice(-40));
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { logger } = recordingLogger();
      const fs = memoryCreateFs();
      const decide = nriDecide({
        env: { PATH: "/usr/bin:/bin", XPU_CTK_CONFIG_FILE_PATH: CONFIG_FILE },
        cwd: "/",
        logger,
        fs,
        readTextFile: (path) => {
          if (path !== CONFIG_FILE || c.input.config === undefined) {
            throw new Deno.errors.NotFound(`no such file: "${path}"`);
          }
          // The case's own keys, then the lab's host paths.
          return `${c.input.config}[xpu-container-cli]\nroot = "/drv"\n` +
            `[xpu-container-runtime-hook]\npath = "${HOOK}"\n`;
        },
      });
      c.expected(await decide(request(container({ env: c.input.env }))));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Equivalence with the shim.

const BUNDLE = "/run/xpu-lab/bundle";
const SPEC_PATH = `${BUNDLE}/config.json`;

/** The OCI spec containerd writes for a container (privileged: all caps, every device). */
function engineSpec(
  options: { env?: string[]; annotations?: Record<string, string>; privileged?: boolean } = {},
): OciSpec {
  return {
    ociVersion: "1.1.0",
    process: {
      args: ["/bin/sh"],
      env: ["PATH=/usr/bin:/bin", ...options.env ?? []],
      capabilities: {
        bounding: options.privileged ? ["CAP_CHOWN", "CAP_SYS_ADMIN"] : ["CAP_CHOWN"],
      },
    },
    root: { path: "rootfs" },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid"] },
      { destination: "/etc/hosts", type: "bind", source: "/var/lib/hosts", options: ["rbind"] },
    ],
    annotations: { "io.kubernetes.cri.container-type": "container", ...options.annotations },
    linux: {
      devices: [],
      resources: {
        devices: options.privileged
          ? [{ allow: true, access: "rwm" }]
          : [{ allow: false, access: "rwm" }, {
            allow: true,
            type: "c",
            major: 1,
            minor: 3,
            access: "rwm",
          }],
      },
    },
  };
}

type Json = Record<string, unknown>;
const arr = (v: unknown) => (Array.isArray(v) ? v : []) as Json[];
const wrap = (v: unknown) => (typeof v === "number" ? { value: v } : undefined);

/** What containerd's NRI adaptation sends for an OCI spec (written here from the proto). */
function nriFromOci(spec: OciSpec): NriContainer {
  const process = spec.process as Json;
  const linux = spec.linux as Json;
  const resources = linux.resources as Json;
  const hooks = (spec.hooks ?? {}) as Json;
  return {
    id: "0123abcd",
    name: "app",
    args: process.args as string[],
    env: process.env as string[],
    annotations: spec.annotations as Record<string, string>,
    mounts: arr(spec.mounts).map((m) => ({
      destination: m.destination as string,
      type: (m.type ?? "") as string,
      source: (m.source ?? "") as string,
      options: (m.options ?? []) as string[],
    })),
    hooks: Object.fromEntries(HOOK_STAGES.map((stage) => [
      stage,
      arr(hooks[stage]).map((h) => ({
        path: h.path as string,
        args: (h.args ?? []) as string[],
        env: (h.env ?? []) as string[],
        timeout: wrap(h.timeout),
      })),
    ])),
    linux: {
      devices: arr(linux.devices).map((d) => ({
        path: d.path as string,
        type: d.type as string,
        major: d.major as number,
        minor: d.minor as number,
        fileMode: wrap(d.fileMode),
        uid: wrap(d.uid),
        gid: wrap(d.gid),
      })),
      resources: {
        devices: arr(resources.devices).map((r) => ({
          allow: r.allow as boolean,
          type: (r.type ?? "") as string,
          major: wrap(r.major),
          minor: wrap(r.minor),
          access: (r.access ?? "") as string,
        })),
      },
    },
  };
}

/**
 * Applies an adjustment to an OCI spec as NRI's generator does (nri/pkg/runtime-tools/generate):
 * env replaced by key in place or appended; hooks appended; devices replaced by path; cgroup
 * rules appended as the proto's `linux.resources.devices` says; mounts replaced by destination,
 * then every mount ordered by depth and destination.
 */
function applyAsRuntime(spec: OciSpec, adjustment: NriContainerAdjustment): OciSpec {
  const out = structuredClone(spec) as Json;
  const process = out.process as { env: string[] };
  for (const { key, value } of adjustment.env ?? []) {
    const at = process.env.findIndex((e) => e.split("=", 1)[0] === key);
    if (at >= 0) process.env[at] = `${key}=${value}`;
    else process.env.push(`${key}=${value}`);
  }
  const hooks = (out.hooks ??= {}) as Record<string, unknown[]>;
  for (const stage of HOOK_STAGES) {
    for (const h of adjustment.hooks?.[stage] ?? []) {
      const hook: Json = { path: h.path, args: h.args, env: h.env };
      if (h.timeout) hook.timeout = h.timeout.value;
      (hooks[stage] ??= []).push(hook);
    }
  }
  const linux = out.linux as { devices: Json[]; resources: { devices: Json[] } };
  for (const d of adjustment.linux?.devices ?? []) {
    linux.devices = linux.devices.filter((x) => x.path !== d.path);
    const device: Json = { path: d.path, type: d.type, major: d.major, minor: d.minor };
    if (d.fileMode) device.fileMode = d.fileMode.value;
    if (d.uid) device.uid = d.uid.value;
    if (d.gid) device.gid = d.gid.value;
    linux.devices.push(device);
  }
  for (const r of adjustment.linux?.resources?.devices ?? []) {
    const rule: Json = { allow: r.allow, type: r.type, access: r.access };
    if (r.major) rule.major = r.major.value;
    if (r.minor) rule.minor = r.minor.value;
    linux.resources.devices.push(rule);
  }
  if ((adjustment.mounts ?? []).length > 0) {
    let mounts = arr(out.mounts);
    for (const m of adjustment.mounts!) {
      mounts = mounts.filter((x) => x.destination !== m.destination);
      const mount: Json = { destination: m.destination };
      if (m.type !== "") mount.type = m.type;
      mount.source = m.source;
      if (m.options.length > 0) mount.options = m.options;
      mounts.push(mount);
    }
    const parts = (m: Json) => (m.destination as string).split("/").filter((p) => p).length;
    out.mounts = mounts.sort((a, b) =>
      parts(a) - parts(b) || (a.destination as string).localeCompare(b.destination as string)
    );
  }
  return out;
}

/** The parts both paths must agree on; mounts as a set (the runtime orders them itself). */
function served(spec: OciSpec) {
  const s = spec as Json;
  const byKey = (key: string) => (a: Json, b: Json) => String(a[key]).localeCompare(String(b[key]));
  const linux = s.linux as Json;
  return {
    env: (s.process as Json).env,
    mounts: arr(s.mounts).sort(byKey("destination")),
    devices: arr(linux.devices).sort(byKey("path")),
    rules: (linux.resources as Json).devices,
    hooks: Object.fromEntries(
      HOOK_STAGES.map((stage) => [stage, arr((s.hooks as Json | undefined)?.[stage])]),
    ),
  };
}

/** Whether every mount comes after the mounts whose destination contains it. */
function parentsFirst(spec: OciSpec): boolean {
  const dests = arr(spec.mounts).map((m) => m.destination as string);
  return dests.every((d, i) => !dests.slice(i + 1).some((later) => d.startsWith(`${later}/`)));
}

Deno.test("decideAdjustment is the shim's edit: the adjusted spec equals the shim's", async (t) => {
  const annotation = { "cdi.k8s.io/xpu": "xpu.dev/xpu=0" };
  const cases: {
    name: string;
    input: { config: ConfigInput; spec: OciSpec };
    /** Whether the shim changes the spec at all. */
    expected: boolean;
  }[] = [
    {
      name: "nothing asked",
      input: { config: { mode: "auto" }, spec: engineSpec() },
      expected: false,
    },
    {
      name: "legacy, XPU_VISIBLE_DEVICES=0",
      input: { config: { mode: "legacy" }, spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }) },
      expected: true,
    },
    {
      name: "legacy, XPU_VISIBLE_DEVICES=all",
      input: { config: { mode: "legacy" }, spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=all"] }) },
      expected: true,
    },
    {
      name: "legacy, XPU_VISIBLE_DEVICES=none: the hook, no rules",
      input: {
        config: { mode: "legacy" },
        spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=none"] }),
      },
      expected: true,
    },
    {
      name: "csv, XPU_VISIBLE_DEVICES=0",
      input: { config: { mode: "csv" }, spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }) },
      expected: true,
    },
    {
      name: "cdi, XPU_VISIBLE_DEVICES=0",
      input: { config: { mode: "cdi" }, spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }) },
      expected: true,
    },
    {
      name: "cdi, by annotation",
      input: { config: { mode: "cdi" }, spec: engineSpec({ annotations: annotation }) },
      expected: true,
    },
    {
      name: "auto, CDI names",
      input: {
        config: { mode: "auto" },
        spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] }),
      },
      expected: true,
    },
    {
      name: "strict rule, unprivileged: nothing",
      input: {
        config: { mode: "cdi", strict: true },
        spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }),
      },
      expected: false,
    },
    {
      name: "strict rule, privileged: served",
      input: {
        config: { mode: "cdi", strict: true },
        spec: engineSpec({ env: ["XPU_VISIBLE_DEVICES=0"], privileged: true }),
      },
      expected: true,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const fs = memoryCreateFs({
        [SPEC_PATH]: new TextEncoder().encode(JSON.stringify(c.input.spec, null, 2)),
      });
      const { ctx } = context(c.input.config, fs);
      const outcome = await editBundleForCreate({ ...ctx, bundle: BUNDLE, cwd: "/" });
      strictEqual(outcome.written, c.expected);
      const shim = JSON.parse(new TextDecoder().decode(fs.readRegularFile(SPEC_PATH)));

      const decision = await decideAdjustment(request(nriFromOci(c.input.spec)), ctx);
      ok("adjustment" in decision, JSON.stringify(decision));
      strictEqual(Object.keys(decision.adjustment).length > 0, c.expected);
      const adjusted = applyAsRuntime(c.input.spec, decision.adjustment);
      deepStrictEqual(served(adjusted), served(shim));
      ok(parentsFirst(adjusted) && parentsFirst(shim), JSON.stringify(adjusted.mounts));
    });
  }
});

Deno.test("the adjustment and request types match the transport's messages", () => {
  // Compile-time: a decoded request is a request here, an adjustment here is the proto's.
  const decoded: CreateContainerRequest = {};
  const mine: NriCreateContainerRequest = decoded;
  const answer: ContainerAdjustment = LEGACY_ADJUSTMENT satisfies NriContainerAdjustment;
  ok(mine !== undefined && answer !== undefined);
});
