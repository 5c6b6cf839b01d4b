/**
 * The runtime shim in front of real runc (and crun): containers started the way engines start
 * them, checked from inside the container and on disk.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle } from "../helpers/container_lab.ts";
import { runTool, toolArgv, toolArgvAs } from "../helpers/toolkit_commands.ts";
import { ignoredSignals } from "../../src/core/io/process.ts";
import { VERSION } from "../../src/core/version.ts";
import {
  blockingParent,
  FAKE_RUNTIME,
  PARENT_IGNORED,
  parseHandoverReport,
} from "../helpers/exec_handover.ts";
import { labTest, PROBE, readLog, runInLab } from "../helpers/lab.ts";
import { useCrun } from "../helpers/lab.ts";

await labTest(
  "csv mode under runc: device usable, library mounted, symlinks recreated",
  [
    "root",
    "runc",
    "busybox",
  ],
  { mode: "csv" },
  async (lab) => {
    makeBundle(`${lab.dir}/bundle`, { args: ["sh", "-c", PROBE], env: ["XPU_VISIBLE_DEVICES=0"] });
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    match(run.stdout, /^\/dev\/xpu1: absent$/m);
    match(run.stdout, /\/dev\/xpuctl: No such device or address/);
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    match(run.stdout, /^link: libxpu\.so\.1$/m);
    ok(readLog(lab).some((e) => e.level === "info" && e.msg === "Using requested mode 'csv'"));
  },
);

await labTest(
  "csv mode under crun (private mount namespace wrapper)",
  [
    "root",
    "crun",
    "unshare",
    "busybox",
  ],
  { mode: "csv" },
  async (lab) => {
    // crun 1.8 refuses hybrid cgroup hosts; hide the unified mount in a private namespace.
    const wrapper = useCrun(lab);
    makeBundle(`${lab.dir}/bundle`, {
      args: ["sh", "-c", PROBE],
      env: ["XPU_VISIBLE_DEVICES=all"],
    });
    const run = await runInLab(lab, "bundle", { lowLevel: [wrapper] });
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    match(run.stdout, /\/dev\/xpuctl: No such device or address/);
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    match(run.stdout, /^link: libxpu\.so\.1$/m);
  },
);

await labTest(
  "a container that asks for no device runs with its config.json untouched",
  [
    "root",
    "runc",
    "busybox",
  ],
  { mode: "csv" },
  async (lab) => {
    const specPath = makeBundle(`${lab.dir}/bundle`, { args: ["sh", "-c", PROBE] });
    const before = Deno.readFileSync(specPath);
    const mtime = Deno.statSync(specPath).mtime?.getTime();
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: absent$/m);
    match(run.stdout, /No such file or directory/);
    deepStrictEqual(Deno.readFileSync(specPath), before);
    strictEqual(Deno.statSync(specPath).mtime?.getTime(), mtime);
  },
);

await labTest(
  "a malformed config.json: exit 1, one error line in the --log, file untouched",
  [
    "root",
    "runc",
    "busybox",
  ],
  { mode: "csv" },
  async (lab) => {
    const specPath = makeBundle(`${lab.dir}/bundle`, { args: ["true"] });
    const broken = Deno.readTextFileSync(specPath).replace(
      '"terminal": false,',
      '"terminal": false',
    );
    Deno.writeTextFileSync(specPath, broken);
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 1);
    strictEqual(run.stdout, "");
    const errors = readLog(lab).filter((e) => e.level === "error");
    strictEqual(errors.length, 1);
    match(
      errors[0].msg,
      new RegExp(`^Cannot parse OCI spec "${specPath}", line \\d+, column \\d+: `),
    );
    strictEqual(run.createStderr.trim().split("\n").length, 1);
    match(run.createStderr, /^xpu-container-runtime: Cannot parse OCI spec/);
    strictEqual(Deno.readTextFileSync(specPath), broken);
    const state = await runTool(["runc"], { args: ["--root", lab.stateRoot, "state", run.id] });
    ok(state.code !== 0, "runc must not have created the container");
  },
);

await labTest(
  "pass-through: state of a missing container has runc's exit code and empty stdout",
  [
    "root",
    "runc",
  ],
  { mode: "csv" },
  async (lab) => {
    const args = ["--root", lab.stateRoot, "state", "no-such-container"];
    const bare = await runTool(["runc"], { args });
    const shim = await runTool(toolArgv("xpu-container-runtime"), { args, env: lab.env });
    ok(bare.code !== 0);
    strictEqual(shim.code, bare.code);
    strictEqual(shim.stdout, "");
    const untimed = (text: string) => text.replace(/time="[^"]*"/g, "");
    strictEqual(untimed(shim.stderr), untimed(bare.stderr));
    // --version: the shim's own line, then runc's --version output (the same argv, exec'd),
    // also after global flags.
    for (const versionArgs of [["--version"], ["--root", lab.stateRoot, "--version"]]) {
      const version = await runTool(toolArgv("xpu-container-runtime"), {
        args: versionArgs,
        env: lab.env,
      });
      const runcVersion = await runTool(["runc"], { args: versionArgs });
      strictEqual(version.code, 0, version.stderr);
      ok(runcVersion.stdout.startsWith("runc version "), runcVersion.stdout);
      strictEqual(
        version.stdout,
        `xpu-container-runtime version ${VERSION}\n${runcVersion.stdout}`,
      );
      strictEqual(version.stderr, "");
    }
  },
);

/** Pass-through calls the hand-over test makes, and how many run at once. */
const HANDOVER_CALLS = 1000;
const HANDOVER_PARALLEL = 4;

