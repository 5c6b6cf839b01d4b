/**
 * cri-o's hook mode end to end, with podman as the engine that reads hooks.d (no cri-o in Debian
 * 12): `xpu-ctk runtime configure --runtime crio --config-mode hook` writes the hook file; podman
 * runs the legacy hook from it (no runtime shim involved), and the hook and xpu-container-cli
 * inject the device; unconfigure removes the file and containers get nothing again.
 */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { SIMULATED_LIB_DIR } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { labTest, PROBE } from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman } from "../helpers/podman.ts";

await labTest(
  "cri-o hook mode: podman runs the generated hooks.d file and the container gets xpu0",
  [
    "root",
    "podman",
    "nsenter",
    "busybox",
  ],
  { mode: "auto" },
  async (lab) => {
    await withPodman(lab, async (podman) => {
      const hooksDir = `${lab.dir}/podman/hooks.d`;
      // The hook finds the lab's config through its environment, as an installed wrapper would.
      const hook = `${lab.dir}/tools/hook-with-config`;
      Deno.writeTextFileSync(
        hook,
        `#!/bin/sh\nexport XPU_CTK_CONFIG_FILE_PATH='${lab.configPath}'\nexec '${lab.tools.hook}' "$@"\n`,
      );
      Deno.chmodSync(hook, 0o755);
      const ctk = (action: string, extra: string[] = []) =>
        runTool(toolArgv("xpu-ctk"), {
          args: [
            "runtime",
            action,
            "--runtime",
            "crio",
            "--config-mode",
            "hook",
            "--hooks-dir",
            hooksDir,
            "--state-dir",
            `${lab.dir}/revert`,
            ...extra,
          ],
        });
      const run = (env: string[]) =>
        podman([
          "run",
          "--rm",
          "--cgroup-parent",
          CGROUP_PARENT,
          "--hooks-dir",
          hooksDir,
          ...env.flatMap((e) => ["-e", e]),
          "busybox:min",
          "sh",
          "-c",
          PROBE,
        ]);

      const configured = await ctk("configure", ["--hook-path", hook]);
      strictEqual(configured.code, 0, configured.stderr);
      match(configured.stdout, /No restart needed/);
      const file = JSON.parse(Deno.readTextFileSync(`${hooksDir}/oci-xpu-hook.json`));
      strictEqual(file.hook.path, hook);
      deepStrictEqual(file.stages, ["prestart"]);

      const asked = await run(["XPU_VISIBLE_DEVICES=0"]);
      strictEqual(asked.code, 0, asked.stderr);
      match(asked.stdout, /^\/dev\/xpu0: open ok$/m);
      match(asked.stdout, /^\/dev\/xpu1: absent$/m);
      // No runtime shim here: the allow rule comes from xpu-container-cli's devices.allow write.
      match(
        asked.stdout,
        /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
      );
      match(asked.stdout, /^fake libxpu 1\.0\.0$/m);

      const plain = await run([]);
      strictEqual(plain.code, 0, plain.stderr);
      match(plain.stdout, /^\/dev\/xpu0: absent$/m);
      match(plain.stdout, new RegExp(`can't open '${SIMULATED_LIB_DIR}/libxpu.so'`));

      const unconfigured = await ctk("unconfigure");
      strictEqual(unconfigured.code, 0, unconfigured.stderr);
      deepStrictEqual([...Deno.readDirSync(hooksDir)], []);
      const after = await run(["XPU_VISIBLE_DEVICES=0"]);
      strictEqual(after.code, 0, after.stderr);
      match(after.stdout, /^\/dev\/xpu0: absent$/m);
    });
  },
);
