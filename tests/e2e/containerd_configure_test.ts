/**
 * containerd end to end: `containerd config dump` is the oracle — after configure it equals the
 * dump before plus exactly our keys, after unconfigure it equals the original again; a private
 * containerd on the configured file loads the CRI plugin; `ctr run --runc-binary <our shim>` runs
 * a container that gets its device.
 */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { makeBusyboxRootfs } from "../helpers/container_lab.ts";
import { runTool, toolArgv, writeToolWrapper } from "../helpers/toolkit_commands.ts";
import { atLeast, e2eTest, engineSet } from "../helpers/e2e.ts";
import { labTest, PROBE } from "../helpers/lab.ts";

type Table = Record<string, unknown>;

/** A site config in the version the installed containerd reads natively (3 for 2.x). */
function configFor(dir: string, version: 2 | 3): string {
  if (version === 3) {
    return `# Site config for containerd 2.x, edited by hand.
version = 3
root = "${dir}/root"
state = "${dir}/state"

[grpc]
  address = "${dir}/c.sock"  # short: sockets live under 108 bytes

[ttrpc]
  address = "${dir}/c.sock.ttrpc"

[plugins]

  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "registry.k8s.io/pause:3.10"

  [plugins."io.containerd.cri.v1.runtime"]

    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"

      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          SystemdCgroup = true
`;
  }
  return `# Site config for containerd 1.6 and 1.7, edited by hand.
version = 2
root = "${dir}/root"
state = "${dir}/state"

[grpc]
  address = "${dir}/c.sock"  # short: sockets live under 108 bytes

[ttrpc]
  address = "${dir}/c.sock.ttrpc"

[plugins]

  [plugins."io.containerd.internal.v1.opt"]
    path = "${dir}/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
`;
}

/** The config version the installed containerd reads natively. */
async function nativeVersion(): Promise<2 | 3> {
  return atLeast((await engineSet()).versions.containerd, 2) ? 3 : 2;
}

async function dump(config: string): Promise<Table> {
  const out = await runTool(["containerd"], { args: ["-c", config, "config", "dump"] });
  strictEqual(out.code, 0, out.stderr);
  // Plain objects (smol-toml makes null-prototype ones), so deepStrictEqual compares values.
  return JSON.parse(JSON.stringify(parse(out.stdout))) as Table;
}

/** The CRI runtime plugin's table of a dump (its name changed in config version 3). */
function cri(doc: Table): Table {
  const plugins = doc.plugins as Table;
  return (plugins["io.containerd.cri.v1.runtime"] ?? plugins["io.containerd.grpc.v1.cri"]) as Table;
}