await labTest(
  "the low-level runtime gets the shim's PID and fds and a clean signal state, every time",
  [
    "root",
  ],
  { mode: "csv" },
  async (lab) => {
    const fake = `${lab.dir}/tools/fake-runc`;
    Deno.writeTextFileSync(fake, FAKE_RUNTIME);
    Deno.chmodSync(fake, 0o755);
    Deno.writeTextFileSync(
      lab.configPath,
      Deno.readTextFileSync(lab.configPath).replace(
        'runtimes = ["runc"]',
        `runtimes = ["${fake}"]`,
      ),
    );
    // The parent blocks every signal, ignores some (glibc's 32 and 33 too) and holds an extra fd
    // (7): the runtime must see the fd, and default dispositions with an empty mask.
    const parent = blockingParent();
    const args = ["--root", "/x", "kill", "some-id", "KILL"];
    const direct = await runTool([...parent, fake], { args });
    strictEqual(direct.code, 7, direct.stderr);
    const reference = parseHandoverReport(direct.stdout);
    ok(reference, `the fake runtime's report: ${direct.stdout}`);
    strictEqual(reference.blocked, "fffffffffffbfeff", "the parent's mask reaches a direct child");
    deepStrictEqual(
      PARENT_IGNORED.filter((s) => !ignoredSignals(`SigIgn: ${reference.ignored}`).includes(s)),
      [],
      "the parent's ignored signals reach a direct child",
    );
    ok(reference.fds.includes(7), "the fd the parent opened reaches a direct child");

    // Each kind of failure, with the call numbers and what was seen.
    const failures = new Map<string, string[]>();
    const fail = (kind: string, call: number, seen: string) => {
      failures.set(kind, [...(failures.get(kind) ?? []), `#${call}: ${seen}`]);
    };
    const shim = [...parent, ...toolArgv("xpu-container-runtime")];
    let next = 0;
    const worker = async () => {
      for (let call = next++; call < HANDOVER_CALLS; call = next++) {
        const run = await runTool(shim, { args, env: lab.env });
        const report = parseHandoverReport(run.stdout);
        if (run.code !== 7 || report === undefined) {
          fail(
            "exit code 7 and a report on stdout",
            call,
            `${run.code} ${run.stdout}${run.stderr}`,
          );
          continue;
        }
        if (run.stderr !== "") fail("empty stderr", call, run.stderr);
        if (report.pid !== run.pid) fail("the shim's PID", call, `${report.pid} != ${run.pid}`);
        if (report.args !== args.join(" ")) fail("the shim's argv", call, report.args);
        if (!/^0{16}$/.test(report.blocked)) fail("SigBlk 0", call, report.blocked);
        if (!/^0{16}$/.test(report.ignored)) fail("SigIgn 0", call, report.ignored);
        // The same fds as a direct child: the parent's (7 included), none of the shim's.
        if (report.fds.join(" ") !== reference.fds.join(" ")) {
          fail(`fds ${reference.fds.join(" ")}`, call, report.fds.join(" "));
        }
      }
    };
    await Promise.all(Array.from({ length: HANDOVER_PARALLEL }, worker));
    const summary = [...failures].map(([kind, seen]) =>
      `${kind}: wrong in ${seen.length} of ${HANDOVER_CALLS} calls (${seen.slice(0, 5).join("; ")})`
    );
    deepStrictEqual(summary, [], "what the runtime was handed, over every call");
  },
);

