/** `parseHookCall`: the hook calls the toolkit writes into specs, and nothing else. */

import { deepStrictEqual } from "node:assert/strict";
import { type HookCall, parseHookCall } from "../../src/ctk/hook_call.ts";
import { ctkHooks } from "../../src/core/device/driver_file_layout.ts";

Deno.test("parseHookCall takes the forms the toolkit writes, and leaves every other to commander", async (t) => {
  const cases: { name: string; input: string[]; expected: HookCall | undefined }[] = [
    {
      name: "create-symlinks, two links",
      input: ["hook", "create-symlinks", "--link", "a.so.1::/usr/lib/a.so", "--link", "b::/x/b"],
      expected: { hook: "create-symlinks", links: ["a.so.1::/usr/lib/a.so", "b::/x/b"] },
    },
    {
      name: "update-ldcache, a folder with = and one without",
      input: ["hook", "update-ldcache", "--folder=/usr/lib", "--folder", "/usr/lib64"],
      expected: { hook: "update-ldcache", folders: ["/usr/lib", "/usr/lib64"] },
    },
    {
      name: "a hook with no flag",
      input: ["hook", "update-ldcache"],
      expected: { hook: "update-ldcache", folders: [] },
    },
    { name: "help", input: ["hook", "update-ldcache", "--help"], expected: undefined },
    { name: "the hook command alone", input: ["hook"], expected: undefined },
    { name: "an unknown hook", input: ["hook", "chmod", "--path", "/x"], expected: undefined },
    { name: "a prototype name", input: ["hook", "constructor"], expected: undefined },
    {
      name: "another hook's flag",
      input: ["hook", "update-ldcache", "--link", "a::b"],
      expected: undefined,
    },
    {
      name: "a flag without its value",
      input: ["hook", "create-symlinks", "--link"],
      expected: undefined,
    },
    {
      name: "an empty value",
      input: ["hook", "update-ldcache", "--folder", ""],
      expected: undefined,
    },
    {
      name: "an empty value after =",
      input: ["hook", "update-ldcache", "--folder="],
      expected: undefined,
    },
    {
      name: "a value like a flag",
      input: ["hook", "update-ldcache", "--folder", "--help"],
      expected: undefined,
    },
    { name: "a positional", input: ["hook", "update-ldcache", "/usr/lib"], expected: undefined },
    {
      name: "the end of options",
      input: ["hook", "update-ldcache", "--", "/x"],
      expected: undefined,
    },
    {
      name: "a global flag first",
      input: ["--debug", "hook", "update-ldcache"],
      expected: undefined,
    },
    { name: "another command", input: ["config", "default"], expected: undefined },
    { name: "nothing", input: [], expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(parseHookCall(c.input), c.expected));
  }
  await t.step("every hook the edits write", () => {
    const hooks = ctkHooks(
      {
        links: [{ target: "libxpu.so.1", path: "/usr/lib/x86_64-linux-gnu/libxpu.so" }],
        libraryDirs: ["/usr/lib/x86_64-linux-gnu", "/opt/xpu/lib"],
      },
      { ctkPath: "/usr/bin/xpu-ctk", env: [] },
    );
    deepStrictEqual(hooks.map((h) => parseHookCall(h.args!.slice(1))), [
      { hook: "create-symlinks", links: ["libxpu.so.1::/usr/lib/x86_64-linux-gnu/libxpu.so"] },
      { hook: "update-ldcache", folders: ["/usr/lib/x86_64-linux-gnu", "/opt/xpu/lib"] },
    ]);
  });
});
