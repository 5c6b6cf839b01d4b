/**
 * Legacy mode end to end: the shim adds the prestart hook, the hook decides, xpu-container-cli
 * puts the devices into the container — with real runc, checked from inside the container.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle, SIMULATED_LIB_DIR } from "../helpers/container_lab.ts";
import { runTool, toolArgv, toolArgvAs } from "../helpers/toolkit_commands.ts";
import { labTest, PROBE, readLog, runInLab } from "../helpers/lab.ts";

const NEEDS = ["root", "runc", "nsenter", "busybox"] as const;
const UUID1 = "XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001";
const REFUSAL = "invoking the XPU Container Runtime Hook directly (e.g. specifying the docker " +
  "--gpus flag) is not supported. Please use the XPU Container Runtime instead.";

const PROBE_MORE = `${PROBE}
xpu-smi 2>&1
grep -c ' ${SIMULATED_LIB_DIR}/libxpu.so.1.0.0 ' /proc/self/mountinfo
echo "mount options: $(grep ' ${SIMULATED_LIB_DIR}/libxpu.so.1.0.0 ' /proc/self/mountinfo | cut -d' ' -f6)"`;

await labTest(
  "legacy chain: XPU_VISIBLE_DEVICES=0 gets xpu0, the control node and the driver",
  [
    ...NEEDS,
  ],
  { mode: "legacy" },
  async (lab) => {
    makeBundle(`${lab.dir}/bundle`, {
      args: ["sh", "-c", PROBE_MORE],
      env: ["XPU_VISIBLE_DEVICES=0"],
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
    match(run.stdout, /^xpu-smi \(simulated\): 2 devices$/m);
    match(run.stdout, /^mount options: ro,nosuid,nodev/m);
    ok(readLog(lab).some((e) => e.msg === "Using requested mode 'legacy'"));
  },
);

await labTest(
  "legacy chain: a UUID request gets only that device, allowed by the cgroup",
  [
    ...NEEDS,
  ],
  { mode: "auto" },
  async (lab) => {
    makeBundle(`${lab.dir}/bundle`, {
      args: ["sh", "-c", PROBE],
      env: [`XPU_VISIBLE_DEVICES=${UUID1}`, "XPU_DRIVER_CAPABILITIES=compute"],
    });
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: absent$/m);
    // ENXIO, not EPERM: the node is allowed and there is no driver behind 240:0.
    match(run.stdout, /^sh: (?:line \d+: )?can't create \/dev\/xpu1: No such device or address$/m);
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    ok(readLog(lab).some((e) => e.msg === "Auto-detected mode as 'legacy'"));
  },
);

await labTest("legacy chain: a container that asks for nothing runs untouched", [...NEEDS], {
  mode: "legacy",
}, async (lab) => {
  const specPath = makeBundle(`${lab.dir}/bundle`, { args: ["sh", "-c", PROBE] });
  const before = Deno.readFileSync(specPath);
  const run = await runInLab(lab, "bundle");
  strictEqual(run.createCode, 0, run.createStderr);
  match(run.stdout, /^\/dev\/xpu0: absent$/m);
  match(run.stdout, /^\/dev\/xpuctl: absent$/m);
  deepStrictEqual(Deno.readFileSync(specPath), before);
});

await labTest(
  "legacy chain: an unmet requirement stops the container and names itself",
  [
    ...NEEDS,
  ],
  { mode: "legacy" },
  async (lab) => {
    makeBundle(`${lab.dir}/bundle`, {
      args: ["true"],
      env: ["XPU_VISIBLE_DEVICES=all", "XPU_REQUIRE_DRIVER=driver>=2.0 arch=riscv64"],
    });
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 1);
    match(
      run.createStderr,
      /requirement "driver>=2\.0 arch=riscv64" is not met: this host has driver 1\.0\.0/,
    );

    makeBundle(`${lab.dir}/bundle2`, {
      args: ["true"],
      env: [
        "XPU_VISIBLE_DEVICES=all",
        "XPU_REQUIRE_DRIVER=driver>=2.0",
        "XPU_DISABLE_REQUIRE=true",
      ],
    });
    const disabled = await runInLab(lab, "bundle2");
    strictEqual(disabled.createCode, 0, disabled.createStderr);
  },
);

await labTest(
  "the hook run directly outside legacy mode refuses with the two SPEC lines",
  [
    "root",
  ],
  { mode: "csv" },
  async (lab) => {
    makeBundle(`${lab.dir}/bundle`, { args: ["true"], env: ["XPU_VISIBLE_DEVICES=0"] });
    const state = JSON.stringify({
      ociVersion: "1.0.2",
      id: "x",
      pid: 1,
      bundle: `${lab.dir}/bundle`,
    });
    const explicit = await runTool(toolArgv("xpu-container-runtime-hook"), {
      args: ["prestart"],
      env: lab.env,
      stdin: state,
    });
    strictEqual(explicit.code, 1);
    strictEqual(explicit.stdout, "");
    strictEqual(explicit.stderr, `Using requested mode 'csv'\n${REFUSAL}\n`);

    // The same program under its other name, with auto mode on a Tegra-like driver root.
    Deno.mkdirSync(`${lab.driverRoot}/etc`, { recursive: true });
    Deno.mkdirSync(`${lab.driverRoot}/etc`, { recursive: true });
    Deno.writeTextFileSync(`${lab.driverRoot}/etc/nv_tegra_release`, "# R35 (release)\n");
    Deno.writeTextFileSync(
      lab.configPath,
      Deno.readTextFileSync(lab.configPath).replace('mode = "csv"', 'mode = "auto"'),
    );
    const toolkit = toolArgvAs("xpu-container-runtime-hook", "xpu-container-toolkit", lab.dir);
    const auto = await runTool(toolkit, { args: ["prestart"], env: lab.env, stdin: state });
    strictEqual(auto.code, 1);
    strictEqual(auto.stderr, `Auto-detected mode as 'csv'\n${REFUSAL}\n`);
  },
);
