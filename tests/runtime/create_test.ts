/**
 * `editBundleForCreate` against a host held in memory, reached only through the `CreateFs` seam:
 * what is written (once, and only for a request it serves), the hooks the shim writes (absolute
 * path, explicit env with the config the shim loaded, a relative or missing program refused with
 * nothing written), and the unprivileged rule and `allowed-kinds` for every request source. Each
 * hostile input next to the honest request that must still be served.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type Config, defaultConfig, type Mode } from "../../src/core/config/config.ts";
import { ConfigError, RequestError, SpecError } from "../../src/core/errors.ts";
import { HOOK_PATH } from "../../src/core/config/hook_env.ts";
import type { Logger } from "../../src/core/io/log.ts";
import type { ResolvedMode } from "../../src/core/request/mode.ts";
import {
  type CreateContext,
  type CreateOutcome,
  editBundleForCreate,
} from "../../src/runtime/create.ts";
import type { CreateFs } from "../../src/runtime/create_fs.ts";
import type { MountTargetPlan } from "../../src/runtime/mount_targets.ts";
import { assertRejectsError, type ErrorClass } from "../helpers/assert_error.ts";
import { memoryHostFs, type MemoryTree } from "../helpers/memory_fs.ts";

const PATH_ENV = `PATH=${HOOK_PATH}`;
const CONFIG_FILE = "/etc/xpu-lab/config.toml";
const BIN = "/opt/xpu/bin";
const BUNDLE = "/run/xpu-lab/bundle";
const SPEC_PATH = `${BUNDLE}/config.json`;

/** A CDI spec of `kind` with one device, "0", the host's /dev/xpu0. */
function cdiSpec(kind: string): string {
  const node = { path: "/dev/xpu0", type: "c", major: 511, minor: 0 };
  return JSON.stringify({
    cdiVersion: "0.5.0",
    kind,
    devices: [{ name: "0", containerEdits: { deviceNodes: [node] } }],
  });
}

/**
 * The host: one XPU and the driver's library chain under /drv, a CSV mount spec in /csv, the hook
 * program and xpu-ctk (executable) in /opt/xpu/bin, and two CDI specs in /cdi.
 */
const HOST: MemoryTree = {
  "/drv/dev/xpu0": { char: [511, 0], mode: 0o666 },
  "/drv/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/drv/usr/lib/libxpu.so.1": "ELF",
  "/csv/xpu.csv": "dev, /dev/xpu0\nsym, /usr/lib/libxpu.so\n",
  [`${BIN}/xpu-container-runtime-hook`]: { file: "#!/bin/sh\n", mode: 0o755 },
  [`${BIN}/xpu-ctk`]: { file: "#!/bin/sh\n", mode: 0o755 },
  "/cdi/xpu.json": cdiSpec("xpu.dev/xpu"),
  "/cdi/other.json": cdiSpec("other.com/gpu"),
};

/**
 * {@link HOST} in memory as the create step sees it, with `files` (the bundle's config.json) held
 * as bytes: reads come from them, and every write is recorded (and read back by a later call).
 */
