/**
 * The runtime shim in front of real runc (and crun): containers started the way engines start
 * them, checked from inside the container and on disk.
 */

import { deepStrictEqual, doesNotMatch, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle } from "../../scripts/container_lab.ts";
import { runTool, toolArgv, toolArgvAs } from "../../scripts/toolkit_commands.ts";
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
    const version = await runTool(toolArgv("xpu-container-runtime"), {
      args: ["--version"],
      env: lab.env,
    });
    strictEqual(version.stdout, (await runTool(["runc"], { args: ["--version"] })).stdout);
  },
);

await labTest(
  "the low-level runtime runs with the shim's PID, its fds and a clean signal state",
  [
    "root",
  ],
  { mode: "csv" },
  async (lab) => {
    const report = `${lab.dir}/report`;
    const fake = `${lab.dir}/tools/fake-runc`;
    Deno.writeTextFileSync(
      fake,
      [
        "#!/bin/sh",
        `{ echo "pid $$"; grep -E '^Sig(Ign|Blk)' /proc/$$/status; echo "args $*";`,
        `  ls /proc/$$/fd | sort -n | tr '\\n' ' '; echo; } > ${report}`,
        `echo "stdout of the runtime"`,
        "exit 7",
      ].join("\n") + "\n",
    );
    Deno.chmodSync(fake, 0o755);
    Deno.writeTextFileSync(
      lab.configPath,
      Deno.readTextFileSync(lab.configPath).replace(
        'runtimes = ["runc"]',
        `runtimes = ["${fake}"]`,
      ),
    );
    // The parent ignores signals and holds an extra fd (7): the runtime must see the fd, and
    // default signal dispositions with an empty mask.
    const parent = ["sh", "-c", `trap "" INT QUIT USR1 PIPE; exec 7</dev/null; exec "$@"`, "sh"];
    const args = ["--root", "/x", "kill", "some-id", "KILL"];
    const direct = await runTool([...parent, fake], { args });
    const directReport = Deno.readTextFileSync(report);
    const run = await runTool([...parent, ...toolArgv("xpu-container-runtime")], {
      args,
      env: lab.env,
    });
    strictEqual(direct.code, 7);
    strictEqual(run.code, 7);
    strictEqual(run.stdout, "stdout of the runtime\n");
    const text = Deno.readTextFileSync(report);
    match(text, new RegExp(`^pid ${run.pid}$`, "m"));
    doesNotMatch(
      directReport,
      /^SigIgn:\s+0+$/m,
      "the parent's ignored signals reach a direct child",
    );
    match(text, /^SigIgn:\s+0+$/m);
    match(text, /^SigBlk:\s+0+$/m);
    match(text, /^args --root \/x kill some-id KILL$/m);
    const fds = (report: string) => report.trim().split("\n").pop()!.trim().split(" ");
    ok(fds(text).includes("7"), "the fd the parent opened reaches the runtime");
    // Every fd the runtime sees is one the parent passed (the direct run's set can hold an
    // extra fd inherited from the test process by chance; the shim must add none of its own).
    const leaked = fds(text).filter((fd) => !fds(directReport).includes(fd));
    deepStrictEqual(leaked, [], "no fd of the shim leaks into the runtime");
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
