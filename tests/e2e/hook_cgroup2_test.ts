/**
 * Hook mode on a cgroup v2 host, with real runc. There a container's device access is the eBPF
 * program runc builds from the spec's `linux.resources.devices`; the prestart hook (run by runc
 * with no shim in front, as podman's hooks.d and cri-o do) cannot add to it. So the hook chain
 * either finds every node it would create allowed by the spec, or refuses the start with one line
 * before touching the container.
 *
 * This host is hybrid (a v1 devices controller); runc gets a cgroup v2 host from a private mount
 * namespace where the v1 tree is replaced by a cgroup2 mount. The first test proves that runc
 * really filters devices with eBPF there (EPERM without a rule, ENXIO with one), so the others
 * cannot pass on a v1 host by accident.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle, runContainer } from "../helpers/container_lab.ts";
import {
  type Lab,
  labTest,
  nextId,
  PROBE,
  readLog,
  runInLab,
  writeCgroup2Wrapper,
} from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman } from "../helpers/podman.ts";

const NEEDS = ["root", "runc", "unshare", "nsenter", "busybox"] as const;

const writeCgroup2Runc = (lab: Lab) => writeCgroup2Wrapper(lab, "runc");

/** Makes the wrapper the lab's low-level runtime (for the shim). */
function useCgroup2Runc(lab: Lab): string {
  const wrapper = writeCgroup2Runc(lab);
  Deno.writeTextFileSync(
    lab.configPath,
    Deno.readTextFileSync(lab.configPath).replace(
      'runtimes = ["runc"]',
      `runtimes = [${JSON.stringify(wrapper)}]`,
    ),
  );
  return wrapper;
}

type Spec = Record<string, unknown> & {
  linux: { resources: { devices: unknown[] }; devices?: unknown[] };
  mounts: { destination: string }[];
};

/**
 * A bundle for hook mode: the legacy hook in the spec's prestart hooks, as podman's hooks.d or
 * cri-o put it there (no shim, so no device rules of ours).
 */
function makeHookBundle(
  lab: Lab,
  name: string,
  options: { env?: string[]; args?: string[]; edit?: (spec: Spec) => void },
): string {
  return makeBundle(`${lab.dir}/${name}`, {
    args: options.args ?? ["sh", "-c", PROBE],
    env: ["XPU_VISIBLE_DEVICES=0", ...(options.env ?? [])],
    edit: (raw) => {
      const spec = raw as Spec;
      spec.hooks = {
        prestart: [{
          path: lab.tools.hook,
          args: ["xpu-container-runtime-hook", "prestart"],
          env: [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            `XPU_CTK_CONFIG_FILE_PATH=${lab.configPath}`,
          ],
        }],
      };
      options.edit?.(spec);
    },
  });
}

/** Runs a bundle with `runtime` for every call, as an engine with hooks.d does (no shim). */
async function runHookMode(lab: Lab, name: string, runtime: string[]) {
  return await runContainer({
    runtime,
    lowLevel: runtime,
    stateRoot: lab.stateRoot,
    bundle: `${lab.dir}/${name}`,
    id: nextId(name),
    env: lab.env,
    logFile: lab.logFile,
  });
}

/** Every path under `dir` (relative, sorted), not following links. */
function tree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(`${dir}${prefix}`)) {
    const path = `${prefix}/${entry.name}`;
    out.push(path);
    if (entry.isDirectory) out.push(...tree(dir, path));
  }
  return out.sort();
}

/** What the hook wrote on stderr, out of runc's "error running hook" log line. */
function hookStderr(lab: Lab): string | undefined {
  // runc 1.1: "error running hook #0: …"; runc 1.3: "error running prestart hook #0: …".
  const entry = readLog(lab).find((e) => /error running (\w+ )?hook/.test(e.msg));
  const at = entry?.msg.indexOf("stderr: ") ?? -1;
  return at < 0 ? undefined : entry!.msg.slice(at + "stderr: ".length);
}

await labTest(
  "cgroup v2 lab: runc filters devices with its eBPF program (EPERM without a rule, ENXIO with)",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const runc = writeCgroup2Runc(lab);
    const probe = "grep '^0::' /proc/self/cgroup; (exec 3</dev/xpu1) 2>&1";
    const node = { path: "/dev/xpu1", type: "c", major: 240, minor: 0, fileMode: 0o666 };
    for (
      const [name, rules, expected] of [
        ["no-rule", [], /^sh: (?:line \d+: )?can't open \/dev\/xpu1: Operation not permitted$/m],
        [
          "rule",
          [{ allow: true, type: "c", major: 240, minor: 0, access: "rwm" }],
          /^sh: (?:line \d+: )?can't open \/dev\/xpu1: No such device or address$/m,
        ],
      ] as const
    ) {
      makeBundle(`${lab.dir}/${name}`, {
        args: ["sh", "-c", probe],
        edit: (raw) => {
          const spec = raw as Spec;
          spec.linux.devices = [node];
          spec.linux.resources.devices.push(...rules);
        },
      });
      const run = await runHookMode(lab, name, [runc]);
      strictEqual(run.createCode, 0, run.createStderr);
      match(run.stdout, expected);
      match(run.stdout, /^0::\/xpu-/m);
    }
  },
);

