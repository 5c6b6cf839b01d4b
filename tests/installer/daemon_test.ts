/**
 * The daemon form's life cycle with the engine and the install faked (their real runs are in
 * tests/e2e/installer_daemon_test.ts): the pid file lock and its PID, the order of the steps,
 * what a stop signal does at each moment, failures, and a second instance that touches nothing.
 * The runtime arguments are parsed by the real `xpu-ctk runtime` parser.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { ToolIo } from "../../src/core/io/tool_io.ts";
import { ConflictError, UsageError } from "../../src/core/errors.ts";
import { parseRuntimeCommand } from "../../src/engines/runtime_cli.ts";
import {
  acquirePidFile,
  type DaemonDeps,
  type NriPluginRequest,
  runDaemon,
} from "../../src/installer/daemon.ts";
import type { InstallOptions } from "../../src/installer/install.ts";
import { resolveDaemonSettings } from "../../src/installer/installer_args.ts";
import { assertRejectsError, assertThrowsError } from "../helpers/assert_error.ts";
import { pathExists, withTempDir } from "../helpers/temp_dir.ts";

const quietIo: ToolIo = {
  env: {},
  cwd: "/",
  stdout: () => {},
  stderr: () => {},
  readStdin: () => Promise.resolve(""),
};

interface Fake {
  deps: DaemonDeps;
  steps: string[];
  logs: string[];
  installed: InstallOptions[];
  /** Sends a stop signal to the daemon. */
  signal(name: string): void;
  listening(): boolean;
}

/** The NRI plugin the fake starts: what it was asked, its signals, and a way to end it. */
interface FakePlugin {
  request: NriPluginRequest;
  signals: string[];
  exit(code: number): void;
}

function fake(hooks: {
  onInstall?: (f: Fake) => void;
  onSetup?: (f: Fake) => void;
  failSetup?: boolean;
  failCleanup?: boolean;
  /** The fake plugin exits with 0 on SIGTERM unless this says otherwise. */
  pluginStopCode?: number;
  failPluginStart?: boolean;
  plugins?: FakePlugin[];
} = {}): Fake {
  let handler: ((signal: string) => void) | undefined;
  const f: Fake = {
    steps: [],
    logs: [],
    installed: [],
    signal: (name) => handler?.(name),
    listening: () => handler !== undefined,
    deps: {
      log: (line) => void f.logs.push(line),
      onStopSignal(h) {
        handler = h;
        return () => handler = undefined;
      },
      install(options) {
        f.steps.push("install");
        f.installed.push(options);
        hooks.onInstall?.(f);
        return Promise.resolve();
      },
      parseRuntime: (args) => parseRuntimeCommand(args, quietIo),
      runRuntime(settings) {
        f.steps.push(settings.action);
        if (settings.action === "setup") {
          hooks.onSetup?.(f);
          if (hooks.failSetup) return Promise.reject(new Error("dockerd said no"));
        }
        if (settings.action === "cleanup" && hooks.failCleanup) {
          return Promise.reject(new Error("daemon.json is gone"));
        }
        return Promise.resolve();
      },
      startNriPlugin(request) {
        f.steps.push("nri-plugin");
        if (hooks.failPluginStart) throw new Error("chroot: not found");
        let exit = (_code: number) => {};
        const exited = new Promise<number>((resolve) => exit = resolve);
        const plugin: FakePlugin = { request, signals: [], exit };
        hooks.plugins?.push(plugin);
        return {
          pid: 4242,
          exited,
          kill(signal) {
            plugin.signals.push(signal);
            if (signal === "SIGTERM") exit(hooks.pluginStopCode ?? 0);
          },
        };
      },
    },
  };
  return f;
}

function settings(dir: string, env: Record<string, string> = {}) {
  Deno.writeTextFileSync(
    `${dir}/daemon.json`,
    '{"default-runtime": "crun", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}\n',
  );
  return resolveDaemonSettings(
    {},
    [`${dir}/root`],
    {
      RUNTIME_ARGS: `--config ${dir}/daemon.json --restart-mode none --state-dir ${dir}/state`,
      TOOLKIT_PID_FILE: `${dir}/run/toolkit.pid`,
      ...env,
    },
    "/opt/src",
    "/",
  );
}

