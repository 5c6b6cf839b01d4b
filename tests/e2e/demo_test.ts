/** The README's demo command runs and shows what it promises. */

import { match, strictEqual } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { e2eTest } from "../helpers/e2e.ts";

await e2eTest("deno task demo: one container sees the XPU, the other nothing", [
  "root",
  "runc",
  "busybox",
], async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "demo"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  const [withXpu, withoutXpu] = stdout.split('Container "without-xpu"');
  match(withXpu, /\/dev\/xpu0: opened for writing/);
  match(withXpu, /\/dev\/xpu1: not in this container/);
  match(withXpu, /reading the driver library: fake libxpu 1\.0\.0/);
  match(withXpu, /config\.json: 2 device nodes, 1 driver mounts, 2 createContainer hooks added/);
  match(withoutXpu, /\/dev\/xpu0: not in this container/);
  match(withoutXpu, /config\.json: unchanged, byte for byte/);
});
