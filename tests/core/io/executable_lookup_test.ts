import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  findFirstExecutable,
  type HookProgram,
  lookPath,
  resolveHookProgram,
  searchDirs,
} from "../../../src/core/io/executable_lookup.ts";

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

Deno.test("resolveHookProgram: only absolute paths of programs that are there", async (t) => {
  const here = new Set([...present, "./xpu-ctk", "bin/xpu-ctk", "/opt/bin/xpu-ctk"]);
  const cases: {
    name: string;
    input: { configured: string; path?: string };
    expected: HookProgram;
  }[] = [
    {
      name: "a bare name found in PATH",
      input: { configured: "runc", path: "/opt/bin" },
      expected: { ok: true, path: "/opt/bin/runc" },
    },
    {
      name: "a bare name found in the standard dirs",
      input: { configured: "crun", path: "" },
      expected: { ok: true, path: "/usr/bin/crun" },
    },
    {
      name: "an absolute path that is there",
      input: { configured: "/abs/custom-runc" },
      expected: { ok: true, path: "/abs/custom-runc" },
    },
    {
      name: "a bare name found nowhere: missing, with /usr/bin/<name> as the guess",
      input: { configured: "xpu-container-runtime-hook", path: "/opt/bin" },
      expected: { ok: false, problem: "missing", guess: "/usr/bin/xpu-container-runtime-hook" },
    },
    {
      name: "an absolute path that is not there: missing, itself the guess",
      input: { configured: "/srv/xpu-ctk" },
      expected: { ok: false, problem: "missing", guess: "/srv/xpu-ctk" },
    },
    {
      name: "hostile: a relative path is refused even when it exists",
      input: { configured: "bin/xpu-ctk", path: "/opt/bin" },
      expected: { ok: false, problem: "relative" },
    },
    {
      name: "hostile: ./name is a relative path",
      input: { configured: "./xpu-ctk" },
      expected: { ok: false, problem: "relative" },
    },
    {
      name: "hostile: relative PATH entries are skipped, the absolute ones still count",
      input: { configured: "xpu-ctk", path: ".:bin:/opt/bin" },
      expected: { ok: true, path: "/opt/bin/xpu-ctk" },
    },
    {
      name: "hostile: only relative PATH entries hold it: missing",
      input: { configured: "xpu-ctk", path: ".:bin" },
      expected: { ok: false, problem: "missing", guess: "/usr/bin/xpu-ctk" },
    },
    {
      name: "an empty value: missing, no guess",
      input: { configured: "" },
      expected: { ok: false, problem: "missing" },
    },
  ];
  const isHere = (path: string) => here.has(path) || here.has(path.replace(/^\.\//, ""));
  for (const c of cases) {
    await t.step(c.name, () =>
      deepStrictEqual(
        resolveHookProgram(c.input.configured, { path: c.input.path, isExecutable: isHere }),
        c.expected,
      ));
  }
});
