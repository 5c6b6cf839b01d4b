/**
 * docker's own CDI (docker 26 and later): a spec written by `xpu-ctk cdi generate`, requested with
 * `docker run --device xpu.dev/xpu=0`, no runtime shim. `xpu-ctk runtime configure --cdi.enabled`
 * with restart mode `signal` says that the CDI setting is not in effect until dockerd restarts —
 * dockerd registers its CDI driver (and reads `cdi-spec-dirs`) only when it starts — and after the
 * restart the device is there. docker 20.10 has no CDI: not applicable there.
 */

import { match, ok, strictEqual } from "node:assert/strict";
import { dockerRuntimeCommand, withDockerd } from "../helpers/dockerd.ts";
import { atLeast, engineSet } from "../helpers/e2e.ts";
import { generateCdiSpec, labTest } from "../helpers/lab.ts";

await labTest(
  "docker's own CDI: --device xpu.dev/xpu=0 from the generated spec, after the restart configure names",
  ["root", "runc", "busybox", "dockerd"],
  { mode: "legacy" },
  async (lab) => {
    await generateCdiSpec(lab);
    const dir = `${lab.dir}/docker`;
    Deno.mkdirSync(dir);
    const daemonJson = `${dir}/daemon.json`;
    // The operator's own settings: where the specs are; CDI itself is what configure turns on.
    Deno.writeTextFileSync(
      daemonJson,
      `{\n  "cdi-spec-dirs": [${JSON.stringify(lab.cdiDir)}]\n}\n`,
    );
    const env = { ...lab.env, PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    const docker = (await engineSet()).versions.docker!;
    const device = ["--device", "xpu.dev/xpu=0"];

    await withDockerd(dir, daemonJson, env, async (d) => {
      const configured = await dockerRuntimeCommand(d, daemonJson, `${dir}/revert`)("configure", [
        "--cdi.enabled",
      ]);
      strictEqual(configured.code, 0, configured.stderr);
      match(
        configured.stdout,
        /; features\.cdi is read only when dockerd starts and is not in effect yet: run "systemctl restart docker" to apply it$/m,
      );
      const before = await d.runProbe(device);
      if (atLeast(docker, 28)) {
        // docker 28 has CDI on by default; the spec dir it read at start is the operator's.
        strictEqual(before.code, 0, before.stderr);
      } else {
        // The reload did not register the CDI driver: what the line above warned about.
        ok(before.code !== 0, "CDI is not in effect before the restart");
        match(before.stderr, /could not select device driver "cdi"/);
      }
    });

    // The restart the line named: a new dockerd on the same file.
    await withDockerd(dir, daemonJson, env, async (d) => {
      const info = JSON.parse(
        (await d.docker(["info", "--format", "{{json .CDISpecDirs}}"])).stdout,
      );
      ok(info.includes(lab.cdiDir), JSON.stringify(info));
      const run = await d.runProbe(device);
      strictEqual(run.code, 0, run.stderr);
      match(run.stdout, /^\/dev\/xpu0: open ok$/m);
      match(run.stdout, /^\/dev\/xpu1: absent$/m);
      match(run.stdout, /^fake libxpu 1\.0\.0$/m);
      match(run.stdout, /^link: libxpu\.so\.1$/m);
      const unknown = await d.runProbe(["--device", "xpu.dev/xpu=7"]);
      ok(unknown.code !== 0, "an unknown device fails the run");
      match(unknown.stderr, /unresolvable CDI devices xpu\.dev\/xpu=7/);
    });
  },
  {
    notApplicable: (engines) =>
      atLeast(engines.versions.docker, 26)
        ? undefined
        : `dockerd ${
          engines.versions.docker?.join(".") ?? "(none)"
        } has no CDI (docker 26 and later)`,
  },
);
