import assert from "node:assert/strict";
import { ConfigError, ExecError, SpecError, UsageError } from "../../src/core/errors.ts";
import { VERSION } from "../../src/core/version.ts";
import { HOOK_USAGE } from "../../src/hook/hook_args.ts";
import { type HookIo, hookMain, type HookOutcome } from "../../src/hook/main.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const CSV_REFUSAL = "Using requested mode 'csv'\n" +
  "invoking the XPU Container Runtime Hook directly (e.g. specifying the docker --gpus flag) " +
  "is not supported. Please use the XPU Container Runtime instead.\n";

/** A fake outside world: collects output, counts stdin reads. */
function fakeIo(options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {}) {
  const out = { stdout: "", stderr: "", stdinReads: 0 };
  const io: HookIo = {
    env: options.env ?? {},
    cwd: options.cwd ?? "/nonexistent-cwd",
    stdout: (text) => void (out.stdout += text),
    stderr: (text) => void (out.stderr += text),
    readStdin: () => {
      out.stdinReads++;
      return Promise.resolve(options.stdin ?? "");
    },
  };
  return { out, io };
}

/** Writes `<dir>/bundle/config.json` with `env` and an empty rootfs; returns the bundle. */
function writeBundle(dir: string, env: string[]): string {
  const bundle = `${dir}/bundle`;
  Deno.mkdirSync(`${bundle}/rootfs`, { recursive: true });
  Deno.writeTextFileSync(
    `${bundle}/config.json`,
    JSON.stringify({
      ociVersion: "1.0.2",
      process: { env: ["PATH=/usr/bin:/bin", ...env], capabilities: { bounding: [] } },
      mounts: [],
      root: { path: "rootfs" },
    }),
  );
  return bundle;
}

/** Writes `<dir>/config.toml` and returns its path. */
function writeConfig(dir: string, text: string): string {
  const path = `${dir}/config.toml`;
  Deno.writeTextFileSync(path, text);
  return path;
}

/** Writes an executable stand-in for xpu-container-cli. */
function writeFakeCli(dir: string): string {
  const path = `${dir}/bin/xpu-container-cli`;
  Deno.mkdirSync(`${dir}/bin`, { recursive: true });
  Deno.writeTextFileSync(path, "#!/bin/sh\nexit 0\n");
  Deno.chmodSync(path, 0o755);
  return path;
}

Deno.test("hookMain: flags and commands that need no container", async (t) => {
  const cases: {
    name: string;
    input: string[];
    expected: { outcome: HookOutcome; stdout: string; stderr: string | RegExp };
  }[] = [
    ...["-version", "--version"].map((flag) => ({
      name: flag,
      input: [flag],
      expected: {
        outcome: { exitCode: 0 },
        stdout: `xpu-container-runtime-hook version ${VERSION}\n`,
        stderr: "",
      },
    })),
    {
      name: "-help",
      input: ["-help"],
      expected: { outcome: { exitCode: 0 }, stdout: HOOK_USAGE, stderr: "" },
    },
    {
      name: "poststart is a no-op",
      input: ["poststart"],
      expected: { outcome: { exitCode: 0 }, stdout: "", stderr: "" },
    },
    {
      name: "poststop is a no-op",
      input: ["poststop"],
      expected: { outcome: { exitCode: 0 }, stdout: "", stderr: "" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      // A config file that would fail to load: these paths must not read it.
      const { out, io } = fakeIo({
        env: { XPU_CTK_CONFIG_FILE_PATH: "/nonexistent/dir/config.toml" },
        stdin: "not json",
      });
      assert.deepStrictEqual(await hookMain(c.input, io), c.expected.outcome);
      assert.equal(out.stdout, c.expected.stdout);
      assert.equal(out.stderr, c.expected.stderr);
      assert.equal(out.stdinReads, 0, "stdin is not read");
    });
  }
});

Deno.test("hookMain: a missing or unknown command is one usage line (exit 2), no usage text", async (t) => {
  const cases: { name: string; input: string[]; expected: { fragment: string } }[] = [
    {
      name: "no command",
      input: [],
      expected: { fragment: "Cannot run the hook: no command given: pass prestart, poststart" },
    },
    {
      name: "unknown command, named",
      input: ["x"],
      expected: { fragment: 'unknown command "x": use prestart, poststart or poststop' },
    },
    {
      name: "a command with a line break is quoted with escapes",
      input: ["pre\nstart\u001b[2J"],
      expected: { fragment: 'unknown command "pre\\nstart\\u001b[2J"' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { out, io } = fakeIo({ stdin: "not json" });
      const error = await assertRejectsError(
        () => hookMain(c.input, io),
        UsageError,
        c.expected.fragment,
      );
      assert.equal(error.exitCode, 2);
      assert.equal(error.message.split("\n").length, 1);
      assert.equal(out.stdout, "");
      assert.equal(out.stderr, "", "no usage text: that is for -help");
      assert.equal(out.stdinReads, 0);
    });
  }
});

