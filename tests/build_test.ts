import { deepStrictEqual, match, strictEqual, throws } from "node:assert/strict";
import { denortFor, explainCompileFailure, parseBuildArgs, planBuild, TARGETS } from "../build.ts";
import { REPO_ROOT } from "./helpers/container_lab.ts";

const HOST = "x86_64-unknown-linux-gnu";

Deno.test("planBuild compiles every entry module for every target", () => {
  const steps = planBuild({
    entries: ["xpu-ctk.ts", "xpu-container-runtime.ts", "README.md"],
    targets: TARGETS,
    env: {},
    hostTarget: HOST,
  });
  deepStrictEqual(steps, [
    {
      target: "x86_64-unknown-linux-gnu",
      entry: "bin/xpu-container-runtime.ts",
      output: "dist/x86_64-unknown-linux-gnu/xpu-container-runtime",
    },
    {
      target: "x86_64-unknown-linux-gnu",
      entry: "bin/xpu-ctk.ts",
      output: "dist/x86_64-unknown-linux-gnu/xpu-ctk",
    },
    {
      target: "aarch64-unknown-linux-gnu",
      entry: "bin/xpu-container-runtime.ts",
      output: "dist/aarch64-unknown-linux-gnu/xpu-container-runtime",
    },
    {
      target: "aarch64-unknown-linux-gnu",
      entry: "bin/xpu-ctk.ts",
      output: "dist/aarch64-unknown-linux-gnu/xpu-ctk",
    },
  ]);
});

Deno.test("denortFor: per-target variables win, DENORT_BIN serves the host's target only", async (t) => {
  const cases = [
    { name: "nothing set", env: {}, target: TARGETS[0], expected: undefined },
    {
      name: "DENORT_BIN for the host",
      env: { DENORT_BIN: "/d" },
      target: TARGETS[0],
      expected: "/d",
    },
    {
      name: "DENORT_BIN not for a cross target",
      env: { DENORT_BIN: "/d" },
      target: TARGETS[1],
      expected: undefined,
    },
    {
      name: "per-target variable",
      env: { DENORT_BIN: "/d", DENORT_BIN_AARCH64: "/a" },
      target: TARGETS[1],
      expected: "/a",
    },
    {
      name: "per-target beats DENORT_BIN",
      env: { DENORT_BIN: "/d", DENORT_BIN_X86_64: "/x" },
      target: TARGETS[0],
      expected: "/x",
    },
  ] as const;
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(denortFor(c.target, c.env, HOST), c.expected));
  }
});

Deno.test("parseBuildArgs", async (t) => {
  await t.step(
    "defaults",
    () =>
      deepStrictEqual(parseBuildArgs([]), { targets: [...TARGETS], outDir: "dist", kind: "auto" }),
  );
  await t.step(
    "--target and --out-dir=",
    () =>
      deepStrictEqual(parseBuildArgs(["--target", TARGETS[1], "--out-dir=/tmp/o"]), {
        targets: [TARGETS[1]],
        outDir: "/tmp/o",
        kind: "auto",
      }),
  );
  await t.step(
    "--kind bundled",
    () => deepStrictEqual(parseBuildArgs(["--kind", "bundled"]).kind, "bundled"),
  );
  await t.step(
    "unknown kind",
    () => throws(() => parseBuildArgs(["--kind=fast"]), /unknown kind "fast": use one of auto/),
  );
  await t.step(
    "unknown target",
    () => throws(() => parseBuildArgs(["--target", "riscv"]), /unknown target "riscv"/),
  );
  await t.step(
    "unknown argument",
    () => throws(() => parseBuildArgs(["--fast"]), /unknown argument "--fast"/),
  );
});

Deno.test("explainCompileFailure names the download and the variable to set", () => {
  const step = { target: TARGETS[1], entry: "bin/xpu-ctk.ts", output: "dist/x" } as const;
  const offline = explainCompileFailure(
    step,
    "error sending request for url (https://dl.deno.land/...)",
    "2.9.6",
  );
  match(offline, /denort-aarch64-unknown-linux-gnu\.zip/);
  match(offline, /DENORT_BIN_AARCH64=/);
  const missing = explainCompileFailure(
    { ...step, denort: "/nope" },
    "Could not find denort at '/nope'",
    "2.9.6",
  );
  match(missing, /no denort at "\/nope"/);
});

Deno.test("build.ts fails with one clear line when DENORT_BIN is not a denort", async (t) => {
  const outDir = Deno.makeTempDirSync({ prefix: "xpu-build-" });
  const run = async (denort: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${REPO_ROOT}/build.ts`,
        "--target",
        `${Deno.build.arch}-unknown-linux-gnu`,
        "--out-dir",
        outDir,
      ],
      env: { DENORT_BIN: denort },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  try {
    await t.step("a missing file", async () => {
      const result = await run("/nonexistent/denort");
      strictEqual(result.code, 1);
      match(
        result.stderr,
        /^Cannot compile "bin\/xpu-[a-z-]+\.ts" .*: no denort at "\/nonexistent\/denort"/,
      );
    });
    await t.step("a plain deno binary", async () => {
      const result = await run(Deno.execPath());
      strictEqual(result.code, 1);
      match(result.stderr, /it is a deno binary, not denort/);
    });
  } finally {
    Deno.removeSync(outDir, { recursive: true });
  }
});