await labTest(
  "legacy mode: prestart hook added once, cgroup rules for the requested device only",
  [
    "root",
    "runc",
    "nsenter",
    "busybox",
  ],
  { mode: "legacy" },
  async (lab) => {
    // A stand-in for the legacy hook that creates every simulated node in the container's /dev
    // and adds no cgroup rule, so the rules the shim adds alone decide which ones open.
    const hook = lab.tools.hook;
    Deno.writeTextFileSync(
      hook,
      [
        "#!/bin/sh",
        "state=$(cat)",
        `pid=$(echo "$state" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')`,
        `bundle=$(echo "$state" | sed -n 's/.*"bundle":"\\([^"]*\\)".*/\\1/p')`,
        `exec nsenter -t "$pid" -m sh -c "mknod -m 666 $bundle/rootfs/dev/xpu0 c 1 11 && ` +
        `mknod -m 666 $bundle/rootfs/dev/xpu1 c 240 0 && mknod -m 666 $bundle/rootfs/dev/xpuctl c 240 1"`,
      ].join("\n") + "\n",
    );
    const specPath = makeBundle(`${lab.dir}/bundle`, {
      args: ["sh", "-c", PROBE],
      env: ["XPU_VISIBLE_DEVICES=XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001"],
    });
    const run = await runInLab(lab, "bundle");
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /\/dev\/xpu0: Operation not permitted/);
    match(run.stdout, /\/dev\/xpu1: No such device or address/);
    match(run.stdout, /\/dev\/xpuctl: No such device or address/);
    const spec = JSON.parse(Deno.readTextFileSync(specPath));
    // An explicit env: the standard PATH and the config file the shim was given, nothing of the
    // container's.
    deepStrictEqual(spec.hooks.prestart, [
      {
        path: hook,
        args: ["xpu-container-runtime-hook", "prestart"],
        env: [
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          `XPU_CTK_CONFIG_FILE_PATH=${lab.configPath}`,
        ],
      },
    ]);
    const rules = spec.linux.resources.devices.filter((r: { major?: number }) => r.major === 240);
    deepStrictEqual(rules, [
      { allow: true, type: "c", major: 240, minor: 0, access: "rwm" },
      { allow: true, type: "c", major: 240, minor: 1, access: "rwm" },
    ]);
    ok(readLog(lab).some((e) => e.msg === "Using requested mode 'legacy'"));
  },
);

await labTest(
  "a mode-pinned name wins over the config; unknown devices fail before any write",
  [
    "root",
    "runc",
    "busybox",
  ],
  { mode: "csv" },
  async (lab) => {
    const legacy = toolArgvAs("xpu-container-runtime", "xpu-container-runtime.legacy", lab.dir);
    // The real hook would refuse (the config says csv); this test is about the shim's choice.
    Deno.writeTextFileSync(lab.tools.hook, "#!/bin/sh\nexit 0\n");
    const specPath = makeBundle(`${lab.dir}/bundle`, {
      args: ["true"],
      env: ["XPU_VISIBLE_DEVICES=0"],
    });
    const created = await runInLab(lab, "bundle", { runtime: legacy, bundleFlag: "-b" });
    strictEqual(created.createCode, 0, created.createStderr);
    const spec = JSON.parse(Deno.readTextFileSync(specPath));
    strictEqual(spec.hooks.prestart.length, 1);
    strictEqual(spec.hooks.createContainer, undefined);
    ok(readLog(lab).some((e) => e.msg === "Using mode 'legacy' pinned by the executable name"));

    const unknown = makeBundle(`${lab.dir}/bundle2`, {
      args: ["true"],
      env: ["XPU_VISIBLE_DEVICES=7"],
    });
    const before = Deno.readTextFileSync(unknown);
    const failed = await runInLab(lab, "bundle2", { runtime: legacy });
    strictEqual(failed.createCode, 1);
    match(
      failed.createStderr,
      /Cannot give the container XPU "7": no such device .* \(devices: 0 \(XPU-/,
    );
    strictEqual(Deno.readTextFileSync(unknown), before);
  },
);