Deno.test("--no-daemon: install with the engine's runtime, set up, exit 0, pid file gone", async () => {
  await withTempDir(async (dir) => {
    const f = fake({
      onInstall: () =>
        strictEqual(Deno.readTextFileSync(`${dir}/run/toolkit.pid`), `${Deno.pid}\n`),
    });
    const code = await runDaemon(settings(dir, { NO_DAEMON: "true" }), f.deps);
    strictEqual(code, 0);
    deepStrictEqual(f.steps, ["install", "setup"]);
    deepStrictEqual(f.installed[0].lowLevelRuntimes, ["/usr/bin/crun"]);
    strictEqual(f.installed[0].toolkitRoot, `${dir}/root/toolkit`);
    ok(!pathExists(`${dir}/run/toolkit.pid`));
    ok(!f.listening(), "signal listeners removed");
    ok(
      f.logs.some((l) => l.includes(`the docker default runtime is "/usr/bin/crun"`)),
      f.logs.join("\n"),
    );
    ok(
      f.logs.some((l) => l === "configured docker: runtimes xpu, xpu-cdi, xpu-legacy, default xpu"),
    );
    ok(f.logs.some((l) => l.startsWith("--no-daemon")));
  });
});

Deno.test("the daemon waits for a signal, then cleans up and exits 0", async () => {
  await withTempDir(async (dir) => {
    const f = fake();
    const done = runDaemon(settings(dir), f.deps);
    let finished = false;
    done.then(() => finished = true);
    // Let set-up run; the daemon must then be waiting, holding its pid file.
    for (let i = 0; i < 400 && !f.logs.some((l) => l.startsWith("waiting for")); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    ok(f.logs.some((l) => l === "waiting for SIGTERM, SIGINT, SIGHUP, SIGQUIT"), f.logs.join("\n"));
    strictEqual(finished, false);
    deepStrictEqual(f.steps, ["install", "setup"]);
    ok(pathExists(`${dir}/run/toolkit.pid`));
    f.signal("SIGTERM");
    strictEqual(await done, 0);
    deepStrictEqual(f.steps, ["install", "setup", "cleanup"]);
    ok(!pathExists(`${dir}/run/toolkit.pid`));
    ok(f.logs.some((l) => l.startsWith("received SIGTERM")));
    ok(f.logs.some((l) => l === "reverted docker: runtimes xpu, xpu-cdi, xpu-legacy removed"));
  });
});

Deno.test("a signal during set-up is kept: cleanup follows set-up at once (even with --no-daemon)", async () => {
  for (const env of [{}, { NO_DAEMON: "1" }] as Record<string, string>[]) {
    await withTempDir(async (dir) => {
      const f = fake({ onSetup: (self) => self.signal("SIGINT") });
      strictEqual(await runDaemon(settings(dir, env), f.deps), 0);
      deepStrictEqual(f.steps, ["install", "setup", "cleanup"]);
      ok(!pathExists(`${dir}/run/toolkit.pid`));
    });
  }
});

Deno.test("a signal during the install stops before set-up: nothing to revert", async () => {
  await withTempDir(async (dir) => {
    const f = fake({ onInstall: (self) => self.signal("SIGQUIT") });
    strictEqual(await runDaemon(settings(dir), f.deps), 0);
    deepStrictEqual(f.steps, ["install"]);
    ok(f.logs.some((l) => l === "stopping before docker set-up: nothing to revert"));
    ok(!pathExists(`${dir}/run/toolkit.pid`));
  });
});

Deno.test("a failed set-up is reverted and exits 1; a failed cleanup exits 1", async () => {
  await withTempDir(async (dir) => {
    const f = fake({ failSetup: true });
    strictEqual(await runDaemon(settings(dir), f.deps), 1);
    deepStrictEqual(f.steps, ["install", "setup", "cleanup"]);
    ok(f.logs.some((l) => l === "set-up of docker failed: dockerd said no"));
    ok(!pathExists(`${dir}/run/toolkit.pid`));
  });
  await withTempDir(async (dir) => {
    const f = fake({ failCleanup: true, onSetup: (self) => self.signal("SIGHUP") });
    strictEqual(await runDaemon(settings(dir), f.deps), 1);
    ok(f.logs.some((l) => l === "cleanup of docker failed: daemon.json is gone"));
    ok(!pathExists(`${dir}/run/toolkit.pid`));
  });
});

Deno.test("bad runtime arguments fail before the install; the pid file is removed", async () => {
  await withTempDir(async (dir) => {
    const f = fake();
    const s = settings(dir, { RUNTIME_ARGS: "--restart-mode sometimes" });
    await assertRejectsError(() => runDaemon(s, f.deps), UsageError, `--restart-mode "sometimes"`);
    deepStrictEqual(f.steps, []);
    ok(!pathExists(`${dir}/run/toolkit.pid`));
  });
});

Deno.test("a second instance fails fast and leaves the first one's pid file alone", async () => {
  await withTempDir(async (dir) => {
    const held = acquirePidFile(`${dir}/run/toolkit.pid`, 4242);
    try {
      const f = fake();
      await assertRejectsError(
        () => runDaemon(settings(dir), f.deps),
        ConflictError,
        `another xpu-ctk-installer is already running (pid file "${dir}/run/toolkit.pid", pid 4242)`,
      );
      deepStrictEqual(f.steps, []);
      strictEqual(Deno.readTextFileSync(`${dir}/run/toolkit.pid`), "4242\n");
      assertThrowsError(
        () => acquirePidFile(`${dir}/run/toolkit.pid`),
        ConflictError,
        "already running",
      );
    } finally {
      held.release();
    }
    ok(!pathExists(`${dir}/run/toolkit.pid`));
    acquirePidFile(`${dir}/run/toolkit.pid`).release();
  });
});

Deno.test("a pid file that is a link or not a regular file is refused; nothing runs", async (t) => {
  const cases: { name: string; input: (dir: string) => void; expected: string }[] = [
    {
      name: "a link to a host file",
      input: (dir) => Deno.symlinkSync(`${dir}/host/passwd`, `${dir}/run/toolkit.pid`),
      expected: `it is a symbolic link (to "DIR/host/passwd")`,
    },
    {
      name: "a dangling link",
      input: (dir) => Deno.symlinkSync(`${dir}/host/new`, `${dir}/run/toolkit.pid`),
      expected: `it is a symbolic link (to "DIR/host/new")`,
    },
    {
      name: "a FIFO",
      input: (dir) => {
        const made = new Deno.Command("mkfifo", { args: [`${dir}/run/toolkit.pid`] }).outputSync();
        strictEqual(made.code, 0);
      },
      expected: "it is a FIFO, not a regular file",
    },
    {
      name: "a directory",
      input: (dir) => Deno.mkdirSync(`${dir}/run/toolkit.pid`),
      expected: "it is a directory, not a regular file",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (dir) => {
        Deno.mkdirSync(`${dir}/host`);
        Deno.mkdirSync(`${dir}/run`);
        Deno.writeTextFileSync(`${dir}/host/passwd`, "root:x:0:0\n");
        c.input(dir);
        const f = fake();
        await assertRejectsError(
          () => runDaemon(settings(dir), f.deps),
          UsageError,
          `Cannot start with the pid file "${dir}/run/toolkit.pid": ` +
            `${c.expected.replace("DIR", dir)}: remove it, or pass a different --pid-file`,
        );
        deepStrictEqual(f.steps, []);
        strictEqual(Deno.readTextFileSync(`${dir}/host/passwd`), "root:x:0:0\n");
        deepStrictEqual([...Deno.readDirSync(`${dir}/host`)].map((e) => e.name), ["passwd"]);
        ok(!Deno.lstatSync(`${dir}/run/toolkit.pid`).isFile);
      });
    });
  }
});