function memoryCreateFs(files: Record<string, Uint8Array>) {
  const host = memoryHostFs(HOST);
  const contents = new Map(Object.entries(files));
  const writes: { path: string; data: Uint8Array }[] = [];
  const prepared: { rootfs: string; plan: MountTargetPlan }[] = [];
  const missing = (path: string) => new Deno.errors.NotFound(`no such file: "${path}"`);
  const fs: CreateFs = {
    ...host,
    readRegularFile(path) {
      const data = contents.get(path);
      if (data === undefined) throw missing(path);
      return data.slice();
    },
    writeFileAtomic(path, data) {
      writes.push({ path, data: data.slice() });
      contents.set(path, data.slice());
    },
    isExecutableFile(path) {
      const stat = host.stat(path);
      return stat?.kind === "file" && (stat.mode & 0o111) !== 0;
    },
    prepareMountTargets(rootfs, plan) {
      prepared.push({ rootfs, plan });
      return Promise.resolve([]);
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
  return { fs, writes, prepared };
}

const ALL_CAPS = ["CAP_CHOWN", "CAP_SYS_ADMIN"];

/** A bundle's config.json as an engine writes it. */
function ociSpec(
  options: { env?: string[]; annotations?: Record<string, string>; privileged?: boolean } = {},
) {
  const spec: Record<string, unknown> = {
    ociVersion: "1.0.2",
    process: {
      env: ["PATH=/proc/self/cwd/bin", "LD_PRELOAD=/proc/self/cwd/evil.so", ...options.env ?? []],
      capabilities: { bounding: options.privileged ? ALL_CAPS : ["CAP_CHOWN"] },
    },
    root: { path: "rootfs" },
    mounts: [],
  };
  if (options.annotations) spec.annotations = options.annotations;
  return spec;
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

/** A bundle at {@link BUNDLE} whose config.json is `spec` (JSON, or the bytes given). */
function makeBundle(spec: unknown) {
  const before = spec instanceof Uint8Array
    ? spec
    : new TextEncoder().encode(JSON.stringify(spec, null, 2));
  const { fs, writes } = memoryCreateFs({ [SPEC_PATH]: before });
  /** The spec as the host holds it now. */
  const readSpec = () => JSON.parse(new TextDecoder().decode(fs.readRegularFile(SPEC_PATH)));
  return { fs, writes, readSpec };
}

function context(
  fs: CreateFs,
  edit: (config: Config) => void,
  extra: Partial<CreateContext> = {},
) {
  const config = defaultConfig();
  config.cli.root = "/drv";
  config.runtime.modes.csv.mountSpecPath = "/csv";
  config.runtime.modes.cdi.specDirs = ["/cdi"];
  config.hook.path = `${BIN}/xpu-container-runtime-hook`;
  config.ctk.path = `${BIN}/xpu-ctk`;
  edit(config);
  const { logger, lines } = recordingLogger();
  const ctx: CreateContext = {
    bundle: BUNDLE,
    cwd: "/",
    config,
    env: { PATH: "/usr/bin:/bin" },
    logger,
    fs,
    ...extra,
  };
  return { ctx, lines };
}

Deno.test("editBundleForCreate: the hooks the shim writes", async (t) => {
  const cases: {
    name: string;
    input: { mode: "legacy" | "csv"; configPath?: string };
    expected: { stage: string; program: string; env: string[] };
  }[] = [
    {
      name: "legacy: the prestart hook by absolute path, PATH and the shim's config file",
      input: { mode: "legacy", configPath: CONFIG_FILE },
      expected: {
        stage: "prestart",
        program: "xpu-container-runtime-hook",
        env: [PATH_ENV, `XPU_CTK_CONFIG_FILE_PATH=${CONFIG_FILE}`],
      },
    },
    {
      name: "legacy without a config file named by the shim's env: PATH only",
      input: { mode: "legacy" },
      expected: { stage: "prestart", program: "xpu-container-runtime-hook", env: [PATH_ENV] },
    },
    {
      name: "csv: both createContainer hooks, PATH and the shim's config file",
      input: { mode: "csv", configPath: CONFIG_FILE },
      expected: {
        stage: "createContainer",
        program: "xpu-ctk",
        env: [PATH_ENV, `XPU_CTK_CONFIG_FILE_PATH=${CONFIG_FILE}`],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { fs, readSpec } = makeBundle(ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }));
      const { ctx } = context(fs, (config) => (config.runtime.mode = c.input.mode), {
        configPath: c.input.configPath,
      });
      deepStrictEqual(await editBundleForCreate(ctx), { mode: c.input.mode, written: true });
      const hooks = readSpec().hooks[c.expected.stage] as { path: string; env: string[] }[];
      ok(hooks.length >= 1, JSON.stringify(hooks));
      for (const hook of hooks) {
        strictEqual(hook.path, `${BIN}/${c.expected.program}`);
        deepStrictEqual(hook.env, c.expected.env);
      }
      // Nothing from the container's env reached a hook.
      ok(!JSON.stringify(hooks).includes("/proc/self/cwd"), JSON.stringify(hooks));
    });
  }
});

Deno.test("editBundleForCreate refuses a hook program it cannot name absolutely", async (t) => {
  const cases: {
    name: string;
    input: { mode: "legacy" | "csv"; key: "hook" | "ctk"; value: string };
    expected: string;
  }[] = [
    {
      name: "legacy: a relative [xpu-container-runtime-hook] path",
      input: { mode: "legacy", key: "hook", value: "bin/xpu-container-runtime-hook" },
      expected: '[xpu-container-runtime-hook] path is "bin/xpu-container-runtime-hook", a ' +
        "relative path, which runc would resolve in the container's directory: set " +
        `[xpu-container-runtime-hook] path in "${CONFIG_FILE}" to the absolute path of the ` +
        "installed program",
    },
    {
      name: "legacy: a bare name found nowhere",
      input: { mode: "legacy", key: "hook", value: "xpu-no-such-hook" },
      expected: '[xpu-container-runtime-hook] path is "xpu-no-such-hook", which is not an ' +
        "executable in PATH or /usr/local/sbin",
    },
    {
      name: "csv: a relative [xpu-ctk] path",
      input: { mode: "csv", key: "ctk", value: "./xpu-ctk" },
      expected: '[xpu-ctk] path is "./xpu-ctk", a relative path',
    },
    {
      name: "csv: an absolute [xpu-ctk] path that is not there",
      input: { mode: "csv", key: "ctk", value: "/nonexistent/xpu-ctk" },
      expected: '[xpu-ctk] path is "/nonexistent/xpu-ctk", which is not an executable file',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { fs, writes } = makeBundle(ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }));
      const { ctx } = context(fs, (config) => {
        config.runtime.mode = c.input.mode;
        config[c.input.key].path = c.input.value;
      }, { configPath: CONFIG_FILE });
      const error = await assertRejectsError(
        () => editBundleForCreate(ctx),
        ConfigError,
        c.expected,
      );
      strictEqual(error.path, CONFIG_FILE);
      ok(!error.message.includes("\n"), "one line");
      deepStrictEqual(writes, [], "config.json untouched");
    });
  }
});

