/**
 * The `runtime` command tree: each command's help lists the flags it reads with their defaults,
 * every flag is still accepted by every command (one flag set serves a command and its reverse),
 * and an optional boolean's separate value becomes RUNTIME_DIR only when it is an absolute path.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Command } from "commander";
import { attachIo, runProgram } from "../../src/core/command/command_line.ts";
import { UsageError } from "../../src/core/errors.ts";
import { addRuntimeCommands, parseRuntimeCommand } from "../../src/engines/runtime_cli.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";

function fakeIo() {
  const out = { stdout: "" };
  return {
    out,
    io: {
      env: {},
      cwd: "/",
      stdout: (text: string) => void (out.stdout += text),
      stderr: () => {},
      readStdin: () => Promise.resolve(""),
    },
  };
}

/** `xpu-ctk runtime ACTION --help`: the flags it lists, and its text folded to single spaces. */
async function helpOf(action: string): Promise<{ flags: string[]; text: string }> {
  const { out, io } = fakeIo();
  const program = attachIo(new Command("xpu-ctk"), io);
  addRuntimeCommands(program, io, () => Promise.resolve());
  strictEqual(await runProgram(program, ["runtime", action, "--help"]), 0);
  const flags = [...out.stdout.matchAll(/^ {2}(--[a-z.-]+)/gm)].map((m) => m[1]);
  return { flags: flags.filter((f) => f !== "--help"), text: out.stdout.replace(/\s+/g, " ") };
}

Deno.test("runtime --help: each command lists the flags it reads, with defaults", async (t) => {
  const common = [
    "--runtime",
    "--config",
    "--drop-in-config",
    "--runtime-name",
    "--xpu-runtime-name",
    "--runtime-class",
  ];
  const restart = ["--restart-mode", "--socket", "--host-root", "--config-mode", "--hooks-dir"];
  const cases: {
    name: string;
    input: string;
    expected: { description: string; flags: string[]; shows: string[] };
  }[] = [
    {
      name: "configure",
      input: "configure",
      expected: {
        description: "add a runtime handler to the engine's config, keeping what it replaces",
        flags: [
          ...common,
          "--runtime-path",
          "--set-as-default",
          "--cdi.enabled",
          ...restart,
          "--hook-filename",
          "--hook-path",
          "--state-dir",
          "--dry-run",
        ],
        shows: [
          "(default: /usr/bin/xpu-container-runtime)",
          "default: false)",
          "default: /usr/bin/xpu-container-runtime-hook)",
        ],
      },
    },
    {
      name: "unconfigure",
      input: "unconfigure",
      expected: {
        description: "remove the handler again and restore what configure replaced",
        flags: [...common, ...restart, "--hook-filename", "--state-dir", "--dry-run"],
        shows: [],
      },
    },
    {
      name: "setup",
      input: "setup",
      expected: {
        description: "add the handlers NAME, NAME-cdi and NAME-legacy for the toolkit in " +
          "RUNTIME_DIR and make NAME the default runtime",
        flags: [
          ...common,
          "--runtime-dir",
          "--set-as-default",
          "--cdi.enabled",
          ...restart,
          "--hook-filename",
          "--hook-path",
          "--state-dir",
          "--dry-run",
        ],
        shows: [
          "RUNTIME_SET_AS_DEFAULT; default: true)",
          "(default: RUNTIME_DIR/xpu-container-runtime-hook)",
        ],
      },
    },
    {
      name: "cleanup",
      input: "cleanup",
      expected: {
        description: "remove the handlers setup added and restore what it replaced",
        flags: [
          ...common,
          "--runtime-dir",
          ...restart,
          "--hook-filename",
          "--state-dir",
          "--dry-run",
        ],
        shows: [],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { flags, text: help } = await helpOf(c.input);
      ok(help.includes(` ${c.expected.description}`), help);
      deepStrictEqual(flags, c.expected.flags);
      for (
        const text of [
          ...c.expected.shows,
          "default: /etc/docker/daemon.json for docker, /etc/containerd/config.toml for " +
          "containerd, /etc/crio/crio.conf for crio)",
          "default: /etc/containerd/conf.d/99-xpu.toml for containerd, " +
          "/etc/crio/crio.conf.d/99-xpu.toml for crio)",
          "default: signal for docker, systemd for containerd and crio)",
          "default: /var/run/docker.sock for docker, /run/containerd/containerd.sock for " +
          "containerd, /var/run/crio/crio.sock for crio)",
          "default: /etc/xpu-container-runtime/revert)",
        ]
      ) {
        ok(help.includes(text), `${c.name} --help shows ${text}:\n${help}`);
      }
    });
  }
  await t.step("no two pages alike", async () => {
    const pages = await Promise.all(["configure", "unconfigure", "setup", "cleanup"].map(helpOf));
    strictEqual(new Set(pages.map((p) => p.text)).size, 4);
  });
});

Deno.test("runtime: every command accepts every flag; RUNTIME_DIR after a boolean", async (t) => {
  const { io } = fakeIo();
  await t.step("cleanup takes setup's flags (the installer passes them both)", async () => {
    const settings = await parseRuntimeCommand([
      "cleanup",
      "--runtime",
      "docker",
      "--set-as-default=false",
      "--cdi.enabled",
      "--hook-path",
      "/opt/t/hook",
      "/opt/t",
    ], io);
    deepStrictEqual(settings.handlers.map((h) => h.path), [
      "/opt/t/xpu-container-runtime",
      "/opt/t/xpu-container-runtime.cdi",
      "/opt/t/xpu-container-runtime.legacy",
    ]);
  });
  await t.step("--set-as-default /opt/t: the absolute path is RUNTIME_DIR", async () => {
    const settings = await parseRuntimeCommand(
      ["setup", "--runtime", "docker", "--set-as-default", "/opt/t"],
      io,
    );
    strictEqual(settings.defaultRuntime, "xpu");
    strictEqual(settings.handlers[0].path, "/opt/t/xpu-container-runtime");
  });
  const refused: { name: string; input: string[]; expected: string }[] = [
    {
      name: "setup --set-as-default maybe: no boolean, and no RUNTIME_DIR either",
      input: ["setup", "--runtime", "docker", "--set-as-default", "maybe"],
      expected: 'Cannot use --set-as-default "maybe": it is not a boolean: use true or false',
    },
    {
      name: "cleanup --cdi.enabled yes",
      input: ["cleanup", "--runtime", "docker", "--cdi.enabled", "yes", "/opt/t"],
      expected: 'Cannot use --cdi.enabled "yes": it is not a boolean',
    },
    {
      name: "setup --set-as-default=maybe /opt/t",
      input: ["setup", "--runtime", "docker", "--set-as-default=maybe", "/opt/t"],
      expected: 'Cannot use --set-as-default "maybe": it is not a boolean',
    },
  ];
  for (const c of refused) {
    await t.step(c.name, async () => {
      await assertRejectsError(() => parseRuntimeCommand(c.input, io), UsageError, c.expected);
    });
  }
});
