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
import { hasProgram } from "../helpers/container_lab.ts";
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
  const cases: UsageCase[] = [
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
    {
      name: "--set-as-default=maybe: the flag, the value and the spellings",
      flags: { runtime: "docker", setAsDefault: "maybe" },
      fragment: 'Cannot use --set-as-default "maybe": it is not a boolean: use true or false ' +
        "(also 1, t, T, TRUE, True, 0, f, F, FALSE, False)",
    },
    {
      name: "--cdi.enabled=yes",
      flags: { runtime: "docker", cdiEnabled: "yes" },
      fragment: 'Cannot use --cdi.enabled "yes": it is not a boolean',
    },
    {
      name: "XPU_RUNTIME_SET_AS_DEFAULT=maybe",
      flags: { runtime: "docker" },
      env: { XPU_RUNTIME_SET_AS_DEFAULT: "maybe" },
      fragment: 'Cannot use XPU_RUNTIME_SET_AS_DEFAULT "maybe": it is not a boolean',
    },
    {
      name: "RUNTIME_SET_AS_DEFAULT=yes names RUNTIME_SET_AS_DEFAULT",
      flags: { runtime: "docker" },
      env: { RUNTIME_SET_AS_DEFAULT: "yes" },
      fragment: 'Cannot use RUNTIME_SET_AS_DEFAULT "yes"',
    },
    {
      name: "RUNTIME_ENABLE_CDI=on",
      flags: { runtime: "docker" },
      env: { RUNTIME_ENABLE_CDI: "on" },
      fragment: 'Cannot use RUNTIME_ENABLE_CDI "on": it is not a boolean',
    },
    {
      name: "CDI_ENABLED=enabled names CDI_ENABLED",
      flags: { runtime: "containerd" },
      env: { CDI_ENABLED: "enabled" },
      fragment: 'Cannot use CDI_ENABLED "enabled": it is not a boolean',
    },
    {
      name: "setup: a boolean is checked before RUNTIME_DIR is missed",
      action: "setup",
      flags: { runtime: "docker", setAsDefault: "maybe" },
      fragment: 'Cannot use --set-as-default "maybe"',
    },
    ...relativePathCases(),
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertThrowsError(() => resolve(c), UsageError, c.fragment);
    });
  }
  await t.step("every boolean spelling, from the flag and from each variable", () => {
    const spellings: [string, boolean][] = [
      ...["1", "t", "T", "TRUE", "true", "True"].map((v): [string, boolean] => [v, true]),
      ...["0", "f", "F", "FALSE", "false", "False"].map((v): [string, boolean] => [v, false]),
    ];
    for (const [value, expected] of spellings) {
      const flags = { runtime: "docker" };
      const sources: ResolveCase["input"][] = [
        { flags: { ...flags, setAsDefault: value, cdiEnabled: value } },
        { flags, env: { XPU_RUNTIME_SET_AS_DEFAULT: value, RUNTIME_ENABLE_CDI: value } },
        { flags, env: { RUNTIME_SET_AS_DEFAULT: value, CDI_ENABLED: value } },
      ];
      for (const input of sources) {
        const settings = resolve(input);
        deepStrictEqual(
          { defaultRuntime: settings.defaultRuntime, cdi: settings.cdi },
          { defaultRuntime: expected ? "xpu" : undefined, cdi: expected },
          `${value} from ${JSON.stringify(input)}`,
        );
      }
    }
  });
  await t.step("honest: every path absolute, and an empty drop-in (in place)", () => {
    const settings = resolve({
      action: "setup",
      flags: {
        runtime: "containerd",
        config: "/c/config.toml",
        dropInConfig: "",
        socket: "/s.sock",
        hostRoot: "/host",
        hooksDir: "/h",
        hookPath: "/h/hook",
        stateDir: "/state",
      },
      positional: "/opt/t",
    });
    strictEqual(settings.dropIn, "");
    strictEqual(settings.hookFile, "/h/oci-xpu-hook.json");
  });
  await t.step("honest: cri-o hook mode with an absolute --hook-path or RUNTIME_DIR", () => {
    const flags = { runtime: "crio", configMode: "hook" };
    strictEqual(resolve({ flags: { ...flags, hookPath: "/opt/x/hook" } }).hookPath, "/opt/x/hook");
    strictEqual(
      resolve({ action: "setup", flags, env: { RUNTIME_DIR: TOOLKIT } }).hookPath,
      `${TOOLKIT}/xpu-container-runtime-hook`,
    );
  });
});