Deno.test("hookMain prestart", async (t) => {
  await t.step("no request: exit 0 silently", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["HOME=/root"]);
      const { out, io } = fakeIo({
        env: { XDG_CONFIG_HOME: `${dir}/no-xdg` },
        stdin: JSON.stringify({ ociVersion: "1.0.2", id: "c1", pid: 1234, bundle }),
      });
      assert.deepStrictEqual(await hookMain(["prestart"], io), { exitCode: 0 });
      assert.equal(out.stdout, "");
      assert.equal(out.stderr, "");
      assert.equal(out.stdinReads, 1);
    });
  });

  await t.step("-debug with no request says why on stderr", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, []);
      const { out, io } = fakeIo({
        env: { XDG_CONFIG_HOME: `${dir}/no-xdg` },
        stdin: JSON.stringify({ pid: 1234, bundle }),
      });
      assert.deepStrictEqual(await hookMain(["-debug", "prestart"], io), { exitCode: 0 });
      assert.equal(out.stdout, "");
      assert.equal(
        out.stderr,
        "xpu-container-runtime-hook: debug: nothing to do: the container asks for no XPU\n",
      );
    });
  });

  await t.step("config mode csv (via env): the exact refusal, exit 1", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
      const config = writeConfig(dir, '[xpu-container-runtime]\nmode = "csv"\n');
      const { out, io } = fakeIo({
        env: { XPU_CTK_CONFIG_FILE_PATH: config },
        stdin: JSON.stringify({ pid: 1234, bundle }),
      });
      assert.deepStrictEqual(await hookMain(["prestart"], io), { exitCode: 1 });
      assert.equal(out.stdout, "");
      assert.equal(out.stderr, CSV_REFUSAL);
    });
  });

  await t.step("config mode csv (via -config): the exact refusal, exit 1", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
      const config = writeConfig(dir, '[xpu-container-runtime]\nmode = "csv"\n');
      const { out, io } = fakeIo({
        env: { XPU_CTK_CONFIG_FILE_PATH: `${dir}/other-missing.toml` },
        stdin: JSON.stringify({ pid: 1234, bundle }),
      });
      assert.deepStrictEqual(await hookMain(["-config", config, "prestart"], io), {
        exitCode: 1,
      });
      assert.equal(out.stderr, CSV_REFUSAL);
    });
  });

  await t.step("legacy: execs the cli with its args and the config's environment", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
      const cli = writeFakeCli(dir);
      const config = writeConfig(
        dir,
        `[xpu-container-cli]\npath = "${cli}"\nenvironment = ["XPU_DEBUG=1", "EXTRA=a=b"]\n\n` +
          `[xpu-container-runtime]\nmode = "legacy"\n`,
      );
      const env = { XPU_CTK_CONFIG_FILE_PATH: config, PATH: "/usr/bin:/bin", XPU_DEBUG: "0" };
      const { out, io } = fakeIo({
        env,
        stdin: JSON.stringify({ ociVersion: "1.0.2", id: "c1", pid: 1234, bundle }),
      });
      assert.deepStrictEqual(await hookMain(["prestart"], io), {
        exec: {
          path: cli,
          argv: [
            cli,
            "--load-kmods",
            "configure",
            "--ldconfig=@/sbin/ldconfig",
            "--device=0",
            "--compute",
            "--utility",
            "--pid=1234",
            `${bundle}/rootfs`,
          ],
          env: { ...env, XPU_DEBUG: "1", EXTRA: "a=b" },
        },
      });
      assert.equal(out.stdout, "");
      assert.equal(out.stderr, "");
    });
  });

  await t.step(
    "hostile: started with the container's LD_PRELOAD, it refuses before reading anything",
    async () => {
      await withTempDir(async (dir) => {
        const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
        const cli = writeFakeCli(dir);
        const config = writeConfig(
          dir,
          `[xpu-container-cli]\npath = "${cli}"\n\n[xpu-container-runtime]\nmode = "legacy"\n`,
        );
        const stdin = JSON.stringify({ pid: 1234, bundle });
        for (const variable of ["LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "GLIBC_TUNABLES"]) {
          const { out, io } = fakeIo({
            env: { XPU_CTK_CONFIG_FILE_PATH: config, PATH: "/bin", [variable]: "/proc/self/cwd/x" },
            stdin,
          });
          const error = await assertRejectsError(
            () => hookMain(["prestart"], io),
            ExecError,
            `Refusing to run xpu-container-runtime-hook prestart with ${variable} set`,
          );
          assert.ok(error.message.includes("regenerate the spec / hooks with an explicit env"));
          assert.equal(out.stdinReads, 0, "the state is not read");
          assert.equal(out.stdout + out.stderr, "");
        }
        // The same container through the hook the toolkit writes (an explicit env) is served.
        const { io } = fakeIo({
          env: { XPU_CTK_CONFIG_FILE_PATH: config, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
          stdin,
        });
        const outcome = await hookMain(["prestart"], io);
        assert.ok("exec" in outcome && outcome.exec.path === cli, JSON.stringify(outcome));
      });
    },
  );

  await t.step("state with bundlePath instead of bundle", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=all"]);
      const cli = writeFakeCli(dir);
      const config = writeConfig(
        dir,
        `[xpu-container-cli]\npath = "${cli}"\n\n[xpu-container-runtime]\nmode = "legacy"\n`,
      );
      const env = { XPU_CTK_CONFIG_FILE_PATH: config };
      const { io } = fakeIo({ env, stdin: JSON.stringify({ pid: 7, bundlePath: bundle }) });
      assert.deepStrictEqual(await hookMain(["prestart"], io), {
        exec: {
          path: cli,
          argv: [
            cli,
            "--load-kmods",
            "configure",
            "--ldconfig=@/sbin/ldconfig",
            "--device=all",
            "--compute",
            "--utility",
            "--pid=7",
            `${bundle}/rootfs`,
          ],
          env,
        },
      });
    });
  });

  await t.step("cli path pointing at a missing file: ExecError", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
      const config = writeConfig(
        dir,
        `[xpu-container-cli]\npath = "${dir}/bin/missing-cli"\n\n` +
          `[xpu-container-runtime]\nmode = "legacy"\n`,
      );
      const { io } = fakeIo({
        env: { XPU_CTK_CONFIG_FILE_PATH: config },
        stdin: JSON.stringify({ pid: 1234, bundle }),
      });
      const error = await assertRejectsError(
        () => hookMain(["prestart"], io),
        ExecError,
        "[xpu-container-cli] path",
      );
      assert.ok(error.message.includes(`"${dir}/bin/missing-cli"`), error.message);
    });
  });

  await t.step(
    "XPU_CTK_CONFIG_FILE_PATH naming a missing file: ConfigError, stdin unread",
    async () => {
      await withTempDir(async (dir) => {
        const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
        const { out, io } = fakeIo({
          env: { XPU_CTK_CONFIG_FILE_PATH: `${dir}/missing-config.toml` },
          stdin: JSON.stringify({ pid: 1234, bundle }),
        });
        const error = await assertRejectsError(
          () => hookMain(["prestart"], io),
          ConfigError,
          `Cannot load the config file "${dir}/missing-config.toml" that ` +
            "XPU_CTK_CONFIG_FILE_PATH names: no such file: create it",
        );
        assert.equal(error.path, `${dir}/missing-config.toml`);
        assert.equal(out.stdinReads, 0);
        assert.equal(out.stdout, "");
      });
    },
  );

  await t.step("state without pid: SpecError", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
      const { io } = fakeIo({
        env: { XDG_CONFIG_HOME: `${dir}/no-xdg` },
        stdin: JSON.stringify({ ociVersion: "1.0.2", id: "c1", bundle }),
      });
      await assertRejectsError(() => hookMain(["prestart"], io), SpecError, '"pid"');
    });
  });

  await t.step("-config naming a missing file: ConfigError naming it", async () => {
    await withTempDir(async (dir) => {
      const bundle = writeBundle(dir, ["XPU_VISIBLE_DEVICES=0"]);
      const { io } = fakeIo({ stdin: JSON.stringify({ pid: 1234, bundle }) });
      const error = await assertRejectsError(
        () => hookMain(["-config", "/missing.toml", "prestart"], io),
        ConfigError,
        '"/missing.toml"',
      );
      assert.equal(error.path, "/missing.toml");
    });
  });
});
