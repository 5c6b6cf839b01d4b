/**
 * `editBundleForCreate` on a real bundle dir (the host seen through an in-memory file system):
 * the hooks the shim writes (absolute path, explicit env with the config the shim loaded, a
 * relative or missing program refused with nothing written), and the unprivileged rule and
 * `allowed-kinds` for every request source. Each hostile input next to the honest request that
 * must still be served.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type Config, defaultConfig } from "../../src/core/config/config.ts";
import { ConfigError, RequestError } from "../../src/core/errors.ts";
import { HOOK_PATH } from "../../src/core/config/hook_env.ts";
import type { HostFs } from "../../src/core/io/host_fs.ts";
import type { Logger } from "../../src/core/io/log.ts";
import { type CreateContext, editBundleForCreate } from "../../src/runtime/create.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import { memoryHostFs } from "../helpers/memory_fs.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const PATH_ENV = `PATH=${HOOK_PATH}`;
const CONFIG_FILE = "/etc/xpu-lab/config.toml";

/** The host: one XPU and the driver's library chain under /drv, a CSV mount spec in /csv. */
const HOST: HostFs = memoryHostFs({
  "/drv/dev/xpu0": { char: [511, 0], mode: 0o666 },
  "/drv/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/drv/usr/lib/libxpu.so.1": "ELF",
  "/csv/xpu.csv": "dev, /dev/xpu0\nsym, /usr/lib/libxpu.so\n",
});

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

/** A bundle with `spec`, an executable hook program and xpu-ctk, and a CDI spec dir. */
function makeBundle(dir: string, spec: unknown) {
  const bundle = `${dir}/bundle`;
  Deno.mkdirSync(`${bundle}/rootfs`, { recursive: true });
  const specPath = `${bundle}/config.json`;
  Deno.writeTextFileSync(specPath, JSON.stringify(spec, null, 2));
  Deno.mkdirSync(`${dir}/bin`);
  for (const tool of ["xpu-container-runtime-hook", "xpu-ctk"]) {
    Deno.writeTextFileSync(`${dir}/bin/${tool}`, "#!/bin/sh\n");
    Deno.chmodSync(`${dir}/bin/${tool}`, 0o755);
  }
  Deno.mkdirSync(`${dir}/cdi`);
  const node = { path: "/dev/xpu0", type: "c", major: 511, minor: 0 };
  for (const [file, kind] of [["xpu.json", "xpu.dev/xpu"], ["other.json", "other.com/gpu"]]) {
    Deno.writeTextFileSync(
      `${dir}/cdi/${file}`,
      JSON.stringify({
        cdiVersion: "0.5.0",
        kind,
        devices: [{ name: "0", containerEdits: { deviceNodes: [node] } }],
      }),
    );
  }
  return { bundle, specPath, before: Deno.readTextFileSync(specPath) };
}

function context(
  dir: string,
  bundle: string,
  edit: (config: Config) => void,
  extra: Partial<CreateContext> = {},
) {
  const config = defaultConfig();
  config.cli.root = "/drv";
  config.runtime.modes.csv.mountSpecPath = "/csv";
  config.runtime.modes.cdi.specDirs = [`${dir}/cdi`];
  config.hook.path = `${dir}/bin/xpu-container-runtime-hook`;
  config.ctk.path = `${dir}/bin/xpu-ctk`;
  edit(config);
  const { logger, lines } = recordingLogger();
  const ctx: CreateContext = {
    bundle,
    config,
    env: { PATH: "/usr/bin:/bin" },
    logger,
    fs: HOST,
    ...extra,
  };
  return { ctx, lines };
}

function readSpec(path: string) {
  return JSON.parse(Deno.readTextFileSync(path));
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
      await withTempDir(async (dir) => {
        const { bundle, specPath } = makeBundle(dir, ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }));
        const { ctx } = context(dir, bundle, (config) => (config.runtime.mode = c.input.mode), {
          configPath: c.input.configPath,
        });
        deepStrictEqual(await editBundleForCreate(ctx), { mode: c.input.mode, written: true });
        const hooks = readSpec(specPath).hooks[c.expected.stage] as {
          path: string;
          env: string[];
        }[];
        ok(hooks.length >= 1, JSON.stringify(hooks));
        for (const hook of hooks) {
          strictEqual(hook.path, `${dir}/bin/${c.expected.program}`);
          deepStrictEqual(hook.env, c.expected.env);
        }
        // Nothing from the container's env reached a hook.
        ok(!JSON.stringify(hooks).includes("/proc/self/cwd"), JSON.stringify(hooks));
      });
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
      await withTempDir(async (dir) => {
        const { bundle, specPath, before } = makeBundle(
          dir,
          ociSpec({ env: ["XPU_VISIBLE_DEVICES=0"] }),
        );
        const { ctx } = context(dir, bundle, (config) => {
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
        strictEqual(Deno.readTextFileSync(specPath), before, "config.json untouched");
      });
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
      await withTempDir(async (dir) => {
        const { bundle, specPath, before } = makeBundle(dir, c.input.spec);
        const { ctx, lines } = context(dir, bundle, (config) => {
          config.runtime.mode = "cdi";
          config.acceptEnvvarUnprivileged = !c.input.strict;
          config.acceptVolumeMounts = c.input.volumeMounts ?? false;
          config.runtime.modes.cdi.allowedKinds = c.input.allowedKinds ?? [];
        });
        if ("error" in c.expected) {
          await assertRejectsError(() => editBundleForCreate(ctx), RequestError, c.expected.error);
          strictEqual(Deno.readTextFileSync(specPath), before, "config.json untouched");
          return;
        }
        const outcome = await editBundleForCreate(ctx);
        const devices = (readSpec(specPath).linux?.devices ?? []) as { path: string }[];
        deepStrictEqual(devices.map((d) => d.path), c.expected.devices);
        strictEqual(outcome.written, c.expected.devices.length > 0);
        if (!outcome.written) strictEqual(Deno.readTextFileSync(specPath), before);
        const notes = lines.filter((l) => l.level === "info" && l.message.startsWith("Ignoring"));
        if (c.expected.note === undefined) deepStrictEqual(notes, []);
        else {
          strictEqual(notes.length, 1, JSON.stringify(lines));
          ok(c.expected.note.test(notes[0].message), notes[0].message);
        }
      });
    });
  }
});
