/**
 * Restarting an engine: the plan per engine and mode, finding the process behind a unix socket
 * (from `/proc/net/unix` and `/proc/<pid>/fd`, checked against real listeners), SIGHUP to a real
 * child that listens on a socket, and systemctl failures.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ExecError, UsageError } from "../../src/core/errors.ts";
import {
  engineRunning,
  findSocketOwner,
  listeningSockets,
  planRestart,
  restartEngine,
  type RestartPlan,
  socketAccepts,
} from "../../src/engines/restart.ts";
import { CONTAINERD } from "../../src/engines/containerd.ts";
import { CRIO } from "../../src/engines/crio.ts";
import { DOCKER } from "../../src/engines/docker.ts";
import { assertRejectsError, assertThrowsError } from "../helpers/assert_error.ts";
import { pathExists, withTempDir } from "../helpers/temp_dir.ts";

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("planRestart", async (t) => {
  const socket = "/var/run/docker.sock";
  const cases: {
    name: string;
    input: Parameters<typeof planRestart>;
    expected: RestartPlan;
  }[] = [
    {
      name: "docker signal: the socket to find the daemon by",
      input: [DOCKER, "signal", { socket }],
      expected: {
        kind: "signal",
        process: "dockerd",
        socket,
        restartCommand: "systemctl restart docker",
        startOnly: [],
      },
    },
    {
      name: "docker signal with a start-only setting: the restart command through chroot",
      input: [DOCKER, "signal", { socket, hostRoot: "/host", startOnly: ["features.cdi"] }],
      expected: {
        kind: "signal",
        process: "dockerd",
        socket,
        restartCommand: "chroot /host systemctl restart docker",
        startOnly: ["features.cdi"],
      },
    },
    {
      name: "docker none with a start-only setting: a reload is not enough, no kill -HUP",
      input: [DOCKER, "none", { socket, startOnly: ["features.cdi"] }],
      expected: { kind: "none", advice: "systemctl restart docker" },
    },
    {
      name: "docker systemd",
      input: [DOCKER, "systemd", { socket }],
      expected: {
        kind: "systemd",
        process: "dockerd",
        socket,
        argv: ["systemctl", "restart", "docker"],
      },
    },
    {
      name: "containerd systemd",
      input: [CONTAINERD, "systemd", { socket: "/run/containerd/containerd.sock" }],
      expected: {
        kind: "systemd",
        process: "containerd",
        socket: "/run/containerd/containerd.sock",
        argv: ["systemctl", "restart", "containerd"],
      },
    },
    {
      name: "crio systemd",
      input: [CRIO, "systemd", { socket: "/var/run/crio/crio.sock" }],
      expected: {
        kind: "systemd",
        process: "crio",
        socket: "/var/run/crio/crio.sock",
        argv: ["systemctl", "restart", "crio"],
      },
    },
    {
      name: "systemd through chroot when the host is mounted at /host",
      input: [CONTAINERD, "systemd", { socket, hostRoot: "/host" }],
      expected: {
        kind: "systemd",
        process: "containerd",
        socket,
        argv: ["chroot", "/host", "systemctl", "restart", "containerd"],
      },
    },
    {
      name: "host root / needs no chroot",
      input: [CRIO, "systemd", { socket, hostRoot: "/" }],
      expected: {
        kind: "systemd",
        process: "crio",
        socket,
        argv: ["systemctl", "restart", "crio"],
      },
    },
    {
      name: "containerd none: the systemctl line to run (through chroot)",
      input: [CONTAINERD, "none", { socket, hostRoot: "/host" }],
      expected: { kind: "none", advice: "chroot /host systemctl restart containerd" },
    },
    {
      name: "crio none: the systemctl line, no kill -HUP",
      input: [CRIO, "none", { socket: "/var/run/crio/crio.sock" }],
      expected: { kind: "none", advice: "systemctl restart crio" },
    },
    {
      name: "crio signal: sent to the process behind its socket",
      input: [CRIO, "signal", { socket: "/var/run/crio/crio.sock" }],
      expected: {
        kind: "signal",
        process: "crio",
        socket: "/var/run/crio/crio.sock",
        restartCommand: "systemctl restart crio",
        startOnly: [],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(planRestart(...c.input), c.expected));
  }

  await t.step("docker none: advice with kill -HUP and systemctl", () => {
    const plan = planRestart(DOCKER, "none", { socket });
    strictEqual(plan.kind, "none");
    ok(plan.kind === "none" && plan.advice.includes("kill -HUP"), JSON.stringify(plan));
    strictEqual(plan.advice, "kill -HUP $(pidof dockerd)   # or: systemctl restart docker");
  });

  await t.step("containerd signal: UsageError, SIGHUP stops containerd", () => {
    const error = assertThrowsError(
      () => planRestart(CONTAINERD, "signal", { socket: "/run/containerd/containerd.sock" }),
      UsageError,
      "SIGHUP stops containerd",
    );
    strictEqual(
      error.message,
      "Cannot restart containerd with a signal: SIGHUP stops containerd instead of reloading " +
        "it: use --restart-mode systemd or none",
    );
  });
});

Deno.test("listeningSockets reads /proc/net/unix", async (t) => {
  const sample = [
    "Num       RefCount Protocol Flags    Type St Inode Path",
    "0000000000000000: 00000002 00000000 00010000 0001 01 21001 /run/docker.sock",
    "0000000000000000: 00000003 00000000 00000000 0001 03 21002 /run/docker.sock",
    "0000000000000000: 00000002 00000000 00010000 0001 01 21003 /run/my engine/api sock",
    "0000000000000000: 00000002 00000000 00000000 0002 01 21004 /run/systemd/notify",
    "0000000000000000: 00000003 00000000 00000000 0001 03 21005",
    "0000000000000000: 00000002 00000000 00010000 0001 01 21006 @/containerd-shim/abc.sock@",
    "0000000000000000: 00000002 00000000 00010000 0005 01 21007",
    "",
  ].join("\n");
  const cases = [
    { name: "a listening socket", path: "/run/docker.sock", expected: "21001" },
    { name: "a path with spaces", path: "/run/my engine/api sock", expected: "21003" },
    { name: "an abstract socket", path: "@/containerd-shim/abc.sock@", expected: "21006" },
    {
      name: "a socket without the ACCEPT flag is not listed",
      path: "/run/systemd/notify",
      expected: undefined,
    },
  ];
  const sockets = listeningSockets(sample);
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(sockets.get(c.path), c.expected));
  }
  await t.step("only listening entries with a path", () => {
    deepStrictEqual(
      [...sockets.keys()].sort(),
      ["/run/docker.sock", "/run/my engine/api sock", "@/containerd-shim/abc.sock@"],
    );
  });
});

Deno.test("findSocketOwner finds the process listening on a real unix socket", async (t) => {
  await t.step("this process", async () => {
    await withTempDir((dir) => {
      const path = `${dir}/engine api.sock`;
      const listener = Deno.listen({ transport: "unix", path });
      try {
        const owner = findSocketOwner(path);
        strictEqual(owner?.pid, Deno.pid);
        ok(owner.name.length > 0);
      } finally {
        listener.close();
      }
    });
  });

  await t.step("through a symlinked dir (/var/run -> /run)", async () => {
    await withTempDir((dir) => {
      Deno.mkdirSync(`${dir}/run`);
      Deno.symlinkSync(`${dir}/run`, `${dir}/varrun`);
      const listener = Deno.listen({ transport: "unix", path: `${dir}/run/d.sock` });
      try {
        strictEqual(findSocketOwner(`${dir}/varrun/d.sock`)?.pid, Deno.pid);
      } finally {
        listener.close();
      }
    });
  });

  await t.step("nobody listens: undefined", async () => {
    await withTempDir((dir) => strictEqual(findSocketOwner(`${dir}/none.sock`), undefined));
  });
});

/** A child that listens on a unix socket and writes `marker` on SIGHUP (as dockerd reloads). */
const RELOADING_DAEMON = `
import signal, socket, sys, time
path, marker, ready = sys.argv[1], sys.argv[2], sys.argv[3]
def reload(signum, frame):
    with open(marker, "w") as f:
        f.write("reloaded\\n")
signal.signal(signal.SIGHUP, reload)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
open(ready, "w").close()
while True:
    time.sleep(0.05)
`;

