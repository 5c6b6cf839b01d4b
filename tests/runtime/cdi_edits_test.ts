/**
 * The shim's CDI mode: device names from annotations and from `XPU_VISIBLE_DEVICES`, and
 * `applyCdiDevices` against a real spec dir whose device node is a real char device (mknod, so
 * root: behind the e2e gate).
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { RequestError } from "../../src/core/errors.ts";
import type { DeviceRequest } from "../../src/core/request/device_request.ts";
import { realCreateFs } from "../../src/runtime/create_fs.ts";
import type { Logger } from "../../src/core/io/log.ts";
import type { OciSpec } from "../../src/core/oci/oci_spec.ts";
import {
  applyCdiDevices,
  cdiAnnotationDevices,
  disallowedKinds,
  qualifyRequest,
} from "../../src/runtime/cdi_edits.ts";
import { assertRejectsError, assertThrowsError } from "../helpers/assert_error.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { e2eTest } from "../helpers/e2e.ts";

Deno.test("cdiAnnotationDevices", async (t) => {
  const cases: {
    name: string;
    input: { annotations: Record<string, string>; prefixes: string[] };
    expected: string[] | { error: string; key: string };
  }[] = [
    {
      name: "no annotations",
      input: { annotations: {}, prefixes: ["cdi.k8s.io/"] },
      expected: [],
    },
    {
      name: "only keys with a configured prefix count",
      input: {
        annotations: {
          "cdi.k8s.io/xpu": "xpu.dev/xpu=0",
          "other.io/xpu": "xpu.dev/xpu=1",
          "xcdi.k8s.io/xpu": "xpu.dev/xpu=2",
          "io.kubernetes.cri.container-type": "container",
        },
        prefixes: ["cdi.k8s.io/"],
      },
      expected: ["xpu.dev/xpu=0"],
    },
    {
      name: "comma lists, spaces trimmed, empty entries skipped",
      input: {
        annotations: { "cdi.k8s.io/xpu": " xpu.dev/xpu=0 ,,xpu.dev/xpu=1, " },
        prefixes: ["cdi.k8s.io/"],
      },
      expected: ["xpu.dev/xpu=0", "xpu.dev/xpu=1"],
    },
    {
      name: "sorted by key, duplicates dropped (first kept)",
      input: {
        annotations: {
          "cdi.k8s.io/b": "vendor.com/x=1,vendor.com/x=0",
          "cdi.k8s.io/a": "vendor.com/x=0,vendor.com/x=2",
          "cdi.k8s.io/c": "vendor.com/x=2",
        },
        prefixes: ["cdi.k8s.io/"],
      },
      expected: ["vendor.com/x=0", "vendor.com/x=2", "vendor.com/x=1"],
    },
    {
      name: "several prefixes",
      input: {
        annotations: { "cdi.k8s.io/a": "vendor.com/x=0", "xpu.dev/cdi-b": "vendor.com/x=1" },
        prefixes: ["cdi.k8s.io/", "xpu.dev/cdi-"],
      },
      expected: ["vendor.com/x=0", "vendor.com/x=1"],
    },
    {
      name: "no prefixes: nothing counts",
      input: { annotations: { "cdi.k8s.io/a": "vendor.com/x=0" }, prefixes: [] },
      expected: [],
    },
    {
      name: "an unqualified value is an error naming the annotation key",
      input: { annotations: { "cdi.k8s.io/bad": "foobar" }, prefixes: ["cdi.k8s.io/"] },
      expected: { error: '"foobar", which is not a CDI device', key: "cdi.k8s.io/bad" },
    },
    {
      name: "an invalid qualified name in a list is an error",
      input: {
        annotations: { "cdi.k8s.io/x": "vendor.com/x=0,vendor.com/x=-bad" },
        prefixes: ["cdi.k8s.io/"],
      },
      expected: { error: '"vendor.com/x=-bad"', key: "cdi.k8s.io/x" },
    },
    {
      name: "an unqualified value under another prefix is ignored",
      input: { annotations: { "other/x": "foobar" }, prefixes: ["cdi.k8s.io/"] },
      expected: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const run = () =>
        cdiAnnotationDevices(new Map(Object.entries(c.input.annotations)), c.input.prefixes);
      if (Array.isArray(c.expected)) {
        deepStrictEqual(run(), c.expected);
      } else {
        const error = assertThrowsError(run, RequestError, c.expected.error);
        ok(error.message.includes(`annotation "${c.expected.key}"`), error.message);
      }
    });
  }
});

Deno.test("qualifyRequest", async (t) => {
  const cases: { name: string; input: DeviceRequest["devices"]; expected: string[] }[] = [
    { name: '"0"', input: ["0"], expected: ["xpu.dev/xpu=0"] },
    { name: '"all" (the request)', input: "all", expected: ["xpu.dev/xpu=all"] },
    {
      name: "already qualified names are kept",
      input: ["vendor.com/class=dev", "xpu.dev/xpu=1"],
      expected: ["vendor.com/class=dev", "xpu.dev/xpu=1"],
    },
    {
      name: "a UUID",
      input: ["XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000000"],
      expected: ["xpu.dev/xpu=XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000000"],
    },
    {
      name: "mixed, in request order",
      input: ["1", "other.com/gpu=0", "0"],
      expected: ["xpu.dev/xpu=1", "other.com/gpu=0", "xpu.dev/xpu=0"],
    },
    { name: "none", input: [], expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(qualifyRequest(c.input, "xpu.dev/xpu"), c.expected));
  }
});

/** The env the shim gives a spec's hook that has none. */
const HOOK_ENV = ["PATH=/usr/sbin:/usr/bin", "XPU_CTK_CONFIG_FILE_PATH=/etc/xpu/config.toml"];
/** The env the spec's own hook has (as `xpu-ctk cdi generate` writes it). */
const SPEC_HOOK_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

