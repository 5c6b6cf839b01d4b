/** The bundled artefact's launchers, rendered and run by bash against a stand-in runtime. */

import { deepStrictEqual, match, strictEqual, throws } from "node:assert/strict";
import {
  CACHE_DIR,
  LONG_RUNNING_COMMANDS,
  NO_DENO_DIR,
  renderLauncher,
  RUN_FLAGS,
  RUNTIME_TOOL,
  SHORT_LIVED_V8_FLAGS,
  v8FlagsOf,
} from "../../scripts/build/launcher.ts";
import { encodeFastPathRecord } from "../../src/core/fast_path/fast_path_record.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

Deno.test("renderLauncher: one exec of lib/deno with the tool's bundle and the same argv", async (t) => {
  await t.step("shape", () => {
    const text = renderLauncher("xpu-ctk");
    match(text, /^#!\/bin\/bash\n/);
    match(text, /exec -a "\$0" "\$here\/lib\/deno" run .* "\$here\/lib\/js\/xpu-ctk\.js" "\$@"\n$/);
    for (const flag of RUN_FLAGS) match(text, new RegExp(` ${flag}( |$)`, "m"));
  });
  await t.step("a name that is not an executable name is refused", () => {
    throws(() => renderLauncher("x; rm -rf /"), /not an executable name/);
    throws(() => renderLauncher("../xpu"), /not an executable name/);
  });
});

Deno.test("a launcher, through a symlink, runs its lib/deno with the bundle, every argument and no cache dir", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/pkg/lib/js`, { recursive: true });
    // The stand-in runtime reports what it was started with, one line per item.
    Deno.writeTextFileSync(
      `${dir}/pkg/lib/deno`,
      '#!/bin/sh\nprintf "%s\\n" "$DENO_DIR" "$DENO_NO_PACKAGE_JSON" "$@"\n',
      { mode: 0o755 },
    );
    Deno.writeTextFileSync(`${dir}/pkg/xpu-ctk`, renderLauncher("xpu-ctk"), { mode: 0o755 });
    Deno.mkdirSync(`${dir}/usr-bin`);
    Deno.symlinkSync(`${dir}/pkg/xpu-ctk`, `${dir}/usr-bin/xpu-ctk`);
    const out = await new Deno.Command(`${dir}/usr-bin/xpu-ctk`, {
      args: ["cdi", "a b", "", "--x=$HOME"],
      stdout: "piped",
    }).output();
    strictEqual(out.code, 0);
    const lines = new TextDecoder().decode(out.stdout).split("\n");
    deepStrictEqual(lines.slice(0, 3), [NO_DENO_DIR, "1", "run"]);
    deepStrictEqual(lines.slice(3 + RUN_FLAGS.length, -1), [
      SHORT_LIVED_V8_FLAGS,
      `${dir}/pkg/lib/js/xpu-ctk.js`,
      "cdi",
      "a b",
      "",
      "--x=$HOME",
    ]);
  });
});

Deno.test("every launcher passes the same V8 flags, but for a long-running command", async (t) => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/lib/js`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/lib/deno`, '#!/bin/sh\nprintf "%s\\n" "$@"\n', {
      mode: 0o755,
    });
    const argsOf = async (tool: string, args: string[]) => {
      Deno.writeTextFileSync(`${dir}/${tool}`, renderLauncher(tool), { mode: 0o755 });
      // No fast-path record: the runtime's launcher, too, runs lib/deno.
      const out = await new Deno.Command(`${dir}/${tool}`, { args, stdout: "piped" }).output();
      strictEqual(out.code, 0);
      return new TextDecoder().decode(out.stdout).split("\n").slice(0, -1);
    };
    const cases: { tool: string; args: string[]; expected: string | undefined }[] = [
      {
        tool: RUNTIME_TOOL,
        args: ["create", "--bundle", "/b", "c"],
        expected: SHORT_LIVED_V8_FLAGS,
      },
      { tool: RUNTIME_TOOL, args: [], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-ctk", args: ["hook", "update-ldcache"], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-ctk", args: ["config", "default"], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-ctk", args: ["cdi", "hook"], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-ctk", args: [], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-ctk", args: ["nri-plugins", "x"], expected: SHORT_LIVED_V8_FLAGS },
      ...LONG_RUNNING_COMMANDS["xpu-ctk"].flatMap((command) => [
        { tool: "xpu-ctk", args: [command], expected: undefined },
        { tool: "xpu-ctk", args: ["--debug", command, "--socket", "/s"], expected: undefined },
      ]),
      { tool: "xpu-container-cli", args: ["--version"], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-container-runtime-hook", args: ["prestart"], expected: SHORT_LIVED_V8_FLAGS },
      { tool: "xpu-ctk-installer", args: ["install"], expected: SHORT_LIVED_V8_FLAGS },
    ];
    for (const c of cases) {
      await t.step(`${c.tool} ${c.args.join(" ")}`, async () => {
        strictEqual(v8FlagsOf(c.tool, c.args), c.expected);
        const seen = await argsOf(c.tool, c.args);
        deepStrictEqual(seen, [
          "run",
          ...RUN_FLAGS,
          ...(c.expected === undefined ? [] : [c.expected]),
          `${dir}/lib/js/${c.tool}.js`,
          ...c.args,
        ]);
      });
    }
  });
});

Deno.test("a launcher gives Deno its cache dir only when that is a dir of the caller's own, no link", async (t) => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/pkg/lib/js`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/pkg/lib/deno`, '#!/bin/sh\necho "$DENO_DIR"\n', {
      mode: 0o755,
    });
    Deno.writeTextFileSync(`${dir}/pkg/xpu-ctk`, renderLauncher("xpu-ctk"), { mode: 0o755 });
    Deno.writeTextFileSync(
      `${dir}/pkg/named`,
      renderLauncher("xpu-ctk", { cacheDir: `'${dir}/var cache'` }),
      { mode: 0o755 },
    );
    const cache = `${dir}/pkg/${CACHE_DIR}`;
    const denoDir = async (launcher = `${dir}/pkg/xpu-ctk`, env: Record<string, string> = {}) => {
      const out = await new Deno.Command(launcher, { env, stdout: "piped" }).output();
      strictEqual(out.code, 0);
      return new TextDecoder().decode(out.stdout).trim();
    };
    await t.step("none there: Deno keeps its caches in memory", async () => {
      strictEqual(await denoDir(), NO_DENO_DIR);
      // Not one the caller names.
      strictEqual(await denoDir(undefined, { cache: "/tmp", DENO_DIR: "/tmp" }), NO_DENO_DIR);
    });
    await t.step("the artefact's own, a dir of this user", async () => {
      Deno.mkdirSync(cache, { mode: 0o700 });
      strictEqual(await denoDir(), cache);
    });
    await t.step("the package's, as named", async () => {
      strictEqual(await denoDir(`${dir}/pkg/named`), NO_DENO_DIR);
      Deno.mkdirSync(`${dir}/var cache`, { mode: 0o700 });
      strictEqual(await denoDir(`${dir}/pkg/named`), `${dir}/var cache`);
    });
    await t.step("a link there, even to a dir of this user's, is not used", async () => {
      Deno.removeSync(cache);
      Deno.mkdirSync(`${dir}/elsewhere`, { mode: 0o700 });
      Deno.symlinkSync(`${dir}/elsewhere`, cache);
      strictEqual(await denoDir(), NO_DENO_DIR);
      Deno.removeSync(cache);
    });
    await t.step("a file there is not used", async () => {
      Deno.writeTextFileSync(cache, "");
      strictEqual(await denoDir(), NO_DENO_DIR);
      Deno.removeSync(cache);
    });
    await t.step("a dir of another user's is not used", async (s) => {
      if (Deno.uid() !== 0) {
        console.log("  N/A here: needs root to give the dir to another user");
        return;
      }
      Deno.mkdirSync(cache, { mode: 0o700 });
      Deno.chownSync(cache, 65534, 65534);
      strictEqual(await denoDir(), NO_DENO_DIR, s.name);
    });
  });
});

Deno.test("a launcher finds its lib/ directly, through a link, through a linked dir, or as named", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/pkg/lib/js`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/pkg/lib/deno`, '#!/bin/sh\necho "$0"\n', { mode: 0o755 });
    Deno.writeTextFileSync(`${dir}/pkg/xpu-ctk`, renderLauncher("xpu-ctk"), { mode: 0o755 });
    Deno.mkdirSync(`${dir}/bin`);
    Deno.symlinkSync(`${dir}/pkg/xpu-ctk`, `${dir}/bin/xpu-ctk`);
    Deno.symlinkSync(`${dir}/pkg`, `${dir}/linked-pkg`);
    Deno.mkdirSync(`${dir}/elsewhere/lib`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/elsewhere/lib/deno`, '#!/bin/sh\necho "named $0"\n', {
      mode: 0o755,
    });
    Deno.writeTextFileSync(
      `${dir}/bin/named`,
      renderLauncher("xpu-ctk", { home: `${dir}/elsewhere` }),
      { mode: 0o755 },
    );
    const run = async (path: string, cwd = dir, env: Record<string, string> = {}) => {
      const out = await new Deno.Command(path, { cwd, env, stdout: "piped" }).output();
      strictEqual(out.code, 0, path);
      return new TextDecoder().decode(out.stdout).trim();
    };
    strictEqual(await run(`${dir}/pkg/xpu-ctk`), `${dir}/pkg/lib/deno`);
    match(await run("./pkg/xpu-ctk"), /^(\.|.*xpu-ctk-test-[^/]*)\/pkg\/lib\/deno$/);
    strictEqual(await run(`${dir}/bin/xpu-ctk`), `${dir}/pkg/lib/deno`);
    strictEqual(await run(`${dir}/linked-pkg/xpu-ctk`), `${dir}/linked-pkg/lib/deno`);
    // A `here` from the caller's environment is not taken.
    strictEqual(await run(`${dir}/bin/xpu-ctk`, dir, { here: "/nowhere" }), `${dir}/pkg/lib/deno`);
    strictEqual(await run(`${dir}/bin/named`), `named ${dir}/elsewhere/lib/deno`);
  });
});

