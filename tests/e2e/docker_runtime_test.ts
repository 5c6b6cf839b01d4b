/**
 * docker with the runtime shim in each mode: `xpu-ctk runtime configure` adds the handler to a
 * private dockerd (restart mode `signal`), and `docker run --runtime xpu` gives the container the
 * XPU it asks for — in legacy mode by the prestart hook and the device rules, in csv mode by the
 * spec's mounts and nodes, in cdi mode by the generated spec's edits (asked for by CDI name, and in
 * cdi mode by index) — and nothing to a container that asks for none. The environment a runtime
 * sees is dockerd's, so dockerd gets the lab's config path.
 */

import { match, strictEqual } from "node:assert/strict";
import { withXpuRuntimeDockerd } from "../helpers/dockerd.ts";
import { generateCdiSpec, labTest } from "../helpers/lab.ts";

const REQUESTS: Record<string, string[]> = {
  legacy: ["0"],
  csv: ["0"],
  cdi: ["xpu.dev/xpu=0", "0"],
};

for (const [mode, requests] of Object.entries(REQUESTS)) {
  await labTest(
    `docker --runtime xpu in ${mode} mode: the XPU asked for, nothing when none is`,
    ["root", "runc", "nsenter", "busybox", "dockerd"],
    { mode },
    async (lab) => {
      if (mode === "cdi") {
        await generateCdiSpec(lab);
      }
      await withXpuRuntimeDockerd(`${lab.dir}/docker`, `${lab.dir}/tools`, lab.env, async (d) => {
        for (const request of requests) {
          const run = await d.runProbe([
            "--runtime",
            "xpu",
            "-e",
            `XPU_VISIBLE_DEVICES=${request}`,
          ]);
          strictEqual(run.code, 0, `${request}: ${run.stderr}`);
          match(run.stdout, /^\/dev\/xpu0: open ok$/m, request);
          match(run.stdout, /^\/dev\/xpu1: absent$/m, request);
          match(run.stdout, /^fake libxpu 1\.0\.0$/m, request);
        }
        const none = await d.runProbe(["--runtime", "xpu"]);
        strictEqual(none.code, 0, none.stderr);
        match(none.stdout, /^\/dev\/xpu0: absent$/m);
        match(none.stdout, /^cat: can't open '[^']*libxpu\.so': No such file or directory$/m);
      });
    },
  );
}
