/**
 * `xpu-ctk runtime configure|unconfigure|setup|cleanup`: how flags, environment variables and
 * engine defaults resolve (pure), then the real tool on temp files — idempotence without a
 * rewrite, dry runs, malformed input, the operator form, revert from another process, two
 * configures at once, mode and owner kept, cri-o's crio.conf never written.
 *
 * Every run passes `--state-dir` inside its temp dir and `--restart-mode none`, so nothing is
 * written under /etc and no engine is touched.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { runTool, toolArgv, type ToolRun } from "../helpers/toolkit_commands.ts";
import { UsageError } from "../../src/core/errors.ts";
import type { RuntimeAction } from "../../src/engines/engine_adapter.ts";
import {
  resolveRuntimeSettings,
  type RuntimeFlags,
  type RuntimeSettings,
} from "../../src/engines/runtime_command.ts";
import { processRunning } from "../../src/engines/restart.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

interface ResolveCase {
  name: string;
  input: {
    action?: RuntimeAction;
    flags: RuntimeFlags;
    env?: Record<string, string>;
    positional?: string;
  };
  expected: Partial<RuntimeSettings>;
}

function resolve(c: ResolveCase["input"]): RuntimeSettings {
  return resolveRuntimeSettings(c.action ?? "configure", c.flags, c.env ?? {}, c.positional);
}

function pick(settings: RuntimeSettings, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, settings[k as keyof RuntimeSettings]]));
}

const TOOLKIT = "/usr/local/xpu/toolkit";
const OPERATOR_HANDLERS = [
  { name: "xpu", path: `${TOOLKIT}/xpu-container-runtime` },
  { name: "xpu-cdi", path: `${TOOLKIT}/xpu-container-runtime.cdi` },
  { name: "xpu-legacy", path: `${TOOLKIT}/xpu-container-runtime.legacy` },
];

Deno.test("resolveRuntimeSettings: defaults per engine", async (t) => {
  const shared = {
    handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }],
    defaultRuntime: undefined,
    cdi: false,
    hostRoot: undefined,
    hookFile: "/usr/share/containers/oci/hooks.d/oci-xpu-hook.json",
    hookPath: "/usr/bin/xpu-container-runtime-hook",
    stateDir: "/etc/xpu-container-runtime/revert",
    dryRun: false,
  };
  const cases: ResolveCase[] = [
    {
      name: "docker",
      input: { flags: { runtime: "docker" } },
      expected: {
        ...shared,
        engine: "docker",
        config: "/etc/docker/daemon.json",
        socket: "/var/run/docker.sock",
        restartMode: "signal",
      },
    },
    {
      name: "containerd",
      input: { flags: { runtime: "containerd" } },
      expected: {
        ...shared,
        engine: "containerd",
        config: "/etc/containerd/config.toml",
        dropIn: "/etc/containerd/conf.d/99-xpu.toml",
        socket: "/run/containerd/containerd.sock",
        restartMode: "systemd",
      },
    },
    {
      name: "crio",
      input: { flags: { runtime: "crio" } },
      expected: {
        ...shared,
        engine: "crio",
        config: "/etc/crio/crio.conf",
        dropIn: "/etc/crio/crio.conf.d/99-xpu.toml",
        configMode: "config",
        restartMode: "systemd",
      },
    },
    {
      name: "the engine from RUNTIME",
      input: { flags: {}, env: { RUNTIME: "containerd" } },
      expected: { engine: "containerd", config: "/etc/containerd/config.toml" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(pick(resolve(c.input), Object.keys(c.expected)), c.expected);
    });
  }
});

Deno.test("resolveRuntimeSettings: environment variables and precedence", async (t) => {
  const cases: ResolveCase[] = [
    {
      name: "DOCKER_CONFIG",
      input: { flags: { runtime: "docker" }, env: { DOCKER_CONFIG: "/d/daemon.json" } },
      expected: { config: "/d/daemon.json" },
    },
    {
      name: "RUNTIME_CONFIG beats DOCKER_CONFIG",
      input: {
        flags: { runtime: "docker" },
        env: { RUNTIME_CONFIG: "/r/daemon.json", DOCKER_CONFIG: "/d/daemon.json" },
      },
      expected: { config: "/r/daemon.json" },
    },
    {
      name: "--config beats both",
      input: {
        flags: { runtime: "docker", config: "/f/daemon.json" },
        env: { RUNTIME_CONFIG: "/r/daemon.json", DOCKER_CONFIG: "/d/daemon.json" },
      },
      expected: { config: "/f/daemon.json" },
    },
    {
      name: "an empty RUNTIME_CONFIG counts as unset",
      input: {
        flags: { runtime: "docker" },
        env: { RUNTIME_CONFIG: "", DOCKER_CONFIG: "/d/daemon.json" },
      },
      expected: { config: "/d/daemon.json" },
    },
    {
      name: "CONTAINERD_CONFIG",
      input: { flags: { runtime: "containerd" }, env: { CONTAINERD_CONFIG: "/c/config.toml" } },
      expected: { config: "/c/config.toml" },
    },
    {
      name: "another engine's variable is ignored",
      input: { flags: { runtime: "containerd" }, env: { DOCKER_CONFIG: "/d/daemon.json" } },
      expected: { config: "/etc/containerd/config.toml" },
    },
    {
      name: "RUNTIME_SOCKET, RUNTIME_RESTART_MODE, HOST_ROOT_MOUNT",
      input: {
        flags: { runtime: "docker" },
        env: {
          RUNTIME_SOCKET: "/s.sock",
          RUNTIME_RESTART_MODE: "systemd",
          HOST_ROOT_MOUNT: "/host",
        },
      },
      expected: { socket: "/s.sock", restartMode: "systemd", hostRoot: "/host" },
    },
    {
      name: "flags beat RUNTIME_SOCKET, RUNTIME_RESTART_MODE, HOST_ROOT_MOUNT",
      input: {
        flags: { runtime: "docker", socket: "/f.sock", restartMode: "none", hostRoot: "/fh" },
        env: {
          RUNTIME_SOCKET: "/s.sock",
          RUNTIME_RESTART_MODE: "systemd",
          HOST_ROOT_MOUNT: "/host",
        },
      },
      expected: { socket: "/f.sock", restartMode: "none", hostRoot: "/fh" },
    },
    {
      name: "RUNTIME_DROP_IN_CONFIG",
      input: { flags: { runtime: "containerd" }, env: { RUNTIME_DROP_IN_CONFIG: "/c/d.toml" } },
      expected: { dropIn: "/c/d.toml" },
    },
    {
      name: '--drop-in-config "" (in place) beats RUNTIME_DROP_IN_CONFIG',
      input: {
        flags: { runtime: "containerd", dropInConfig: "" },
        env: { RUNTIME_DROP_IN_CONFIG: "/c/d.toml" },
      },
      expected: { dropIn: "" },
    },
    {
      name: "XPU_RUNTIME_NAME",
      input: { flags: { runtime: "docker" }, env: { XPU_RUNTIME_NAME: "accel" } },
      expected: { handlers: [{ name: "accel", path: "/usr/bin/xpu-container-runtime" }] },
    },
    {
      name: "--runtime-name beats XPU_RUNTIME_NAME",
      input: {
        flags: { runtime: "docker", runtimeName: "flagged" },
        env: { XPU_RUNTIME_NAME: "accel" },
      },
      expected: { handlers: [{ name: "flagged", path: "/usr/bin/xpu-container-runtime" }] },
    },
    {
      name: "--xpu-runtime-name is an alias",
      input: { flags: { runtime: "docker", xpuRuntimeName: "alias1" } },
      expected: { handlers: [{ name: "alias1", path: "/usr/bin/xpu-container-runtime" }] },
    },
    {
      name: "--runtime-class is an alias",
      input: {
        flags: { runtime: "containerd", runtimeClass: "alias2" },
        env: { XPU_RUNTIME_NAME: "accel" },
      },
      expected: { handlers: [{ name: "alias2", path: "/usr/bin/xpu-container-runtime" }] },
    },
    {
      name: "--runtime-path and --set-as-default",
      input: {
        flags: { runtime: "docker", runtimeName: "n", runtimePath: "/opt/r", setAsDefault: true },
      },
      expected: { handlers: [{ name: "n", path: "/opt/r" }], defaultRuntime: "n" },
    },
    {
      name: "XPU_RUNTIME_SET_AS_DEFAULT=true on configure",
      input: { flags: { runtime: "docker" }, env: { XPU_RUNTIME_SET_AS_DEFAULT: "true" } },
      expected: { defaultRuntime: "xpu" },
    },
    {
      name: "--set-as-default=false beats XPU_RUNTIME_SET_AS_DEFAULT=true",
      input: {
        flags: { runtime: "docker", setAsDefault: "false" },
        env: { XPU_RUNTIME_SET_AS_DEFAULT: "true" },
      },
      expected: { defaultRuntime: undefined },
    },
    {
      name: "--cdi.enabled and RUNTIME_ENABLE_CDI",
      input: { flags: { runtime: "docker" }, env: { RUNTIME_ENABLE_CDI: "1" } },
      expected: { cdi: true },
    },
    {
      name: "XPU_CTK_STATE_DIR",
      input: { flags: { runtime: "docker" }, env: { XPU_CTK_STATE_DIR: "/var/lib/xpu" } },
      expected: { stateDir: "/var/lib/xpu" },
    },
    {
      name: "--state-dir beats XPU_CTK_STATE_DIR",
      input: {
        flags: { runtime: "docker", stateDir: "/tmp/s" },
        env: { XPU_CTK_STATE_DIR: "/var/lib/xpu" },
      },
      expected: { stateDir: "/tmp/s" },
    },
    {
      name: "cri-o hook mode from CRIO_CONFIG_MODE, hooks dir and file name",
      input: {
        flags: { runtime: "crio", hookFilename: "x.json" },
        env: { CRIO_CONFIG_MODE: "hook", CRIO_HOOKS_DIR: "/etc/containers/oci/hooks.d/" },
      },
      expected: { configMode: "hook", hookFile: "/etc/containers/oci/hooks.d/x.json" },
    },
    {
      name: "--dry-run",
      input: { flags: { runtime: "docker", dryRun: true } },
      expected: { dryRun: true },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(pick(resolve(c.input), Object.keys(c.expected)), c.expected);
    });
  }
});

Deno.test("resolveRuntimeSettings: the operator form (setup, cleanup)", async (t) => {
  const cases: ResolveCase[] = [
    {
      name: "positional RUNTIME_DIR: three handlers, xpu the default",
      input: { action: "setup", flags: { runtime: "docker" }, positional: `${TOOLKIT}/` },
      expected: {
        handlers: OPERATOR_HANDLERS,
        defaultRuntime: "xpu",
        hookPath: `${TOOLKIT}/xpu-container-runtime-hook`,
      },
    },
    {
      name: "RUNTIME_DIR from the environment",
      input: { action: "setup", flags: { runtime: "containerd" }, env: { RUNTIME_DIR: TOOLKIT } },
      expected: { handlers: OPERATOR_HANDLERS, defaultRuntime: "xpu" },
    },
    {
      name: "--runtime-dir as a flag",
      input: { action: "cleanup", flags: { runtime: "docker", runtimeDir: TOOLKIT } },
      expected: { handlers: OPERATOR_HANDLERS },
    },
    {
      name: "the positional beats RUNTIME_DIR",
      input: {
        action: "setup",
        flags: { runtime: "docker" },
        env: { RUNTIME_DIR: "/elsewhere" },
        positional: TOOLKIT,
      },
      expected: { handlers: OPERATOR_HANDLERS },
    },
    {
      name: '"--set-as-default false"',
      input: {
        action: "setup",
        flags: { runtime: "docker", setAsDefault: "false" },
        positional: TOOLKIT,
      },
      expected: { handlers: OPERATOR_HANDLERS, defaultRuntime: undefined },
    },
    {
      name: "XPU_RUNTIME_SET_AS_DEFAULT=false",
      input: {
        action: "setup",
        flags: { runtime: "docker" },
        env: { XPU_RUNTIME_SET_AS_DEFAULT: "false" },
        positional: TOOLKIT,
      },
      expected: { defaultRuntime: undefined },
    },
    {
      name: "a base name: name, name-cdi, name-legacy",
      input: {
        action: "setup",
        flags: { runtime: "docker" },
        env: { XPU_RUNTIME_NAME: "acc" },
        positional: "/opt/t",
      },
      expected: {
        handlers: [
          { name: "acc", path: "/opt/t/xpu-container-runtime" },
          { name: "acc-cdi", path: "/opt/t/xpu-container-runtime.cdi" },
          { name: "acc-legacy", path: "/opt/t/xpu-container-runtime.legacy" },
        ],
        defaultRuntime: "acc",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(pick(resolve(c.input), Object.keys(c.expected)), c.expected);
    });
  }
});

Deno.test("resolveRuntimeSettings: usage errors", async (t) => {
  const cases: (ResolveCase["input"] & { name: string; fragment: string })[] = [
    { name: "no runtime", flags: {}, fragment: "no --runtime given" },
    { name: "unknown runtime", flags: { runtime: "podman" }, fragment: 'unknown runtime "podman"' },
    {
      name: "unknown runtime from RUNTIME",
      flags: {},
      env: { RUNTIME: "lxc" },
      fragment: 'unknown runtime "lxc"',
    },
    {
      name: "unknown restart mode",
      flags: { runtime: "docker", restartMode: "reboot" },
      fragment: '--restart-mode "reboot"',
    },
    {
      name: "unknown restart mode from RUNTIME_RESTART_MODE",
      flags: { runtime: "docker" },
      env: { RUNTIME_RESTART_MODE: "HUP" },
      fragment: '"HUP"',
    },
    {
      name: "unknown config mode",
      flags: { runtime: "crio", configMode: "both" },
      fragment: '--config-mode "both"',
    },
    {
      name: "setup without RUNTIME_DIR",
      action: "setup",
      flags: { runtime: "docker" },
      fragment: "pass RUNTIME_DIR",
    },
    {
      name: "cleanup without RUNTIME_DIR",
      action: "cleanup",
      flags: { runtime: "containerd" },
      fragment: "pass RUNTIME_DIR",
    },
    {
      name: "hostile: a relative cri-o --hook-path (runc would resolve it in the container's dir)",
      flags: { runtime: "crio", configMode: "hook", hookPath: "xpu-container-runtime-hook" },
      fragment: 'the cri-o hook\'s path "xpu-container-runtime-hook" is relative',
    },
    {
      name: "hostile: a relative RUNTIME_DIR in cri-o hook mode",
      action: "setup",
      flags: { runtime: "crio", configMode: "hook" },
      env: { RUNTIME_DIR: "toolkit" },
      fragment: '"toolkit/xpu-container-runtime-hook" is relative',
    },
    {
      name: "a set-as-default that is not a boolean",
      flags: { runtime: "docker", setAsDefault: "maybe" },
      fragment: '"maybe"',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertThrowsError(() => resolve(c), UsageError, c.fragment);
    });
  }
  await t.step("honest: cri-o hook mode with an absolute --hook-path or RUNTIME_DIR", () => {
    const flags = { runtime: "crio", configMode: "hook" };
    strictEqual(resolve({ flags: { ...flags, hookPath: "/opt/x/hook" } }).hookPath, "/opt/x/hook");
    strictEqual(
      resolve({ action: "setup", flags, env: { RUNTIME_DIR: TOOLKIT } }).hookPath,
      `${TOOLKIT}/xpu-container-runtime-hook`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The real tool on temp files.

/** Runs `xpu-ctk runtime <args>`. */
function ctk(args: string[], env: Record<string, string> = {}): Promise<ToolRun> {
  return runTool(toolArgv("xpu-ctk"), { args: ["runtime", ...args], env });
}