Deno.test("editBundleForCreate: the unprivileged rule covers annotations; allowed-kinds", async (t) => {
  const annotation = { "cdi.k8s.io/xpu": "xpu.dev/xpu=0" };
  const cases: {
    name: string;
    input: {
      spec: ReturnType<typeof ociSpec>;
      strict?: boolean;
      volumeMounts?: boolean;
      allowedKinds?: string[];
    };
    expected:
      | { devices: string[]; note?: RegExp }
      | { error: string };
  }[] = [
    {
      name: "honest: an annotation under the default rule is served",
      input: { spec: ociSpec({ annotations: annotation }) },
      expected: { devices: ["/dev/xpu0"] },
    },
    {
      name: "hostile: an unprivileged annotation under the strict rule is ignored, with a note",
      input: { spec: ociSpec({ annotations: annotation }), strict: true },
      expected: {
        devices: [],
        note:
          /^Ignoring CDI devices requested by annotation "cdi\.k8s\.io\/xpu" in an unprivileged container: accept-xpu-visible-devices-envvar-when-unprivileged is false/,
      },
    },
    {
      name: "hostile: an unprivileged annotation that is not even a CDI name is ignored too",
      input: { spec: ociSpec({ annotations: { "cdi.k8s.io/x": "garbage" } }), strict: true },
      expected: { devices: [], note: /annotation "cdi\.k8s\.io\/x"/ },
    },
    {
      name: "honest: a privileged container's annotation under the strict rule is served",
      input: { spec: ociSpec({ annotations: annotation, privileged: true }), strict: true },
      expected: { devices: ["/dev/xpu0"] },
    },
    {
      name: "honest: a volume-mount request of an unprivileged container under the strict rule",
      input: {
        spec: {
          ...ociSpec({ annotations: annotation }),
          mounts: [{ destination: "/var/run/xpu-container-devices/0", source: "/dev/null" }],
        },
        strict: true,
        volumeMounts: true,
      },
      expected: { devices: ["/dev/xpu0"], note: /\(volume-mount requests still count\)/ },
    },
    {
      name: "hostile: a kind outside allowed-kinds, by annotation",
      input: {
        spec: ociSpec({ annotations: { "cdi.k8s.io/x": "other.com/gpu=0" } }),
        allowedKinds: ["xpu.dev/xpu"],
      },
      expected: {
        error: 'CDI kind "other.com/gpu" ("other.com/gpu=0") not in ' +
          '[xpu-container-runtime.modes.cdi] allowed-kinds ("xpu.dev/xpu")',
      },
    },
    {
      name: "hostile: a kind outside allowed-kinds, by XPU_VISIBLE_DEVICES",
      input: {
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0,other.com/gpu=0"] }),
        allowedKinds: ["xpu.dev/xpu"],
      },
      expected: { error: 'CDI kind "other.com/gpu"' },
    },
    {
      name: "honest: an allowed kind under allowed-kinds is served",
      input: {
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }),
        allowedKinds: ["xpu.dev/xpu"],
      },
      expected: { devices: ["/dev/xpu0"] },
    },
    {
      name: "honest: empty allowed-kinds serves every kind in the spec dirs",
      input: { spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=other.com/gpu=0"] }) },
      expected: { devices: ["/dev/xpu0"] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { fs, writes, readSpec } = makeBundle(c.input.spec);
      const { ctx, lines } = context(fs, (config) => {
        config.runtime.mode = "cdi";
        config.acceptEnvvarUnprivileged = !c.input.strict;
        config.acceptVolumeMounts = c.input.volumeMounts ?? false;
        config.runtime.modes.cdi.allowedKinds = c.input.allowedKinds ?? [];
      });
      if ("error" in c.expected) {
        await assertRejectsError(() => editBundleForCreate(ctx), RequestError, c.expected.error);
        deepStrictEqual(writes, [], "config.json untouched");
        return;
      }
      const outcome = await editBundleForCreate(ctx);
      const devices = (readSpec().linux?.devices ?? []) as { path: string }[];
      deepStrictEqual(devices.map((d) => d.path), c.expected.devices);
      strictEqual(outcome.written, c.expected.devices.length > 0);
      strictEqual(writes.length, outcome.written ? 1 : 0, "written once, or not at all");
      const notes = lines.filter((l) => l.level === "info" && l.message.startsWith("Ignoring"));
      if (c.expected.note === undefined) deepStrictEqual(notes, []);
      else {
        strictEqual(notes.length, 1, JSON.stringify(lines));
        ok(c.expected.note.test(notes[0].message), notes[0].message);
      }
    });
  }
});

