/**
 * `xpu-ctk-installer`'s command line: subcommands and the daemon form share the process, flags
 * reach the right place (a `-u` value that starts with a dash, `-n`), and mistakes are usage
 * errors (exit 2) before anything happens. The daemon's engine and install are faked.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { UsageError } from "../../src/core/errors.ts";
import { VERSION } from "../../src/core/version.ts";
import type { ToolIo } from "../../src/core/io/tool_io.ts";
import { parseRuntimeCommand } from "../../src/engines/runtime_cli.ts";
import type { DaemonDeps } from "../../src/installer/daemon.ts";
import type { InstallOptions } from "../../src/installer/install.ts";
import { installerMain } from "../../src/installer/main.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function io(env: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "" };
  const tool: ToolIo = {
    env,
    cwd: "/",
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    readStdin: () => Promise.resolve(""),
  };
  return { tool, out };
}

function deps(
  record: { installed: InstallOptions[]; actions: string[]; args: string[][] },
): DaemonDeps {
  const quiet = io().tool;
  return {
    log: () => {},
    onStopSignal: () => () => {},
    install: (o) => Promise.resolve(void record.installed.push(o)),
    parseRuntime: (args) => {
      record.args.push([...args]);
      return parseRuntimeCommand(args, quiet);
    },
    runRuntime: (s) => Promise.resolve(void record.actions.push(s.action)),
    startNriPlugin: () => {
      throw new Error("no NRI plugin in these tests");
    },
  };
}

Deno.test("the daemon form: DESTINATION, -n, -r and a -u value that starts with a dash", async () => {
  await withTempDir(async (dir) => {
    const record = {
      installed: [] as InstallOptions[],
      actions: [] as string[],
      args: [] as string[][],
    };
    const { tool } = io();
    const code = await installerMain(
      [
        `${dir}/root`,
        "-n",
        "-r",
        "containerd",
        "-u",
        `--config ${dir}/config.toml --restart-mode none --state-dir ${dir}/state`,
        "--pid-file",
        `${dir}/toolkit.pid`,
        "--low-level-runtimes",
        "crun",
      ],
      tool,
      "/opt/xpu-ctk/bin",
      deps(record),
    );
    strictEqual(code, 0);
    deepStrictEqual(record.actions, ["setup"]);
    strictEqual(record.installed[0].toolkitRoot, `${dir}/root/toolkit`);
    strictEqual(record.installed[0].sourceDir, "/opt/xpu-ctk/bin");
    deepStrictEqual(record.installed[0].lowLevelRuntimes, ["crun"]);
    deepStrictEqual(record.args[0], [
      "setup",
      "--runtime",
      "containerd",
      "--config",
      `${dir}/config.toml`,
      "--restart-mode",
      "none",
      "--state-dir",
      `${dir}/state`,
      `${dir}/root/toolkit`,
    ]);
  });
});

Deno.test("usage mistakes exit 2 before anything runs", async () => {
  const record = {
    installed: [] as InstallOptions[],
    actions: [] as string[],
    args: [] as string[][],
  };
  const cases: [string[], string][] = [
    [["/a", "/b"], `unexpected argument "/b"`],
    [["install"], 'required option "--toolkit-root <dir>" not specified'],
    [["delete"], 'required option "--toolkit-root <dir>" not specified'],
    [["--bogus"], 'unknown option "--bogus"'],
    [["-r", "podman"], `--runtime "podman"`],
  ];
  for (const [args, fragment] of cases) {
    const error = await assertRejectsError(
      () => installerMain(args, io().tool, "/opt", deps(record)),
      UsageError,
      fragment,
    );
    strictEqual(error.exitCode, 2);
  }
  deepStrictEqual(record, { installed: [], actions: [], args: [] });
});

Deno.test("--help and --version print on stdout and exit 0", async () => {
  const help = io();
  strictEqual(await installerMain(["--help"], help.tool, "/opt"), 0);
  ok(help.out.stdout.includes("Usage: xpu-ctk-installer [options] [command] [destination...]"));
  ok(help.out.stdout.includes("install [options]"));
  const version = io();
  strictEqual(await installerMain(["--version"], version.tool, "/opt"), 0);
  strictEqual(version.out.stdout, `xpu-ctk-installer version ${VERSION}\n`);
});

Deno.test("usage errors are one line with values quoted; help only on --help", async () => {
  const record = {
    installed: [] as InstallOptions[],
    actions: [] as string[],
    args: [] as string[][],
  };
  const cases: [string[], string][] = [
    [
      ["--runtim", "docker"],
      'unknown option "--runtim" (did you mean "--runtime"?): see "xpu-ctk-installer --help"',
    ],
    [["-r", "dock\ner"], 'Cannot use --runtime "dock\\ner": use docker, containerd or crio'],
    [["/a", "b\u0000"], 'unexpected argument "b\\u0000": pass exactly one DESTINATION'],
    [["-u", "--config 'x"], `Cannot use --runtime-args "--config 'x": a ' is never closed`],
    [["install", "--toolkit-root"], 'option "--toolkit-root <dir>" needs a value'],
    [
      ["--driver-root", "/x", "install", "--toolkit-root", "/t"],
      'Cannot use "--driver-root" before "install": there it is an option of the daemon form: ' +
      'put it after "install"',
    ],
    [["-n", "delete", "--toolkit-root", "/t"], '"delete" does not take it'],
  ];
  for (const [args, fragment] of cases) {
    const { tool, out } = io();
    const error = await assertRejectsError(
      () => installerMain(args, tool, "/opt", deps(record)),
      UsageError,
      fragment,
    );
    strictEqual(error.exitCode, 2);
    strictEqual(error.message.split("\n").length, 1, error.message);
    strictEqual(out.stdout + out.stderr, "");
  }
  deepStrictEqual(record, { installed: [], actions: [], args: [] });
});
