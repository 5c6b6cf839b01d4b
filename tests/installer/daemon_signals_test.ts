/**
 * The real installer process and each stop signal: started in the daemon form against a docker
 * config in a temp dir (restart mode none, so no engine is needed), it sets up, waits, and on
 * SIGTERM, SIGINT, SIGHUP or SIGQUIT reverts daemon.json, removes its pid file and exits 0.
 */

import { ok, strictEqual } from "node:assert/strict";
import { toolArgv } from "../helpers/toolkit_commands.ts";
import { STOP_SIGNALS } from "../../src/installer/daemon.ts";
import { writeToolkitSources } from "../helpers/lab.ts";
import { pathExists, withTempDir } from "../helpers/temp_dir.ts";

const ORIGINAL =
  '{\n  "default-runtime": "crun",\n  "runtimes": {"crun": {"path": "/usr/bin/crun"}}\n}\n';

for (const signal of STOP_SIGNALS) {
  Deno.test({
    name: `the installer process reverts and exits 0 on ${signal}`,
    sanitizeResources: false,
    fn: () =>
      withTempDir(async (dir) => {
        const daemonJson = `${dir}/daemon.json`;
        Deno.writeTextFileSync(daemonJson, ORIGINAL);
        const [program, ...lead] = toolArgv("xpu-ctk-installer");
        const child = new Deno.Command(program, {
          args: [...lead, `${dir}/xpu`, "--source-dir", writeToolkitSources(`${dir}/source`)],
          env: {
            RUNTIME_ARGS: `--config ${daemonJson} --restart-mode none --state-dir ${dir}/state`,
            TOOLKIT_PID_FILE: `${dir}/toolkit.pid`,
          },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        let stderr = "";
        const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
          new WritableStream({ write: (chunk) => void (stderr += chunk) }),
        );
        const stdout = new Response(child.stdout).text();
        const deadline = Date.now() + 60_000;
        while (!stderr.includes("waiting for")) {
          if (Date.now() > deadline) {
            child.kill("SIGKILL");
            throw new Error(`the installer did not set up:\n${stderr}`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        ok(Deno.readTextFileSync(daemonJson).includes('"default-runtime": "xpu"'));
        strictEqual(Deno.readTextFileSync(`${dir}/toolkit.pid`), `${child.pid}\n`);
        child.kill(signal);
        const status = await child.status;
        await reading;
        strictEqual(status.code, 0, stderr);
        strictEqual(status.signal, null);
        strictEqual(await stdout, "");
        ok(stderr.includes(`received ${signal}: cleaning up\n`), stderr);
        // The default the file named comes back.
        strictEqual(Deno.readTextFileSync(daemonJson), ORIGINAL);
        ok(!pathExists(`${dir}/toolkit.pid`));
        ok(pathExists(`${dir}/xpu/toolkit/xpu-container-runtime`), "the toolkit stays");
      }),
  });
}