/** The parts of a written spec the cases look at. */
type WrittenSpec = {
  process: { env: string[] };
  hooks?: { prestart?: { path: string }[]; createContainer?: { args: string[] }[] };
  linux?: {
    devices?: { path: string }[];
    resources?: { devices?: { allow: boolean; type?: string; major?: number; minor?: number }[] };
  };
};

/**
 * A check that `spec` holds each of its mode's edits once: `hooks` hooks per stage, the container
 * nodes `devices`, and one allow rule for the host's one XPU (c 511:0).
 */
function editedOnce(
  hooks: { prestart: number; createContainer: number },
  devices: string[],
): (spec: WrittenSpec) => void {
  return (spec) => {
    strictEqual(spec.hooks?.prestart?.length ?? 0, hooks.prestart, JSON.stringify(spec.hooks));
    strictEqual(
      spec.hooks?.createContainer?.length ?? 0,
      hooks.createContainer,
      JSON.stringify(spec.hooks),
    );
    deepStrictEqual((spec.linux?.devices ?? []).map((d) => d.path), devices);
    const rules = (spec.linux?.resources?.devices ?? []).filter((r) => r.allow);
    deepStrictEqual(rules.map((r) => `${r.type} ${r.major}:${r.minor}`), ["c 511:0"]);
    const visible = spec.process.env.filter((e) => e.startsWith("XPU_VISIBLE_DEVICES="));
    strictEqual(visible.length, 1, JSON.stringify(spec.process.env));
  };
}

/** What each mode's edit of a request for the host's one XPU holds, once. */
const EDITED_ONCE: Readonly<Record<ResolvedMode, (spec: WrittenSpec) => void>> = {
  legacy: editedOnce({ prestart: 1, createContainer: 0 }, []),
  // create-symlinks for libxpu.so's hop, update-ldcache for /usr/lib.
  csv: editedOnce({ prestart: 0, createContainer: 2 }, ["/dev/xpu0"]),
  cdi: editedOnce({ prestart: 0, createContainer: 0 }, ["/dev/xpu0"]),
};

