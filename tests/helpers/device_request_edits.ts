/** The container edits a device request makes, as test data for the spec's edit and write. */

import type { ContainerEdits } from "../../src/core/oci/container_edits.ts";

/** The edits of a device request in cdi or csv mode: env, a node, a mount, a hook, a group. */
export function deviceRequestEdits(): ContainerEdits {
  return {
    env: ["XPU_VISIBLE_DEVICES=void", "XPU_FUZZ=é"],
    deviceNodes: [{ path: "/dev/xpu0", type: "c", major: 1, minor: 11, fileMode: 0o666 }],
    mounts: [{
      hostPath: "/usr/lib/x86_64-linux-gnu/libxpu.so.1",
      containerPath: "/usr/lib/x86_64-linux-gnu/libxpu.so.1",
      type: "bind",
      options: ["ro", "nosuid", "nodev", "bind"],
    }],
    hooks: [{
      hookName: "createContainer",
      path: "/usr/bin/xpu-ctk",
      args: ["xpu-ctk", "hook", "update-ldcache"],
      env: ["PATH=/usr/bin:/bin"],
    }],
    additionalGids: [44],
  };
}
