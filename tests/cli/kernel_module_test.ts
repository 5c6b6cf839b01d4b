import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { loadKernelModule } from "../../src/cli/kernel_module.ts";

Deno.test("loadKernelModule: present modules are left alone, missing ones skip cleanly", async (t) => {
  await t.step("no module named", async () => {
    deepStrictEqual(await loadKernelModule(""), { skipped: "the profile names no kernel module" });
  });
  await t.step("a module the kernel has", async () => {
    const present = [...Deno.readDirSync("/sys/module")][0]?.name;
    ok(present !== undefined, "this kernel lists modules in /sys/module");
    strictEqual(await loadKernelModule(present), "present");
  });
  await t.step("a module that does not exist", async () => {
    const outcome = await loadKernelModule("xpu-no-such-module-0");
    ok(typeof outcome === "object" && outcome.skipped.length > 0, JSON.stringify(outcome));
  });
});