type UsageCase = ResolveCase["input"] & { name: string; fragment: string };

/** Each path setting given relative, from its flag or variable: refused, naming where it came from. */
function relativePathCases(): UsageCase[] {
  const refused = (from: string, value: string) =>
    `Cannot use ${from} ${JSON.stringify(value)}: it is a relative path, and the paths written ` +
    `into an engine's config or used as files must be absolute: pass it as an absolute path ` +
    `(e.g. "$PWD/${value}")`;
  const docker = { runtime: "docker" };
  const cases: (ResolveCase["input"] & { name: string; from: string; value: string })[] = [
    {
      name: "relative --config",
      flags: { ...docker, config: "daemon.json" },
      from: "--config",
      value: "daemon.json",
    },
    {
      name: "relative RUNTIME_CONFIG",
      flags: docker,
      env: { RUNTIME_CONFIG: "etc/daemon.json" },
      from: "RUNTIME_CONFIG",
      value: "etc/daemon.json",
    },
    {
      name: "relative DOCKER_CONFIG",
      flags: docker,
      env: { DOCKER_CONFIG: "d.json" },
      from: "DOCKER_CONFIG",
      value: "d.json",
    },
    {
      name: "relative --drop-in-config",
      flags: { runtime: "containerd", dropInConfig: "conf.d/99-xpu.toml" },
      from: "--drop-in-config",
      value: "conf.d/99-xpu.toml",
    },
    {
      name: "relative CRIO_DROP_IN_CONFIG",
      flags: { runtime: "crio" },
      env: { CRIO_DROP_IN_CONFIG: "99-xpu.toml" },
      from: "CRIO_DROP_IN_CONFIG",
      value: "99-xpu.toml",
    },
    {
      name: "relative --runtime-path",
      flags: { ...docker, runtimePath: "bin/xpu-container-runtime" },
      from: "--runtime-path",
      value: "bin/xpu-container-runtime",
    },
    {
      name: "relative RUNTIME_DIR (positional)",
      action: "setup",
      flags: docker,
      positional: "toolkit",
      from: "RUNTIME_DIR",
      value: "toolkit",
    },
    {
      name: "relative RUNTIME_DIR (variable)",
      action: "setup",
      flags: { runtime: "containerd" },
      env: { RUNTIME_DIR: "./toolkit" },
      from: "RUNTIME_DIR",
      value: "./toolkit",
    },
    {
      name: "relative --runtime-dir",
      action: "cleanup",
      flags: { ...docker, runtimeDir: "toolkit" },
      from: "--runtime-dir",
      value: "toolkit",
    },
    {
      name: "relative --socket",
      flags: { ...docker, socket: "docker.sock" },
      from: "--socket",
      value: "docker.sock",
    },
    {
      name: "relative --host-root",
      flags: { ...docker, hostRoot: "host" },
      from: "--host-root",
      value: "host",
    },
    {
      name: "relative HOST_ROOT_MOUNT",
      flags: docker,
      env: { HOST_ROOT_MOUNT: "host" },
      from: "HOST_ROOT_MOUNT",
      value: "host",
    },
    {
      name: "relative --hooks-dir",
      flags: { runtime: "crio", configMode: "hook", hooksDir: "hooks.d" },
      from: "--hooks-dir",
      value: "hooks.d",
    },
    {
      name: "relative --hook-path outside cri-o hook mode",
      flags: { ...docker, hookPath: "xpu-container-runtime-hook" },
      from: "--hook-path",
      value: "xpu-container-runtime-hook",
    },
    {
      name: "relative --state-dir",
      flags: { ...docker, stateDir: "state" },
      from: "--state-dir",
      value: "state",
    },
    {
      name: "relative XPU_CTK_STATE_DIR",
      flags: docker,
      env: { XPU_CTK_STATE_DIR: "var/state" },
      from: "XPU_CTK_STATE_DIR",
      value: "var/state",
    },
  ];
  return [
    ...cases.map(({ from, value, ...c }) => ({ ...c, fragment: refused(from, value) })),
    {
      name: "a hook file name with a directory in it",
      flags: { runtime: "crio", configMode: "hook", hookFilename: "../oci-xpu-hook.json" },
      fragment: 'Cannot use --hook-filename "../oci-xpu-hook.json": it is a path, not a file ' +
        "name: give the name alone, and its directory with --hooks-dir",
    },
  ];
}

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

  await t.step("(n) --config without a dir part: a usage error, nothing written", async () => {
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
      strictEqual(run.code, 2, run.stderr);
      strictEqual(
        run.stderr,
        'xpu-ctk: Cannot use --config "daemon.json": it is a relative path, and the paths ' +
          "written into an engine's config or used as files must be absolute: pass it as an " +
          'absolute path (e.g. "$PWD/daemon.json")\n',
      );
      deepStrictEqual([...Deno.readDirSync(dir)], [], "nothing created");
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
          // A runtime that is there: a missing one costs a warning on stderr.
          const runtime = `${dir}/xpu-container-runtime`;
          Deno.writeTextFileSync(runtime, "#!/bin/sh\n", { mode: 0o755 });
          const run = await ctk([
            "configure",
            "--runtime",
            c.engine,
            "--runtime-path",
            runtime,
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

/** Every path under `dir` with its content (files) or `/` (dirs): what a run may not change. */
function treeOf(dir: string): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const full = `${path}/${entry.name}`;
      const info = Deno.lstatSync(full);
      const mode = (info.mode! & 0o7777).toString(8);
      if (entry.isDirectory) {
        tree[full.slice(dir.length)] = `dir ${mode}`;
        walk(full);
      } else tree[full.slice(dir.length)] = `${mode} ${Deno.readTextFileSync(full)}`;
    }
  };
  walk(dir);
  return tree;
}

/** An executable file at `path` (a runtime or hook the configure points at). */
function program(path: string): string {
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(path, "#!/bin/sh\n", { mode: 0o755 });
  return path;
}

/**
 * `xpu-ctk runtime <args>` as root without the capabilities that pass over file permissions: it
 * reads and writes what a non-root user who owns nothing there could — the files of uid 1234.
 */
function ctkWithoutDac(args: string[]): Promise<ToolRun> {
  const caps = "-dac_override,-dac_read_search,-fowner";
  return runTool([
    "setpriv",
    `--bounding-set=${caps}`,
    `--inh-caps=${caps}`,
    "--",
    ...toolArgv("xpu-ctk"),
  ], {
    args: ["runtime", ...args],
  });
}

Deno.test("xpu-ctk runtime: the rough edges a new operator hits", async (t) => {
  await t.step("--dry-run writes nothing: no config dir, state dir or journal", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/etc/docker/daemon.json`;
      const run = await ctk([
        "configure",
        "--runtime=docker",
        `--config=${config}`,
        `--runtime-path=${program(`${dir}/bin/xpu-container-runtime`)}`,
        "--restart-mode=signal",
        `--state-dir=${dir}/etc/xpu-container-runtime/revert`,
        "--dry-run",
      ]);
      assertSuccess(run);
      ok(run.stdout.includes(`+++ ${config}`), run.stdout);
      ok(run.stdout.includes("Dry run: nothing written"), run.stdout);
      deepStrictEqual(Object.keys(treeOf(dir)), ["/bin", "/bin/xpu-container-runtime"]);
    });
  });

  const privileged = Deno.uid() === 0 && await hasProgram("setpriv");
  if (!privileged) console.log("skipping the unprivileged steps: they need root and setpriv");
  await t.step({
    name: "without permission to write: the dry run works, a real run says to run as root",
    ignore: !privileged,
    fn: async (t) => {
      await withTempDir(async (dir) => {
        // The operator's files belong to someone else (uid 1234), readable to all.
        const host = `${dir}/host`;
        const config = `${host}/etc/docker/daemon.json`;
        Deno.mkdirSync(`${host}/etc/docker`, { recursive: true });
        Deno.writeTextFileSync(config, DAEMON_JSON);
        for (const path of [host, `${host}/etc`, `${host}/etc/docker`, config]) {
          Deno.chownSync(path, 1234, 1234);
        }
        const runtime = `--runtime-path=${program(`${dir}/bin/xpu-container-runtime`)}`;
        const common = ["--runtime=docker", runtime, "--restart-mode=none", "--set-as-default"];
        const before = treeOf(dir);
        await t.step("a dry run, the config's dir missing: a diff, nothing written", async () => {
          const missing = `${host}/etc/missing/daemon.json`;
          const run = await ctkWithoutDac([
            "configure",
            ...common,
            `--config=${missing}`,
            `--state-dir=${host}/state`,
            "--dry-run",
          ]);
          assertSuccess(run);
          ok(run.stdout.includes(`+++ ${missing}`), run.stdout);
          deepStrictEqual(treeOf(dir), before);
        });
        await t.step("a dry run of the existing file: a diff, nothing written", async () => {
          const run = await ctkWithoutDac([
            "configure",
            ...common,
            `--config=${config}`,
            `--state-dir=${host}/state`,
            "--dry-run",
          ]);
          assertSuccess(run);
          ok(run.stdout.includes('\n+  "default-runtime": "xpu",'), run.stdout);
          deepStrictEqual(treeOf(dir), before);
        });
        const refusals = [
          {
            name: "the state dir cannot be made: run as root, nothing changed",
            stateDir: `${host}/etc/xpu-container-runtime/revert`,
            expected: `xpu-ctk: Cannot change "${config}": permission denied writing ` +
              `"${host}/etc/xpu-container-runtime/revert", where xpu-ctk keeps what it changes: ` +
              "nothing was changed; run as root (sudo)\n",
          },
          {
            name: "the state dir can be written, daemon.json not: run as root, nothing changed",
            stateDir: `${dir}/state`,
            expected: `xpu-ctk: Cannot write "${config}": permission denied: nothing was ` +
              "changed; run as root (sudo)\n",
          },
        ];
        for (const c of refusals) {
          await t.step(c.name, async () => {
            const run = await ctkWithoutDac([
              "configure",
              ...common,
              `--config=${config}`,
              `--state-dir=${c.stateDir}`,
            ]);
            strictEqual(run.code, 1, run.stderr);
            strictEqual(run.stderr, c.expected);
            strictEqual(run.stdout, "");
            deepStrictEqual(stateFiles(c.stateDir), [], "no journal, no memory");
            strictEqual(Deno.readTextFileSync(config), DAEMON_JSON);
            const after = treeOf(dir);
            delete after["/state"];
            deepStrictEqual(after, before);
          });
        }
        await t.step("a state dir it may not read: run as root", async () => {
          const stateDir = `${host}/private`;
          Deno.mkdirSync(stateDir, { mode: 0o700 });
          Deno.chownSync(stateDir, 1234, 1234);
          const run = await ctkWithoutDac([
            "configure",
            ...common,
            `--config=${config}`,
            `--state-dir=${stateDir}`,
          ]);
          strictEqual(run.code, 1, run.stderr);
          strictEqual(run.stderr.split("\n").length, 2, run.stderr);
          ok(run.stderr.startsWith(`xpu-ctk: Cannot read "${stateDir}/`), run.stderr);
          ok(run.stderr.endsWith(": permission denied: run as root (sudo)\n"), run.stderr);
          strictEqual(Deno.readTextFileSync(config), DAEMON_JSON);
        });
      });
    },
  });

  await t.step(
    "a missing runtime or hook: a warning line each, the configure stands",
    async (t) => {
      const cases = [
        {
          name: "configure: --runtime-path missing",
          args: (dir: string) => [
            "configure",
            "--runtime=docker",
            `--config=${dir}/daemon.json`,
            `--runtime-path=${dir}/opt/xpu-container-runtime`,
          ],
          expected: (dir: string) => [
            `the runtime "${dir}/opt/xpu-container-runtime" of handler "xpu" does not exist: ` +
            "install it there, or pass --runtime-path with where it is; until then containers " +
            'on "xpu" fail to start',
          ],
        },
        {
          name: "setup: RUNTIME_DIR without the toolkit, one line per handler",
          args: (dir: string) => [
            "setup",
            "--runtime=containerd",
            `--config=${dir}/config.toml`,
            "--drop-in-config=",
            `${dir}/toolkit`,
          ],
          expected: (dir: string) =>
            ["xpu", "xpu-cdi", "xpu-legacy"].map((name, i) =>
              `the runtime "${dir}/toolkit/xpu-container-runtime${["", ".cdi", ".legacy"][i]}" ` +
              `of handler "${name}" does not exist: install it there, or pass the RUNTIME_DIR ` +
              `the toolkit is installed in; until then containers on "${name}" fail to start`
            ),
        },
        {
          name: "cri-o hook mode: the hook program missing (the cli beside it is there)",
          args: (dir: string) => {
            program(`${dir}/toolkit/xpu-container-cli`);
            return [
              "configure",
              "--runtime=crio",
              "--config-mode=hook",
              `--hooks-dir=${dir}/hooks.d`,
              `--hook-path=${dir}/toolkit/xpu-container-runtime-hook`,
            ];
          },
          expected: (dir: string) => [
            `the hook program "${dir}/toolkit/xpu-container-runtime-hook" does not exist: ` +
            "install it there, or pass --hook-path with where it is; until then the hook cannot run",
          ],
        },
      ];
      for (const c of cases) {
        await t.step(c.name, async () => {
          await withTempDir(async (dir) => {
            const run = await ctk([
              ...c.args(dir),
              "--restart-mode=none",
              `--state-dir=${dir}/state`,
            ]);
            assertSuccess(run);
            strictEqual(
              run.stderr,
              c.expected(dir).map((line) => `xpu-ctk: warning: ${line}\n`).join(""),
            );
            ok(/^(Created|Updated) "/m.test(run.stdout), run.stdout);
          });
        });
      }
    },
  );

  await t.step("docker unconfigure of a file configure created", async (t) => {
    const configureThen = async (dir: string, unconfigure: string[]) => {
      const config = `${dir}/daemon.json`;
      const common = [
        "--runtime=docker",
        `--config=${config}`,
        `--runtime-path=${program(`${dir}/bin/xpu-container-runtime`)}`,
        `--state-dir=${dir}/state`,
      ];
      assertSuccess(await ctk(["configure", "--set-as-default", "--restart-mode=none", ...common]));
      const run = await ctk(["unconfigure", ...common, ...unconfigure]);
      assertSuccess(run);
      return { config, run };
    };
    await t.step("a reload (none, signal): kept with what the reload needs, said so", async () => {
      await withTempDir(async (dir) => {
        const { config, run } = await configureThen(dir, ["--restart-mode=none"]);
        ok(
          run.stdout.startsWith(
            `Kept "${config}" as {"runtimes": {}, "default-runtime": "runc"} so dockerd's ` +
              `reload drops "xpu": delete it after the next dockerd restart (configure created ` +
              "it)\n",
          ),
          run.stdout,
        );
        deepStrictEqual(JSON.parse(Deno.readTextFileSync(config)), {
          runtimes: {},
          "default-runtime": "runc",
        });
      });
    });
    await t.step("a restart (systemd): the file goes (dry run: the diff removes it)", async () => {
      await withTempDir(async (dir) => {
        const { config, run } = await configureThen(dir, ["--restart-mode=systemd", "--dry-run"]);
        ok(run.stdout.includes(`+++ ${config}\t(removed)`), run.stdout);
        ok(run.stdout.includes('-  "default-runtime": "xpu"\n'), run.stdout);
        ok(!run.stdout.includes('+  "runtimes"'), run.stdout);
      });
    });
  });

  await t.step("the files configure created are gone after unconfigure", async (t) => {
    const cases = [
      {
        name: "containerd: config.toml and the drop-in",
        args: (dir: string) => [
          "--runtime=containerd",
          `--config=${dir}/etc/containerd/config.toml`,
          `--drop-in-config=${dir}/etc/containerd/conf.d/99-xpu.toml`,
        ],
        files: ["/etc/containerd/conf.d/99-xpu.toml", "/etc/containerd/config.toml"],
      },
      {
        name: "cri-o config mode: the drop-in",
        args: (dir: string) => [
          "--runtime=crio",
          `--config=${dir}/etc/crio/crio.conf`,
          `--drop-in-config=${dir}/etc/crio/crio.conf.d/99-xpu.toml`,
        ],
        files: ["/etc/crio/crio.conf.d/99-xpu.toml"],
      },
      {
        name: "cri-o hook mode: the hook file",
        args: (dir: string) => [
          "--runtime=crio",
          "--config-mode=hook",
          `--hooks-dir=${dir}/hooks.d`,
          `--hook-path=${program(`${dir}/bin/xpu-container-runtime-hook`)}`,
        ],
        files: ["/hooks.d/oci-xpu-hook.json"],
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        await withTempDir(async (dir) => {
          const common = [
            ...c.args(dir),
            `--runtime-path=${program(`${dir}/bin/xpu-container-runtime`)}`,
            "--restart-mode=none",
            `--state-dir=${dir}/state`,
          ];
          const configured = await ctk(["configure", ...common]);
          assertSuccess(configured);
          for (const file of c.files) {
            ok(configured.stdout.includes(`Created "${dir}${file}"`), configured.stdout);
          }
          const run = await ctk(["unconfigure", ...common]);
          assertSuccess(run);
          for (const file of c.files) {
            ok(run.stdout.includes(`Removed "${dir}${file}"`), run.stdout);
            strictEqual(readIfMissing(`${dir}${file}`), true, `${file} is gone`);
          }
          deepStrictEqual(stateFiles(`${dir}/state`), []);
        });
      });
    }
  });
});

function readIfMissing(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}