/** A logger that keeps what it is told. */
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

/**
 * A spec dir holding a spec like the generator's, whose devices point at a real char device
 * 240:7 (mode 0666) created under `dir`.
 */
function makeHost(dir: string): { specDir: string; node: string } {
  const node = `${dir}/dev/xpu7`;
  const specDir = `${dir}/cdi`;
  Deno.mkdirSync(`${dir}/dev`);
  Deno.mkdirSync(specDir);
  const mknod = new Deno.Command("mknod", { args: [node, "c", "240", "7"] }).outputSync();
  strictEqual(mknod.code, 0, new TextDecoder().decode(mknod.stderr));
  Deno.chmodSync(node, 0o666);
  const nodes = [{ path: "/dev/xpu0", hostPath: node }];
  Deno.writeTextFileSync(
    `${specDir}/xpu.json`,
    JSON.stringify(
      {
        cdiVersion: "0.5.0",
        kind: "xpu.dev/xpu",
        devices: [
          { name: "0", containerEdits: { deviceNodes: nodes } },
          { name: "all", containerEdits: { deviceNodes: nodes } },
        ],
        containerEdits: {
          env: ["XPU_DRIVER_CAPABILITIES=compute"],
          hooks: [{
            hookName: "createContainer",
            path: "/usr/bin/xpu-ctk",
            args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib"],
            env: SPEC_HOOK_ENV,
          }],
        },
      },
      null,
      2,
    ),
  );
  return { specDir, node };
}

/** An OCI spec as an engine writes it for `XPU_VISIBLE_DEVICES=0`, with the legacy hook. */
function ociSpec(): OciSpec {
  return {
    ociVersion: "1.0.2",
    process: { user: { uid: 0, gid: 0 }, env: ["PATH=/bin", "XPU_VISIBLE_DEVICES=0"] },
    hooks: {
      prestart: [
        { path: "/usr/bin/xpu-container-runtime-hook", args: ["xpu-container-runtime-hook"] },
        { path: "/usr/local/bin/other-hook" },
      ],
    },
    linux: { resources: { devices: [{ allow: false, access: "rwm" }] } },
  };
}

