/** xpu-container-cli's commands, run in-process. */

import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { cgroupV2Refusal, type CliIo, cliMain } from "../../src/cli/main.ts";
import { ConfigError, RequestError, UsageError } from "../../src/core/errors.ts";
import type { HostFs } from "../../src/core/io/host_fs.ts";
import { VERSION } from "../../src/core/version.ts";
import { assertRejectsError, type ErrorClass } from "../helpers/assert_error.ts";
import { fixtureHostFs } from "../helpers/fixture_fs.ts";
import { makeSimulatedDriverRoot } from "../helpers/container_lab.ts";
import { e2eTest } from "../helpers/e2e.ts";

function fakeIo(dir: string, options: { env?: Record<string, string>; fs?: HostFs } = {}) {
  const out = { stdout: "", stderr: "" };
  const io: CliIo = {
    // No config file at the default location: the built-in defaults.
    env: options.env ?? { XDG_CONFIG_HOME: `${dir}/no-xdg` },
    cwd: dir,
    readStdin: () => Promise.resolve(""),
    stdout: (text: string) => void (out.stdout += text),
    stderr: (text: string) => void (out.stderr += text),
    fs: options.fs,
  };
  return { out, io };
}

Deno.test("xpu-container-cli: a driver root that is no directory is an error", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "xpu-cli-" });
  const fs = fixtureHostFs("xpu");
  const config = `${dir}/config.toml`;
  Deno.writeTextFileSync(config, '[xpu-container-cli]\nroot = "/nonexistent"\n');
  try {
    const cases: {
      name: string;
      input: { args: string[]; env?: Record<string, string> };
      expected: { error: ErrorClass<RequestError | ConfigError>; message: string } | {
        stdout: RegExp;
      };
    }[] = [
      {
        name: "info with an existing --root reports its devices",
        input: { args: ["--root", "/", "info"] },
        expected: { stdout: /^Devices: 2$/m },
      },
      ...["info", "list", "configure --pid 1 /r"].map((command) => ({
        name: `${command} with a missing --root`,
        input: { args: ["--root", "/nonexistent", ...command.split(" ")] },
        expected: {
          error: RequestError,
          message: 'Cannot use --root "/nonexistent": no such directory: pass the directory ' +
            'the driver is installed under (the host\'s "/" unless it lives elsewhere)',
        },
      })),
      {
        name: "a --root that is a file",
        input: { args: ["--root=/usr/bin/xpu-smi", "info"] },
        expected: {
          error: RequestError,
          message: 'Cannot use --root "/usr/bin/xpu-smi": not a directory: pass the directory ' +
            'the driver is installed under (the host\'s "/" unless it lives elsewhere)',
        },
      },
      {
        name: "a configured root that is missing names the config file",
        input: { args: ["info"], env: { XPU_CTK_CONFIG_FILE_PATH: config } },
        expected: {
          error: ConfigError,
          message: `Cannot use the driver root "/nonexistent" ([xpu-container-cli] root in ` +
            `"${config}"): no such directory: set it to the directory the driver is installed ` +
            `under, or remove the key to use "/"`,
        },
      },
      {
        name: "--root wins over a missing configured root",
        input: { args: ["--root", "/", "list"], env: { XPU_CTK_CONFIG_FILE_PATH: config } },
        expected: { stdout: /^\/dev\/xpu0$/m },
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const { out, io } = fakeIo(dir, { env: c.input.env, fs });
        if ("stdout" in c.expected) {
          strictEqual(await cliMain(c.input.args, io), 0);
          match(out.stdout, c.expected.stdout);
          return;
        }
        const error = await assertRejectsError(
          () => cliMain(c.input.args, io),
          c.expected.error,
          "",
        );
        strictEqual(error.message, c.expected.message);
        strictEqual(error.exitCode, 1);
        strictEqual(out.stdout + out.stderr, "");
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("xpu-container-cli: --version and -V, help pages with defaults", async (t) => {
  const cases: { name: string; input: string[]; expected: string[] }[] = [
    { name: "--version", input: ["--version"], expected: [`xpu-container-cli version ${VERSION}`] },
    {
      name: "-V (the old spelling)",
      input: ["-V"],
      expected: [`xpu-container-cli version ${VERSION}`],
    },
    {
      name: "--help",
      input: ["--help"],
      expected: [
        '(default: [xpu-container-cli] root, else "/")',
        '(default: [xpu-container-cli] profile, else "xpu")',
        "append debug lines to this file (default: none)",
        "(default: the host node's owner)",
      ],
    },
    {
      name: "list --help",
      input: ["list", "--help"],
      expected: ['or all (default: "all")'],
    },
    {
      name: "configure --help",
      input: ["configure", "--help"],
      expected: [
        "(default: none, driver files only)",
        "(repeatable) (default: none)",
        '(default: "@/sbin/ldconfig")',
      ],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { out, io } = fakeIo("/nonexistent");
      strictEqual(await cliMain(c.input, io), 0);
      const text = out.stdout.replace(/\n +/g, " ");
      for (const fragment of c.expected) ok(text.includes(fragment), `${fragment} in:\n${text}`);
      ok(!text.includes("(default: [])"), text);
      strictEqual(out.stderr, "");
    });
  }
});

await e2eTest("xpu-container-cli info and list report the simulated host", ["root"], async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "xpu-cli-" });
  try {
    const root = await makeSimulatedDriverRoot(`${dir}/driver`);
    await t.step("info --json", async () => {
      const { out, io } = fakeIo(dir);
      strictEqual(await cliMain(["--root", root, "info", "--json"], io), 0);
      const info = JSON.parse(out.stdout);
      strictEqual(info.driverVersion, "1.0.0");
      deepStrictEqual(info.devices.map((d: { index: number; uuid: string }) => [d.index, d.uuid]), [
        [0, "XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000000"],
        [1, "XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001"],
      ]);
      deepStrictEqual(info.devices[1].nodes, [{
        path: "/dev/xpu1",
        type: "c",
        major: 240,
        minor: 0,
      }]);
      deepStrictEqual(info.controlNodes, [{
        path: "/dev/xpuctl",
        type: "c",
        major: 240,
        minor: 1,
      }]);
      ok(info.driverFiles.some((f: { path: string }) => f.path === "/usr/bin/xpu-smi"));
    });
    await t.step("info text", async () => {
      const { out, io } = fakeIo(dir);
      await cliMain([`--root=${root}`, "info"], io);
      match(out.stdout, /^Driver version: 1\.0\.0$/m);
      match(
        out.stdout,
        /^ {2}XPU 1: XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001, Simulated XPU: \/dev\/xpu1 \(c 240:0\)$/m,
      );
      match(out.stdout, /^Control nodes: \/dev\/xpuctl \(c 240:1\)$/m);
    });
    await t.step("list one device, one capability", async () => {
      const { out, io } = fakeIo(dir);
      await cliMain(["--root", root, "list", "--device", "1", "--utility"], io);
      strictEqual(
        out.stdout,
        [
          "/dev/xpu1",
          "/dev/xpuctl",
          "/usr/lib/x86_64-linux-gnu/libxpu.so",
          "/usr/lib/x86_64-linux-gnu/libxpu.so.1",
          "/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0",
          "/usr/bin/xpu-smi",
        ].join("\n") + "\n",
      );
    });
    await t.step("an unknown device names the ones that exist", async () => {
      const { io } = fakeIo(dir);
      await rejects(
        cliMain(["--root", root, "list", "--device", "7"], io),
        (e: unknown) =>
          e instanceof RequestError &&
          /XPU "7": no such device .*\(devices: 0 \(XPU-[^)]+\), 1 \(XPU-/.test(e.message),
      );
    });
    await t.step("usage mistakes", async () => {
      const { io } = fakeIo(dir);
      await rejects(cliMain(["--root", root, "configure", "/r"], io), UsageError); // no --pid
      await rejects(cliMain(["--root", root, "configure", "--pid", "x", "/r"], io), UsageError);
      await rejects(cliMain(["--root", "relative", "info"], io), UsageError);
      await rejects(cliMain(["--user", "bob", "info"], io), UsageError);
      await rejects(cliMain(["--profile", "nope", "info"], io), UsageError);
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

await e2eTest(
  "configure sets up a container's mount namespace and refreshes its ld cache",
  ["root", "unshare", "nsenter"],
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "xpu-cli-" });
    const sleeper = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sleep", "60"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const root = await makeSimulatedDriverRoot(`${dir}/driver`);
      // A real ELF library as the driver, so ldconfig has something to index.
      Deno.copyFileSync(
        // Whatever version the distribution ships (1.2.13 in Debian 12, 1.3.x later).
        Deno.realPathSync("/lib/x86_64-linux-gnu/libz.so.1"),
        `${root}/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0`,
      );
      const rootfs = `${dir}/rootfs`;
      Deno.mkdirSync(`${rootfs}/sbin`, { recursive: true });
      Deno.mkdirSync(`${rootfs}/etc`);
      Deno.copyFileSync("/sbin/ldconfig", `${rootfs}/sbin/ldconfig`);
      Deno.chmodSync(`${rootfs}/sbin/ldconfig`, 0o755);
      await new Promise((resolve) => setTimeout(resolve, 100)); // let unshare exec sleep
      // configure ends by becoming ldconfig: run it as its own process, as the hook does.
      const run = await runTool(toolArgv("xpu-container-cli"), {
        env: { XDG_CONFIG_HOME: `${dir}/no-xdg` },
        args: [
          "--root",
          root,
          "--user",
          "1000:44",
          "--debug",
          `${dir}/cli.log`,
          "--load-kmods",
          "configure",
          "--device=0",
          "--compute",
          "--no-cgroups",
          `--pid=${sleeper.pid}`,
          rootfs,
        ],
      });
      strictEqual(run.code, 0, run.stderr);
      const inside = async (...args: string[]) =>
        new TextDecoder().decode(
          (await new Deno.Command("nsenter", {
            args: ["-t", String(sleeper.pid), "-m", ...args],
            stdout: "piped",
          })
            .output()).stdout,
        );
      strictEqual(
        await inside("stat", "-c", "%t:%T %a %u:%g", `${rootfs}/dev/xpu0`),
        "1:b 666 1000:44\n",
      );
      strictEqual(await inside("stat", "-c", "%t:%T", `${rootfs}/dev/xpuctl`), "f0:1\n");
      strictEqual(
        await inside("readlink", `${rootfs}/usr/lib/x86_64-linux-gnu/libxpu.so.1`),
        "libxpu.so.1.0.0\n",
      );
      match(
        await inside(
          "grep",
          ` ${rootfs}/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0 `,
          "/proc/self/mountinfo",
        ),
        / ro,/,
      );
      // ldconfig indexed the library under its soname in the container's own cache.
      const cache = new TextDecoder("latin1").decode(
        Deno.readFileSync(`${rootfs}/etc/ld.so.cache`),
      );
      ok(
        cache.includes("/usr/lib/x86_64-linux-gnu/libz.so.1"),
        "the cache lists the injected library",
      );
      const log = Deno.readTextFileSync(`${dir}/cli.log`);
      match(log, /level=debug msg="Kernel module \\"xpu\\": /);
      match(log, new RegExp(`level=debug msg="Configuring pid ${sleeper.pid} rootfs`));
      // Nothing of it is mounted on the host.
      strictEqual(Deno.readTextFileSync(`${rootfs}/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0`), "");
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

Deno.test("xpu-container-cli: usage errors are one line with values quoted; no help text", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "xpu-cli-" });
  try {
    const cases: { name: string; input: string[]; expected: string }[] = [
      {
        name: "no command",
        input: [],
        expected: '"xpu-container-cli" needs a command: "info", "list" or "configure": ' +
          'see "xpu-container-cli --help"',
      },
      {
        name: "a --user with a line break",
        input: ["--user", "0\n0", "info"],
        expected: 'Cannot use --user "0\\n0": expected UID or UID:GID (numbers)',
      },
      {
        name: "a relative --root",
        input: ["--root", "r\u2028oot", "info"],
        expected: 'Cannot use --root "r\\u2028oot": the driver root must be an absolute path',
      },
      {
        name: "a --pid with a trailing CR (Number() would read 1)",
        input: ["configure", "--pid", "1\r", "/r"],
        expected: 'Cannot use --pid "1\\r": expected a process id',
      },
      {
        name: "a hexadecimal --pid (Number() would read 16)",
        input: ["configure", "--pid", "0x10", "/r"],
        expected: 'Cannot use --pid "0x10": expected a process id',
      },
      {
        name: "a relative --bundle",
        input: ["configure", "--pid", "1", "--bundle", "b", "/r"],
        expected: 'Cannot use --bundle "b": expected an absolute path',
      },
      {
        name: "configure without --pid",
        input: ["configure", "/r"],
        expected: 'required option "--pid <pid>" not specified: ' +
          'see "xpu-container-cli configure --help"',
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const { out, io } = fakeIo(dir);
        await rejects(cliMain(c.input, io), (e: unknown) => {
          ok(e instanceof UsageError);
          strictEqual(e.message, c.expected);
          return true;
        });
        strictEqual(out.stdout + out.stderr, "");
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("cgroupV2Refusal names the nodes, the spec and the fix in one line", async (t) => {
  const node = (path: string, major: number, minor: number) => ({
    op: "node" as const,
    path,
    source: path,
    type: "c" as const,
    major,
    minor,
    mode: 0o666,
    uid: 0,
    gid: 0,
  });
  const cases: {
    name: string;
    input: { nodes: ReturnType<typeof node>[]; specPath?: string };
    expected: string;
  }[] = [
    {
      name: "one node",
      input: { nodes: [node("/dev/xpuctl", 240, 1)], specPath: "/b/config.json" },
      expected: 'Cannot give the container "/dev/xpuctl" (c 240:1): "linux.resources.devices" in ' +
        '"/b/config.json" does not allow it, and on a cgroup v2 host a prestart hook cannot ' +
        "grant device access: run the container through xpu-container-runtime (the shim adds " +
        "the rules) or use CDI",
    },
    {
      name: "three nodes",
      input: {
        nodes: [node("/dev/xpu0", 1, 11), node("/dev/xpu1", 240, 0), node("/dev/xpuctl", 240, 1)],
        specPath: "/b/config.json",
      },
      expected: 'Cannot give the container "/dev/xpu0" (c 1:11), "/dev/xpu1" (c 240:0) and ' +
        '"/dev/xpuctl" (c 240:1): "linux.resources.devices" in "/b/config.json" does not allow ' +
        "them, and on a cgroup v2 host a prestart hook cannot grant device access: run the " +
        "container through xpu-container-runtime (the shim adds the rules) or use CDI",
    },
    {
      name: "no bundle given",
      input: { nodes: [node("/dev/xpu0", 1, 11)] },
      expected: 'Cannot give the container "/dev/xpu0" (c 1:11): on a cgroup v2 host only the ' +
        "spec's device rules grant access, and without --bundle they cannot be checked: pass " +
        "--bundle with the container's bundle (the hook does), or --no-cgroups to skip the check",
    },
    {
      name: "a hostile path stays on one line",
      input: { nodes: [node("/dev/x\npu0", 1, 11)], specPath: "/b\n/config.json" },
      expected: 'Cannot give the container "/dev/x\\npu0" (c 1:11): "linux.resources.devices" ' +
        'in "/b\\n/config.json" does not allow it, and on a cgroup v2 host a prestart hook ' +
        "cannot grant device access: run the container through xpu-container-runtime (the shim " +
        "adds the rules) or use CDI",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(cgroupV2Refusal(c.input.nodes, { specPath: c.input.specPath }), c.expected);
    });
  }
});
