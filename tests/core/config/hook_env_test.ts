/**
 * The hooks' explicit environment, and the refusal of hook programs started with loader
 * variables: each hostile environment next to the honest one the same hook still accepts.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { ExecError } from "../../../src/core/errors.ts";
import {
  assertHookEnv,
  HOOK_PATH,
  hookEnv,
  loaderVariablesIn,
} from "../../../src/core/config/hook_env.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";

Deno.test("hookEnv: PATH of the standard dirs, the config file only when given", async (t) => {
  const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const cases: { name: string; input: { configPath?: string }; expected: string[] }[] = [
    { name: "no config file", input: {}, expected: [path] },
    {
      name: "the config file the writer loaded",
      input: { configPath: "/etc/xpu/config.toml" },
      expected: [path, "XPU_CTK_CONFIG_FILE_PATH=/etc/xpu/config.toml"],
    },
  ];
  for (const c of cases) await t.step(c.name, () => deepStrictEqual(hookEnv(c.input), c.expected));
  strictEqual(`PATH=${HOOK_PATH}`, path);
});

Deno.test("loaderVariablesIn", async (t) => {
  const cases: { name: string; input: Record<string, string>; expected: string[] }[] = [
    {
      name: "the env the toolkit writes: nothing",
      input: { PATH: HOOK_PATH, XPU_CTK_CONFIG_FILE_PATH: "/etc/xpu/config.toml" },
      expected: [],
    },
    {
      name: "an ordinary container env without loader variables: nothing",
      input: { PATH: "/usr/bin", HOME: "/root", LANG: "C.UTF-8", XPU_VISIBLE_DEVICES: "0" },
      expected: [],
    },
    {
      name: "LD_PRELOAD",
      input: { LD_PRELOAD: "/proc/self/cwd/evil.so" },
      expected: ["LD_PRELOAD"],
    },
    { name: "LD_AUDIT", input: { LD_AUDIT: "evil.so" }, expected: ["LD_AUDIT"] },
    { name: "LD_LIBRARY_PATH", input: { LD_LIBRARY_PATH: "/lib" }, expected: ["LD_LIBRARY_PATH"] },
    { name: "GLIBC_TUNABLES", input: { GLIBC_TUNABLES: "x" }, expected: ["GLIBC_TUNABLES"] },
    { name: "GCONV_PATH", input: { GCONV_PATH: "/tmp" }, expected: ["GCONV_PATH"] },
    {
      name: "any other LD_ variable (LD_DEBUG_OUTPUT writes files)",
      input: { LD_DEBUG_OUTPUT: "/etc/passwd", LD_BIND_NOW: "1" },
      expected: ["LD_BIND_NOW", "LD_DEBUG_OUTPUT"],
    },
    { name: "set but empty still counts", input: { LD_PRELOAD: "" }, expected: ["LD_PRELOAD"] },
    {
      name: "several: the named ones first, in table order",
      input: { LD_ORIGIN_PATH: "/x", LD_LIBRARY_PATH: "/x", LD_PRELOAD: "/x", PATH: "/bin" },
      expected: ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_ORIGIN_PATH"],
    },
    {
      name: "names that only look alike are not loader variables",
      input: { OLD_PRELOAD: "x", ld_preload: "x", XLD_LIBRARY_PATH: "x" },
      expected: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(loaderVariablesIn(c.input), c.expected));
  }
});

Deno.test("assertHookEnv refuses a container's loader variables, accepts the toolkit's env", async (t) => {
  await t.step("honest: the env the toolkit writes", () => {
    assertHookEnv(
      { PATH: HOOK_PATH, XPU_CTK_CONFIG_FILE_PATH: "/etc/xpu/config.toml" },
      "xpu-ctk hook",
    );
  });
  await t.step("hostile: LD_PRELOAD, one line naming it, why, and the fix", () => {
    const error = assertThrowsError(
      () => assertHookEnv({ PATH: "/bin", LD_PRELOAD: "/proc/self/cwd/evil.so" }, "xpu-ctk hook"),
      ExecError,
      "Refusing to run xpu-ctk hook with LD_PRELOAD set (LD_PRELOAD loads the named shared " +
        "objects into the process): the hook was started with the container's environment: " +
        "regenerate the spec / hooks with an explicit env",
    );
    strictEqual(error.exitCode, 1);
    strictEqual(error.message.includes("\n"), false);
  });
  await t.step("hostile: every variable found is named", () => {
    assertThrowsError(
      () => assertHookEnv({ LD_AUDIT: "a.so", LD_LIBRARY_PATH: "/x" }, "the hook"),
      ExecError,
      "with LD_AUDIT, LD_LIBRARY_PATH set (LD_AUDIT loads the named audit shared objects",
    );
  });
  await t.step("hostile: an LD_ name without its own reason", () => {
    assertThrowsError(
      () => assertHookEnv({ LD_PROFILE: "libc.so.6" }, "the hook"),
      ExecError,
      "with LD_PROFILE set (LD_PROFILE changes how the dynamic loader works)",
    );
  });
});