Deno.test("the pid file lock is flock: it excludes a holder that locked with Deno's API", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/toolkit.pid`;
    const other = Deno.openSync(path, { read: true, write: true, create: true });
    try {
      ok(other.tryLockSync(true));
      assertThrowsError(() => acquirePidFile(path), ConflictError, "already running");
    } finally {
      other.close();
    }
    const held = acquirePidFile(path, 77);
    const again = Deno.openSync(path, { read: true });
    try {
      strictEqual(again.tryLockSync(true), false);
      strictEqual(Deno.readTextFileSync(path), "77\n");
    } finally {
      again.close();
      held.release();
    }
  });
});

/** The daemon's settings with RUNTIME=nri. */
function nriSettings(dir: string, env: Record<string, string> = {}) {
  return resolveDaemonSettings(
    {},
    [`${dir}/root`],
    {
      RUNTIME: "nri",
      RUNTIME_ARGS: "--socket '/run/my nri/nri.sock' --index 20",
      TOOLKIT_PID_FILE: `${dir}/run/toolkit.pid`,
      HOST_ROOT_MOUNT: "/host",
      ...env,
    },
    "/opt/src",
    "/",
  );
}

Deno.test("RUNTIME=nri: install, run the plugin in the host's root, stop it on a signal", async () => {
  await withTempDir(async (dir) => {
    const plugins: FakePlugin[] = [];
    const f = fake({ plugins });
    const done = runDaemon(nriSettings(dir), f.deps);
    for (let i = 0; i < 100 && plugins.length === 0; i++) await new Promise((r) => setTimeout(r));
    deepStrictEqual(f.steps, ["install", "nri-plugin"], "no engine set-up");
    deepStrictEqual(plugins[0].request, {
      toolkitDir: `${dir}/root/toolkit`,
      hostRoot: "/host",
      args: ["--socket", "/run/my nri/nri.sock", "--index", "20"],
    });
    strictEqual(f.installed[0].hostRoot, "/host");
    strictEqual(Deno.readTextFileSync(`${dir}/run/toolkit.pid`), `${Deno.pid}\n`);
    ok(f.logs.some((l) => l.startsWith("running the NRI plugin (pid 4242)")), f.logs.join("\n"));
    f.signal("SIGTERM");
    strictEqual(await done, 0);
    deepStrictEqual(plugins[0].signals, ["SIGTERM"]);
    deepStrictEqual(f.steps, ["install", "nri-plugin"], "no cleanup either");
    ok(f.logs.includes("the NRI plugin stopped (status 0)"), f.logs.join("\n"));
    ok(!pathExists(`${dir}/run/toolkit.pid`), "pid file removed");
    ok(!f.listening(), "signal listener removed");
  });
});

Deno.test("RUNTIME=nri: a plugin that exits by itself or fails to stop ends the daemon with 1", async () => {
  await withTempDir(async (dir) => {
    const plugins: FakePlugin[] = [];
    const f = fake({ plugins });
    const done = runDaemon(nriSettings(dir), f.deps);
    for (let i = 0; i < 100 && plugins.length === 0; i++) await new Promise((r) => setTimeout(r));
    plugins[0].exit(1);
    strictEqual(await done, 1);
    ok(
      f.logs.includes("the NRI plugin exited by itself with status 1: its lines above say why"),
      f.logs.join("\n"),
    );
    ok(!pathExists(`${dir}/run/toolkit.pid`));

    const stubborn = fake({ plugins, pluginStopCode: 143 });
    const second = runDaemon(nriSettings(dir), stubborn.deps);
    for (let i = 0; i < 100 && plugins.length === 1; i++) await new Promise((r) => setTimeout(r));
    stubborn.signal("SIGINT");
    strictEqual(await second, 1);
    ok(stubborn.logs.includes("the NRI plugin stopped (status 143)"));

    const failing = fake({ failPluginStart: true });
    strictEqual(await runDaemon(nriSettings(dir), failing.deps), 1);
    ok(
      failing.logs.includes("cannot start the NRI plugin: chroot: not found"),
      failing.logs.join("\n"),
    );
    ok(!pathExists(`${dir}/run/toolkit.pid`));
  });
});

Deno.test("RUNTIME=nri: a signal during the install starts no plugin; --no-daemon is refused", async () => {
  await withTempDir(async (dir) => {
    const f = fake({ onInstall: (f) => f.signal("SIGTERM") });
    strictEqual(await runDaemon(nriSettings(dir), f.deps), 0);
    deepStrictEqual(f.steps, ["install"]);
    ok(f.logs.includes("stopping before the NRI plugin started: nothing to revert"));

    const untouched = fake();
    await assertRejectsError(
      () => runDaemon(nriSettings(dir, { NO_DAEMON: "true" }), untouched.deps),
      UsageError,
      "Cannot use --no-daemon (NO_DAEMON) with RUNTIME=nri",
    );
    deepStrictEqual(untouched.steps, []);
    ok(!pathExists(`${dir}/run/toolkit.pid`), "nothing taken");
  });
});