await labTest(
  "hook mode on cgroup v2: a device the spec does not allow stops the start with one line, " +
    "before the container is touched",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const runc = writeCgroup2Runc(lab);
    // No tmpfs on /dev: whatever the cli created would stay visible in the rootfs on the host.
    const noDevTmpfs = (spec: Spec) => {
      spec.mounts = spec.mounts.filter((m) => m.destination !== "/dev");
    };
    makeHookBundle(lab, "refused", { edit: noDevTmpfs });
    const before = tree(`${lab.dir}/refused/rootfs`);
    const run = await runHookMode(lab, "refused", [runc]);
    strictEqual(run.createCode, 1, "runc create fails");
    strictEqual(run.stdout, "");
    const spec = `${lab.dir}/refused/config.json`;
    strictEqual(
      hookStderr(lab),
      `xpu-container-cli: Cannot give the container "/dev/xpu0" (c 1:11) and "/dev/xpuctl" ` +
        `(c 240:1): "linux.resources.devices" in "${spec}" does not allow them, and on a cgroup ` +
        `v2 host a prestart hook cannot grant device access: run the container through ` +
        `xpu-container-runtime (the shim adds the rules) or use CDI\n`,
    );
    const after = tree(`${lab.dir}/refused/rootfs`);
    // runc made its own /dev entries; the cli made nothing: no node, no driver file mount point.
    deepStrictEqual(after.filter((p) => !p.startsWith("/dev/")), before);
    deepStrictEqual(after.filter((p) => p.startsWith("/dev/xpu")), []);

    // Precise, not blanket: a spec that allows /dev/xpu0 (as `--device` would) but not the
    // control node names only the control node.
    Deno.removeSync(lab.logFile);
    makeHookBundle(lab, "partial", {
      edit: (spec) => {
        noDevTmpfs(spec);
        spec.linux.resources.devices.push({
          allow: true,
          type: "c",
          major: 1,
          minor: 11,
          access: "rwm",
        });
      },
    });
    const partial = await runHookMode(lab, "partial", [runc]);
    strictEqual(partial.createCode, 1);
    match(
      hookStderr(lab) ?? "",
      /^xpu-container-cli: Cannot give the container "\/dev\/xpuctl" \(c 240:1\): .* does not allow it, /,
    );
    deepStrictEqual(tree(`${lab.dir}/partial/rootfs`).filter((p) => p.startsWith("/dev/xpu")), []);
  },
);

await labTest(
  "legacy mode through the shim on cgroup v2: the shim's spec rules let the container open the devices",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const runc = useCgroup2Runc(lab);
    makeBundle(`${lab.dir}/bundle`, {
      args: ["sh", "-c", `${PROBE}\ngrep '^0::' /proc/self/cgroup`],
      env: ["XPU_VISIBLE_DEVICES=0"],
    });
    const run = await runInLab(lab, "bundle", { lowLevel: [runc] });
    strictEqual(run.createCode, 0, run.createStderr);
    // 1:11 (kmsg) opened for write: allowed, with a driver behind it.
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    match(run.stdout, /^\/dev\/xpu1: absent$/m);
    // ENXIO, not EPERM: allowed by the shim's rule, no driver behind 240:1.
    match(
      run.stdout,
      /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
    );
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    match(run.stdout, /^0::\/xpu-bundle-/m);
    ok(readLog(lab).some((e) => e.msg === "Using requested mode 'legacy'"));
  },
);

await labTest(
  "hook mode on cgroup v2: a spec that already allows the devices (--device rules, privileged) starts",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const runc = writeCgroup2Runc(lab);
    const cases = [
      {
        name: "device-rules",
        rules: [
          { allow: true, type: "c", major: 1, minor: 11, access: "rwm" },
          { allow: true, type: "c", major: 240, access: "rw" },
        ],
      },
      { name: "allow-all", rules: [{ allow: true, access: "rwm" }] },
    ];
    for (const c of cases) {
      makeHookBundle(lab, c.name, {
        env: ["XPU_VISIBLE_DEVICES=1"],
        edit: (spec) => void spec.linux.resources.devices.push(...c.rules),
      });
      const run = await runHookMode(lab, c.name, [runc]);
      strictEqual(run.createCode, 0, `${c.name}: ${run.createStderr}`);
      match(run.stdout, /^\/dev\/xpu0: absent$/m, c.name);
      match(
        run.stdout,
        /^sh: (?:line \d+: )?can't create \/dev\/xpu1: No such device or address$/m,
        c.name,
      );
      match(
        run.stdout,
        /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
        c.name,
      );
      match(run.stdout, /^fake libxpu 1\.0\.0$/m, c.name);
    }
  },
);