Deno.test("the runtime launcher takes the fast path with its record in lib/, linked or not", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/pkg/lib/js`, { recursive: true });
    Deno.writeTextFileSync(
      `${dir}/pkg/lib/deno`,
      '#!/bin/sh\necho "SHIM ${XPU_FAST_PATH_RECORD-unset}"\n',
      { mode: 0o755 },
    );
    Deno.writeTextFileSync(`${dir}/runtime`, '#!/bin/sh\necho "RUNTIME $*"\n', { mode: 0o755 });
    const config = `${dir}/config.toml`;
    const text = `[xpu-container-runtime]\nruntimes = ["${dir}/runtime"]\n`;
    Deno.writeTextFileSync(config, text);
    Deno.writeFileSync(
      `${dir}/pkg/lib/runtime.fast-path`,
      encodeFastPathRecord({
        configPath: config,
        configBytes: new TextEncoder().encode(text),
        runtimes: [`${dir}/runtime`],
        logLevel: "info",
      })!,
    );
    const launcher = `${dir}/pkg/${RUNTIME_TOOL}`;
    Deno.writeTextFileSync(launcher, renderLauncher(RUNTIME_TOOL), { mode: 0o755 });
    Deno.mkdirSync(`${dir}/bin`);
    Deno.symlinkSync(launcher, `${dir}/bin/${RUNTIME_TOOL}`);
    const run = async (path: string, args: string[]) => {
      const out = await new Deno.Command(path, {
        args,
        env: { XPU_CTK_CONFIG_FILE_PATH: config },
        stdout: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout).trim();
    };
    for (const path of [launcher, `${dir}/bin/${RUNTIME_TOOL}`]) {
      strictEqual(await run(path, ["state", "c1"]), "RUNTIME state c1", path);
      strictEqual(await run(path, ["create", "c1"]), "SHIM unset", path);
    }
    Deno.writeTextFileSync(config, `${text}# edited\n`);
    strictEqual(
      await run(`${dir}/bin/${RUNTIME_TOOL}`, ["state", "c1"]),
      `SHIM ${dir}/pkg/lib/runtime.fast-path`,
      "a stale record: the shim, asked to rewrite it where it is",
    );
  });
});
