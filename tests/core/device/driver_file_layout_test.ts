import { deepStrictEqual, ok } from "node:assert/strict";
import {
  ctkHooks,
  isSharedLibrary,
  layoutDriverFiles,
} from "../../../src/core/device/driver_file_layout.ts";
import { memoryHostFs } from "../../helpers/memory_fs.ts";

const fs = memoryHostFs({
  "/usr/lib/libxpu.so": { link: "libxpu.so.1" },
  "/usr/lib/libxpu.so.1": { link: "libxpu.so.1.0.0" },
  "/usr/lib/libxpu.so.1.0.0": "ELF",
  "/usr/bin/xpu-smi": "#!/bin/sh",
});
const file = (path: string) => ({ path, hostPath: path, capabilities: ["compute" as const] });

Deno.test("layoutDriverFiles: files to bind, links to recreate, library folders", () => {
  const layout = layoutDriverFiles(fs, [
    file("/usr/lib/libxpu.so"),
    file("/usr/lib/libxpu.so.1"),
    file("/usr/lib/libxpu.so.1.0.0"),
    file("/usr/bin/xpu-smi"),
    file("/usr/lib/missing.so"),
  ]);
  deepStrictEqual(layout.files.map((f) => f.path), [
    "/usr/lib/libxpu.so.1.0.0",
    "/usr/bin/xpu-smi",
  ]);
  deepStrictEqual(layout.links, [
    { target: "libxpu.so.1", path: "/usr/lib/libxpu.so" },
    { target: "libxpu.so.1.0.0", path: "/usr/lib/libxpu.so.1" },
  ]);
  deepStrictEqual(layout.libraryDirs, ["/usr/lib"]);
});

Deno.test("isSharedLibrary", async (t) => {
  for (
    const [path, expected] of [
      ["/usr/lib/libx.so", true],
      ["/usr/lib/libx.so.1.2", true],
      ["/usr/lib/libx.sock", false],
      ["/usr/bin/x-smi", false],
    ] as const
  ) {
    await t.step(path, () => deepStrictEqual(isSharedLibrary(path), expected));
  }
});

Deno.test("ctkHooks: one create-symlinks and one update-ldcache hook, with the given env", async (t) => {
  const env = ["PATH=/usr/sbin:/usr/bin", "XPU_CTK_CONFIG_FILE_PATH=/etc/x.toml"];
  await t.step("nothing to do: no hook, the path is not asked for", () => {
    let asked = 0;
    const ctkPath = () => (asked++, "/usr/bin/xpu-ctk");
    deepStrictEqual(ctkHooks({ links: [], libraryDirs: [] }, { ctkPath, env }), []);
    deepStrictEqual(asked, 0);
  });
  await t.step("links and folders: every hook has the absolute path and its own env copy", () => {
    const hooks = ctkHooks(
      {
        links: [{ target: "libxpu.so.1", path: "/usr/lib/libxpu.so" }],
        libraryDirs: ["/usr/lib", "/opt/lib"],
      },
      { ctkPath: "/usr/bin/xpu-ctk", env },
    );
    deepStrictEqual(hooks, [
      {
        hookName: "createContainer",
        path: "/usr/bin/xpu-ctk",
        args: ["xpu-ctk", "hook", "create-symlinks", "--link", "libxpu.so.1::/usr/lib/libxpu.so"],
        env,
      },
      {
        hookName: "createContainer",
        path: "/usr/bin/xpu-ctk",
        args: ["xpu-ctk", "hook", "update-ldcache", "--folder", "/usr/lib", "--folder", "/opt/lib"],
        env,
      },
    ]);
    ok(hooks[0].env !== env && hooks[0].env !== hooks[1].env, "each hook owns its env array");
  });
});