// Every step's host has a real char device (mknod, CAP_MKNOD): root.
await e2eTest("applyCdiDevices with a real spec dir", ["root"], async (t) => {
  await t.step("resolves and edits the spec", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      const { logger, lines } = recordingLogger();
      const spec = ociSpec();
      await applyCdiDevices(spec, {
        names: ["xpu.dev/xpu=0"],
        specDirs: [`${dir}/missing`, specDir],
        allowedKinds: [],
        hookEnv: HOOK_ENV,
        fs: realCreateFs,
        logger,
      });
      deepStrictEqual(spec, {
        ociVersion: "1.0.2",
        process: {
          user: { uid: 0, gid: 0 },
          env: ["PATH=/bin", "XPU_VISIBLE_DEVICES=void", "XPU_DRIVER_CAPABILITIES=compute"],
        },
        hooks: {
          prestart: [{ path: "/usr/local/bin/other-hook" }],
          createContainer: [{
            path: "/usr/bin/xpu-ctk",
            args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib"],
            env: SPEC_HOOK_ENV,
          }],
        },
        linux: {
          resources: {
            devices: [
              { allow: false, access: "rwm" },
              { allow: true, type: "c", major: 240, minor: 7, access: "rwm" },
            ],
          },
          devices: [{ path: "/dev/xpu0", type: "c", major: 240, minor: 7, fileMode: 0o666 }],
        },
      });
      deepStrictEqual(lines.filter((l) => l.level === "warn"), []);
    });
  });

  await t.step("XPU_VISIBLE_DEVICES=void is set even when the engine did not set it", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      const spec: OciSpec = {};
      await applyCdiDevices(spec, {
        names: ["xpu.dev/xpu=all"],
        specDirs: [specDir],
        allowedKinds: [],
        hookEnv: HOOK_ENV,
        fs: realCreateFs,
        logger: recordingLogger().logger,
      });
      deepStrictEqual((spec.process as { env: string[] }).env, [
        "XPU_DRIVER_CAPABILITIES=compute",
        "XPU_VISIBLE_DEVICES=void",
      ]);
    });
  });

  await t.step("an unresolvable device: the missing one, a known one, the dir", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      const spec = ociSpec();
      const error = await assertRejectsError(
        () =>
          applyCdiDevices(spec, {
            names: ["xpu.dev/xpu=0", "xpu.dev/xpu=9"],
            specDirs: [specDir],
            allowedKinds: [],
            hookEnv: HOOK_ENV,
            fs: realCreateFs,
            logger: recordingLogger().logger,
          }),
        RequestError,
        'unresolvable CDI devices "xpu.dev/xpu=9"',
      );
      ok(!error.message.includes('"xpu.dev/xpu=0"'), error.message);
      ok(error.message.includes('xpu.dev/xpu has "0", "all"'), error.message);
      ok(error.message.includes(specDir), error.message);
      // Nothing is applied when a device is missing.
      deepStrictEqual(spec, ociSpec());
    });
  });

  await t.step("a device two specs of one dir define: the conflict and both files", async () => {
    // The reference resolves neither definition; what to fix is the pair of files, not the kind.
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      const copy = JSON.parse(Deno.readTextFileSync(`${specDir}/xpu.json`));
      copy.devices = copy.devices.filter((d: { name: string }) => d.name === "0");
      Deno.writeTextFileSync(`${specDir}/xpu-copy.json`, JSON.stringify(copy));
      const spec = ociSpec();
      const log = recordingLogger();
      const error = await assertRejectsError(
        () =>
          applyCdiDevices(spec, {
            names: ["xpu.dev/xpu=0"],
            specDirs: [specDir],
            allowedKinds: [],
            hookEnv: HOOK_ENV,
            fs: realCreateFs,
            logger: log.logger,
          }),
        RequestError,
        `Cannot start the container: conflicting CDI devices: "xpu.dev/xpu=0" is defined by ` +
          `more than one spec of the same dir ("${specDir}/xpu-copy.json", ` +
          `"${specDir}/xpu.json"): remove or rename one`,
      );
      ok(!error.message.includes("no spec defines"), error.message);
      deepStrictEqual(spec, ociSpec());
      // The device the two do not share still resolves.
      await applyCdiDevices(spec, {
        names: ["xpu.dev/xpu=all"],
        specDirs: [specDir],
        allowedKinds: [],
        hookEnv: HOOK_ENV,
        fs: realCreateFs,
        logger: recordingLogger().logger,
      });
      ok(JSON.stringify(spec).includes("/dev/xpu0"));
    });
  });

  await t.step("an unknown kind: no spec defines it", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      const error = await assertRejectsError(
        () =>
          applyCdiDevices(ociSpec(), {
            names: ["other.com/gpu=0"],
            specDirs: [specDir],
            allowedKinds: [],
            hookEnv: HOOK_ENV,
            fs: realCreateFs,
            logger: recordingLogger().logger,
          }),
        RequestError,
        'no spec defines kind "other.com/gpu"',
      );
      ok(error.message.includes('"other.com/gpu=0"'), error.message);
    });
  });

  await t.step("an invalid spec file is a warning and does not break the others", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      Deno.writeTextFileSync(`${specDir}/broken.json`, '{"cdiVersion": "0.3.0",');
      Deno.writeTextFileSync(`${specDir}/unknown.yaml`, "xyzzy: garbled\n");
      const { logger, lines } = recordingLogger();
      const spec = ociSpec();
      await applyCdiDevices(spec, {
        names: ["xpu.dev/xpu=0"],
        specDirs: [specDir],
        allowedKinds: [],
        hookEnv: HOOK_ENV,
        fs: realCreateFs,
        logger,
      });
      const warnings = lines.filter((l) => l.level === "warn").map((l) => l.message);
      strictEqual(warnings.length, 2, warnings.join("\n"));
      ok(warnings[0].includes(`"${specDir}/broken.json"`), warnings[0]);
      ok(warnings[1].includes(`"${specDir}/unknown.yaml"`), warnings[1]);
      deepStrictEqual((spec.linux as { devices: unknown[] }).devices, [
        { path: "/dev/xpu0", type: "c", major: 240, minor: 7, fileMode: 0o666 },
      ]);
    });
  });

  await t.step("a device node missing on the host fails the request", async () => {
    await withTempDir(async (dir) => {
      const { specDir, node } = makeHost(dir);
      Deno.removeSync(node);
      await assertRejectsError(
        () =>
          applyCdiDevices(ociSpec(), {
            names: ["xpu.dev/xpu=0"],
            specDirs: [specDir],
            allowedKinds: [],
            hookEnv: HOOK_ENV,
            fs: realCreateFs,
            logger: recordingLogger().logger,
          }),
        RequestError,
        `"${node}" is missing`,
      );
    });
  });

  await t.step(
    "a spec from an older version: its hook without env gets the shim's env and a warning",
    async () => {
      await withTempDir(async (dir) => {
        const { specDir } = makeHost(dir);
        const file = `${specDir}/xpu.json`;
        const old = JSON.parse(Deno.readTextFileSync(file));
        delete old.containerEdits.hooks[0].env;
        // A hook of a device the container does not ask for is not this container's concern.
        old.devices[1].containerEdits.hooks = [{ hookName: "poststop", path: "/usr/bin/true" }];
        Deno.writeTextFileSync(file, JSON.stringify(old));
        const { logger, lines } = recordingLogger();
        const spec = ociSpec();
        await applyCdiDevices(spec, {
          names: ["xpu.dev/xpu=0"],
          specDirs: [specDir],
          allowedKinds: [],
          hookEnv: HOOK_ENV,
          fs: realCreateFs,
          logger,
        });
        deepStrictEqual((spec.hooks as Record<string, unknown>).createContainer, [{
          path: "/usr/bin/xpu-ctk",
          args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib"],
          env: HOOK_ENV,
        }]);
        const warnings = lines.filter((l) => l.level === "warn").map((l) => l.message);
        strictEqual(warnings.length, 1, warnings.join("\n"));
        ok(warnings[0].includes(`CDI spec "${file}"`), warnings[0]);
        ok(warnings[0].includes('containerEdits.hooks[0] ("/usr/bin/xpu-ctk") has no env'));
      });
    },
  );

  await t.step("hostile: a spec with a relative hook path is not injected at all", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      const file = `${specDir}/xpu.json`;
      const honest = Deno.readTextFileSync(file);
      const hostile = JSON.parse(honest);
      hostile.containerEdits.hooks[0].path = "xpu-ctk";
      Deno.writeTextFileSync(file, JSON.stringify(hostile));
      const { logger, lines } = recordingLogger();
      const options = {
        names: ["xpu.dev/xpu=0"],
        specDirs: [specDir],
        allowedKinds: [],
        hookEnv: HOOK_ENV,
        fs: realCreateFs,
        logger,
      };
      const spec = ociSpec();
      await assertRejectsError(
        () => applyCdiDevices(spec, options),
        RequestError,
        'unresolvable CDI devices "xpu.dev/xpu=0"',
      );
      const warnings = lines.filter((l) => l.level === "warn").map((l) => l.message);
      strictEqual(warnings.length, 1, warnings.join("\n"));
      ok(warnings[0].includes(`"${file}"`), warnings[0]);
      ok(warnings[0].includes('containerEdits.hooks[0].path "xpu-ctk" is not an absolute path'));
      deepStrictEqual(spec, ociSpec());

      // The same spec with the absolute path is injected.
      Deno.writeTextFileSync(file, honest);
      await applyCdiDevices(spec, options);
      strictEqual((spec.linux as { devices: unknown[] }).devices.length, 1);
    });
  });

  await t.step("allowed-kinds: a kind not listed fails before any spec is read", async () => {
    await withTempDir(async (dir) => {
      const { specDir } = makeHost(dir);
      // A second kind the node offers, which the config does not allow.
      Deno.writeTextFileSync(
        `${specDir}/other.json`,
        JSON.stringify({
          cdiVersion: "0.5.0",
          kind: "other.com/gpu",
          devices: [{ name: "0", containerEdits: { env: ["OTHER=1"] } }],
        }),
      );
      // A broken file: reading the dir would log a warning.
      Deno.writeTextFileSync(`${specDir}/broken.json`, "{");
      const { logger, lines } = recordingLogger();
      const spec = ociSpec();
      const options = {
        specDirs: [specDir],
        allowedKinds: ["xpu.dev/xpu"],
        hookEnv: HOOK_ENV,
        fs: realCreateFs,
        logger,
      };
      const error = await assertRejectsError(
        () => applyCdiDevices(spec, { ...options, names: ["xpu.dev/xpu=0", "other.com/gpu=0"] }),
        RequestError,
        'CDI kind "other.com/gpu" ("other.com/gpu=0") not in ' +
          '[xpu-container-runtime.modes.cdi] allowed-kinds ("xpu.dev/xpu")',
      );
      ok(
        error.message.endsWith(
          "or add the kind to [xpu-container-runtime.modes.cdi] allowed-kinds",
        ),
      );
      deepStrictEqual(spec, ociSpec());
      deepStrictEqual(lines, [], "the spec dirs were not read");

      // The honest request of an allowed kind still gets its device.
      await applyCdiDevices(spec, { ...options, names: ["xpu.dev/xpu=0"] });
      deepStrictEqual((spec.linux as { devices: unknown[] }).devices, [
        { path: "/dev/xpu0", type: "c", major: 240, minor: 7, fileMode: 0o666 },
      ]);
    });
  });
});

