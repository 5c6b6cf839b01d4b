/**
 * CDI through the runtime shim, with real runc: a spec written by `xpu-ctk cdi generate` from the
 * simulated host, requested by environment, by annotation, with `all`, by an unqualified index,
 * and a device that does not exist.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { type Lab, labTest, PROBE, readLog, runInLab } from "../helpers/lab.ts";

const NEEDS = ["root", "runc", "busybox"] as const;
const PROBE_ENV = `${PROBE}\necho "visible: $XPU_VISIBLE_DEVICES"`;

/** Writes the CDI spec for the lab's simulated host with the real xpu-ctk. */
async function generateSpec(lab: Lab) {
  const run = await runTool(toolArgv("xpu-ctk"), {
    args: [
      "cdi",
      "generate",
      "--driver-root",
      lab.driverRoot,
      "--output",
      `${lab.cdiDir}/xpu.yaml`,
    ],
    env: lab.env,
  });
  strictEqual(run.code, 0, run.stderr);
  strictEqual(Deno.statSync(`${lab.cdiDir}/xpu.yaml`).mode! & 0o777, 0o644);
}

await labTest(
  "cdi: an env request with a CDI name (auto mode)",
  [...NEEDS],
  { mode: "auto" },
  async (lab) => {
    await generateSpec(lab);
    const specPath = makeBundle(`${lab.dir}/bundle`, {
      args: ["sh", "-c", PROBE_ENV],
      env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"],
    });
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    match(run.stdout, /^\/dev\/xpu1: absent$/m);
    match(
      run.stdout,
      /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
    );
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    match(run.stdout, /^link: libxpu\.so\.1$/m);
    // A legacy hook that runs later finds nothing to do.
    match(run.stdout, /^visible: void$/m);
    ok(readLog(lab).some((e) => e.msg === "Auto-detected mode as 'cdi'"));
    const spec = JSON.parse(Deno.readTextFileSync(specPath));
    deepStrictEqual(
      spec.hooks.createContainer.map((h: { args: string[] }) => h.args[2]),
      ["create-symlinks", "update-ldcache"],
    );
  },
);

await labTest("cdi: an annotation request", [...NEEDS], { mode: "auto" }, async (lab) => {
  await generateSpec(lab);
  makeBundle(`${lab.dir}/bundle`, {
    args: ["sh", "-c", PROBE_ENV],
    edit: (spec) => {
      spec.annotations = {
        "cdi.k8s.io/xpu-test": "xpu.dev/xpu=XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001",
      };
    },
  });
  const run = await runInLab(lab, "bundle");
  strictEqual(run.createCode, 0, run.createStderr);
  match(run.stdout, /^\/dev\/xpu0: absent$/m);
  match(run.stdout, /^sh: (?:line \d+: )?can't create \/dev\/xpu1: No such device or address$/m);
  match(run.stdout, /^visible: void$/m);
});

await labTest("cdi: =all gives every device", [...NEEDS], { mode: "auto" }, async (lab) => {
  await generateSpec(lab);
  makeBundle(`${lab.dir}/bundle`, {
    args: ["sh", "-c", PROBE],
    env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=all"],
  });
  const run = await runInLab(lab, "bundle");
  strictEqual(run.createCode, 0, run.createStderr);
  match(run.stdout, /^\/dev\/xpu0: open ok$/m);
  match(run.stdout, /^sh: (?:line \d+: )?can't create \/dev\/xpu1: No such device or address$/m);
});

await labTest(
  "cdi: an unqualified index takes the default kind",
  [...NEEDS],
  { mode: "cdi" },
  async (lab) => {
    await generateSpec(lab);
    makeBundle(`${lab.dir}/bundle`, { args: ["sh", "-c", PROBE], env: ["XPU_VISIBLE_DEVICES=0"] });
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    match(run.stdout, /^\/dev\/xpu1: absent$/m);
    ok(readLog(lab).some((e) => e.msg === "Using requested mode 'cdi'"));
  },
);

await labTest(
  "cdi: an unresolvable device fails the start and leaves the spec untouched",
  [
    ...NEEDS,
  ],
  { mode: "auto" },
  async (lab) => {
    await generateSpec(lab);
    const specPath = makeBundle(`${lab.dir}/bundle`, {
      args: ["true"],
      env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0,xpu.dev/xpu=7"],
    });
    const before = Deno.readFileSync(specPath);
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 1);
    deepStrictEqual(Deno.readFileSync(specPath), before);
    const errors = readLog(lab).filter((e) => e.level === "error");
    strictEqual(errors.length, 1);
    match(errors[0].msg, /unresolvable CDI devices "xpu\.dev\/xpu=7": xpu\.dev\/xpu has "0", "1"/);
    match(errors[0].msg, new RegExp(`spec dirs searched: ${lab.cdiDir}`));
  },
);
