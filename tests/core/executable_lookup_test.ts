import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  findFirstExecutable,
  lookPath,
  resolveHookProgram,
  searchDirs,
} from "../../src/core/executable_lookup.ts";

const present = new Set(["/opt/bin/runc", "/usr/sbin/runc", "/usr/bin/crun", "/abs/custom-runc"]);
const isExecutable = (path: string) => present.has(path);

Deno.test("lookPath: bare names in PATH then the standard dirs, paths as given", async (t) => {
  const cases = [
    {
      name: "PATH first",
      input: { name: "runc", path: "/opt/bin:/usr/bin" },
      expected: "/opt/bin/runc",
    },
    {
      name: "standard dirs after PATH",
      input: { name: "runc", path: "/nowhere" },
      expected: "/usr/sbin/runc",
    },
    {
      name: "empty PATH still searches sbin",
      input: { name: "crun", path: "" },
      expected: "/usr/bin/crun",
    },
    {
      name: "absolute path checked as given",
      input: { name: "/abs/custom-runc", path: "/opt/bin" },
      expected: "/abs/custom-runc",
    },
    {
      name: "absolute path missing",
      input: { name: "/abs/runc", path: "/opt/bin" },
      expected: undefined,
    },
    { name: "unknown name", input: { name: "kata", path: "/opt/bin" }, expected: undefined },
    { name: "empty name", input: { name: "", path: "/opt/bin" }, expected: undefined },
  ];
  for (const c of cases) {
    await t.step(
      c.name,
      () => strictEqual(lookPath(c.input.name, { path: c.input.path, isExecutable }), c.expected),
    );
  }
});

Deno.test("findFirstExecutable takes the first usable candidate", () => {
  strictEqual(
    findFirstExecutable(["/missing", "crun", "runc"], { path: "", isExecutable }),
    "/usr/bin/crun",
  );
  strictEqual(findFirstExecutable(["nope"], { path: "", isExecutable }), undefined);
});

Deno.test("searchDirs de-duplicates PATH and the standard dirs", () => {
  deepStrictEqual(searchDirs("/usr/bin:/opt/x:"), [
    "/usr/bin",
    "/opt/x",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/sbin",
    "/bin",
  ]);
});

Deno.test("resolveHookProgram: found paths, else /usr/bin/<name> and found=false", () => {
  deepStrictEqual(resolveHookProgram("runc", { path: "/opt/bin", isExecutable }), {
    path: "/opt/bin/runc",
    found: true,
  });
  deepStrictEqual(resolveHookProgram("xpu-ctk", { path: "/opt/bin", isExecutable }), {
    path: "/usr/bin/xpu-ctk",
    found: false,
  });
  deepStrictEqual(resolveHookProgram("/srv/xpu-ctk", { isExecutable }), {
    path: "/srv/xpu-ctk",
    found: false,
  });
});