Deno.test("editBundleForCreate writes the spec once, and only for a request it serves", async (t) => {
  const annotation = { "cdi.k8s.io/xpu": "xpu.dev/xpu=0" };
  const ignored = {
    level: "warn",
    message: "Ignoring CDI annotations (xpu.dev/xpu=0): they are served in mode 'cdi' only",
  };
  const malformed = { "cdi.k8s.io/x": "garbage" };
  const malformedMessage = `Cannot start the container: annotation "cdi.k8s.io/x" names ` +
    `"garbage", which is not a CDI device: write vendor/class=name, e.g. xpu.dev/xpu=0`;
  const malformedIgnored = {
    level: "warn",
    message: `Ignoring CDI annotations: they are served in mode 'cdi' only (${malformedMessage})`,
  };
  const notRewritten = {
    level: "debug",
    message: "The spec already holds every edit: not rewriting it",
  };
  const noRequest = {
    level: "debug",
    message: "No XPU devices requested: leaving the spec unchanged",
  };
  const modes = ["legacy", "csv", "cdi", "auto"] as const;
  const unknownLegacy = (ids: string) =>
    `Cannot give the container XPU ${ids}: no such device under "/drv" (devices: 0): ` +
    `request an existing index or UUID, or "all"`;
  const unresolvableCdi = (name: string) =>
    `Cannot start the container: unresolvable CDI devices "${name}": xpu.dev/xpu has "0" ` +
    `(spec dirs searched: /cdi): request a listed device, or generate a spec with ` +
    `"xpu-ctk cdi generate"`;
  const cdiInLegacy = (names: string) =>
    `Cannot serve CDI devices ${names} in mode 'legacy': request devices by index or UUID, ` +
    `or request only CDI names`;
  // An unrelated annotation whose value is not UTF-8: its bytes must reach the file as they were.
  const encode = (text: string) => new TextEncoder().encode(text);
  const badBytes = Uint8Array.of(...encode('"org.example/note":"'), 0xe9, 0xff, ...encode('"'));
  const cases: {
    name: string;
    input: {
      mode: Mode;
      /** The mode pinned by the executable name. */
      pinned?: ResolvedMode;
      spec: Record<string, unknown> | Uint8Array;
      bundle?: string;
      cwd?: string;
      /** `accept-xpu-visible-devices-as-volume-mounts`. */
      volumeMounts?: boolean;
      /** Run the create step a second time on what the first one wrote. */
      again?: boolean;
    };
    expected:
      | {
        outcome: CreateOutcome;
        /** How many times config.json was written, in all runs. */
        writes: number;
        log?: { level: string; message: string };
        spec?: (spec: WrittenSpec) => void;
      }
      | { error: ErrorClass; message: string };
  }[] = [
    ...modes.flatMap((mode) => [
      {
        name: `no request: nothing written: mode '${mode}'`,
        input: { mode, spec: ociSpec() },
        expected: { outcome: { written: false }, writes: 0, log: noRequest },
      },
      {
        name: `XPU_VISIBLE_DEVICES=void is no request either: mode '${mode}'`,
        input: { mode, spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=void"] }) },
        expected: { outcome: { written: false }, writes: 0, log: noRequest },
      },
      {
        name: `an empty XPU_VISIBLE_DEVICES is no request: mode '${mode}'`,
        input: { mode, spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES="] }) },
        expected: { outcome: { written: false }, writes: 0, log: noRequest },
      },
      {
        name: `volume-mount requests accepted, no device mount: nothing written: mode '${mode}'`,
        input: {
          mode,
          spec: { ...ociSpec(), mounts: [{ destination: "/data", source: "/srv/data" }] },
          volumeMounts: true,
        },
        expected: { outcome: { written: false }, writes: 0, log: noRequest },
      },
      {
        name: `an annotation outside annotation-prefixes is no request: mode '${mode}'`,
        input: { mode, spec: ociSpec({ annotations: { "org.example/xpu": "xpu.dev/xpu=0" } }) },
        expected: { outcome: { written: false }, writes: 0, log: noRequest },
      },
    ]),
    {
      name: "an unknown device in mode 'legacy': nothing written",
      input: { mode: "legacy", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0,7"] }) },
      expected: {
        error: RequestError,
        message: 'Cannot give the container XPU "7": no such device under "/drv" (devices: ' +
          '0): request an existing index or UUID, or "all"',
      },
    },
    {
      name: "an unknown device in mode 'cdi': nothing written",
      input: { mode: "cdi", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=9"] }) },
      expected: {
        error: RequestError,
        message: 'Cannot start the container: unresolvable CDI devices "xpu.dev/xpu=9": ' +
          'xpu.dev/xpu has "0" (spec dirs searched: /cdi): request a listed ' +
          'device, or generate a spec with "xpu-ctk cdi generate"',
      },
    },
    {
      name: "an unknown index alone in mode 'legacy': nothing written",
      input: { mode: "legacy", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=7"] }) },
      expected: { error: RequestError, message: unknownLegacy('"7"') },
    },
    {
      name: "an unknown UUID in mode 'legacy': nothing written",
      input: { mode: "legacy", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=XPU-zzzz"] }) },
      expected: { error: RequestError, message: unknownLegacy('"XPU-zzzz"') },
    },
    {
      name: "an unknown index by volume mount in mode 'legacy': nothing written",
      input: {
        mode: "legacy",
        spec: {
          ...ociSpec(),
          mounts: [{ destination: "/var/run/xpu-container-devices/7", source: "/dev/null" }],
        },
        volumeMounts: true,
      },
      expected: { error: RequestError, message: unknownLegacy('"7"') },
    },
    {
      name: "an unknown index in mode 'cdi' (default-kind): nothing written",
      input: { mode: "cdi", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=7"] }) },
      expected: { error: RequestError, message: unresolvableCdi("xpu.dev/xpu=7") },
    },
    {
      name: "an unknown CDI name by annotation in mode 'cdi': nothing written",
      input: { mode: "cdi", spec: ociSpec({ annotations: { "cdi.k8s.io/x": "xpu.dev/xpu=9" } }) },
      expected: { error: RequestError, message: unresolvableCdi("xpu.dev/xpu=9") },
    },
    {
      name: "a CDI kind no spec defines in mode 'cdi': nothing written",
      input: { mode: "cdi", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=nope.dev/x=0"] }) },
      expected: {
        error: RequestError,
        message: 'Cannot start the container: unresolvable CDI devices "nope.dev/x=0": no spec ' +
          'defines kind "nope.dev/x" (spec dirs searched: /cdi): request a listed device, or ' +
          'generate a spec with "xpu-ctk cdi generate"',
      },
    },
    {
      // The README: CSV platforms have one integrated XPU, so any device request gets every
      // `dev` entry; an index is not looked up, so there is no unknown device in mode 'csv'.
      name: "an index the host lacks in mode 'csv': the platform's one XPU is given",
      input: { mode: "csv", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=7"] }) },
      expected: {
        outcome: { mode: "csv", written: true },
        writes: 1,
        spec: EDITED_ONCE.csv,
      },
    },
    ...(["legacy", "csv"] as const).map((mode) => ({
      name: `an already-edited spec is not rewritten: mode '${mode}'`,
      input: { mode, spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }), again: true },
      expected: {
        outcome: { mode, written: false },
        writes: 1,
        log: notRewritten,
        spec: EDITED_ONCE[mode],
      },
    })),
    {
      name: "an already-edited spec is not rewritten: mode 'cdi', by annotation",
      input: { mode: "cdi", spec: ociSpec({ annotations: annotation }), again: true },
      expected: {
        outcome: { mode: "cdi", written: false },
        writes: 1,
        log: notRewritten,
        spec: EDITED_ONCE.cdi,
      },
    },
    {
      // The first run sets XPU_VISIBLE_DEVICES=void, so the second sees no request at all.
      name: "an already-edited spec is not rewritten: mode 'cdi', by XPU_VISIBLE_DEVICES",
      input: { mode: "cdi", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }), again: true },
      expected: {
        outcome: { written: false },
        writes: 1,
        log: noRequest,
        spec: (spec) => {
          EDITED_ONCE.cdi(spec);
          ok(spec.process.env.includes("XPU_VISIBLE_DEVICES=void"), JSON.stringify(spec));
        },
      },
    },
    {
      name: "CDI names in mode 'legacy': refused, nothing written",
      input: { mode: "legacy", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0,xpu.dev/xpu=0"] }) },
      expected: {
        error: RequestError,
        message: `Cannot serve CDI devices "xpu.dev/xpu=0" in mode 'legacy': request devices ` +
          "by index or UUID, or request only CDI names",
      },
    },
    {
      name: "only CDI names in mode 'legacy' (config): refused, nothing written",
      input: { mode: "legacy", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] }) },
      expected: { error: RequestError, message: cdiInLegacy('"xpu.dev/xpu=0"') },
    },
    {
      name: "only CDI names in mode 'legacy' pinned by the executable name: refused",
      input: {
        mode: "auto",
        pinned: "legacy",
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0,other.com/gpu=0"] }),
      },
      expected: { error: RequestError, message: cdiInLegacy('"xpu.dev/xpu=0", "other.com/gpu=0"') },
    },
    {
      name: "only CDI names in mode 'auto': served in mode 'cdi'",
      input: { mode: "auto", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] }) },
      expected: {
        outcome: { mode: "cdi", written: true },
        writes: 1,
        log: { level: "info", message: "Auto-detected mode as 'cdi'" },
        spec: EDITED_ONCE.cdi,
      },
    },
    {
      name: "CDI names beside an index in mode 'auto': mode 'legacy', refused",
      input: { mode: "auto", spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0,xpu.dev/xpu=0"] }) },
      expected: { error: RequestError, message: cdiInLegacy('"xpu.dev/xpu=0"') },
    },
    ...(["legacy", "csv"] as const).map((mode) => ({
      name: `CDI annotations in mode '${mode}': ignored with a warning, nothing written`,
      input: { mode, spec: ociSpec({ annotations: annotation }) },
      expected: { outcome: { mode, written: false }, writes: 0, log: ignored },
    })),
    {
      name: "CDI annotations beside a device request in mode 'legacy': only the request served",
      input: {
        mode: "legacy",
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"], annotations: annotation }),
      },
      expected: {
        outcome: { mode: "legacy", written: true },
        writes: 1,
        log: ignored,
        spec: (spec) => {
          strictEqual(spec.hooks?.prestart?.length, 1);
          strictEqual(spec.linux?.devices, undefined, "no CDI device injected");
        },
      },
    },
    {
      name: "CDI annotations beside a device request in mode 'csv': only the request served",
      input: {
        mode: "csv",
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"], annotations: annotation }),
      },
      expected: {
        outcome: { mode: "csv", written: true },
        writes: 1,
        log: ignored,
        spec: (spec) => {
          EDITED_ONCE.csv(spec);
          // Mode 'cdi' would have set it to void.
          ok(spec.process.env.includes("XPU_VISIBLE_DEVICES=0"), JSON.stringify(spec));
        },
      },
    },
    ...(["legacy", "csv"] as const).map((mode) => ({
      name: `a malformed CDI annotation beside a device request in mode '${mode}': ignored, ` +
        `the request served`,
      input: {
        mode,
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"], annotations: malformed }),
      },
      expected: {
        outcome: { mode, written: true },
        writes: 1,
        log: malformedIgnored,
        spec: EDITED_ONCE[mode],
      },
    })),
    {
      name: "a malformed CDI annotation alone in mode 'csv' pinned by the executable name: no " +
        "request",
      input: { mode: "cdi", pinned: "csv", spec: ociSpec({ annotations: malformed }) },
      expected: { outcome: { written: false }, writes: 0, log: malformedIgnored },
    },
    ...(["cdi", "auto"] as const).map((mode) => ({
      name: `a malformed CDI annotation in mode '${mode}': refused, nothing written`,
      input: {
        mode,
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"], annotations: malformed }),
      },
      expected: { error: RequestError, message: malformedMessage },
    })),
    {
      name: "CDI annotations in mode 'legacy' pinned by the executable name: ignored",
      input: { mode: "cdi", pinned: "legacy", spec: ociSpec({ annotations: annotation }) },
      expected: { outcome: { mode: "legacy", written: false }, writes: 0, log: ignored },
    },
    {
      name: "CDI annotations alone in mode 'auto': served in mode 'cdi'",
      input: { mode: "auto", spec: ociSpec({ annotations: annotation }) },
      expected: {
        outcome: { mode: "cdi", written: true },
        writes: 1,
        log: { level: "info", message: "Auto-detected mode as 'cdi'" },
        spec: EDITED_ONCE.cdi,
      },
    },
    {
      name: "honest: a served request is written once, every unedited byte kept",
      input: {
        mode: "legacy",
        spec: Uint8Array.of(
          ...encode('{"ociVersion":"1.0.2","process":{"env":["XPU_VISIBLE_DEVICES=0"]},'),
          ...encode('"annotations":{'),
          ...badBytes,
          ...encode("}}"),
        ),
      },
      expected: {
        outcome: { mode: "legacy", written: true },
        writes: 1,
        log: { level: "debug", message: `Updated "${SPEC_PATH}" for mode 'legacy'` },
        spec: (spec) =>
          strictEqual(spec.hooks?.prestart?.[0].path, `${BIN}/xpu-container-runtime-hook`),
      },
    },
    {
      name: "a relative bundle is found from the shim's working directory",
      input: {
        mode: "legacy",
        spec: ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }),
        bundle: "bundle",
        cwd: "/run/xpu-lab",
      },
      expected: { outcome: { mode: "legacy", written: true }, writes: 1 },
    },
    {
      name: "a part of the spec of the wrong type: a SpecError naming the file, nothing written",
      input: {
        mode: "legacy",
        spec: { ...ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }), linux: "x" },
      },
      expected: {
        error: SpecError,
        message: `Cannot update OCI spec "${SPEC_PATH}": "linux" is not an object: the engine ` +
          "wrote an unexpected config.json; recreate the container",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { fs, writes, readSpec } = makeBundle(c.input.spec);
      const { ctx, lines } = context(fs, (config) => {
        config.runtime.mode = c.input.mode;
        config.acceptVolumeMounts = c.input.volumeMounts ?? false;
      }, {
        bundle: c.input.bundle ?? BUNDLE,
        cwd: c.input.cwd ?? "/",
        pinnedMode: c.input.pinned,
      });
      if ("error" in c.expected) {
        const error = await assertRejectsError(
          () => editBundleForCreate(ctx),
          c.expected.error,
          c.expected.message,
        );
        strictEqual(error.message, c.expected.message);
        if (error instanceof SpecError) strictEqual(error.path, SPEC_PATH);
        deepStrictEqual(writes, [], "config.json untouched");
        return;
      }
      if (c.input.again) await editBundleForCreate(ctx);
      deepStrictEqual(await editBundleForCreate(ctx), c.expected.outcome);
      strictEqual(writes.length, c.expected.writes, JSON.stringify(lines));
      for (const write of writes) strictEqual(write.path, SPEC_PATH);
      const { log } = c.expected;
      if (log) ok(lines.some((l) => isDeepStrictEqual(l, log)), JSON.stringify(lines));
      if (writes.length === 0) return;
      c.expected.spec?.(readSpec());
      if (c.input.spec instanceof Uint8Array) {
        const list = (bytes: Uint8Array) => `,${bytes.join(",")},`;
        ok(list(writes[0].data).includes(list(badBytes)), "the annotation lost its bytes");
      }
    });
  }
});

