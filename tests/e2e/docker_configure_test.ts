/**
 * docker end to end: a private dockerd whose daemon.json has other settings; `xpu-ctk runtime
 * configure --set-as-default --cdi.enabled` with restart mode `signal` makes dockerd run
 * containers through our runtime, which gives them the XPU they ask for; unconfigure brings
 * daemon.json back byte for byte, and dockerd — still alive — runs containers on runc again.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { writeToolWrapper } from "../helpers/toolkit_commands.ts";
import { dockerRuntimeCommand, withDockerd } from "../helpers/dockerd.ts";
import { labTest } from "../helpers/lab.ts";

const ORIGINAL = `{
  "log-level": "warn",
  "max-concurrent-downloads": 2,
  "debug": false
}
`;

await labTest(
  "docker: configure, signal, run with the XPU, unconfigure, run on runc",
  [
    "root",
    "runc",
    "nsenter",
    "busybox",
    "dockerd",
  ],
  { mode: "legacy" },
  async (lab) => {
    const dir = `${lab.dir}/docker`;
    Deno.mkdirSync(dir);
    const daemonJson = `${dir}/daemon.json`;
    Deno.writeTextFileSync(daemonJson, ORIGINAL);
    const shim = writeToolWrapper("xpu-container-runtime", `${lab.dir}/tools`);
    const env = { ...lab.env, PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    await withDockerd(dir, daemonJson, env, async (d) => {
      const ctk = dockerRuntimeCommand(d, daemonJson, `${dir}/revert`);
      const configured = await ctk("configure", [
        "--runtime-path",
        shim,
        "--set-as-default",
        "--cdi.enabled",
      ]);
      strictEqual(configured.code, 0, configured.stderr);
      match(configured.stdout, new RegExp(`Sent SIGHUP to dockerd \\(pid ${d.pid}\\)`));
      // dockerd registers its CDI driver only when it starts: the reload does not apply it.
      match(
        configured.stdout,
        /features\.cdi is read only when dockerd starts and is not in effect yet: run "systemctl restart docker" to apply it$/m,
      );
      await d.waitForDefaultRuntime("xpu");
      const info = JSON.parse((await d.docker(["info", "--format", "{{json .Runtimes}}"])).stdout);
      strictEqual(info.xpu.path, shim);
      const saved = JSON.parse(Deno.readTextFileSync(daemonJson));
      deepStrictEqual(saved.features, { cdi: true });
      strictEqual(saved["max-concurrent-downloads"], 2);

      const run = await d.runProbe(["-e", "XPU_VISIBLE_DEVICES=0"]);
      strictEqual(run.code, 0, run.stderr);
      match(run.stdout, /^\/dev\/xpu0: open ok$/m);
      match(run.stdout, /^\/dev\/xpu1: absent$/m);
      match(run.stdout, /^fake libxpu 1\.0\.0$/m);

      const unconfigured = await ctk("unconfigure");
      strictEqual(unconfigured.code, 0, unconfigured.stderr);
      await d.waitForDefaultRuntime("runc");
      // The original named no default runtime; dockerd would keep "xpu" if the key just vanished.
      // dockerd's reload keeps its runtime table when the key is absent: an empty one is left.
      strictEqual(
        Deno.readTextFileSync(daemonJson),
        ORIGINAL.replace(
          '"debug": false\n',
          '"debug": false,\n  "runtimes": {},\n  "default-runtime": "runc"\n',
        ),
      );
      await d.waitForRuntimes((names) => !names.includes("xpu"));
      const gone = await d.docker([
        "run",
        "--rm",
        "--network",
        "none",
        "--runtime",
        "xpu",
        "busybox:min",
        "true",
      ]);
      ok(gone.code !== 0, "the xpu runtime is gone from dockerd after the reload");
      // 20.10: "Unknown runtime specified xpu"; newer: "unknown or invalid runtime name: xpu".
      match(gone.stderr, /unknown (or invalid )?runtime (specified|name:) xpu/i);
      const plain = await d.runProbe();
      strictEqual(plain.code, 0, plain.stderr);
      match(plain.stdout, /^\/dev\/xpu0: absent$/m);
      ok(d.alive(), "dockerd is still running");
    });
  },
);

/** How many reloads dockerd finished (or failed) so far, from its log. */
function reloadsDone(logFile: string): number {
  const log = Deno.readTextFileSync(logFile);
  return (log.match(/Reloaded configuration|unable to configure the Docker daemon/g) ?? []).length;
}

