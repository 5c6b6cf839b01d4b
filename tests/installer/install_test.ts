/**
 * `install` and `delete` on real temp dirs: every file, mode and link of a toolkit dir; symlinked
 * sources resolved; a reinstall replaces the whole dir and leaves no staging dir behind; the
 * management CDI spec (0644) or a warning on a host without devices; and every refusal (a dir
 * that is not a toolkit, `/`, a missing or non-executable source) leaves the disk as it was.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { hooksWithoutEnv, parseCdiSpec } from "../../src/core/cdi/cdi_spec.ts";
import { renderConfigToml } from "../../src/core/config/config_render.ts";
import { encodeFastPathRecord } from "../../src/core/fast_path/fast_path_record.ts";
import { XPU_PROFILE } from "../../src/core/device/device_profile.ts";
import { UsageError } from "../../src/core/errors.ts";
import {
  deleteToolkit,
  type InstallOptions,
  installToolkit,
  MANAGEMENT_KIND,
} from "../../src/installer/install.ts";
import { installedConfig, toolkitLayout } from "../../src/installer/toolkit_layout.ts";
import { renderWrapper } from "../../src/installer/wrapper_script.ts";
import { assertRejectsError, assertThrowsError } from "../helpers/assert_error.ts";
import { fixtureHostFs } from "../helpers/fixture_fs.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const TOOLS = [
  "xpu-container-runtime",
  "xpu-container-runtime-hook",
  "xpu-container-cli",
  "xpu-ctk",
];

/** A source dir of fake executables; the runtime is a symlink into another dir, mode 0750. */
function makeSources(dir: string): string {
  const source = `${dir}/src`;
  Deno.mkdirSync(`${dir}/elsewhere`, { recursive: true });
  Deno.mkdirSync(source);
  for (const tool of TOOLS) {
    const path = tool === "xpu-container-runtime"
      ? `${dir}/elsewhere/runtime-1.0`
      : `${source}/${tool}`;
    Deno.writeTextFileSync(path, `#!/bin/sh\necho ${tool}\n`);
    Deno.chmodSync(path, tool === "xpu-container-runtime" ? 0o750 : 0o755);
  }
  Deno.symlinkSync(`${dir}/elsewhere/runtime-1.0`, `${source}/xpu-container-runtime`);
  return source;
}

function options(dir: string, extra: Partial<InstallOptions> = {}): InstallOptions {
  return {
    toolkitRoot: `${dir}/xpu/toolkit`,
    sourceDir: `${dir}/src`,
    profile: XPU_PROFILE,
    kernelModule: "xpu",
    driverRoot: "/",
    hostRoot: "/",
    lowLevelRuntimes: ["runc"],
    ...extra,
  };
}

