/**
 * containerd end to end: `containerd config dump` is the oracle — after configure it equals the
 * dump before plus exactly our keys, after unconfigure it equals the original again; a private
 * containerd on the configured file loads the CRI plugin; `ctr run --runc-binary <our shim>` runs
 * a container that gets its device.
 */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { makeBusyboxRootfs } from "../../scripts/container_lab.ts";
import { runTool, toolArgv, writeToolWrapper } from "../../scripts/toolkit_commands.ts";
import { labTest, PROBE } from "../helpers/lab.ts";

type Table = Record<string, unknown>;

function configFor(dir: string): string {
  return `# Site config for containerd 1.6, edited by hand.
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

async function dump(config: string): Promise<Table> {
  const out = await runTool(["containerd"], { args: ["-c", config, "config", "dump"] });
  strictEqual(out.code, 0, out.stderr);
  // Plain objects (smol-toml makes null-prototype ones), so deepStrictEqual compares values.
  return JSON.parse(JSON.stringify(parse(out.stdout))) as Table;
}

function cri(doc: Table): Table {
  return (doc.plugins as Table)["io.containerd.grpc.v1.cri"] as Table;
}

await labTest(
  "containerd: config dump oracle, CRI plugin loads, ctr run through the shim",
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
      const dropIn = `${dir}/conf.d/99-xpu.toml`;
      const original = configFor(dir);
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
      // The user's file keeps its comments and layout: only the imports line is added.
      strictEqual(
        Deno.readTextFileSync(config),
        original.replace(
          `state = "${dir}/state"\n`,
          `state = "${dir}/state"\nimports = ["${dropIn}"]\n`,
        ),
      );

      const after = await dump(config);
      const ours = cri(after).containerd as Table;
      const runtimes = ours.runtimes as Record<string, Table>;
      strictEqual(ours.default_runtime_name, "xpu");
      deepStrictEqual(runtimes.xpu.options, { BinaryName: shim, SystemdCgroup: true });
      strictEqual(runtimes.xpu.runtime_type, "io.containerd.runc.v2");
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