const yes = () => Promise.resolve(true);
const no = () => Promise.resolve(false);

function signalPlan(socket: string, startOnly: string[] = []): RestartPlan {
  return {
    kind: "signal",
    process: "dockerd",
    socket,
    restartCommand: "systemctl restart docker",
    startOnly,
  };
}

function systemdPlan(argv: string[]): RestartPlan {
  return {
    kind: "systemd",
    process: "containerd",
    socket: "/run/containerd/containerd.sock",
    argv,
  };
}

Deno.test("restartEngine", async (t) => {
  await t.step("signal: SIGHUP to the child that listens on the socket", async () => {
    await withTempDir(async (dir) => {
      const socket = `${dir}/docker.sock`;
      const marker = `${dir}/reloaded`;
      const ready = `${dir}/ready`;
      const child = new Deno.Command("python3", {
        args: ["-c", RELOADING_DAEMON, socket, marker, ready],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      try {
        await waitFor(() => pathExists(ready), "the child to listen");
        const line = await restartEngine(signalPlan(socket));
        ok(line.includes(`(pid ${child.pid})`), line);
        ok(line.includes(`"${socket}"`), line);
        // The child creates the marker, then writes it: wait for the content, not the name.
        await waitFor(
          () => pathExists(marker) && Deno.readTextFileSync(marker) === "reloaded\n",
          "the child to get SIGHUP",
        );
      } finally {
        child.kill("SIGTERM");
        await child.output();
      }
    });
  });

  await t.step(
    "signal with a start-only setting: says it is not in effect, and the command",
    async () => {
      await withTempDir(async (dir) => {
        const socket = `${dir}/docker.sock`;
        const ready = `${dir}/ready`;
        const child = new Deno.Command("python3", {
          args: ["-c", RELOADING_DAEMON, socket, `${dir}/reloaded`, ready],
          stdout: "null",
          stderr: "piped",
        }).spawn();
        try {
          await waitFor(() => pathExists(ready), "the child to listen");
          const line = await restartEngine(signalPlan(socket, ["features.cdi"]));
          ok(line.includes(`(pid ${child.pid})`), line);
          ok(
            line.endsWith(
              "features.cdi is read only when python3 starts and is not in effect yet: run " +
                '"systemctl restart docker" to apply it',
            ),
            line,
          );
        } finally {
          child.kill("SIGTERM");
          await child.output();
        }
      });
    },
  );

  await t.step(
    "signal: nobody listens, the engine runs → ExecError after the attempts",
    async () => {
      await withTempDir(async (dir) => {
        const socket = `${dir}/missing.sock`;
        let asked = 0;
        const error = await assertRejectsError(
          () =>
            restartEngine(signalPlan(socket), {
              attempts: 2,
              delayMs: 5,
              running: () => Promise.resolve(++asked > 0),
            }),
          ExecError,
          `dockerd runs, but no process listens on "${socket}"`,
        );
        ok(error.message.includes("--restart-mode none"), error.message);
        strictEqual(asked, 2, "asked once per attempt");
      });
    },
  );

  await t.step("signal: the engine is not running → it reads the file when it starts", async () => {
    await withTempDir(async (dir) => {
      const socket = `${dir}/docker.sock`;
      const line = await restartEngine(signalPlan(socket), {
        running: (process, path) => {
          strictEqual(process, "dockerd");
          strictEqual(path, socket);
          return Promise.resolve(false);
        },
      });
      strictEqual(
        line,
        `dockerd is not running (no such process; nothing accepts connections on "${socket}"): ` +
          "it reads the new configuration when it starts",
      );
    });
  });

  await t.step("engineRunning: a socket that accepts connections, one that does not", async () => {
    await withTempDir(async (dir) => {
      const socket = `${dir}/engine.sock`;
      strictEqual(await socketAccepts(socket), false);
      const listener = Deno.listen({ transport: "unix", path: socket });
      const accepted = (async () => {
        for await (const connection of listener) connection.close();
      })();
      try {
        strictEqual(await socketAccepts(socket), true);
        strictEqual(await engineRunning("crio", socket), true);
      } finally {
        listener.close();
        await accepted.catch(() => {});
      }
      // A socket file left by a dead daemon is not a running engine.
      await new Deno.Command("python3", {
        args: ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket],
      }).output();
      ok(pathExists(socket), "the stale socket file is there");
      strictEqual(await socketAccepts(socket), false);
    });
  });

  await t.step("none: the advice line", async () => {
    strictEqual(
      await restartEngine({ kind: "none", advice: "systemctl restart containerd" }),
      'Restart skipped (--restart-mode none): run "systemctl restart containerd" to apply the change',
    );
  });

  await t.step("systemd: a command that runs", async () => {
    strictEqual(
      await restartEngine(systemdPlan(["true", "restart", "containerd"])),
      'Ran "true restart containerd"',
    );
  });

  await t.step("systemd: a missing systemctl, engine running → ExecError", async () => {
    await assertRejectsError(
      () =>
        restartEngine(systemdPlan(["/nonexistent/systemctl", "restart", "x"]), { running: yes }),
      ExecError,
      'Cannot restart containerd with "/nonexistent/systemctl restart x": ',
    );
  });

  await t.step("systemd: a failing command, engine running → its last stderr line", async () => {
    await assertRejectsError(
      () =>
        restartEngine(
          systemdPlan(["sh", "-c", "echo first >&2; echo 'Unit x.service not found.' >&2; exit 5"]),
          { running: yes },
        ),
      ExecError,
      "Unit x.service not found.: restart it yourself",
    );
  });

  await t.step("systemd: a failure without stderr names the exit code", async () => {
    await assertRejectsError(
      () => restartEngine(systemdPlan(["false"]), { running: yes }),
      ExecError,
      'Cannot restart containerd with "false": exit 1',
    );
  });

  await t.step("systemd: no systemd and the engine stopped → exit 0, the reason kept", async () => {
    const line = await restartEngine(
      systemdPlan(["sh", "-c", "echo 'System has not been booted with systemd.' >&2; exit 1"]),
      { running: no },
    );
    strictEqual(
      line,
      "containerd is not running (no such process; nothing accepts connections on " +
        '"/run/containerd/containerd.sock"): it reads the new configuration when it starts ' +
        "(\"sh -c echo 'System has not been booted with systemd.' >&2; exit 1\" failed: " +
        "System has not been booted with systemd.)",
    );
  });

  await t.step(
    "systemd: a restart that works is run even when the engine seems stopped",
    async () => {
      strictEqual(
        await restartEngine(systemdPlan(["true"]), { running: no }),
        'Ran "true"',
      );
    },
  );
});