for (const form of ["drop-in", "in place"] as const) {
  await labTest(
    `containerd (${form}): config dump oracle, CRI plugin loads, ctr run through the shim`,
    [
      "root",
      "runc",
      "nsenter",
      "busybox",
      "containerd",
    ],
    { mode: "legacy" },
    async (lab) => {
      // Keep socket paths short.
      const dir = Deno.makeTempDirSync({ prefix: "xc" });
      try {
        const config = `${dir}/config.toml`;
        const dropIn = form === "in place" ? "" : `${dir}/conf.d/99-xpu.toml`;
        const original = configFor(dir, await nativeVersion());
        Deno.writeTextFileSync(config, original);
        const shim = writeToolWrapper("xpu-container-runtime", `${lab.dir}/tools`);
        const before = await dump(config);

        const configured = await runTool(toolArgv("xpu-ctk"), {
          args: [
            "runtime",
            "configure",
            "--runtime",
            "containerd",
            "--config",
            config,
            "--drop-in-config",
            dropIn,
            "--runtime-path",
            shim,
            "--set-as-default",
            "--restart-mode",
            "none",
            "--state-dir",
            `${dir}/revert`,
          ],
        });
        strictEqual(configured.code, 0, configured.stderr);
        match(
          configured.stdout,
          /Restart skipped \(--restart-mode none\): run "systemctl restart containerd"/,
        );
        if (form === "drop-in") {
          // The user's file keeps its comments and layout: only the imports line is added.
          strictEqual(
            Deno.readTextFileSync(config),
            original.replace(
              `state = "${dir}/state"\n`,
              `state = "${dir}/state"\nimports = ["${dropIn}"]\n`,
            ),
          );
        } else {
          // In place: every line of the user's file is still there, in order, comments too; the
          // default runtime is the one line that changes.
          const lines = Deno.readTextFileSync(config).split("\n");
          let at = 0;
          const expected = original.replace(
            'default_runtime_name = "runc"',
            'default_runtime_name = "xpu"',
          );
          for (const line of expected.split("\n")) {
            const found = lines.indexOf(line, at);
            strictEqual(found >= at, true, `kept in place: ${JSON.stringify(line)}`);
            at = found + 1;
          }
        }

        const after = await dump(config);
        const ours = cri(after).containerd as Table;
        const runtimes = ours.runtimes as Record<string, Table>;
        strictEqual(ours.default_runtime_name, "xpu");
        deepStrictEqual(runtimes.xpu.options, { BinaryName: shim, SystemdCgroup: true });
        strictEqual(runtimes.xpu.runtime_type, "io.containerd.runc.v2");
        // CRI passes the CDI annotations the shim reads into the spec.
        deepStrictEqual(runtimes.xpu.container_annotations, ["cdi.k8s.io/*"]);
        // The dump after, without our keys, is the dump before.
        const stripped = structuredClone(after);
        delete (cri(stripped).containerd as Table & { runtimes: Table }).runtimes.xpu;
        (cri(stripped).containerd as Table).default_runtime_name = "runc";
        stripped.imports = before.imports;
        deepStrictEqual(stripped, before);

        // A containerd started on the configured file loads the CRI plugin and runs through the shim.
        const log = Deno.openSync(`${dir}/containerd.log`, { write: true, create: true });
        const daemon = new Deno.Command("containerd", {
          args: ["--config", config],
          env: { ...lab.env },
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();
        const drained = daemon.stderr.pipeTo(
          new WritableStream({ write: (c) => void log.writeSync(c) }),
        );
        const ctr = (args: string[]) =>
          runTool(["ctr"], { args: ["-a", `${dir}/c.sock`, "-n", `xpu${Deno.pid}`, ...args] });
        try {
          const deadline = Date.now() + 20_000;
          let plugins = await ctr(["plugins", "ls"]);
          while (plugins.code !== 0 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
            plugins = await ctr(["plugins", "ls"]);
          }
          strictEqual(plugins.code, 0, plugins.stderr);
          match(plugins.stdout, /^io\.containerd\.grpc\.v1\s+cri\s+.*\sok\s*$/m);
          const rootfs = makeBusyboxRootfs(`${dir}/rootfs`);
          const run = await ctr([
            "run",
            "--rm",
            "--runc-binary",
            shim,
            "--runc-root",
            `${dir}/runc`,
            "--fifo-dir",
            `${dir}/fifo`,
            "--env",
            "XPU_VISIBLE_DEVICES=0",
            "--env",
            "PATH=/bin",
            "--rootfs",
            rootfs,
            `xpu${Deno.pid}`,
            "/bin/sh",
            "-c",
            PROBE,
          ]);
          strictEqual(run.code, 0, run.stderr);
          match(run.stdout, /^\/dev\/xpu0: open ok$/m);
          match(run.stdout, /^\/dev\/xpu1: absent$/m);
          match(run.stdout, /^fake libxpu 1\.0\.0$/m);
        } finally {
          daemon.kill("SIGTERM");
          await daemon.status;
          await drained.catch(() => {});
          log.close();
          await runTool(["sh"], {
            args: [
              "-c",
              `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l; true`,
            ],
          });
        }

        const unconfigured = await runTool(toolArgv("xpu-ctk"), {
          args: [
            "runtime",
            "unconfigure",
            "--runtime",
            "containerd",
            "--config",
            config,
            "--drop-in-config",
            dropIn,
            "--restart-mode",
            "none",
            "--state-dir",
            `${dir}/revert`,
          ],
        });
        strictEqual(unconfigured.code, 0, unconfigured.stderr);
        strictEqual(Deno.readTextFileSync(config), original);
        deepStrictEqual(await dump(config), before);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  );
}

await e2eTest(
  "containerd without a config file: the version the installed containerd reads, dump accepts it",
  ["containerd"],
  async (t) => {
    const version = await nativeVersion();
    const containerd = (await engineSet()).versions.containerd!.join(".");
    for (const form of ["in place", "drop-in"]) {
      await t.step(`${form}: version ${version} for containerd ${containerd}`, async () => {
        const dir = Deno.makeTempDirSync({ prefix: "xn" });
        try {
          const config = `${dir}/etc/config.toml`;
          const dropIn = form === "in place" ? "" : `${dir}/etc/conf.d/99-xpu.toml`;
          const run = await runTool(toolArgv("xpu-ctk"), {
            args: [
              "runtime",
              "configure",
              "--runtime",
              "containerd",
              "--config",
              config,
              "--drop-in-config",
              dropIn,
              "--runtime-path",
              "/usr/bin/xpu-container-runtime",
              "--restart-mode",
              "none",
              "--state-dir",
              `${dir}/revert`,
            ],
          });
          strictEqual(run.code, 0, run.stderr);
          match(
            run.stdout,
            new RegExp(
              `^No containerd config file: writing config version ${version}, which the ` +
                `installed containerd ${containerd.replace(".", "\\.")} reads$`,
              "m",
            ),
          );
          for (const file of [config, dropIn].filter((f) => f !== "")) {
            strictEqual(parse(Deno.readTextFileSync(file)).version, version, file);
          }
          // containerd itself reads it as written: no migration, our handler in its table.
          const dumped = await dump(config);
          strictEqual(dumped.version, version);
          const runtimes = (cri(dumped).containerd as Table).runtimes as Record<string, Table>;
          strictEqual(
            (runtimes.xpu.options as Table).BinaryName,
            "/usr/bin/xpu-container-runtime",
          );
        } finally {
          Deno.removeSync(dir, { recursive: true });
        }
      });
    }
  },
);