Deno.test("disallowedKinds", async (t) => {
  const cases: {
    name: string;
    input: { names: string[]; allowed: string[] };
    expected: string[];
  }[] = [
    {
      name: "empty allowed-kinds allows every kind",
      input: { names: ["xpu.dev/xpu=0", "other.com/gpu=1"], allowed: [] },
      expected: [],
    },
    {
      name: "only listed kinds pass",
      input: { names: ["xpu.dev/xpu=0", "other.com/gpu=1"], allowed: ["xpu.dev/xpu"] },
      expected: ["other.com/gpu"],
    },
    {
      name: "the management kind is a kind of its own",
      input: { names: ["management.xpu.dev/xpu=all"], allowed: ["xpu.dev/xpu"] },
      expected: ["management.xpu.dev/xpu"],
    },
    {
      name: "each refused kind once, in request order",
      input: {
        names: ["b.com/x=0", "a.com/x=0", "b.com/x=1", "xpu.dev/xpu=0"],
        allowed: ["xpu.dev/xpu"],
      },
      expected: ["b.com/x", "a.com/x"],
    },
    {
      name: "a kind is matched whole, not as a prefix",
      input: { names: ["xpu.dev/xpu2=0"], allowed: ["xpu.dev/xpu"] },
      expected: ["xpu.dev/xpu2"],
    },
  ];
  for (const c of cases) {
    await t.step(
      c.name,
      () => deepStrictEqual(disallowedKinds(c.input.names, c.input.allowed), c.expected),
    );
  }
});
