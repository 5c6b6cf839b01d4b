/**
 * The NRI plugin against a real containerd (1.7 with NRI enabled in its config, 2.x where it is
 * on by default), through the CRI client as the kubelet drives it, with no runtime handler of
 * ours configured and containerd's own CDI off: whatever device a container gets, the plugin gave.
 *
 * - `xpu-ctk nri-plugin` of the installed toolkit connects to containerd's NRI socket;
 * - a container that sets `XPU_VISIBLE_DEVICES=0`, and one with a `cdi.k8s.io/` annotation, get
 *   /dev/xpu0 (it opens inside) and the driver library, not /dev/xpu1;
 * - one that asks for nothing gets nothing, and the plugin logs it as "no change";
 * - an unknown device fails the container's creation, and the CRI error carries our message;
 * - containerd restarts: the plugin reconnects, and the next container gets its device;
 * - SIGTERM stops the plugin cleanly (exit 0);
 * - the installer's daemon form with `RUNTIME=nri` (the DaemonSet's way) installs a toolkit and
 *   runs its plugin, with no engine config changed: a container gets its device; SIGTERM stops
 *   the plugin and the daemon (exit 0, pid file gone).
 */

import { ok, strictEqual } from "node:assert/strict";
import { atLeast, e2eTest, engineSet } from "../helpers/e2e.ts";
import { CRI_API_PROTO, mountsUnder, removeCgroup, unmountUnder } from "../helpers/cri.ts";
import {
  ANNOTATION_REQUEST,
  CGROUP_PARENT,
  ENV_REQUEST,
  importImage,
  installToolkitForCri,
  podConfig,
  probeContainerConfig,
  runPod,
  siteConfig,
  withContainerd,
} from "../helpers/cri_pods.ts";
import {
  connections,
  type PluginProcess,
  startPlugin,
  waitForPlugin,
} from "../helpers/nri_plugin.ts";
import { pathExists } from "../helpers/temp_dir.ts";
import { presentKernelModule } from "../helpers/container_lab.ts";
import { toolArgv } from "../helpers/toolkit_commands.ts";

/** The message the shim (and so the plugin) fails a container asking for a missing XPU with. */
const UNKNOWN_DEVICE = 'Cannot give the container XPU "7": no such device under';