Deno.test("editBundleForCreate in a container with a user namespace", async (t) => {
  const userns = (spec: Record<string, unknown>) => ({
    ...spec,
    mounts: [{ destination: "/dev", type: "tmpfs", source: "tmpfs" }],
    linux: {
      namespaces: [{ type: "mount" }, { type: "user" }],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 2000 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 3000 }],
    },
  });
  await t.step(
    "csv: the node is bound from the driver root, the file's target is made",
    async () => {
      const { fs, readSpec } = makeBundle(userns(ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] })));
      const prepared: unknown[] = [];
      fs.prepareMountTargets = (rootfs, plan) => {
        prepared.push({ rootfs, plan });
        return Promise.resolve([]);
      };
      const { ctx } = context(fs, (config) => void (config.runtime.mode = "csv"));
      await editBundleForCreate(ctx);
      const spec = readSpec();
      deepStrictEqual(spec.linux.devices ?? [], []);
      deepStrictEqual(
        spec.mounts.map((m: { destination: string; source: string }) => [m.destination, m.source]),
        [["/dev", "tmpfs"], ["/dev/xpu0", "/drv/dev/xpu0"], [
          "/usr/lib/libxpu.so.1",
          "/drv/usr/lib/libxpu.so.1",
        ]],
      );
      ok(spec.linux.resources.devices.some((r: { major: number }) => r.major === 511));
      deepStrictEqual(prepared, [{
        rootfs: `${BUNDLE}/rootfs`,
        plan: {
          owner: { uid: 1000, gid: 1000 },
          targets: [{ path: "/usr/lib/libxpu.so.1", source: "/drv/usr/lib/libxpu.so.1" }],
        },
      }]);
    },
  );
  await t.step("a target that cannot be made is a warning; the spec is still written", async () => {
    const { fs, writes } = makeBundle(userns(ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] })));
    fs.prepareMountTargets = () => Promise.resolve(["Cannot create the mount target …"]);
    const { ctx, lines } = context(fs, (config) => void (config.runtime.mode = "csv"));
    await editBundleForCreate(ctx);
    strictEqual(writes.length, 1);
    ok(lines.some((l) => l.level === "warn" && l.message === "Cannot create the mount target …"));
  });
  await t.step("without a user namespace nothing is prepared", async () => {
    const { fs } = makeBundle(ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }));
    fs.prepareMountTargets = () => Promise.reject(new Error("not to be called"));
    const { ctx } = context(fs, (config) => void (config.runtime.mode = "csv"));
    await editBundleForCreate(ctx);
  });
});
