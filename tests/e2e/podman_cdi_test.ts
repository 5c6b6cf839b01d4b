/**
 * An independent CDI consumer: podman's own CDI support reads the spec `xpu-ctk cdi generate`
 * wrote, and `podman run --device xpu.dev/xpu=0` gives the container the device (no shim, no hook).
 */

import { match, strictEqual } from "node:assert/strict";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { labTest, PROBE } from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman } from "../helpers/podman.ts";

// podman reads /etc/cdi and /var/run/cdi; the later dir wins, so our spec cannot conflict with
// one an operator keeps in /etc/cdi.
const SPEC = `/var/run/cdi/xpu-e2e-${Deno.pid}.yaml`;

await labTest(
  "podman's CDI support injects a device from the generated spec",
  [
    "root",
    "podman",
    "busybox",
  ],
  { mode: "auto" },
  async (lab) => {
    Deno.mkdirSync("/var/run/cdi", { recursive: true });
    try {
      const generated = await runTool(toolArgv("xpu-ctk"), {
        args: ["cdi", "generate", "--driver-root", lab.driverRoot, "--output", SPEC],
        env: lab.env,
      });
      strictEqual(generated.code, 0, generated.stderr);
      await withPodman(lab, async (podman) => {
        const run = await podman([
          "run",
          "--rm",
          "--cgroup-parent",
          CGROUP_PARENT,
          "--device",
          "xpu.dev/xpu=0",
          "busybox:min",
          "sh",
          "-c",
          PROBE,
        ]);
        strictEqual(run.code, 0, run.stderr);
        match(run.stdout, /^\/dev\/xpu0: open ok$/m);
        match(run.stdout, /^\/dev\/xpu1: absent$/m);
        match(
          run.stdout,
          /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
        );
        match(run.stdout, /^fake libxpu 1\.0\.0$/m);
        // The spec's createContainer hook (xpu-ctk create-symlinks) ran under podman too.
        match(run.stdout, /^link: libxpu\.so\.1$/m);
      });
    } finally {
      Deno.removeSync(SPEC);
    }
  },
);
