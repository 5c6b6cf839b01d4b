/**
 * The build where no `denort` can be had (`deno task build --kind bundled`, what `auto` falls
 * back to): for x86_64 and aarch64 (the latter under `qemu-aarch64-static`), every executable
 * reports the toolkit's version, `xpu-ctk cdi generate` on a simulated driver root writes what the
 * entry modules write, and the shim's pass-through behaves as bare runc. The x86_64 artefact writes
 * nothing outside its own cache dir (`lib/cache`): nothing in HOME or the working directory.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TOOLS } from "../../scripts/build/deb.ts";
import { VERSION } from "../../src/core/version.ts";
import { AARCH64_SYSROOT, e2eTest, type EngineSet } from "../helpers/e2e.ts";
import {
  makeSimulatedDriverRoot,
  presentKernelModule,
  REPO_ROOT,
} from "../helpers/container_lab.ts";
import { BIN_DIR, toolArgv } from "../helpers/toolkit_commands.ts";

const decoder = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  argv: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; clearEnv?: boolean; stdin?: string } = {},
): Promise<Run> {
  const [program, ...args] = argv;
  const { stdin, ...rest } = options;
  const child = new Deno.Command(program, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...rest,
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Removes everything in `dir`, keeping the dir itself (and its mode). */
function emptyDir(dir: string): void {
  for (const entry of Deno.readDirSync(dir)) {
    Deno.removeSync(`${dir}/${entry.name}`, { recursive: true });
  }
}

