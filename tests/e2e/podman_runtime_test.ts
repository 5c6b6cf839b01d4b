/**
 * podman with the runtime shim as its OCI runtime (`podman run --runtime <shim>`): podman passes
 * no global flags and runs the shim from the caller's cwd. In legacy mode the shim adds the prestart
 * hook and the device rules, in csv mode the mounts and nodes, in cdi mode the generated spec's
 * edits; each container gets `/dev/xpu0` and the driver library, and one that asks for nothing
 * gets nothing.
 */

import { match, strictEqual } from "node:assert/strict";
import { generateCdiSpec, labTest, PROBE } from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman, writePodmanRuntime } from "../helpers/podman.ts";

for (const mode of ["legacy", "csv", "cdi"]) {
  await labTest(
    `podman --runtime <shim> in ${mode} mode: the XPU asked for, nothing when none is`,
    ["root", "podman", "runc", "busybox"],
    { mode },
    async (lab) => {
      if (mode === "cdi") {
        await generateCdiSpec(lab);
      }
      const shim = writePodmanRuntime(lab);
      const request = mode === "cdi" ? "xpu.dev/xpu=0" : "0";
      await withPodman(lab, async (podman) => {
        const run = (env: string[]) =>
          podman([
            "run",
            "--rm",
            "--runtime",
            shim,
            "--cgroup-parent",
            CGROUP_PARENT,
            ...env.flatMap((e) => ["-e", e]),
            "busybox:min",
            "sh",
            "-c",
            PROBE,
          ]);
        const asked = await run([`XPU_VISIBLE_DEVICES=${request}`]);
        strictEqual(asked.code, 0, asked.stderr);
        match(asked.stdout, /^\/dev\/xpu0: open ok$/m);
        match(asked.stdout, /^\/dev\/xpu1: absent$/m);
        match(asked.stdout, /^fake libxpu 1\.0\.0$/m);
        const none = await run([]);
        strictEqual(none.code, 0, none.stderr);
        match(none.stdout, /^\/dev\/xpu0: absent$/m);
        match(none.stdout, /^cat: can't open '[^']*libxpu\.so': No such file or directory$/m);
      });
    },
  );
}
