/**
 * The installer's settings: flags win over environment variables, which win over defaults;
 * RUNTIME_ARGS is split as sh would split it (nothing expanded, nothing run); more than one
 * DESTINATION, an unknown engine or profile, and relative paths are usage errors that say which.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { UsageError } from "../../src/core/errors.ts";
import {
  DEFAULT_PID_FILE,
  resolveDaemonSettings,
  resolveInstallOptions,
  splitArgs,
} from "../../src/installer/installer_args.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const SOURCE = "/opt/xpu-ctk/bin";
const CWD = "/work";

Deno.test("splitArgs splits like sh: blanks, quotes, escapes, no expansion", () => {
  const cases: [string, string[]][] = [
    ["", []],
    ["   ", []],
    ["--config /etc/docker/daemon.json", ["--config", "/etc/docker/daemon.json"]],
    ["  a\tb\nc  ", ["a", "b", "c"]],
    [`--config '/etc/my docker/daemon.json'`, ["--config", "/etc/my docker/daemon.json"]],
    [`"a \\"b\\" \\$HOME \\\\ \\x"`, [`a "b" $HOME \\ \\x`]],
    [`a\\ b c`, ["a b", "c"]],
    [`''`, [""]],
    [`x'y z'"w"`, ["xy zw"]],
    ["$HOME `id`", ["$HOME", "`id`"]],
    ["--set-as-default=false --restart-mode none", [
      "--set-as-default=false",
      "--restart-mode",
      "none",
    ]],
  ];
  for (const [line, expected] of cases) {
    deepStrictEqual(splitArgs(line, "RUNTIME_ARGS"), expected, line);
  }
});

Deno.test("splitArgs names the variable and the problem for unbalanced input", () => {
  assertThrowsError(
    () => splitArgs("--config 'x", "RUNTIME_ARGS"),
    UsageError,
    `RUNTIME_ARGS "--config 'x": a ' is never closed`,
  );
  assertThrowsError(
    () => splitArgs('"x', "--runtime-args"),
    UsageError,
    `--runtime-args "\\"x": a " is never closed`,
  );
  const error = assertThrowsError(
    () => splitArgs("--config\n'x", "RUNTIME_ARGS"),
    UsageError,
    `RUNTIME_ARGS "--config\\n'x": a ' is never closed`,
  );
  strictEqual(error.message.split("\n").length, 1, "the line break is escaped");
  assertThrowsError(() => splitArgs("x\\", "RUNTIME_ARGS"), UsageError, "ends with a backslash");
});

Deno.test("the daemon form's defaults", () => {
  const s = resolveDaemonSettings({}, [], {}, SOURCE, CWD);
  strictEqual(s.root, "/usr/local/xpu");
  strictEqual(s.toolkitDir, "/usr/local/xpu/toolkit");
  strictEqual(s.engine, "docker");
  strictEqual(s.noDaemon, false);
  deepStrictEqual(s.runtimeArgs, []);
  strictEqual(s.pidFile, DEFAULT_PID_FILE);
  strictEqual(s.install.toolkitRoot, "/usr/local/xpu/toolkit");
  strictEqual(s.install.sourceDir, SOURCE);
  strictEqual(s.install.driverRoot, "/");
  strictEqual(s.install.hostRoot, "/");
  strictEqual(s.install.kernelModule, "xpu");
  strictEqual(s.install.cdiOutputDir, undefined);
});

Deno.test("the environment fills what flags leave out; flags win", () => {
  const env = {
    ROOT: "/run/xpu",
    NO_DAEMON: "true",
    RUNTIME: "containerd",
    RUNTIME_ARGS: "--config '/etc/containerd/my config.toml' --restart-mode none",
    TOOLKIT_PID_FILE: "/run/xpu/other.pid",
    DRIVER_ROOT: "/run/xpu/driver",
    HOST_ROOT_MOUNT: "/host",
    CDI_ENABLED: "1",
    CDI_OUTPUT_DIR: "/var/run/cdi",
    XPU_PROFILE: "nvidia",
  };
  const fromEnv = resolveDaemonSettings({}, [], env, SOURCE, CWD);
  strictEqual(fromEnv.toolkitDir, "/run/xpu/toolkit");
  strictEqual(fromEnv.noDaemon, true);
  strictEqual(fromEnv.engine, "containerd");
  deepStrictEqual(fromEnv.runtimeArgs, [
    "--config",
    "/etc/containerd/my config.toml",
    "--restart-mode",
    "none",
  ]);
  strictEqual(fromEnv.pidFile, "/run/xpu/other.pid");
  strictEqual(fromEnv.install.driverRoot, "/run/xpu/driver");
  strictEqual(fromEnv.install.hostRoot, "/host");
  strictEqual(fromEnv.install.cdiOutputDir, "/var/run/cdi");
  strictEqual(fromEnv.install.profile.name, "nvidia");
  strictEqual(fromEnv.install.kernelModule, "nvidia");

  const flags = resolveDaemonSettings(
    {
      runtime: "crio",
      runtimeArgs: "",
      noDaemon: false,
      pidFile: "/tmp/p.pid",
      cdiEnabled: "false",
    },
    ["/opt/xpu/"],
    env,
    SOURCE,
    CWD,
  );
  strictEqual(flags.toolkitDir, "/opt/xpu/toolkit");
  strictEqual(flags.engine, "crio");
  deepStrictEqual(flags.runtimeArgs, []);
  strictEqual(flags.noDaemon, false);
  strictEqual(flags.pidFile, "/tmp/p.pid");
  strictEqual(flags.install.cdiOutputDir, undefined);
});

Deno.test("empty environment variables count as unset", () => {
  const s = resolveDaemonSettings({}, [], { RUNTIME: "", ROOT: "", NO_DAEMON: "" }, SOURCE, CWD);
  strictEqual(s.engine, "docker");
  strictEqual(s.root, "/usr/local/xpu");
  strictEqual(s.noDaemon, false);
});

Deno.test("more than one DESTINATION is a usage error naming the extras", () => {
  assertThrowsError(
    () => resolveDaemonSettings({}, ["/run/xpu", "/tmp/a", "b"], {}, SOURCE, CWD),
    UsageError,
    `unexpected arguments "/tmp/a", "b": pass exactly one DESTINATION (got "/run/xpu" first)`,
  );
  assertThrowsError(
    () => resolveDaemonSettings({}, ["/run/xpu", "x"], {}, SOURCE, CWD),
    UsageError,
    `unexpected argument "x"`,
  );
});

Deno.test("bad values name their flag or variable", () => {
  const bad: [() => unknown, string][] = [
    [
      () => resolveDaemonSettings({}, ["run/xpu"], {}, SOURCE, CWD),
      `DESTINATION "run/xpu": expected an absolute path`,
    ],
    [
      () => resolveDaemonSettings({}, [], { RUNTIME: "podman" }, SOURCE, CWD),
      `RUNTIME "podman": use docker, containerd or crio`,
    ],
    [() => resolveDaemonSettings({ runtime: "lxc" }, [], {}, SOURCE, CWD), `--runtime "lxc"`],
    [
      () => resolveDaemonSettings({}, [], { NO_DAEMON: "maybe" }, SOURCE, CWD),
      `NO_DAEMON "maybe": expected true or false`,
    ],
    [
      () => resolveDaemonSettings({}, [], { TOOLKIT_PID_FILE: "x.pid" }, SOURCE, CWD),
      `TOOLKIT_PID_FILE "x.pid"`,
    ],
    [() => resolveDaemonSettings({}, [], { RUNTIME_ARGS: "'" }, SOURCE, CWD), `RUNTIME_ARGS "'"`],
    [
      () => resolveInstallOptions({ profile: "tpu" }, {}, "/t", SOURCE, CWD),
      `--profile "tpu": use one of "xpu", "nvidia", "amd", "intel"`,
    ],
    [
      () => resolveInstallOptions({ driverRoot: "driver" }, {}, "/t", SOURCE, CWD),
      `--driver-root "driver": expected an absolute path`,
    ],
    [
      () => resolveInstallOptions({}, { DRIVER_ROOT: "driver" }, "/t", SOURCE, CWD),
      `DRIVER_ROOT "driver"`,
    ],
    [
      () => resolveInstallOptions({ kernelModule: "xpu; rm -rf /" }, {}, "/t", SOURCE, CWD),
      `--kernel-module "xpu; rm -rf /": a module name has at most 55 letters, digits, - and _`,
    ],
    [
      // The next flag taken for the name.
      () => resolveInstallOptions({ kernelModule: "--no-daemon" }, {}, "/t", SOURCE, CWD),
      `--kernel-module "--no-daemon": a module name has at most 55 letters, digits, - and _, and ` +
      "does not start with -",
    ],
    [
      () => resolveInstallOptions({ cdiEnabled: true, cdiOutputDir: "cdi" }, {}, "/t", SOURCE, CWD),
      `--cdi-output-dir "cdi"`,
    ],
  ];
  for (const [fn, fragment] of bad) assertThrowsError(fn, UsageError, fragment);
});

Deno.test("install options: relative source dir, empty module, low-level runtimes list", () => {
  const o = resolveInstallOptions(
    { sourceDir: "dist/x86_64", kernelModule: "", lowLevelRuntimes: " /usr/bin/crun, runc ,," },
    {},
    "/t",
    SOURCE,
    CWD,
  );
  strictEqual(o.sourceDir, "/work/dist/x86_64");
  strictEqual(o.kernelModule, "");
  deepStrictEqual(o.lowLevelRuntimes, ["/usr/bin/crun", "runc"]);
  const cdi = resolveInstallOptions({ cdiEnabled: true }, {}, "/t", SOURCE, CWD);
  strictEqual(cdi.cdiOutputDir, "/var/run/cdi");
  const env = resolveInstallOptions(
    {},
    { XPU_KERNEL_MODULE: "amdgpu", XPU_LOW_LEVEL_RUNTIMES: "crun" },
    "/t",
    SOURCE,
    CWD,
  );
  strictEqual(env.kernelModule, "amdgpu");
  deepStrictEqual(env.lowLevelRuntimes, ["crun"]);
});

Deno.test("--host-root reads the host through the mount and reaches the engine's set-up", () => {
  const s = resolveDaemonSettings(
    { hostRoot: "/host" },
    [],
    { RUNTIME_ARGS: "--restart-mode systemd" },
    SOURCE,
    CWD,
  );
  strictEqual(s.install.hostRoot, "/host");
  deepStrictEqual(s.runtimeArgs, ["--host-root", "/host", "--restart-mode", "systemd"]);
  // From the environment it reaches the set-up by itself: no flag is added.
  const fromEnv = resolveDaemonSettings({}, [], { HOST_ROOT_MOUNT: "/host" }, SOURCE, CWD);
  strictEqual(fromEnv.install.hostRoot, "/host");
  deepStrictEqual(fromEnv.runtimeArgs, []);
  assertThrowsError(
    () => resolveInstallOptions({ hostRoot: "host" }, {}, "/t", SOURCE, CWD),
    UsageError,
    `--host-root "host": expected an absolute path`,
  );
});