/** Every entry of a dir tree: path → kind, mode or link target. */
function listing(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}/${entry.name}`;
    const name = prefix + entry.name;
    if (entry.isSymlink) out[name] = `-> ${Deno.readLinkSync(path)}`;
    else if (entry.isDirectory) {
      out[name + "/"] = `dir ${(Deno.statSync(path).mode! & 0o777).toString(8)}`;
      Object.assign(out, listing(path, name + "/"));
    } else out[name] = `file ${(Deno.statSync(path).mode! & 0o7777).toString(8)}`;
  }
  return out;
}

const logs: string[] = [];
const log = (line: string) => void logs.push(line);

Deno.test("install: every file, mode and link; wrappers and config as rendered", async () => {
  await withTempDir(async (dir) => {
    makeSources(dir);
    const o = options(dir);
    await installToolkit(o, log);
    const root = o.toolkitRoot;
    deepStrictEqual(listing(root), {
      ".config/": "dir 755",
      ".config/xpu-container-runtime/": "dir 755",
      ".config/xpu-container-runtime/config.toml": "file 644",
      "xpu-container-cli": "file 755",
      "xpu-container-cli.real": "file 755",
      "xpu-container-runtime": "file 755",
      "xpu-container-runtime-hook": "file 755",
      "xpu-container-runtime-hook.real": "file 755",
      "xpu-container-runtime.cdi": "file 755",
      "xpu-container-runtime.cdi.real": "-> xpu-container-runtime.real",
      "xpu-container-runtime.fast-path": "file 644",
      "xpu-container-runtime.legacy": "file 755",
      "xpu-container-runtime.legacy.real": "-> xpu-container-runtime.real",
      "xpu-container-runtime.real": "file 750",
      "xpu-container-toolkit": "-> xpu-container-runtime-hook",
      "xpu-ctk": "file 755",
      "xpu-ctk.real": "file 755",
    });
    // The symlinked source was copied, not linked.
    strictEqual(
      Deno.readTextFileSync(`${root}/xpu-container-runtime.real`),
      "#!/bin/sh\necho xpu-container-runtime\n",
    );
    for (
      const wrapper of toolkitLayout({
        kernelModule: "xpu",
        fallbackRuntime: "runc",
        fastPath: true,
      }).wrappers
    ) {
      strictEqual(Deno.readTextFileSync(`${root}/${wrapper.name}`), renderWrapper(wrapper, root));
    }
    const config = installedConfig({
      toolkitDir: root,
      driverRoot: "/",
      profile: "xpu",
      lowLevelRuntimes: ["runc"],
    });
    strictEqual(
      Deno.readTextFileSync(`${root}/.config/xpu-container-runtime/config.toml`),
      renderConfigToml(config),
    );
    // The fast-path record of exactly that config, so the first call takes the fast path.
    deepStrictEqual(
      Deno.readFileSync(`${root}/xpu-container-runtime.fast-path`),
      encodeFastPathRecord({
        configPath: `${root}/.config/xpu-container-runtime/config.toml`,
        configBytes: new TextEncoder().encode(renderConfigToml(config)),
        runtimes: ["runc", "crun"],
        logLevel: "info",
      }),
    );
    deepStrictEqual(listing(`${dir}/xpu`), {
      ...prefixed("toolkit/", listing(root)),
      "toolkit/": "dir 755",
    });
  });
});

Deno.test("install on a host without /bin/bash: sh wrappers, no fast path, one line saying so", async () => {
  await withTempDir(async (dir) => {
    makeSources(dir);
    Deno.mkdirSync(`${dir}/host-without-bash`);
    const o = { ...options(dir), hostRoot: `${dir}/host-without-bash` };
    const lines: string[] = [];
    await installToolkit(o, (line) => void lines.push(line));
    const wrapper = Deno.readTextFileSync(`${o.toolkitRoot}/xpu-container-runtime`);
    strictEqual(wrapper.split("\n")[0], "#!/bin/sh");
    ok(!wrapper.includes("xpu_fast_path"));
    strictEqual(
      lines.filter((l) => l.startsWith("no /bin/bash")).join(),
      `no /bin/bash on the host (under ${dir}/host-without-bash): the runtime wrappers hand ` +
        "every call to the shim (no pass-through fast path)",
    );
    ok(!Deno.readDirSync(o.toolkitRoot).some((e) => e.name.endsWith(".fast-path")));
  });
});

function prefixed(prefix: string, entries: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).map(([k, v]) => [prefix + k, v]));
}

Deno.test("a reinstall replaces the whole dir and leaves nothing else behind", async () => {
  await withTempDir(async (dir) => {
    makeSources(dir);
    const o = options(dir);
    await installToolkit(o, log);
    Deno.writeTextFileSync(`${o.toolkitRoot}/stale`, "from an older release");
    await installToolkit({ ...o, kernelModule: "" }, log);
    ok(!Deno.readDirSync(o.toolkitRoot).some((e) => e.name === "stale"));
    deepStrictEqual([...Deno.readDirSync(`${dir}/xpu`)].map((e) => e.name), ["toolkit"]);
    ok(!Deno.readTextFileSync(`${o.toolkitRoot}/xpu-container-runtime`).includes("/proc/modules"));
  });
});

Deno.test("install refuses a dir that is not a toolkit, and / — touching nothing", async () => {
  await withTempDir(async (dir) => {
    makeSources(dir);
    Deno.mkdirSync(`${dir}/data`);
    Deno.writeTextFileSync(`${dir}/data/precious`, "keep me");
    await assertRejectsError(
      () => installToolkit(options(dir, { toolkitRoot: `${dir}/data` }), log),
      UsageError,
      `Cannot use --toolkit-root "${dir}/data": it holds files that are not an installed toolkit`,
    );
    deepStrictEqual(listing(`${dir}/data`), { precious: "file 644" });
    deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "data",
      "elsewhere",
      "src",
    ]);
    await assertRejectsError(
      () => installToolkit(options(dir, { toolkitRoot: "/" }), log),
      UsageError,
      `--toolkit-root "/": expected an absolute path other than /`,
    );
    await assertRejectsError(
      () => installToolkit(options(dir, { toolkitRoot: "toolkit" }), log),
      UsageError,
      `--toolkit-root "toolkit"`,
    );
    Deno.writeTextFileSync(`${dir}/file`, "");
    await assertRejectsError(
      () => installToolkit(options(dir, { toolkitRoot: `${dir}/file` }), log),
      UsageError,
      "it is a file",
    );
  });
});

Deno.test("a missing or non-executable source is named; the old install stays", async () => {
  await withTempDir(async (dir) => {
    const source = makeSources(dir);
    const o = options(dir);
    await installToolkit(o, log);
    const before = listing(o.toolkitRoot);
    Deno.removeSync(`${source}/xpu-container-cli`);
    await assertRejectsError(
      () => installToolkit(o, log),
      UsageError,
      `the executable "xpu-container-cli" is missing from "${source}" (${source}/xpu-container-cli does not exist)`,
    );
    deepStrictEqual(listing(o.toolkitRoot), before);
    deepStrictEqual([...Deno.readDirSync(`${dir}/xpu`)].map((e) => e.name), ["toolkit"]);
    Deno.removeSync(`${dir}/elsewhere/runtime-1.0`);
    Deno.writeTextFileSync(`${source}/xpu-container-cli`, "not executable");
    await assertRejectsError(
      () => installToolkit(o, log),
      UsageError,
      `"xpu-container-runtime" is missing from "${source}" (${source}/xpu-container-runtime is a dangling symlink)`,
    );
    Deno.writeTextFileSync(`${dir}/elsewhere/runtime-1.0`, "#!/bin/sh\n");
    Deno.chmodSync(`${dir}/elsewhere/runtime-1.0`, 0o755);
    await assertRejectsError(
      () => installToolkit(o, log),
      UsageError,
      `"${source}/xpu-container-cli" is not an executable file`,
    );
    // A new toolkit root whose parent does not exist: not even the parent is made.
    await assertRejectsError(
      () => installToolkit({ ...o, toolkitRoot: `${dir}/new/parent/toolkit` }, log),
      UsageError,
      "is not an executable file",
    );
    ok(!Deno.readDirSync(dir).some((e) => e.name === "new"));
    deepStrictEqual(listing(o.toolkitRoot), before);
  });
});

Deno.test("--cdi-enabled writes the management spec 0644; no devices means a warning", async () => {
  await withTempDir(async (dir) => {
    makeSources(dir);
    const cdi = `${dir}/cdi`;
    const seen: string[] = [];
    await installToolkit(
      options(dir, { cdiOutputDir: cdi }),
      (l) => seen.push(l),
      fixtureHostFs("xpu"),
    );
    const file = `${cdi}/management.xpu.dev-xpu.yaml`;
    strictEqual(Deno.statSync(file).mode! & 0o777, 0o644);
    const spec = await parseCdiSpec(Deno.readTextFileSync(file), file);
    strictEqual(spec.kind, MANAGEMENT_KIND);
    deepStrictEqual(spec.devices.map((d) => d.name), ["all"]);
    deepStrictEqual(spec.devices[0].containerEdits.deviceNodes?.map((n) => n.path), [
      "/dev/xpu0",
      "/dev/xpu1",
    ]);
    ok(spec.containerEdits?.hooks?.every((h) => h.path === `${dir}/xpu/toolkit/xpu-ctk`));
    deepStrictEqual(hooksWithoutEnv(spec), [], "every hook has its own env");
    ok(
      seen.includes(`wrote the management CDI spec ${file} (${MANAGEMENT_KIND}=all)`),
      seen.join("\n"),
    );

    const empty = `${dir}/empty-host`;
    Deno.mkdirSync(empty);
    const warned: string[] = [];
    await installToolkit(
      options(dir, { cdiOutputDir: `${dir}/cdi2`, driverRoot: empty }),
      (l) => warned.push(l),
    );
    ok(
      warned.some((l) =>
        l.startsWith("warning: no management CDI spec written: Cannot generate a CDI spec")
      ),
    );
    ok(!Deno.readDirSync(dir).some((e) => e.name === "cdi2"));
  });
});

Deno.test("a management spec an older version wrote (hooks without env) never stays", async (t) => {
  /** The spec as an older version wrote it: the same hook, no env. */
  const oldSpec = (toolkit: string) =>
    [
      'cdiVersion: "0.5.0"',
      `kind: ${MANAGEMENT_KIND}`,
      "devices:",
      "  - name: all",
      "    containerEdits:",
      "      deviceNodes:",
      "        - path: /dev/xpu0",
      "containerEdits:",
      "  hooks:",
      "    - hookName: createContainer",
      `      path: ${toolkit}/xpu-ctk`,
      "      args: [xpu-ctk, hook, update-ldcache, --folder, /usr/lib]",
      "",
    ].join("\n");
  await t.step("a reinstall on a host with devices regenerates it with env", async () => {
    await withTempDir(async (dir) => {
      makeSources(dir);
      const cdi = `${dir}/cdi`;
      const file = `${cdi}/management.xpu.dev-xpu.yaml`;
      Deno.mkdirSync(cdi);
      Deno.writeTextFileSync(file, oldSpec(`${dir}/xpu/toolkit`));
      await installToolkit(options(dir, { cdiOutputDir: cdi }), () => {}, fixtureHostFs("xpu"));
      const spec = await parseCdiSpec(Deno.readTextFileSync(file), file);
      ok((spec.containerEdits?.hooks?.length ?? 0) > 0);
      deepStrictEqual(hooksWithoutEnv(spec), []);
    });
  });
  await t.step("a host without devices: the old spec is removed, saying why", async () => {
    await withTempDir(async (dir) => {
      makeSources(dir);
      const cdi = `${dir}/cdi`;
      const file = `${cdi}/management.xpu.dev-xpu.yaml`;
      Deno.mkdirSync(cdi);
      Deno.writeTextFileSync(file, oldSpec(`${dir}/xpu/toolkit`));
      const empty = `${dir}/empty-host`;
      Deno.mkdirSync(empty);
      const seen: string[] = [];
      await installToolkit(
        options(dir, { cdiOutputDir: cdi, driverRoot: empty }),
        (l) => seen.push(l),
      );
      deepStrictEqual([...Deno.readDirSync(cdi)], []);
      ok(
        seen.includes(
          `removed the old management CDI spec ${file}: its hooks have no env, so runtimes ` +
            `would start them with the container's environment`,
        ),
        seen.join("\n"),
      );
    });
  });
  await t.step("a host without devices: a current spec (hooks with env) is kept", async () => {
    await withTempDir(async (dir) => {
      makeSources(dir);
      const cdi = `${dir}/cdi`;
      const file = `${cdi}/management.xpu.dev-xpu.yaml`;
      await installToolkit(options(dir, { cdiOutputDir: cdi }), () => {}, fixtureHostFs("xpu"));
      const written = Deno.readTextFileSync(file);
      const empty = `${dir}/empty-host`;
      Deno.mkdirSync(empty);
      await installToolkit(options(dir, { cdiOutputDir: cdi, driverRoot: empty }), () => {});
      strictEqual(Deno.readTextFileSync(file), written);
    });
  });
});