function assertSuccess(run: ToolRun): void {
  strictEqual(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

function stateFiles(stateDir: string): string[] {
  try {
    return [...Deno.readDirSync(stateDir)].map((e) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

function fileStamp(path: string): { ino: number | null; mtime: number | undefined } {
  const info = Deno.statSync(path);
  return { ino: info.ino, mtime: info.mtime?.getTime() };
}

const DAEMON_JSON = `{
  "log-level": "warn",
  "runtimes": {
    "crun": {
      "path": "/usr/bin/crun"
    }
  },
  "default-runtime": "crun",
  "max-concurrent-downloads": 2
}
`;

Deno.test("xpu-ctk runtime on temp files", async (t) => {
  await t.step("(a) a second configure changes nothing and does not rewrite", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/daemon.json`;
      Deno.writeTextFileSync(config, DAEMON_JSON);
      const args = [
        "configure",
        "--runtime=docker",
        `--config=${config}`,
        "--restart-mode=none",
        `--state-dir=${dir}/state`,
      ];
      const first = await ctk(args);
      assertSuccess(first);
      ok(first.stdout.includes(`Updated "${config}"`), first.stdout);
      const configured = Deno.readTextFileSync(config);
      deepStrictEqual(JSON.parse(configured).runtimes.xpu, {
        path: "/usr/bin/xpu-container-runtime",
        runtimeArgs: [],
      });
      const stamp = fileStamp(config);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await ctk(args);
      assertSuccess(second);
      ok(second.stdout.includes("Nothing to change"), second.stdout);
      ok(!second.stdout.includes("Updated"), second.stdout);
      deepStrictEqual(fileStamp(config), stamp, "same inode and mtime");
      strictEqual(Deno.readTextFileSync(config), configured);
    });
  });

  await t.step("(b) --dry-run prints a diff and writes nothing", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/daemon.json`;
      const state = `${dir}/state`;
      Deno.writeTextFileSync(config, DAEMON_JSON);
      const stamp = fileStamp(config);
      const run = await ctk([
        "configure",
        "--runtime",
        "docker",
        "--config",
        config,
        "--set-as-default",
        "--restart-mode",
        "none",
        "--state-dir",
        state,
        "--dry-run",
      ]);
      assertSuccess(run);
      ok(run.stdout.startsWith(`--- ${config}`), run.stdout);
      ok(run.stdout.includes(`\n+++ ${config}`), run.stdout);
      ok(run.stdout.includes("\n@@ "), run.stdout);
      ok(run.stdout.includes('\n-  "default-runtime": "crun",'), run.stdout);
      ok(run.stdout.includes('\n+  "default-runtime": "xpu",'), run.stdout);
      ok(run.stdout.includes("nothing written"), run.stdout);
      strictEqual(Deno.readTextFileSync(config), DAEMON_JSON);
      deepStrictEqual(fileStamp(config), stamp);
      deepStrictEqual(stateFiles(state), [], "no revert memory");
      deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["daemon.json"]);
    });
  });

  const malformed = [
    {
      name: "(c) malformed daemon.json",
      file: "daemon.json",
      text: '{\n  "log-level": "warn",\n  "debug": true,\n}\n',
      args: ["--runtime", "docker"],
      position: "line 4, column 1",
    },
    {
      name: "(c) malformed containerd config.toml",
      file: "config.toml",
      text: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_cdi = tru\n',
      args: ["--runtime", "containerd", "--drop-in-config", "DIR/conf.d/99-xpu.toml"],
      position: "line 3, column 16",
    },
    {
      name: "(c) malformed crio.conf (config mode reads it)",
      file: "crio.conf",
      text: '[crio.runtime]\ndefault_runtime = "runc\n',
      args: ["--runtime", "crio", "--drop-in-config", "DIR/crio.conf.d/99-xpu.toml"],
      position: "line 2, column 24",
    },
  ];
  for (const c of malformed) {
    await t.step(
      `${c.name}: exit 1, one line with file, line and column, nothing written`,
      async () => {
        await withTempDir(async (dir) => {
          const config = `${dir}/${c.file}`;
          Deno.writeTextFileSync(config, c.text);
          const stamp = fileStamp(config);
          const run = await ctk([
            "configure",
            ...c.args.map((a) => a.replace("DIR", dir)),
            "--config",
            config,
            "--restart-mode",
            "none",
            "--state-dir",
            `${dir}/state`,
          ]);
          strictEqual(run.code, 1, run.stderr);
          const lines = run.stderr.split("\n").filter((l) => l !== "");
          strictEqual(lines.length, 1, run.stderr);
          ok(lines[0].startsWith("xpu-ctk: "), lines[0]);
          ok(lines[0].includes(`"${config}", ${c.position}`), lines[0]);
          strictEqual(run.stdout, "");
          strictEqual(Deno.readTextFileSync(config), c.text);
          deepStrictEqual(fileStamp(config), stamp);
          deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), [c.file]);
        });
      },
    );
  }

  await t.step("(d) docker setup then cleanup with RUNTIME_DIR", async (t) => {
    const original = `{
  "log-level": "warn",
  "features": {
    "buildkit": true
  }
}
`;
    const forms = [
      { name: "positional RUNTIME_DIR", args: (d: string) => [d], env: {} },
      { name: "RUNTIME_DIR from the environment", args: () => [], env: { RUNTIME_DIR: "DIR" } },
    ];
    for (const form of forms) {
      await t.step(form.name, async () => {
        await withTempDir(async (dir) => {
          const config = `${dir}/daemon.json`;
          const runtimeDir = `${dir}/toolkit`;
          Deno.writeTextFileSync(config, original);
          const env = Object.fromEntries(
            Object.entries(form.env).map(([k, v]) => [k, v.replace("DIR", runtimeDir)]),
          );
          const common = [
            "--runtime",
            "docker",
            "--config",
            config,
            "--restart-mode",
            "none",
            "--state-dir",
            `${dir}/state`,
            ...form.args(runtimeDir),
          ];
          assertSuccess(await ctk(["setup", ...common], env));
          const configured = JSON.parse(Deno.readTextFileSync(config));
          deepStrictEqual(configured, {
            "log-level": "warn",
            features: { buildkit: true },
            runtimes: {
              xpu: { path: `${runtimeDir}/xpu-container-runtime`, runtimeArgs: [] },
              "xpu-cdi": { path: `${runtimeDir}/xpu-container-runtime.cdi`, runtimeArgs: [] },
              "xpu-legacy": {
                path: `${runtimeDir}/xpu-container-runtime.legacy`,
                runtimeArgs: [],
              },
            },
            "default-runtime": "xpu",
          });
          assertSuccess(await ctk(["cleanup", ...common], env));
          strictEqual(
            Deno.readTextFileSync(config),
            original.replace(
              '    "buildkit": true\n  }\n',
              '    "buildkit": true\n  },\n  "runtimes": {},\n  "default-runtime": "runc"\n',
            ),
            "back to the original, with runc named as the default and an empty runtime table",
          );
          deepStrictEqual(stateFiles(`${dir}/state`), [], "the revert memory is gone");
        });
      });
    }

    await t.step(
      "--set-as-default right before RUNTIME_DIR (the README's installer usage)",
      async () => {
        await withTempDir(async (dir) => {
          const config = `${dir}/daemon.json`;
          Deno.writeTextFileSync(config, DAEMON_JSON);
          const run = await ctk([
            "setup",
            "--runtime=docker",
            `--config=${config}`,
            "--restart-mode=none",
            `--state-dir=${dir}/state`,
            "--set-as-default",
            `${dir}/toolkit`,
          ]);
          assertSuccess(run);
          const configured = JSON.parse(Deno.readTextFileSync(config));
          strictEqual(configured["default-runtime"], "xpu");
          strictEqual(configured.runtimes.xpu.path, `${dir}/toolkit/xpu-container-runtime`);
        });
      },
    );

    await t.step("--set-as-default=false leaves the default alone", async () => {
      await withTempDir(async (dir) => {
        const config = `${dir}/daemon.json`;
        Deno.writeTextFileSync(config, DAEMON_JSON);
        const common = [
          "--runtime=docker",
          `--config=${config}`,
          "--restart-mode=none",
          `--state-dir=${dir}/state`,
          `${dir}/toolkit`,
        ];
        assertSuccess(await ctk(["setup", "--set-as-default=false", ...common]));
        const configured = JSON.parse(Deno.readTextFileSync(config));
        strictEqual(configured["default-runtime"], "crun");
        deepStrictEqual(Object.keys(configured.runtimes), ["crun", "xpu", "xpu-cdi", "xpu-legacy"]);
        assertSuccess(await ctk(["cleanup", ...common]));
        strictEqual(Deno.readTextFileSync(config), DAEMON_JSON);
      });
    });
  });

  await t.step("(e) unconfigure in another process restores the replaced default", async (t) => {
    const cases = [
      { name: "untouched since: byte for byte", edit: undefined },
      {
        name: "edited since: the edit stays",
        edit: ['"log-level": "warn"', '"log-level": "info"'],
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        await withTempDir(async (dir) => {
          const config = `${dir}/daemon.json`;
          Deno.writeTextFileSync(config, DAEMON_JSON);
          const common = [
            "--runtime=docker",
            `--config=${config}`,
            "--restart-mode=none",
            `--state-dir=${dir}/state`,
          ];
          assertSuccess(await ctk(["configure", "--set-as-default", ...common]));
          strictEqual(JSON.parse(Deno.readTextFileSync(config))["default-runtime"], "xpu");
          if (c.edit) {
            Deno.writeTextFileSync(
              config,
              Deno.readTextFileSync(config).replace(c.edit[0], c.edit[1]),
            );
          }
          const run = await ctk(["unconfigure", ...common]);
          assertSuccess(run);
          ok(run.stdout.includes(`Updated "${config}"`), run.stdout);
          const expected = c.edit ? DAEMON_JSON.replace(c.edit[0], c.edit[1]) : DAEMON_JSON;
          strictEqual(Deno.readTextFileSync(config), expected);
          deepStrictEqual(stateFiles(`${dir}/state`), []);
        });
      });
    }
  });

  await t.step("(f) two configures at once: neither update is lost", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/daemon.json`;
      Deno.writeTextFileSync(config, DAEMON_JSON);
      const configure = (name: string) =>
        ctk([
          "configure",
          "--runtime=docker",
          `--config=${config}`,
          `--runtime-name=${name}`,
          `--runtime-path=/opt/${name}`,
          "--restart-mode=none",
          `--state-dir=${dir}/state`,
        ]);
      const runs = await Promise.all([configure("a1"), configure("a2")]);
      runs.forEach(assertSuccess);
      const runtimes = JSON.parse(Deno.readTextFileSync(config)).runtimes;
      deepStrictEqual(runtimes.a1, { path: "/opt/a1", runtimeArgs: [] });
      deepStrictEqual(runtimes.a2, { path: "/opt/a2", runtimeArgs: [] });
      deepStrictEqual(runtimes.crun, { path: "/usr/bin/crun" });
      deepStrictEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        ["daemon.json", "state"],
        "no temp file is left",
      );
    });
  });

  await t.step("(f) per engine: two handler names, each kept by the other's runs", async (t) => {
    const cri = (doc: unknown) => {
      const plugins = (doc as { plugins?: Record<string, { containerd?: { runtimes?: object } }> })
        .plugins;
      return Object.keys(plugins?.["io.containerd.grpc.v1.cri"]?.containerd?.runtimes ?? {});
    };
    const readToml = (path: string) => {
      try {
        return parse(Deno.readTextFileSync(path));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return {};
        throw error;
      }
    };
    const containerdConfig = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.' +
      'runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n';
    const cases = [
      {
        name: "docker",
        file: "daemon.json",
        text: DAEMON_JSON,
        args: (_: string) => ["--runtime=docker"],
        handlers: (dir: string) =>
          Object.keys(JSON.parse(Deno.readTextFileSync(`${dir}/daemon.json`)).runtimes ?? {}),
      },
      {
        name: "containerd in place",
        file: "config.toml",
        text: containerdConfig,
        args: (_: string) => ["--runtime=containerd", "--drop-in-config="],
        handlers: (dir: string) => cri(readToml(`${dir}/config.toml`)),
      },
      {
        name: "containerd drop-in",
        file: "config.toml",
        text: containerdConfig,
        args: (
          dir: string,
        ) => ["--runtime=containerd", `--drop-in-config=${dir}/conf.d/99-xpu.toml`],
        handlers: (dir: string) => [
          ...new Set([
            ...cri(readToml(`${dir}/config.toml`)),
            ...cri(readToml(`${dir}/conf.d/99-xpu.toml`)),
          ]),
        ],
      },
      {
        name: "crio drop-in",
        file: "crio.conf",
        text: '[crio.runtime.runtimes.runc]\nruntime_path = "/usr/bin/runc"\n',
        args: (
          dir: string,
        ) => ["--runtime=crio", `--drop-in-config=${dir}/crio.conf.d/99-xpu.toml`],
        handlers: (dir: string) => {
          const doc = readToml(`${dir}/crio.conf.d/99-xpu.toml`) as {
            crio?: { runtime?: { runtimes?: object } };
          };
          return Object.keys(doc.crio?.runtime?.runtimes ?? {});
        },
      },
    ];
    for (const c of cases) {
      const run = (dir: string, action: string, name: string) =>
        ctk([
          action,
          ...c.args(dir),
          `--config=${dir}/${c.file}`,
          `--runtime-name=${name}`,
          `--runtime-path=/opt/${name}`,
          "--restart-mode=none",
          `--state-dir=${dir}/state`,
        ]);
      await t.step(`${c.name}: both handlers after two configures at once`, async () => {
        await withTempDir(async (dir) => {
          Deno.writeTextFileSync(`${dir}/${c.file}`, c.text);
          const runs = await Promise.all([
            run(dir, "configure", "a1"),
            run(dir, "configure", "a2"),
          ]);
          runs.forEach(assertSuccess);
          const both = c.handlers(dir);
          ok(both.includes("a1") && both.includes("a2"), `handlers: ${both.join(", ")}`);
        });
      });
      await t.step(`${c.name}: unconfigure of a1 keeps a2`, async () => {
        await withTempDir(async (dir) => {
          Deno.writeTextFileSync(`${dir}/${c.file}`, c.text);
          assertSuccess(await run(dir, "configure", "a2"));
          assertSuccess(await run(dir, "configure", "a1"));
          assertSuccess(await run(dir, "unconfigure", "a1"));
          const left = c.handlers(dir);
          ok(!left.includes("a1"), `a1 is removed: ${left.join(", ")}`);
          ok(left.includes("a2"), `a2 stays: ${left.join(", ")}`);
        });
      });
    }
  });

  await t.step("(g) containerd in place keeps the config's mode 0640 and owner", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/config.toml`;
      const original = [
        "version = 2",
        "",
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "  SystemdCgroup = true",
        "",
      ].join("\n");
      Deno.writeTextFileSync(config, original);
      Deno.chmodSync(config, 0o640);
      Deno.chownSync(config, 1234, 1234);
      const common = [
        "--runtime=containerd",
        `--config=${config}`,
        "--drop-in-config",
        "",
        "--restart-mode=none",
        `--state-dir=${dir}/state`,
      ];
      assertSuccess(await ctk(["configure", ...common]));
      const info = Deno.statSync(config);
      strictEqual(info.mode! & 0o7777, 0o640);
      strictEqual(info.uid, 1234);
      strictEqual(info.gid, 1234);
      const doc = parse(Deno.readTextFileSync(config)) as Record<string, Record<string, unknown>>;
      const cri = doc.plugins["io.containerd.grpc.v1.cri"] as Record<string, unknown>;
      const runtimes = (cri.containerd as Record<string, unknown>).runtimes as Record<
        string,
        { runtime_type: string; options: Record<string, unknown> }
      >;
      strictEqual(runtimes.xpu.runtime_type, "io.containerd.runc.v2");
      deepStrictEqual({ ...runtimes.xpu.options }, {
        SystemdCgroup: true,
        BinaryName: "/usr/bin/xpu-container-runtime",
      });
      strictEqual(Deno.readTextFileSync(config).startsWith(original), true, "user bytes first");
      deepStrictEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        ["config.toml", "state"],
        "no drop-in and no temp file",
      );
      assertSuccess(await ctk(["unconfigure", ...common]));
      strictEqual(Deno.readTextFileSync(config), original);
      const after = Deno.statSync(config);
      strictEqual(after.mode! & 0o7777, 0o640);
      strictEqual(after.uid, 1234);
      strictEqual(after.gid, 1234);
    });
  });

  await t.step("(h) cri-o config mode writes the drop-in, never crio.conf", async () => {
    await withTempDir(async (dir) => {
      const crioConf = `${dir}/crio.conf`;
      const dropIn = `${dir}/crio.conf.d/99-xpu.toml`;
      const original = [
        "# the admin's file",
        "[crio.runtime]",
        'default_runtime = "crun"',
        "",
        "[crio.runtime.runtimes.crun]",
        'runtime_path = "/usr/bin/crun"',
        'monitor_path = "/usr/libexec/crio/conmon"',
        "",
      ].join("\n");
      Deno.writeTextFileSync(crioConf, original);
      const stamp = fileStamp(crioConf);
      const common = [
        "--runtime=crio",
        `--config=${crioConf}`,
        `--drop-in-config=${dropIn}`,
        "--restart-mode=none",
        `--state-dir=${dir}/state`,
      ];
      await new Promise((resolve) => setTimeout(resolve, 20));
      const run = await ctk(["configure", "--set-as-default", ...common]);
      assertSuccess(run);
      ok(run.stdout.includes(`Created "${dropIn}"`), run.stdout);
      ok(!run.stdout.includes(`"${crioConf}"`), run.stdout);
      strictEqual(Deno.readTextFileSync(crioConf), original);
      deepStrictEqual(fileStamp(crioConf), stamp);
      const written = JSON.parse(JSON.stringify(parse(Deno.readTextFileSync(dropIn))));
      deepStrictEqual(written, {
        crio: {
          runtime: {
            default_runtime: "xpu",
            runtimes: {
              xpu: {
                runtime_path: "/usr/bin/xpu-container-runtime",
                monitor_path: "/usr/libexec/crio/conmon",
                runtime_type: "oci",
              },
            },
          },
        },
      });
      strictEqual(Deno.statSync(dropIn).mode! & 0o777, 0o644);
      assertSuccess(await ctk(["unconfigure", ...common]));
      strictEqual(Deno.readTextFileSync(crioConf), original);
      deepStrictEqual(fileStamp(crioConf), stamp);
      let gone = false;
      try {
        Deno.statSync(dropIn);
      } catch (error) {
        gone = error instanceof Deno.errors.NotFound;
      }
      ok(gone, "the drop-in is removed");
    });
  });

  await t.step(
    "(j) containerd with --restart-mode signal: usage error, nothing written",
    async () => {
      await withTempDir(async (dir) => {
        const config = `${dir}/config.toml`;
        const original =
          'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_cdi = false\n';
        Deno.writeTextFileSync(config, original);
        const run = await ctk([
          "configure",
          "--runtime=containerd",
          `--config=${config}`,
          `--drop-in-config=${dir}/conf.d/99-xpu.toml`,
          "--restart-mode=signal",
          `--state-dir=${dir}/state`,
        ]);
        strictEqual(run.code, 2, run.stderr);
        ok(run.stderr.includes("SIGHUP stops containerd"), run.stderr);
        strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
        strictEqual(Deno.readTextFileSync(config), original);
        deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.toml"]);
      });
    },
  );

  await t.step("(i) settings from the environment, a flag beating its variable", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/daemon.json`;
      Deno.writeTextFileSync(config, DAEMON_JSON);
      const env = {
        RUNTIME: "docker",
        RUNTIME_CONFIG: config,
        DOCKER_CONFIG: `${dir}/not-this.json`,
        RUNTIME_RESTART_MODE: "none",
        XPU_RUNTIME_NAME: "from-env",
        XPU_RUNTIME_SET_AS_DEFAULT: "true",
      };
      const run = await ctk(["configure", `--state-dir=${dir}/state`], env);
      assertSuccess(run);
      ok(run.stdout.includes("Restart skipped (--restart-mode none)"), run.stdout);
      const configured = JSON.parse(Deno.readTextFileSync(config));
      strictEqual(configured["default-runtime"], "from-env");
      ok(configured.runtimes["from-env"]);
      const flagged = await ctk(
        [
          "configure",
          "--runtime-name=from-flag",
          "--set-as-default=false",
          "--cdi.enabled",
          `--state-dir=${dir}/state`,
        ],
        env,
      );
      assertSuccess(flagged);
      const again = JSON.parse(Deno.readTextFileSync(config));
      ok(again.runtimes["from-flag"]);
      strictEqual(again["default-runtime"], "from-env", "not made the default");
      deepStrictEqual(again.features, { cdi: true });
      deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "daemon.json",
        "state",
      ]);
    });
  });
  await t.step(
    "(m) a state dir that cannot be written: exit 1, one line, nothing changed",
    async () => {
      await withTempDir(async (dir) => {
        Deno.writeTextFileSync(`${dir}/not-a-dir`, "");
        const cases = [
          { engine: "docker", file: "daemon.json", text: DAEMON_JSON, extra: [] as string[] },
          {
            engine: "containerd",
            file: "config.toml",
            text: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n',
            extra: [`--drop-in-config=${dir}/conf.d/99-xpu.toml`],
          },
        ];
        for (const c of cases) {
          const config = `${dir}/${c.file}`;
          Deno.writeTextFileSync(config, c.text);
          const run = await ctk([
            "configure",
            `--runtime=${c.engine}`,
            `--config=${config}`,
            ...c.extra,
            "--restart-mode=none",
            `--state-dir=${dir}/not-a-dir/state`,
          ]);
          strictEqual(run.code, 1, run.stderr);
          strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
          ok(
            run.stderr.includes(`Cannot record the change in "${dir}/not-a-dir/state/`),
            run.stderr,
          );
          ok(run.stderr.includes("nothing was changed"), run.stderr);
          strictEqual(Deno.readTextFileSync(config), c.text);
        }
        deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
          "config.toml",
          "daemon.json",
          "not-a-dir",
        ]);
      });
    },
  );

  await t.step("(n) --config without a dir part names a file in the cwd", async () => {
    await withTempDir(async (dir) => {
      const run = await runTool(toolArgv("xpu-ctk"), {
        args: [
          "runtime",
          "configure",
          "--runtime=docker",
          "--config",
          "daemon.json",
          "--restart-mode=none",
          `--state-dir=${dir}/state`,
        ],
        cwd: dir,
      });
      assertSuccess(run);
      ok(Deno.statSync(`${dir}/daemon.json`).isFile, "a file, not a directory");
      ok(JSON.parse(Deno.readTextFileSync(`${dir}/daemon.json`)).runtimes.xpu);
    });
  });

  await t.step("(o) a path flag given the next flag as its value is a usage error", async () => {
    await withTempDir(async (dir) => {
      const run = await runTool(toolArgv("xpu-ctk"), {
        args: ["runtime", "configure", "--runtime=docker", "--config", "--restart-mode=none"],
        cwd: dir,
      });
      strictEqual(run.code, 2, run.stderr);
      ok(run.stderr.includes('--config "--restart-mode=none": it looks like a flag'), run.stderr);
      deepStrictEqual([...Deno.readDirSync(dir)], [], "nothing created");
    });
  });

  await t.step("(p) a stopped engine: the file is written, the line says so, exit 0", async (t) => {
    // The verdict looks for the engine's process on this machine: none may run meanwhile.
    for (const name of ["dockerd", "containerd"]) {
      ok(!processRunning(name), `this test needs no ${name} running on the machine`);
    }
    const cases = [
      { engine: "docker", mode: "signal", file: "daemon.json", process: "dockerd" },
      // No systemd here: systemctl is missing or fails; containerd does not run either.
      { engine: "containerd", mode: "systemd", file: "config.toml", process: "containerd" },
    ];
    for (const c of cases) {
      await t.step(`${c.engine} with --restart-mode ${c.mode}`, async () => {
        await withTempDir(async (dir) => {
          const config = `${dir}/${c.file}`;
          const socket = `${dir}/engine.sock`;
          const run = await ctk([
            "configure",
            "--runtime",
            c.engine,
            "--config",
            config,
            "--drop-in-config",
            "",
            "--socket",
            socket,
            "--restart-mode",
            c.mode,
            "--state-dir",
            `${dir}/state`,
          ]);
          assertSuccess(run);
          ok(Deno.readTextFileSync(config).includes("xpu-container-runtime"), "written");
          ok(
            run.stdout.includes(
              `${c.process} is not running (no such process; nothing accepts connections on ` +
                `"${socket}"): it reads the new configuration when it starts`,
            ),
            run.stdout,
          );
          strictEqual(run.stderr, "");
        });
      });
    }
  });
});