await labTest(
  "hook mode on this hybrid host (v1 devices controller): the cli still allows the nodes itself",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    makeHookBundle(lab, "bundle", {
      args: ["sh", "-c", `${PROBE}\ngrep ':devices:' /proc/self/cgroup`],
    });
    const specPath = `${lab.dir}/bundle/config.json`;
    const before = Deno.readTextFileSync(specPath);
    const run = await runHookMode(lab, "bundle", ["runc"]);
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    // No spec rule allows 240:1: ENXIO comes from the devices.allow line the cli wrote.
    match(
      run.stdout,
      /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
    );
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    match(run.stdout, /^\d+:devices:\/xpu-bundle-/m);
    strictEqual(Deno.readTextFileSync(specPath), before, "hook mode leaves the spec alone");
  },
);

/**
 * A private podman whose every command runs on the cgroup v2 view: the shared helper, run through
 * the v2 wrapper, with podman's default pids limit off (it needs a pids controller this view's
 * hierarchy lacks).
 */
async function withCgroup2Podman(
  lab: Lab,
  fn: (
    podman: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
    hooksDir: string,
  ) => Promise<void>,
) {
  await withPodman(lab, async (podman) => {
    const info = await podman(["info", "--format", "{{.Host.CgroupsVersion}}"]);
    strictEqual(info.stdout.trim(), "v2", `podman sees cgroup v2: ${info.stderr}`);
    await fn(podman, `${lab.dir}/podman/hooks.d`);
  }, { program: writeCgroup2Wrapper(lab, "podman"), containers: ["pids_limit = 0"] });
}

await labTest(
  "podman hooks.d on cgroup v2: refused with the one line unless --device-cgroup-rule or " +
    "--privileged allows the devices",
  [...NEEDS, "podman"],
  { mode: "auto" },
  async (lab) => {
    await withCgroup2Podman(lab, async (podman, hooksDir) => {
      Deno.writeTextFileSync(
        `${hooksDir}/oci-xpu-hook.json`,
        JSON.stringify({
          version: "1.0.0",
          hook: {
            path: lab.tools.hook,
            args: ["xpu-container-runtime-hook", "prestart"],
            env: [
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              `XPU_CTK_CONFIG_FILE_PATH=${lab.configPath}`,
            ],
          },
          when: { always: true },
          stages: ["prestart"],
        }),
      );
      const run = (flags: string[]) =>
        podman([
          "run",
          "--rm",
          "--cgroup-parent",
          CGROUP_PARENT,
          "-e",
          "XPU_VISIBLE_DEVICES=0",
          ...flags,
          "busybox:min",
          "sh",
          "-c",
          `${PROBE}\necho "cgroup2 mounts: $(grep ' /sys/fs/cgroup ' /proc/self/mountinfo | ` +
          `grep -c ' - cgroup2 ')"`,
        ]);

      const refused = await run([]);
      ok(refused.code !== 0, `podman run fails: ${refused.stdout}`);
      match(
        refused.stderr,
        /xpu-container-cli: Cannot give the container "\/dev\/xpu0" \(c 1:11\) and "\/dev\/xpuctl" \(c 240:1\): "linux\.resources\.devices" in "[^"]+\/config\.json" does not allow them, and on a cgroup v2 host a prestart hook cannot grant device access: run the container through xpu-container-runtime \(the shim adds the rules\) or use CDI\n/,
      );

      const ruled = await run([
        "--device-cgroup-rule",
        "c 1:11 rwm",
        "--device-cgroup-rule",
        "c 240:* rwm",
      ]);
      strictEqual(ruled.code, 0, ruled.stderr);
      match(ruled.stdout, /^\/dev\/xpu0: open ok$/m);
      match(
        ruled.stdout,
        /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
      );
      match(ruled.stdout, /^fake libxpu 1\.0\.0$/m);
      // The container itself sees cgroup v2: podman ran it on the v2 view.
      match(ruled.stdout, /^cgroup2 mounts: 1$/m);

      const privileged = await run(["--privileged"]);
      strictEqual(privileged.code, 0, privileged.stderr);
      match(privileged.stdout, /^\/dev\/xpu0: open ok$/m);
      match(
        privileged.stdout,
        /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m,
      );
    });
  },
);
