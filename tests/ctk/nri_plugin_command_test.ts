import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { ConfigError, ToolError, UsageError } from "../../src/core/errors.ts";
import { ctkMain } from "../../src/ctk/main.ts";
import {
  type NriPluginFlags,
  type NriPluginSettings,
  resolveNriPluginSettings,
  stderrLogger,
} from "../../src/ctk/nri_plugin_command.ts";
import { assertRejectsError, assertThrowsError, type ErrorClass } from "../helpers/assert_error.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function fakeIo(env: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      env,
      cwd: "/work",
      stdout: (text: string) => void (out.stdout += text),
      stderr: (text: string) => void (out.stderr += text),
      readStdin: () => Promise.resolve(""),
    },
  };
}

const DEFAULTS = {
  socketPath: "/var/run/nri/nri.sock",
  pluginName: "xpu-container-toolkit",
  pluginIndex: "10",
  debug: false,
};

Deno.test("xpu-ctk nri-plugin: settings from flags, then variables, then defaults", async (t) => {
  const cases: {
    name: string;
    input: { flags: NriPluginFlags; env?: Record<string, string> };
    expected: Omit<NriPluginSettings, "env"> & { config?: string };
  }[] = [
    { name: "the defaults", input: { flags: {} }, expected: DEFAULTS },
    {
      name: "every flag",
      input: { flags: { socket: "/run/n.sock", name: "xpu", index: "05", debug: true } },
      expected: { socketPath: "/run/n.sock", pluginName: "xpu", pluginIndex: "05", debug: true },
    },
    {
      name: "the variables",
      input: {
        flags: {},
        env: {
          XPU_NRI_SOCKET: "/run/v.sock",
          XPU_NRI_PLUGIN_NAME: "v",
          XPU_NRI_PLUGIN_INDEX: "99",
        },
      },
      expected: { socketPath: "/run/v.sock", pluginName: "v", pluginIndex: "99", debug: false },
    },
    {
      name: "a flag wins over its variable; an empty variable counts as unset",
      input: { flags: { index: "20" }, env: { XPU_NRI_PLUGIN_INDEX: "30", XPU_NRI_SOCKET: "" } },
      expected: { ...DEFAULTS, pluginIndex: "20" },
    },
    {
      name: "--config sets the config variable, made absolute on the cwd",
      input: { flags: { config: "etc/config.toml" }, env: { XPU_CTK_CONFIG_FILE_PATH: "/x" } },
      expected: { ...DEFAULTS, config: "/work/etc/config.toml" },
    },
    {
      name: "without --config the variable passes through",
      input: { flags: {}, env: { XPU_CTK_CONFIG_FILE_PATH: "/etc/x.toml" } },
      expected: { ...DEFAULTS, config: "/etc/x.toml" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { env, ...rest } = resolveNriPluginSettings(c.input.flags, {
        env: c.input.env ?? {},
        cwd: "/work",
      });
      const { config, ...expected } = c.expected;
      deepStrictEqual(rest, expected);
      strictEqual(env.XPU_CTK_CONFIG_FILE_PATH, config);
    });
  }
  await t.step("commander hands every flag over", async () => {
    await withTempDir(async (dir) => {
      Deno.writeTextFileSync(`${dir}/config.toml`, "");
      const { io } = fakeIo();
      let seen: NriPluginSettings | undefined;
      const args = ["--socket", "/run/n.sock", "--name", "xpu", "--index", "05", "--debug"];
      const code = await ctkMain(["nri-plugin", ...args, "--config", `${dir}/config.toml`], io, {
        nriPlugin: {
          run: (settings) => (seen = settings, Promise.resolve()),
          onStopSignal: () => () => {},
        },
      });
      strictEqual(code, 0);
      const { env, ...rest } = seen!;
      deepStrictEqual(rest, {
        socketPath: "/run/n.sock",
        pluginName: "xpu",
        pluginIndex: "05",
        debug: true,
      });
      strictEqual(env.XPU_CTK_CONFIG_FILE_PATH, `${dir}/config.toml`);
    });
  });
});

