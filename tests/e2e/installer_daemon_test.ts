/**
 * The installer's daemon form against a private dockerd: set-up writes the three handlers and the
 * default into daemon.json and signals dockerd, which runs containers through the installed
 * wrappers (with the XPU); a second instance fails fast and changes nothing; SIGTERM reverts
 * daemon.json (dockerd reloads and keeps running on runc), removes the pid file, exits 0.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { withDockerd } from "../helpers/dockerd.ts";
import { labTest, presentKernelModule, writeToolkitSources } from "../helpers/lab.ts";

const ORIGINAL = `{
  "log-level": "warn",
  "max-concurrent-downloads": 2
}
`;

/** A child's stderr as it arrives, to wait for a line. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  );
  return {
    text: () => text,
    done,
    async waitFor(fragment: string, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes(fragment)) {
        if (Date.now() > deadline) throw new Error(`no "${fragment}" in:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Every entry of a dir with its modification time, to see that nothing was rewritten. */
function snapshot(dir: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const entry of Deno.readDirSync(dir)) {
    out[entry.name] = Deno.lstatSync(`${dir}/${entry.name}`).mtime?.getTime() ?? null;
  }
  return out;
}

await labTest(
  "installer daemon: set up docker, run with the XPU, refuse a second instance, revert on SIGTERM",
  ["root", "runc", "nsenter", "busybox", "dockerd"],
  { mode: "cdi" },
  async (lab) => {
    const dir = `${lab.dir}/docker`;
    Deno.mkdirSync(dir);
    const daemonJson = `${dir}/daemon.json`;
    Deno.writeTextFileSync(daemonJson, ORIGINAL);
    const source = `${lab.dir}/source`;
    writeToolkitSources(source);
    const destination = `${lab.dir}/run-xpu`;
    const toolkit = `${destination}/toolkit`;
    const pidFile = `${lab.dir}/run/toolkit.pid`;
    const env = { PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };

    await withDockerd(dir, daemonJson, env, async (d) => {
      const installerEnv = {
        RUNTIME: "docker",
        RUNTIME_ARGS: `--config '${daemonJson}' --socket '${d.socket}' --restart-mode signal ` +
          `--state-dir '${dir}/revert'`,
        TOOLKIT_PID_FILE: pidFile,
        DRIVER_ROOT: lab.driverRoot,
      };
      const args = [destination, "--source-dir", source, "--kernel-module", presentKernelModule()];
      const [program, ...lead] = toolArgv("xpu-ctk-installer");
      const daemon = new Deno.Command(program, {
        args: [...lead, ...args],
        env: installerEnv,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = collect(daemon.stderr);
      const stdout = collect(daemon.stdout);
      let status: Deno.CommandStatus | undefined;
      try {
        await stderr.waitFor("xpu-ctk-installer: waiting for SIGTERM, SIGINT, SIGHUP, SIGQUIT\n");
        strictEqual(Deno.readTextFileSync(pidFile), `${daemon.pid}\n`);
        const configured = JSON.parse(Deno.readTextFileSync(daemonJson));
        deepStrictEqual(configured.runtimes, {
          xpu: { path: `${toolkit}/xpu-container-runtime`, runtimeArgs: [] },
          "xpu-cdi": { path: `${toolkit}/xpu-container-runtime.cdi`, runtimeArgs: [] },
          "xpu-legacy": { path: `${toolkit}/xpu-container-runtime.legacy`, runtimeArgs: [] },
        });
        strictEqual(configured["default-runtime"], "xpu");
        strictEqual(configured["max-concurrent-downloads"], 2);
        match(stderr.text(), /^xpu-ctk-installer: the docker default runtime is "runc"/m);
        match(
          stderr.text(),
          new RegExp(`^xpu-ctk-installer: Sent SIGHUP to dockerd \\(pid ${d.pid}\\)`, "m"),
        );
        await d.waitForDefaultRuntime("xpu");

        for (const runtime of ["xpu", "xpu-legacy"]) {
          const run = await d.runProbe(["--runtime", runtime, "-e", "XPU_VISIBLE_DEVICES=0"]);
          strictEqual(run.code, 0, `${runtime}: ${run.stderr}`);
          match(run.stdout, /^\/dev\/xpu0: open ok$/m, runtime);
          match(run.stdout, /^\/dev\/xpu1: absent$/m, runtime);
          match(run.stdout, /^fake libxpu 1\.0\.0$/m, runtime);
        }

        // A second instance: fails at once, changes nothing.
        const configuredText = Deno.readTextFileSync(daemonJson);
        const before = snapshot(toolkit);
        const second = await runTool(toolArgv("xpu-ctk-installer"), { args, env: installerEnv });
        strictEqual(second.code, 1);
        strictEqual(second.stdout, "");
        strictEqual(
          second.stderr,
          `xpu-ctk-installer: Cannot start: another xpu-ctk-installer is already running (pid file ` +
            `"${pidFile}", pid ${daemon.pid}): stop it first, or pass a different --pid-file\n`,
        );
        strictEqual(Deno.readTextFileSync(daemonJson), configuredText);
        deepStrictEqual(snapshot(toolkit), before);
        strictEqual(Deno.readTextFileSync(pidFile), `${daemon.pid}\n`);

        daemon.kill("SIGTERM");
        status = await daemon.status;
      } finally {
        if (status === undefined) {
          daemon.kill("SIGKILL");
          await daemon.status;
        }
        await Promise.all([stderr.done, stdout.done]);
      }
      strictEqual(status.code, 0, stderr.text());
      strictEqual(stdout.text(), "");
      match(stderr.text(), /^xpu-ctk-installer: received SIGTERM/m);
      match(
        stderr.text(),
        /^xpu-ctk-installer: reverted docker: runtimes xpu, xpu-cdi, xpu-legacy removed$/m,
      );
      ok(
        !Deno.readDirSync(`${lab.dir}/run`).some((e) => e.name === "toolkit.pid"),
        "pid file removed",
      );
      // No default runtime was named before: runc is named now, as dockerd would keep "xpu".
      strictEqual(
        Deno.readTextFileSync(daemonJson),
        ORIGINAL.replace(
          '"max-concurrent-downloads": 2\n',
          '"max-concurrent-downloads": 2,\n  "runtimes": {},\n  "default-runtime": "runc"\n',
        ),
      );
      await d.waitForDefaultRuntime("runc");
      // The reload took the handlers away (dockerd keeps its table when the key is absent).
      const left = await d.waitForRuntimes((names) => !names.some((n) => n.startsWith("xpu")));
      ok(left.includes("runc"), JSON.stringify(left));
      ok(d.alive(), "dockerd survived the reload");
      const plain = await d.runProbe();
      strictEqual(plain.code, 0, plain.stderr);
      match(plain.stdout, /^\/dev\/xpu0: absent$/m);
    });
  },
);
