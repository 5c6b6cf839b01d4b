/**
 * A second, independent engine: podman runs the legacy hook from a hooks.d file (no runtime shim
 * involved), and the hook and xpu-container-cli inject the device into a podman container.
 */

import { match, strictEqual } from "node:assert/strict";
import { SIMULATED_LIB_DIR } from "../../scripts/container_lab.ts";
import { labTest, PROBE } from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman } from "../helpers/podman.ts";

await labTest(
  "podman runs the hook from hooks.d and the container gets xpu0",
  [
    "root",
    "podman",
    "nsenter",
    "busybox",
  ],
  { mode: "auto" },
  async (lab) => {
    await withPodman(lab, async (podman) => {
      const run = await podman([
        "run",
        "--rm",
        "--cgroup-parent",
        CGROUP_PARENT,
        "--hooks-dir",
        `${lab.dir}/podman/hooks.d`,
        "-e",
        "XPU_VISIBLE_DEVICES=0",
        "busybox:min",
        "sh",
        "-c",
        PROBE,
      ]);
      strictEqual(run.code, 0, run.stderr);
      match(run.stdout, /^\/dev\/xpu0: open ok$/m);
      match(run.stdout, /^\/dev\/xpu1: absent$/m);
      // No runtime shim here: the allow rule comes from xpu-container-cli's devices.allow write.
      match(run.stdout, /^sh: can't create \/dev\/xpuctl: No such device or address$/m);
      match(run.stdout, /^fake libxpu 1\.0\.0$/m);

      const plain = await podman([
        "run",
        "--rm",
        "--cgroup-parent",
        CGROUP_PARENT,
        "--hooks-dir",
        `${lab.dir}/podman/hooks.d`,
        "busybox:min",
        "sh",
        "-c",
        PROBE,
      ]);
      strictEqual(plain.code, 0, plain.stderr);
      match(plain.stdout, /^\/dev\/xpu0: absent$/m);
      match(plain.stdout, new RegExp(`can't open '${SIMULATED_LIB_DIR}/libxpu.so'`));
    });
  },
);