/** Sends dockerd a SIGHUP and waits (10 s at most) until its log shows the reload's outcome. */
async function reload(pid: number, logFile: string): Promise<void> {
  const before = reloadsDone(logFile);
  Deno.kill(pid, "SIGHUP");
  const deadline = Date.now() + 10_000;
  while (reloadsDone(logFile) === before) {
    if (Date.now() > deadline) throw new Error("dockerd did not report the reload");
    await new Promise((r) => setTimeout(r, 100));
  }
}

await labTest(
  "docker: what dockerd's reload needs to drop a handler, and a daemon.json configure created",
  ["root", "runc", "busybox", "dockerd"],
  { mode: "legacy" },
  async (lab) => {
    const dir = `${lab.dir}/docker`;
    Deno.mkdirSync(dir);
    const daemonJson = `${dir}/daemon.json`;
    // Log level info: the reloads are logged.
    const original = '{\n  "debug": false\n}\n';
    Deno.writeTextFileSync(daemonJson, original);
    const logFile = `${dir}/dockerd.log`;
    const shim = writeToolWrapper("xpu-container-runtime", `${lab.dir}/tools`);
    const env = { ...lab.env, PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    await withDockerd(dir, daemonJson, env, async (d) => {
      const ctk = dockerRuntimeCommand(d, daemonJson, `${dir}/revert`);
      const configure = ["--runtime-path", shim, "--set-as-default"];
      const configured = await ctk("configure", configure);
      strictEqual(configured.code, 0, configured.stderr);
      await d.waitForDefaultRuntime("xpu");

      // Why the revert keeps keys: a daemon.json without "runtimes" leaves the loaded handlers
      // in place on reload, and so does a missing daemon.json (the reload fails and keeps all).
      Deno.writeTextFileSync(daemonJson, original);
      await reload(d.pid, logFile);
      ok((await d.waitForRuntimes(() => true)).includes("xpu"), "no runtimes key: xpu stays");
      Deno.removeSync(daemonJson);
      await reload(d.pid, logFile);
      ok((await d.waitForRuntimes(() => true)).includes("xpu"), "no file: xpu stays");
      ok(d.alive(), "dockerd is still running");

      // daemon.json is gone now: configure creates it, unconfigure keeps what the reload needs.
      await Deno.remove(`${dir}/revert`, { recursive: true });
      const created = await ctk("configure", configure);
      strictEqual(created.code, 0, created.stderr);
      const file = daemonJson.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      match(created.stdout, new RegExp(`^Created "${file}"$`, "m"));
      const unconfigured = await ctk("unconfigure");
      strictEqual(unconfigured.code, 0, unconfigured.stderr);
      match(
        unconfigured.stdout,
        new RegExp(
          `^Kept "${file}" as \\{"runtimes": \\{\\}, "default-runtime": "runc"\\} so ` +
            `dockerd's reload drops "xpu": delete it after the next dockerd restart ` +
            `\\(configure created it\\)$`,
          "m",
        ),
      );
      match(unconfigured.stdout, new RegExp(`Sent SIGHUP to dockerd \\(pid ${d.pid}\\)`));
      deepStrictEqual(JSON.parse(Deno.readTextFileSync(daemonJson)), {
        runtimes: {},
        "default-runtime": "runc",
      });
      await d.waitForDefaultRuntime("runc");
      await d.waitForRuntimes((names) => !names.includes("xpu"));
      ok(d.alive(), "dockerd is still running");
    });
  },
);