Deno.test("delete removes a toolkit dir, accepts a missing one, refuses anything else", async () => {
  await withTempDir(async (dir) => {
    makeSources(dir);
    const o = options(dir);
    await installToolkit(o, log);
    deleteToolkit(o.toolkitRoot, log);
    deepStrictEqual([...Deno.readDirSync(`${dir}/xpu`)], []);
    deleteToolkit(o.toolkitRoot, log);
    strictEqual(logs.at(-1), `nothing to delete: ${o.toolkitRoot} does not exist`);
    assertThrowsError(
      () => deleteToolkit(`${dir}/src`, log),
      UsageError,
      "not an installed toolkit",
    );
    ok(Deno.statSync(`${dir}/src/xpu-ctk`).isFile);
  });
});

Deno.test("a bundled build's lib/ (runtime and bundle) is installed beside its launchers, with an empty cache dir", async () => {
  await withTempDir(async (dir) => {
    const source = `${dir}/src`;
    Deno.mkdirSync(`${source}/lib/js`, { recursive: true });
    for (const tool of TOOLS) {
      Deno.writeTextFileSync(`${source}/${tool}`, `#!/bin/bash\nexec "$here/lib/deno" ${tool}\n`);
      Deno.chmodSync(`${source}/${tool}`, 0o755);
    }
    Deno.writeTextFileSync(`${source}/lib/deno`, "ELF");
    Deno.chmodSync(`${source}/lib/deno`, 0o755);
    Deno.writeTextFileSync(`${source}/lib/js/xpu-ctk.js`, "export {};\n");
    Deno.chmodSync(`${source}/lib/js/xpu-ctk.js`, 0o644);
    // A build that ran has filled its cache, which names modules by the build's paths: the
    // installed one starts empty, 0700, whatever the build's holds (a link there too).
    Deno.mkdirSync(`${source}/lib/cache/npm`, { recursive: true, mode: 0o755 });
    Deno.writeTextFileSync(`${source}/lib/cache/dep_analysis_cache_v2`, "SQLite");
    Deno.symlinkSync("/etc", `${source}/lib/cache/etc`);
    const o = options(dir);
    await installToolkit(o, log);
    const installed = listing(o.toolkitRoot);
    const expected = {
      "lib/": "dir 755",
      "lib/cache/": "dir 700",
      "lib/deno": "file 755",
      "lib/js/": "dir 755",
      "lib/js/xpu-ctk.js": "file 644",
    };
    const libOf = (tree: Record<string, string>) =>
      Object.fromEntries(Object.entries(tree).filter(([name]) => name.startsWith("lib/")));
    deepStrictEqual(libOf(installed), expected);
    // A build without one (an older build) gets one too.
    Deno.removeSync(`${source}/lib/cache`, { recursive: true });
    await installToolkit(o, log);
    deepStrictEqual(libOf(listing(o.toolkitRoot)), expected);
    strictEqual(Deno.readTextFileSync(`${o.toolkitRoot}/lib/js/xpu-ctk.js`), "export {};\n");

    // A link in lib/ is not what a build makes: refused, the install left as it was.
    Deno.symlinkSync("/etc/passwd", `${source}/lib/js/evil.js`);
    await assertRejectsError(
      () => installToolkit(o, log),
      UsageError,
      `lib/js/evil.js" is not a regular file`,
    );
    deepStrictEqual(listing(o.toolkitRoot), installed);
  });
});