await e2eTest(
  "nri: xpu-ctk nri-plugin gives containerd's containers their devices, no runtime handler",
  ["root", "runc", "nsenter", "busybox", "containerd"],
  async (t) => {
    const started = Date.now();
    const engine = (await engineSet()).versions.containerd!;
    const v3 = atLeast(engine, 2);
    // Short: socket paths live under 108 bytes.
    const dir = Deno.makeTempDirSync({ prefix: "xnri" });
    const socket = `${dir}/nri.sock`;
    const results: string[] = [];
    let plugin: PluginProcess | undefined;
    let daemon: PluginProcess | undefined;
    let finished = false;
    try {
      const { toolkit, cdiDir, archive, driverRoot } = await installToolkitForCri(dir);
      // Plain runc, containerd's CDI off: a device can only come from the plugin.
      Deno.writeTextFileSync(
        `${dir}/config.toml`,
        siteConfig(dir, v3, { enabled: false, dirs: [cdiDir] }, { nri: { socket } }),
      );
      plugin = startPlugin(
        [`${toolkit}/xpu-ctk`, "nri-plugin", "--socket", socket],
        `${dir}/nri-plugin.log`,
      );
      const extraLog = { title: "NRI plugin log", read: plugin.log };

      await withContainerd(dir, async (world) => {
        await importImage(world, archive);
        await waitForPlugin(world, plugin!, 1);
        await runPod(world, t, {
          phase: "nri",
          handler: "runc",
          results,
          requests: [
            { name: "env", envs: ENV_REQUEST, device: true },
            { name: "annotation", annotations: ANNOTATION_REQUEST, device: true },
            { name: "no-request", device: false },
          ],
        });
        await t.step("nri: the container that asked for nothing was not changed", () => {
          const lines = plugin!.log().split("\n");
          ok(
            lines.some((l) => /CreateContainer \\"[^"]*\/no-request\\": no change/.test(l)),
            `no "no change" decision for it:\n${plugin!.log()}`,
          );
          ok(
            lines.some((l) => /CreateContainer \\"[^"]*\/env\\": /.test(l) && !/no change/.test(l)),
            `no decision changing the env container:\n${plugin!.log()}`,
          );
        });
        await t.step("nri: an unknown device fails the container with our message", async () => {
          const config = podConfig(dir, `unknown-${Deno.pid}`);
          const pod = await world.cri.runPodSandbox(config, "runc");
          try {
            let error: unknown;
            try {
              const id = await world.cri.createContainer(pod, {
                config: probeContainerConfig({
                  name: "unknown",
                  envs: { XPU_VISIBLE_DEVICES: "7" },
                  device: false,
                }),
                podConfig: config,
              });
              await world.cri.removeContainer(id).catch(() => {});
            } catch (e) {
              error = e;
            }
            ok(error instanceof Error, "the container was created");
            ok(
              error.message.includes(UNKNOWN_DEVICE),
              `the CRI error does not carry our message: ${error.message}`,
            );
            ok(plugin!.log().includes("refused: Cannot give the container XPU"), plugin!.log());
            results.push("nri: unknown device: refused with our message");
          } finally {
            await world.cri.stopPodSandbox(pod).catch(() => {});
            await world.cri.removePodSandbox(pod).catch(() => {});
          }
        });
      }, { extraLog });

      // containerd restarts (an upgrade, a crash): the plugin, still running, reconnects.
      await withContainerd(dir, async (world) => {
        await waitForPlugin(world, plugin!, 2);
        ok(plugin!.log().includes("Lost the NRI connection"), plugin!.log());
        await runPod(world, t, {
          phase: "nri after a containerd restart",
          handler: "runc",
          results,
          requests: [{ name: "env-again", envs: ENV_REQUEST, device: true }],
        });
      }, { extraLog });

      await t.step("nri: SIGTERM stops the plugin cleanly", async () => {
        const status = await plugin!.stop();
        const log = plugin!.log();
        strictEqual(status.code, 0, log);
        ok(log.includes("Received SIGTERM: stopping"), log);
        ok(log.trimEnd().endsWith('msg="NRI plugin stopped"'), log);
        ok(!log.includes("STDOUT:"), `the plugin wrote to stdout:\n${log}`);
      });

      // The DaemonSet's way: the installer's daemon form with RUNTIME=nri installs the toolkit
      // and runs its plugin, touching no engine config; SIGTERM stops both.
      const source = `${dir}/source`;
      const daemonArgv = [
        ...toolArgv("xpu-ctk-installer"),
        `${dir}/daemon`,
        "--source-dir",
        source,
        "--driver-root",
        driverRoot,
        "--kernel-module",
        presentKernelModule(),
      ];
      const configBefore = Deno.readTextFileSync(`${dir}/config.toml`);
      await withContainerd(dir, async (world) => {
        const before = connections(world);
        daemon = startPlugin(daemonArgv, `${dir}/installer.log`, {
          RUNTIME: "nri",
          RUNTIME_ARGS: `--socket ${socket}`,
          TOOLKIT_PID_FILE: `${dir}/daemon.pid`,
          CDI_ENABLED: "true",
          CDI_OUTPUT_DIR: cdiDir,
          DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`,
        });
        await waitForPlugin(world, daemon, before + 1);
        await runPod(world, t, {
          phase: "nri through the installer (RUNTIME=nri)",
          handler: "runc",
          results,
          requests: [{ name: "env-installer", envs: ENV_REQUEST, device: true }],
        });
      }, { extraLog: { title: "installer log", read: () => daemon?.log() ?? "" } });
      await t.step("nri: the installer's daemon stops its plugin on SIGTERM", async () => {
        const status = await daemon!.stop();
        const log = daemon!.log();
        strictEqual(status.code, 0, log);
        ok(log.includes(`xpu-ctk-installer: running the NRI plugin (pid `), log);
        ok(log.includes("xpu-ctk-installer: the NRI plugin stopped (status 0)"), log);
        ok(log.includes('msg="NRI plugin stopped"'), log);
        ok(!log.includes("STDOUT:"), `stdout was written:\n${log}`);
        strictEqual(Deno.readTextFileSync(`${dir}/config.toml`), configBefore, "no engine change");
        ok(!pathExists(`${dir}/daemon.pid`), "the pid file is gone");
      });
      finished = true;
    } finally {
      await plugin?.stop();
      await daemon?.stop();
      const left = mountsUnder(dir);
      await unmountUnder(dir);
      removeCgroup(CGROUP_PARENT);
      const took = Math.round((Date.now() - started) / 1000);
      console.error(`nri plugin on containerd ${engine.join(".")} (${took} s):`);
      for (const line of results) console.error(`  ${line}`);
      // Short, and what an operator reads: one line per decision and per connection change.
      if (plugin) console.error(`--- NRI plugin log:\n${plugin.log()}`);
      Deno.removeSync(dir, { recursive: true });
      if (finished) ok(left.length === 0, `mounts left behind: ${left.join(", ")}`);
    }
  },
  {
    notApplicable: (engines) => {
      if (!atLeast(engines.versions.containerd, 1, 7)) {
        const found = engines.versions.containerd?.join(".") ?? "none";
        return `containerd ${found}: NRI needs containerd 1.7 or later`;
      }
      if (!pathExists(CRI_API_PROTO)) {
        return `no CRI API definition "${CRI_API_PROTO}" (apt-get install golang-github-kubernetes-cri-api-dev)`;
      }
      return undefined;
    },
  },
);