/** The rows of V8's code cache Deno keeps in the cache dir `cache`. */
function codeCacheEntries(cache: string): number {
  const db = new DatabaseSync(`${cache}/v8_code_cache_v2`, { readOnly: true });
  try {
    return Number((db.prepare("SELECT count(*) AS n FROM codecache").get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/** Every file in the cache dir `cache` and its bytes, by name. */
function cacheFiles(cache: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of Deno.readDirSync(cache)) {
    if (!entry.isFile) continue;
    const bytes = Deno.readFileSync(`${cache}/${entry.name}`);
    files[entry.name] = `${bytes.length} bytes, ${
      bytes.reduce((h, b) => (Math.imul(h, 31) + b) >>> 0, 7)
    }`;
  }
  return files;
}

/**
 * Bundles asking for device 0 in mode `csv` on a simulated driver root, and the shim's create of
 * each through an artefact (the low-level runtime is /bin/true).
 */
async function makeCreateLab(outDir: string, count: number) {
  const dir = Deno.makeTempDirSync({ dir: outDir, prefix: "lab-" });
  const driverRoot = await makeSimulatedDriverRoot(`${dir}/host`);
  Deno.mkdirSync(`${dir}/specs`);
  Deno.copyFileSync(`${REPO_ROOT}/fixtures/csv/xpu.csv`, `${dir}/specs/xpu.csv`);
  Deno.writeTextFileSync(
    `${dir}/config.toml`,
    `[xpu-container-cli]\nroot = "${driverRoot}"\n[xpu-container-runtime]\nmode = "csv"\n` +
      `runtimes = ["/bin/true"]\n[xpu-container-runtime.modes.csv]\n` +
      `mount-spec-path = "${dir}/specs"\n[xpu-ctk]\npath = "/bin/true"\n`,
  );
  const spec = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/fixtures/oci/runc-spec.json`));
  spec.process.env = [...(spec.process.env ?? []), "XPU_VISIBLE_DEVICES=0"];
  const ids = Array.from({ length: count }, (_, i) => `c${i}`);
  for (const id of ids) {
    Deno.mkdirSync(`${dir}/${id}/rootfs`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/${id}/config.json`, JSON.stringify(spec));
  }
  return {
    dir,
    ids,
    create: (artefact: string, id: string) =>
      run([`${artefact}/xpu-container-runtime`, "create", "--bundle", `${dir}/${id}`, id], {
        env: { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml`, XPU_RUNTIME_SERVER_SOCKET: "" },
      }),
    edited: (id: string) => Deno.readTextFileSync(`${dir}/${id}/config.json`).includes("/dev/xpu0"),
  };
}

/** runc's log line without its timestamp, which differs between two runs. */
function untimed(text: string): string {
  return text.replace(/time="[^"]*" /g, "");
}

/** The build is checked once, on the host, from the sources. */
function buildNotApplicable(engines: EngineSet): string | undefined {
  if (engines.name !== "host") return "the build is checked on the host, not in each engine set";
  if (BIN_DIR) return "XPU_BIN_DIR already names a built artefact";
  return undefined;
}

let built: Promise<string> | undefined;

/** Builds both targets once for this file, into a temp dir. */
function buildOnce(): Promise<string> {
  built ??= (async () => {
    const outDir = Deno.makeTempDirSync({ prefix: "xpu-offline-build-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(outDir, { recursive: true }));
    const result = await run([
      Deno.execPath(),
      "run",
      "-A",
      `${REPO_ROOT}/build.ts`,
      "--kind",
      "bundled",
      "--out-dir",
      outDir,
    ]);
    strictEqual(result.code, 0, result.stderr);
    for (const target of ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]) {
      ok(result.stderr.includes(`built ${outDir}/${target}: the bundled artefact`), result.stderr);
    }
    return outDir;
  })();
  return built;
}

/**
 * A copy of the aarch64 artefact whose `lib/deno` starts the real aarch64 runtime under qemu (this
 * machine has no binfmt_misc entry for it), so the launchers run unchanged.
 */
async function aarch64UnderQemu(outDir: string): Promise<string> {
  const dir = `${outDir}/aarch64-under-qemu`;
  await run(["cp", "-a", `${outDir}/aarch64-unknown-linux-gnu`, dir]);
  Deno.renameSync(`${dir}/lib/deno`, `${dir}/lib/deno.aarch64`);
  Deno.writeTextFileSync(
    `${dir}/lib/deno`,
    `#!/bin/sh\nexec qemu-aarch64-static -L ${AARCH64_SYSROOT} "$(dirname "$0")/deno.aarch64" "$@"\n`,
    { mode: 0o755 },
  );
  return dir;
}

/** What every artefact must do, wherever it runs. */
async function checkArtefact(t: Deno.TestContext, dir: string, work: string): Promise<void> {
  await t.step("every executable reports the toolkit's version", async () => {
    for (const tool of TOOLS) {
      const result = await run([`${dir}/${tool}`, "--version"]);
      strictEqual(result.code, 0, `${tool}: ${result.stderr}`);
      strictEqual(result.stdout.split("\n")[0], `${tool} version ${VERSION}`);
    }
  });
  await t.step("xpu-ctk cdi generate writes what the entry module writes", async () => {
    const root = `${work}/driver-root`;
    try {
      Deno.statSync(root);
    } catch {
      Deno.mkdirSync(root);
      await makeSimulatedDriverRoot(root);
    }
    const args = ["cdi", "generate", "--driver-root", root, "--format", "yaml"];
    const expected = await run([...toolArgv("xpu-ctk"), ...args]);
    strictEqual(expected.code, 0, expected.stderr);
    const actual = await run([`${dir}/xpu-ctk`, ...args]);
    deepStrictEqual(actual, expected);
  });
  await t.step("the shim's create writes the spec the entry module writes", async () => {
    // Through the artefact's own system calls (the spec's read, the atomic write, the exec), on
    // its architecture: the aarch64 one under qemu.
    const root = `${work}/create-driver-root`;
    Deno.mkdirSync(`${work}/create-specs`, { recursive: true });
    await makeSimulatedDriverRoot(root);
    Deno.copyFileSync(`${REPO_ROOT}/fixtures/csv/xpu.csv`, `${work}/create-specs/xpu.csv`);
    const config = `${work}/create-config.toml`;
    Deno.writeTextFileSync(
      config,
      `[xpu-container-cli]\nroot = "${root}"\n[xpu-container-runtime]\nmode = "csv"\n` +
        `runtimes = ["/bin/true"]\n[xpu-container-runtime.modes.csv]\n` +
        `mount-spec-path = "${work}/create-specs"\n[xpu-ctk]\npath = "/bin/true"\n`,
    );
    const spec = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/fixtures/oci/runc-spec.json`));
    spec.process.env = [...(spec.process.env ?? []), "XPU_VISIBLE_DEVICES=0"];
    const edited: string[] = [];
    for (
      const [name, shim] of [["sources", toolArgv("xpu-container-runtime")], [
        "artefact",
        [`${dir}/xpu-container-runtime`],
      ]] as const
    ) {
      const bundle = `${work}/create-${name}`;
      Deno.mkdirSync(`${bundle}/rootfs`, { recursive: true });
      Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify(spec, null, 2));
      Deno.chmodSync(`${bundle}/config.json`, 0o640);
      const result = await run([...shim, "create", "--bundle", bundle, "c"], {
        env: { XPU_CTK_CONFIG_FILE_PATH: config, XPU_RUNTIME_SERVER_SOCKET: "" },
      });
      deepStrictEqual(result, { code: 0, stdout: "", stderr: "" }, name);
      edited.push(Deno.readTextFileSync(`${bundle}/config.json`));
      strictEqual(Deno.statSync(`${bundle}/config.json`).mode! & 0o777, 0o640, name);
    }
    ok(edited[0].includes("/dev/xpu0"), "the sources' shim edited the spec");
    strictEqual(edited[1], edited[0]);
  });
  await t.step("the shim's pass-through is bare runc's: exit code, stdout, stderr", async () => {
    const config = `${work}/config.toml`;
    Deno.writeTextFileSync(config, '[xpu-container-runtime]\nruntimes = ["runc"]\n');
    for (const args of [["state", "xpu-missing"], ["--root", `${work}/runc-root`, "list"]]) {
      const bare = await run(["runc", ...args]);
      const shim = await run([`${dir}/xpu-container-runtime`, ...args], {
        env: { XPU_CTK_CONFIG_FILE_PATH: config },
      });
      deepStrictEqual(
        { ...shim, stderr: untimed(shim.stderr) },
        { ...bare, stderr: untimed(bare.stderr) },
      );
    }
  });
}

await e2eTest(
  "offline build, x86_64: versions, cdi generate, shim pass-through, nothing written",
  ["root", "runc"],
  async (t) => {
    const outDir = await buildOnce();
    const dir = `${outDir}/x86_64-unknown-linux-gnu`;
    await checkArtefact(t, dir, Deno.makeTempDirSync({ dir: outDir }));
    await t.step(
      "hostile: a deno.json, package.json and node_modules in the cwd are not read",
      async () => {
        // A hook's or the shim's cwd is where the engine put it; nothing there may steer Deno.
        const cwd = Deno.makeTempDirSync({ dir: outDir, prefix: "cwd-" });
        Deno.writeTextFileSync(
          `${cwd}/deno.json`,
          '{"imports": {"smol-toml": "./evil.js"}, "lock": {',
        );
        Deno.writeTextFileSync(`${cwd}/package.json`, '{"name": "evil", "dependencies": {"x": 1');
        Deno.mkdirSync(`${cwd}/node_modules/smol-toml`, { recursive: true });
        Deno.writeTextFileSync(
          `${cwd}/node_modules/smol-toml/index.js`,
          "throw new Error('evil');\n",
        );
        Deno.writeTextFileSync(`${cwd}/evil.js`, "throw new Error('evil');\n");
        const config = `${cwd}/config.toml`;
        Deno.writeTextFileSync(config, '[xpu-container-runtime]\nruntimes = ["runc"]\n');
        const bare = await run(["runc", "state", "xpu-missing"], { cwd });
        const shim = await run([`${dir}/xpu-container-runtime`, "state", "xpu-missing"], {
          cwd,
          env: { XPU_CTK_CONFIG_FILE_PATH: config },
        });
        deepStrictEqual(
          { ...shim, stderr: untimed(shim.stderr) },
          { ...bare, stderr: untimed(bare.stderr) },
        );
        // The honest tool in the same place still works.
        const version = await run([`${dir}/xpu-ctk`, "--version"], { cwd });
        strictEqual(version.code, 0, version.stderr);
        strictEqual(version.stdout, `xpu-ctk version ${VERSION}\n`);
      },
    );
    await t.step("the installer installs the artefact: the installed tools run", async () => {
      const root = `${outDir}/installed/toolkit`;
      const install = await run([
        `${dir}/xpu-ctk-installer`,
        "install",
        "--toolkit-root",
        root,
        "--source-dir",
        dir,
        "--kernel-module",
        presentKernelModule(),
      ]);
      strictEqual(install.code, 0, install.stderr);
      // Without --source-dir: the executables beside the installer's launcher.
      const byDefault = await run([
        `${dir}/xpu-ctk-installer`,
        "install",
        "--toolkit-root",
        `${root}-default`,
        "--kernel-module",
        presentKernelModule(),
      ]);
      strictEqual(byDefault.code, 0, byDefault.stderr);
      for (const installed of [root, `${root}-default`]) {
        for (const tool of ["xpu-ctk", "xpu-container-runtime", "xpu-container-cli"]) {
          const result = await run([`${installed}/${tool}`, "--version"]);
          strictEqual(result.code, 0, `${installed}/${tool}: ${result.stderr}`);
          strictEqual(result.stdout.split("\n")[0], `${tool} version ${VERSION}`);
        }
      }
    });
    await t.step(
      "nothing is written at run time but the launchers' cache: nothing in HOME or cwd",
      async () => {
        const home = Deno.makeTempDirSync({ dir: outDir, prefix: "home-" });
        const result = await run([`${dir}/xpu-ctk`, "config", "default"], {
          env: { HOME: home, PATH: "/usr/bin:/bin" },
          clearEnv: true,
          cwd: home,
        });
        strictEqual(result.code, 0, result.stderr);
        deepStrictEqual([...Deno.readDirSync(home)], []);
        const cache = `${dir}/lib/cache`;
        strictEqual(Deno.statSync(cache).mode! & 0o777, 0o700);
        ok(Deno.statSync(`${cache}/dep_analysis_cache_v2`).size > 0, "the module cache fills");
      },
    );
    await t.step(
      "24 creates at once on an empty cache: every one edits its spec, none prints a thing",
      async () => {
        const cache = `${dir}/lib/cache`;
        emptyDir(cache);
        const lab = await makeCreateLab(outDir, 24);
        const results = await Promise.all(lab.ids.map((id) => lab.create(dir, id)));
        deepStrictEqual(
          results.map((r, i) => ({ id: lab.ids[i], ...r })),
          lab.ids.map((id) => ({ id, code: 0, stdout: "", stderr: "" })),
        );
        for (const id of lab.ids) ok(lab.edited(id), `${id}: the shim edited its spec`);
        ok(Deno.statSync(`${cache}/dep_analysis_cache_v2`).size > 0, "the module cache filled");
        ok(codeCacheEntries(cache) > 0, "V8's code cache filled");
      },
    );
    await t.step(
      "steady state: creates and xpu-ctk calls in turn leave every cache file as it was",
      async () => {
        // Once filled, the caches are only read: no container's create or hook writes there. V8
        // refuses a code cache made under other flags than its own, and Deno then writes it
        // again: were a module cached by two calls under different flags, each would rewrite it.
        const cache = `${dir}/lib/cache`;
        const lab = await makeCreateLab(outDir, 1);
        const bundle = `${lab.dir}/${lab.ids[0]}`;
        const state = JSON.stringify({ ociVersion: "1.0.2", id: lab.ids[0], bundle, pid: 1 });
        const round = async () => {
          const create = await lab.create(dir, lab.ids[0]);
          deepStrictEqual(create, { code: 0, stdout: "", stderr: "" });
          ok(lab.edited(lab.ids[0]));
          // The hook runc runs for the container, as the edit names it.
          Deno.removeSync(`${bundle}/rootfs`, { recursive: true });
          Deno.mkdirSync(`${bundle}/rootfs`);
          const hook = await run(
            [`${dir}/xpu-ctk`, "hook", "create-symlinks", "--link", "libxpu.so.1::/lib/libxpu.so"],
            { stdin: state, env: { PATH: "/usr/bin:/bin" }, clearEnv: true },
          );
          deepStrictEqual(hook, { code: 0, stdout: "", stderr: "" });
          strictEqual(Deno.readLinkSync(`${bundle}/rootfs/lib/libxpu.so`), "libxpu.so.1");
          for (
            const argv of [
              [`${dir}/xpu-ctk`, "config", "default"],
              [`${dir}/xpu-ctk`, "--version"],
              [`${dir}/xpu-container-cli`, "--version"],
              [`${dir}/xpu-container-runtime-hook`, "--version"],
            ]
          ) strictEqual((await run(argv)).code, 0, argv.join(" "));
        };
        for (let i = 0; i < 3; i++) await round();
        const before = cacheFiles(cache);
        for (let i = 0; i < 3; i++) await round();
        deepStrictEqual(cacheFiles(cache), before);
      },
    );
    await t.step(
      "fault: a code cache whose entries are garbage is refused by V8, and the create is the same",
      async () => {
        const cache = `${dir}/lib/cache`;
        const lab = await makeCreateLab(outDir, 2);
        deepStrictEqual(await lab.create(dir, lab.ids[0]), { code: 0, stdout: "", stderr: "" });
        ok(codeCacheEntries(cache) > 0);
        // What a torn write or a bad disk leaves: every entry's bytes replaced, lengths kept.
        const db = new DatabaseSync(`${cache}/v8_code_cache_v2`);
        try {
          db.exec("UPDATE codecache SET data = randomblob(length(data))");
        } finally {
          db.close();
        }
        deepStrictEqual(await lab.create(dir, lab.ids[1]), { code: 0, stdout: "", stderr: "" });
        strictEqual(
          Deno.readTextFileSync(`${lab.dir}/${lab.ids[1]}/config.json`),
          Deno.readTextFileSync(`${lab.dir}/${lab.ids[0]}/config.json`),
        );
        const version = await run([`${dir}/xpu-ctk`, "--version"]);
        deepStrictEqual(version, { code: 0, stdout: `xpu-ctk version ${VERSION}\n`, stderr: "" });
      },
    );
    await t.step(
      "hostile: a garbage cache is rebuilt; a user who does not own the cache gets none",
      async () => {
        const cache = `${dir}/lib/cache`;
        emptyDir(cache);
        Deno.writeTextFileSync(`${cache}/dep_analysis_cache_v2`, "not a database ".repeat(500));
        const expected = `xpu-ctk version ${VERSION}\n`;
        for (const round of ["garbage", "rebuilt"]) {
          const result = await run([`${dir}/xpu-ctk`, "--version"]);
          deepStrictEqual({ ...result, round }, { code: 0, stdout: expected, stderr: "", round });
        }
        ok(!Deno.readTextFileSync(`${cache}/dep_analysis_cache_v2`).startsWith("not a database"));
        // Another user runs root's artefact: the launcher gives Deno no cache dir (it could not
        // write root's, and must not read what it cannot trust either way), and it runs.
        const before = [...Deno.readDirSync(cache)].map((e) => e.name).sort();
        Deno.chmodSync(outDir, 0o755);
        const nobody = await run([
          "setpriv",
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          `${dir}/xpu-ctk`,
          "--version",
        ], { cwd: "/" }).finally(() => Deno.chmodSync(outDir, 0o700));
        deepStrictEqual(nobody, { code: 0, stdout: expected, stderr: "" });
        deepStrictEqual([...Deno.readDirSync(cache)].map((e) => e.name).sort(), before);
      },
    );
  },
  { notApplicable: buildNotApplicable },
);

await e2eTest(
  "offline build, aarch64 under qemu: versions, cdi generate, shim pass-through",
  ["root", "runc", "qemu-aarch64"],
  async (t) => {
    const outDir = await buildOnce();
    const runtime = Deno.readFileSync(`${outDir}/aarch64-unknown-linux-gnu/lib/deno`);
    // ELF, 64-bit, e_machine 183 (EM_AARCH64).
    deepStrictEqual([...runtime.subarray(0, 5)], [0x7f, 0x45, 0x4c, 0x46, 2]);
    strictEqual(runtime[18] | (runtime[19] << 8), 183);
    const dir = await aarch64UnderQemu(outDir);
    await checkArtefact(t, dir, Deno.makeTempDirSync({ dir: outDir }));
  },
  { notApplicable: buildNotApplicable },
);