Deno.test("xpu-ctk nri-plugin: bad input is one clear error, before any connection", async (t) => {
  const cases: {
    name: string;
    input: { args: string[]; env?: Record<string, string> };
    expected: { error: ErrorClass<ToolError>; message: string };
  }[] = [
    {
      name: "a one-digit index",
      input: { args: ["--index", "7"] },
      expected: { error: UsageError, message: 'Cannot register NRI plugin index "7"' },
    },
    {
      name: "an index from the variable",
      input: { args: [], env: { XPU_NRI_PLUGIN_INDEX: "abc" } },
      expected: { error: UsageError, message: 'Cannot register NRI plugin index "abc"' },
    },
    {
      name: "a name with a slash",
      input: { args: ["--name", "a/b"] },
      expected: { error: UsageError, message: 'Cannot register NRI plugin name "a/b"' },
    },
    {
      name: "an empty socket",
      input: { args: ["--socket", ""] },
      expected: { error: UsageError, message: 'Cannot use NRI socket ""' },
    },
    {
      name: "a flag without its value",
      input: { args: ["--socket"] },
      expected: { error: UsageError, message: "--socket" },
    },
    {
      name: "a flag that looks like a path's place taken by a flag",
      input: { args: ["--socket", "--debug"] },
      expected: { error: UsageError, message: "looks like a flag" },
    },
    {
      name: "an unknown flag",
      input: { args: ["--sock", "/x"] },
      expected: { error: UsageError, message: '"xpu-ctk nri-plugin --help"' },
    },
    {
      name: "a stray operand",
      input: { args: ["now"] },
      expected: { error: UsageError, message: "xpu-ctk nri-plugin" },
    },
    {
      name: "a config file that is named but missing",
      input: { args: ["--config", "/nonexistent/config.toml"] },
      expected: { error: ConfigError, message: '"/nonexistent/config.toml"' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { io, out } = fakeIo(c.input.env);
      let ran = false;
      await assertRejectsError(
        () =>
          ctkMain(["nri-plugin", ...c.input.args], io, {
            nriPlugin: {
              run: () => (ran = true, Promise.resolve()),
              onStopSignal: () => () => {},
            },
          }),
        c.expected.error,
        c.expected.message,
      );
      strictEqual(ran, false);
      strictEqual(out.stdout, "");
    });
  }
  await t.step("the pure check names the fix", () => {
    assertThrowsError(
      () => resolveNriPluginSettings({ index: "100" }, { env: {}, cwd: "/" }),
      UsageError,
      'use one from "00" to "99"',
    );
  });
});

Deno.test("xpu-ctk nri-plugin: a stop signal ends the run, and the listener is removed", async () => {
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/config.toml`, "");
    const { io, out } = fakeIo({ XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml` });
    let stop: ((signal: string) => void) | undefined;
    let removed = false;
    const code = await ctkMain(["nri-plugin"], io, {
      nriPlugin: {
        run: (_settings, { signal }) =>
          new Promise((resolve) => {
            signal.addEventListener("abort", () => resolve());
            stop!("SIGTERM");
          }),
        onStopSignal: (handler) => {
          stop = handler;
          return () => (removed = true);
        },
      },
    });
    strictEqual(code, 0);
    ok(removed);
    const lines = out.stderr.trimEnd().split("\n");
    strictEqual(lines.length, 2);
    match(lines[0], /level=info msg="Starting the NRI plugin \\"10-xpu-container-toolkit\\" on/);
    match(lines[1], /level=info msg="Received SIGTERM: stopping"$/);
    strictEqual(out.stdout, "");
  });
});

Deno.test("xpu-ctk nri-plugin: the stderr logger drops debug lines unless asked", () => {
  const { io, out } = fakeIo();
  const quiet = stderrLogger(io, { debug: false });
  quiet.debug("hidden");
  quiet.warn("shown");
  strictEqual(quiet.enabled("debug"), false);
  const loud = stderrLogger(io, { debug: true });
  loud.debug("also shown");
  const lines = out.stderr.trimEnd().split("\n");
  deepStrictEqual(lines.map((l) => l.replace(/^time="[^"]*" /, "")), [
    'level=warning msg="shown"',
    'level=debug msg="also shown"',
  ]);
});

Deno.test("xpu-ctk --help lists nri-plugin", async () => {
  const { io, out } = fakeIo();
  strictEqual(await ctkMain(["--help"], io), 0);
  match(out.stdout + out.stderr, /nri-plugin/);
});
