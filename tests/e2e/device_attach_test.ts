/**
 * `xpu-ctk device attach|detach|list` on running busybox containers, with real runc: on this
 * host's cgroup v1 devices controller and on cgroup v2 (runc in a private mount namespace whose
 * /sys/fs/cgroup is a cgroup2 mount, where access is runc's eBPF program). A container that
 * cannot open `/dev/xpu1` (240:0, no driver: ENXIO once allowed, EPERM while denied) can after
 * attach, without a restart and with its pid unchanged, and cannot after detach; an unknown
 * device changes nothing and names the devices there are; an image whose /dev links out gets
 * nothing on the host; two containers share one device.
 */

import { deepStrictEqual, match, notStrictEqual, strictEqual } from "node:assert/strict";
import { makeBundle, makeBusyboxRootfs, sh } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { withDockerd } from "../helpers/dockerd.ts";
import { CGROUP_PARENT, withPodman } from "../helpers/podman.ts";
import { generateCdiSpec, type Lab, labTest, nextId, writeCgroup2Wrapper } from "../helpers/lab.ts";
import { readLiveCgroup } from "../../src/core/device/live_cgroup.ts";
import {
  attachDeviceProgram,
  detachDeviceProgram,
  loadDeviceProgram,
  openCgroup,
  programById,
  queryDevicePrograms,
} from "../../src/core/io/bpf.ts";
import {
  allowAllProgram,
  encodeProgram,
  withDecisions,
} from "../../src/core/device/device_program.ts";
import { closeFd } from "../../src/core/io/fs.ts";
import {
  enterHeldMountNamespace,
  holdMountNamespace,
  isOwnMountNamespace,
} from "../../src/core/io/mount_namespace.ts";

const NEEDS = ["root", "runc", "busybox", "unshare"] as const;
const LIB = "/usr/lib/x86_64-linux-gnu";

const OPEN_XPU1 = "if [ -e /dev/xpu1 ]; then (exec 3>/dev/xpu1) 2>&1 && echo 'xpu1: open ok'; " +
  "else echo 'xpu1: absent'; fi";
const ENXIO =
  /^(?:\/bin\/)?sh: (?:line \d+: )?can't create \/dev\/xpu1: No such device or address$/m;
const EPERM = /^(?:\/bin\/)?sh: (?:line \d+: )?can't create \/dev\/xpu1: Operation not permitted$/m;

interface Running {
  id: string;
  runc: string[];
  pid: number;
  exec(script: string): Promise<string>;
}

/** Starts `sleep` in a busybox container with runc (v1, or v2 through the wrapper). */
async function startContainer(
  lab: Lab,
  version: 1 | 2,
  name: string,
  edit?: (spec: Record<string, unknown>) => void,
): Promise<Running> {
  const runc = version === 2 ? [writeCgroup2Wrapper(lab, "runc")] : ["runc"];
  const bundle = `${lab.dir}/${name}`;
  makeBundle(bundle, { args: ["sleep", "600"], edit });
  const id = nextId(name);
  const global = ["--root", lab.stateRoot];
  // Detached: the container keeps its stdio, so none of it may be a pipe this test waits on.
  const run = await new Deno.Command(runc[0], {
    args: [...global, "run", "-d", "--bundle", bundle, id],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  strictEqual(run.code, 0, `runc run -d ${id} failed`);
  const state = JSON.parse(await sh(runc[0], [...global, "state", id]));
  return {
    id,
    runc,
    pid: state.pid,
    exec: async (script) => {
      const out = await new Deno.Command(runc[0], {
        args: [...global, "exec", id, "sh", "-c", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout) + withoutRuntimeWarnings(out.stderr);
    },
  };
}

/** The container's stderr without the runtime's own warnings, which carry a timestamp (runc 1.3
 * warns on every exec that it cannot raise an ambient capability). */
function withoutRuntimeWarnings(stderr: Uint8Array): string {
  return new TextDecoder().decode(stderr).split("\n")
    .filter((line) => !/^time="[^"]*" level=warning /.test(line)).join("\n");
}

async function stopContainer(lab: Lab, c: Running) {
  await new Deno.Command(c.runc[0], {
    args: ["--root", lab.stateRoot, "delete", "--force", c.id],
    stdout: "null",
    stderr: "null",
  }).output();
}

async function ctk(lab: Lab, args: string[]) {
  return await runTool(toolArgv("xpu-ctk"), { args: ["device", ...args], env: lab.env });
}

async function pidOf(lab: Lab, c: Running): Promise<number> {
  return JSON.parse(await sh(c.runc[0], ["--root", lab.stateRoot, "state", c.id])).pid;
}

for (const version of [1, 2] as const) {
  await labTest(
    `device attach/detach, cgroup v${version}: /dev/xpu1 opens after attach, not after detach`,
    [...NEEDS],
    { mode: "legacy" },
    async (lab) => {
      const c = await startContainer(lab, version, "live");
      try {
        const before = await c.exec(OPEN_XPU1);
        match(before, /^xpu1: absent$/m);
        const target = ["--runtime-root", lab.stateRoot, "--runtime", c.runc[0], c.id];

        const attached = await ctk(lab, ["attach", ...target, "1"]);
        strictEqual(attached.code, 0, attached.stderr);
        match(
          attached.stdout,
          /^XPU 1 \(XPU-[^)]+\): attached to container .* \(\/dev\/xpu1 c 240:0;/m,
        );
        match(attached.stdout, /^control nodes: attached \(\/dev\/xpuctl c 240:1\)$/m);
        match(
          attached.stdout,
          /^driver files: \d+ mounted read-only, \d+ link\(s\) made \(.*\/libxpu\.so\.1\.0\.0/m,
        );
        // The driver library the container lacked, read-only, and its links.
        match(
          await c.exec(`cat ${LIB}/libxpu.so; readlink ${LIB}/libxpu.so`),
          /^fake libxpu 1\.0\.0\nlibxpu\.so\.1$/m,
        );
        match(await c.exec(`echo x > ${LIB}/libxpu.so.1.0.0`), /Read-only file system/);
        // ENXIO: the node is there and allowed; no driver is behind 240:0.
        match(await c.exec(OPEN_XPU1), ENXIO);
        strictEqual(await pidOf(lab, c), c.pid, "the container was not restarted");

        const again = await ctk(lab, ["attach", ...target, "1"]);
        strictEqual(again.code, 0, again.stderr);
        match(again.stdout, /^XPU 1 \(XPU-[^)]+\): already attached to /m);
        strictEqual(/driver files/.test(again.stdout), false, "nothing more to mount");

        const listed = await ctk(lab, ["list", ...target]);
        strictEqual(listed.code, 0, listed.stderr);
        match(
          listed.stdout,
          /^XPU 1 \([^)]+\): attached \(\/dev\/xpu1 c 240:0 present, allowed\)$/m,
        );
        match(listed.stdout, /^XPU 0 \([^)]+\): not attached \(\/dev\/xpu0 c 1:11 absent, /m);

        const detached = await ctk(lab, ["detach", ...target, "1"]);
        strictEqual(detached.code, 0, detached.stderr);
        match(detached.stdout, /^XPU 1 \(XPU-[^)]+\): detached from /m);
        match(detached.stdout, /^control nodes: detached /m);
        match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
        strictEqual(/xpu/.test(await c.exec("ls /dev")), false, "no XPU node is left");
        // The permission is gone too: a node made behind the toolkit's back is refused.
        await sh("mknod", [`/proc/${c.pid}/root/dev/xpu1`, "c", "240", "0"]);
        match(await c.exec(OPEN_XPU1), EPERM);
        strictEqual(await pidOf(lab, c), c.pid);

        // Detach again takes the planted node away; a third time finds nothing to do.
        const twice = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
        strictEqual(twice.code, 0, twice.stderr);
        match(twice.stdout, /^XPU 1 \([^)]+\): detached from pid /m);
        match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
        const thrice = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
        strictEqual(thrice.code, 0, thrice.stderr);
        match(thrice.stdout, /^XPU 1 \([^)]+\): not attached to pid /m);
      } finally {
        await stopContainer(lab, c);
      }
    },
  );
}

await labTest(
  "the container's mount namespace is held from the start: its process exiting changes nothing",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 1, "held");
    let held: number | undefined;
    try {
      held = holdMountNamespace(c.pid);
      strictEqual(isOwnMountNamespace(held), false);
      const marker = `/tmp/held-${c.id}`;
      await c.exec(`touch ${marker}`);
      await stopContainer(lab, c);
      // The pid is gone (and may belong to anyone now): the held namespace is the container's.
      strictEqual(isOwnMountNamespace(held), false);
      const leave = enterHeldMountNamespace(held);
      let seen: boolean;
      try {
        seen = Deno.statSync(marker).isFile;
      } finally {
        leave();
      }
      strictEqual(seen, true, "the namespace entered is the container's");
      strictEqual(existsOnHost(marker), false, "and back on the host, the file is not there");
    } finally {
      if (held !== undefined) closeFd(held);
      await stopContainer(lab, c);
    }
  },
);

function existsOnHost(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

await labTest(
  "device detach then attach in a cgroup v1 that allows by default (its list hides denials)",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 1, "allowall", (spec) => {
      const linux = spec.linux as Record<string, unknown>;
      linux.resources = { devices: [{ allow: true, access: "rwm" }] };
    });
    try {
      const list = () =>
        Deno.readTextFileSync(`/sys/fs/cgroup/devices${devicesPath(c.pid)}/devices.list`);
      strictEqual(list(), "a *:* rwm\n");
      await sh("mknod", [`/proc/${c.pid}/root/dev/xpu1`, "c", "240", "0"]);
      match(await c.exec(OPEN_XPU1), ENXIO);

      const detached = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
      strictEqual(detached.code, 0, detached.stderr);
      await sh("mknod", [`/proc/${c.pid}/root/dev/xpu1`, "c", "240", "0"]);
      match(await c.exec(OPEN_XPU1), EPERM);
      // The kernel lists no denial of a cgroup that allows by default.
      strictEqual(list(), "a *:* rwm\n");

      const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(await c.exec(OPEN_XPU1), ENXIO);
      match(await c.exec("echo ok > /dev/null && echo null-ok"), /^null-ok$/m);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

/** Detaches every device program of the v2 cgroup of `pid` (a runtime that attaches none). */
function dropDevicePrograms(pid: number): string {
  const live = readLiveCgroup(pid);
  if (live.version !== 2) throw new Error(`pid ${pid} is not in a cgroup v2 with a program`);
  const cgroup = openCgroup(live.dir);
  try {
    for (const id of queryDevicePrograms(cgroup).ids) {
      const fd = programById(id);
      detachDeviceProgram(cgroup, fd);
      closeFd(fd);
    }
  } finally {
    closeFd(cgroup);
  }
  return live.dir;
}

function programCount(dir: string): number {
  const cgroup = openCgroup(dir);
  try {
    return queryDevicePrograms(cgroup).ids.length;
  } finally {
    closeFd(cgroup);
  }
}

await labTest(
  "device detach in a cgroup v2 without a device program denies it with a program of its own",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 2, "free");
    try {
      const dir = dropDevicePrograms(c.pid);
      strictEqual(programCount(dir), 0);
      // Nothing restricts the container: a node made in it opens (ENXIO: no driver behind it).
      await sh("mknod", [`/proc/${c.pid}/root/dev/xpu1`, "c", "240", "0"]);
      match(await c.exec(OPEN_XPU1), ENXIO);

      const detached = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
      strictEqual(detached.code, 0, detached.stderr);
      match(detached.stdout, /^XPU 1 \([^)]+\): detached from pid .*cgroup v2/m);
      match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
      strictEqual(programCount(dir), 1, "the denial is a program of the container's cgroup");
      await sh("mknod", [`/proc/${c.pid}/root/dev/xpu1`, "c", "240", "0"]);
      match(await c.exec(OPEN_XPU1), EPERM);
      // Other devices stay as open as they were.
      match(await c.exec("echo ok > /dev/null && echo null-ok"), /^null-ok$/m);

      // Attached again, the device opens: the denial is taken back, not stacked under.
      const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(await c.exec(OPEN_XPU1), ENXIO);
      strictEqual(programCount(dir), 1);
      strictEqual(await pidOf(lab, c), c.pid);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

await labTest(
  "device attach refuses a device a parent cgroup's program denies, and changes nothing",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const parentName = `xpu-parent-${nextId("p")}`;
    const c = await startContainer(lab, 2, "parent", (spec) => {
      (spec.linux as Record<string, unknown>).cgroupsPath = `/${parentName}/${nextId("child")}`;
    });
    let parent: string | undefined;
    let parentProgram: number | undefined;
    try {
      const live = readLiveCgroup(c.pid);
      if (live.version !== 2) throw new Error("the container is not on cgroup v2");
      parent = live.dir.slice(0, live.dir.lastIndexOf("/"));
      strictEqual(parent.endsWith(`/${parentName}`), true, parent);
      // The parent denies 240:0 and allows everything else.
      const insns = withDecisions(allowAllProgram(), [{
        type: "c",
        major: 240,
        minor: 0,
        allow: false,
      }]);
      const cgroup = openCgroup(parent);
      const program = loadDeviceProgram(encodeProgram(insns));
      try {
        attachDeviceProgram(cgroup, program);
        parentProgram = queryDevicePrograms(cgroup).ids[0];
      } finally {
        closeFd(program);
        closeFd(cgroup);
      }
      const devBefore = await c.exec("ls -l /dev");
      const run = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
      strictEqual(run.code, 1, run.stdout);
      strictEqual(run.stdout, "");
      match(
        run.stderr,
        /a device program of a parent cgroup denies c 240:0, which no program of the container's cgroup can undo/,
      );
      strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
      strictEqual(await c.exec("ls -l /dev"), devBefore);
      // list reads the parent's program as the kernel does.
      const listed = await ctk(lab, ["list", "--pid", String(c.pid)]);
      strictEqual(listed.code, 0, listed.stderr);
      match(
        listed.stdout,
        /^XPU 1 \([^)]+\): not attached \(\/dev\/xpu1 c 240:0 absent, denied\)$/m,
      );
      // A device the parent allows is attached as ever.
      const honest = await ctk(lab, ["attach", "--pid", String(c.pid), "0"]);
      strictEqual(honest.code, 0, honest.stderr);
      match(honest.stdout, /^XPU 0 \([^)]+\): attached to pid /m);
    } finally {
      await stopContainer(lab, c);
      if (parent !== undefined) {
        if (parentProgram !== undefined) {
          const cgroup = openCgroup(parent);
          const fd = programById(parentProgram);
          detachDeviceProgram(cgroup, fd);
          closeFd(fd);
          closeFd(cgroup);
        }
        Deno.removeSync(parent);
      }
    }
  },
);

await labTest(
  "device attach of an unknown device changes nothing and names the devices there are",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 1, "unknown");
    try {
      const devBefore = await c.exec("ls -l /dev");
      const cgroupBefore = Deno.readTextFileSync(
        `/sys/fs/cgroup/devices${devicesPath(c.pid)}/devices.list`,
      );
      const run = await ctk(lab, ["attach", "--pid", String(c.pid), "1", "7"]);
      strictEqual(run.code, 1);
      strictEqual(run.stdout, "");
      match(
        run.stderr,
        /^xpu-ctk: Cannot use XPU "7": no such device under "[^"]+" \(devices: 0 \(XPU-[^)]+\), 1 \(XPU-[^)]+\)\): name an existing index or UUID, or a CDI name\n$/,
      );
      strictEqual(await c.exec("ls -l /dev"), devBefore);
      strictEqual(
        Deno.readTextFileSync(`/sys/fs/cgroup/devices${devicesPath(c.pid)}/devices.list`),
        cgroupBefore,
      );
      const host = await ctk(lab, ["attach", "--pid", String(Deno.pid), "1"]);
      strictEqual(host.code, 1);
      match(host.stderr, /shares the host's mount namespace, so it is no container/);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

function devicesPath(pid: number): string {
  const line = Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n").find((l) =>
    /^\d+:([^:]*,)?devices(,[^:]*)?:/.test(l)
  )!;
  return line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
}

await labTest(
  "device attach into a container whose /dev entries link out writes nothing on the host",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 1, "hostile");
    const outside = `${lab.dir}/outside`;
    Deno.mkdirSync(outside);
    try {
      // The container's own root plants links where the nodes go: one to a host path, one
      // through /proc/1/root.
      await c.exec(
        `ln -s ${outside}/xpu1 /dev/xpu1; ln -s /proc/1/root${outside}/ctl /dev/xpuctl; ` +
          `ln -s ${outside} /usr`,
      );
      const run = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
      strictEqual(run.code, 0, run.stderr);
      deepStrictEqual([...Deno.readDirSync(outside)], []);
      // The links were replaced by the nodes, inside the container.
      match(await c.exec(OPEN_XPU1), ENXIO);
      match(await c.exec("ls -l /dev/xpuctl"), /^c/m);
      // The driver files went where the container's own /usr link leads, inside it.
      match(await c.exec(`cat ${outside}/lib/x86_64-linux-gnu/libxpu.so.1.0.0`), /^fake libxpu/m);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

await labTest(
  "two containers share one device: both open /dev/xpu0 after attach",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const a = await startContainer(lab, 1, "share-a");
    const b = await startContainer(lab, 2, "share-b");
    try {
      for (const c of [a, b]) {
        const run = await ctk(lab, ["attach", "--pid", String(c.pid), "0"]);
        strictEqual(run.code, 0, run.stderr);
      }
      for (const c of [a, b]) {
        match(await c.exec("(exec 3>/dev/xpu0) 2>&1 && echo 'xpu0: open ok'"), /^xpu0: open ok$/m);
      }
      notStrictEqual(a.pid, b.pid);
    } finally {
      await stopContainer(lab, a);
      await stopContainer(lab, b);
    }
  },
);

await labTest(
  "device attach of a CDI device with directory and linked-file mounts: both appear, read-only",
  [...NEEDS],
  { mode: "cdi" },
  async (lab) => {
    const share = `${lab.dir}/cdi-share`;
    Deno.mkdirSync(`${share}/sub`, { recursive: true });
    Deno.writeTextFileSync(`${share}/sub/a.txt`, "shared dir\n");
    Deno.writeTextFileSync(`${lab.dir}/xpu.conf.real`, "linked file\n");
    Deno.symlinkSync(`${lab.dir}/xpu.conf.real`, `${lab.dir}/xpu.conf`);
    Deno.mkdirSync(lab.cdiDir, { recursive: true });
    Deno.writeTextFileSync(
      `${lab.cdiDir}/files.json`,
      JSON.stringify({
        cdiVersion: "0.6.0",
        kind: "xpu.dev/files",
        devices: [{
          name: "one",
          containerEdits: {
            deviceNodes: [{ path: "/dev/xpu1", type: "c", major: 240, minor: 0 }],
            mounts: [
              { hostPath: share, containerPath: "/opt/xpu/share", options: ["ro", "rbind"] },
              {
                hostPath: `${lab.dir}/xpu.conf`,
                containerPath: "/etc/xpu.conf",
                options: ["bind"],
              },
            ],
          },
        }],
      }),
    );
    const c = await startContainer(lab, 1, "cdi-files");
    try {
      const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "xpu.dev/files=one"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(attached.stdout, /^driver files: 2 mounted read-only, 0 link\(s\) made /m);
      match(
        await c.exec("cat /opt/xpu/share/sub/a.txt /etc/xpu.conf"),
        /^shared dir\nlinked file$/m,
      );
      match(await c.exec("echo x > /opt/xpu/share/sub/a.txt"), /Read-only file system/);
      match(await c.exec(OPEN_XPU1), ENXIO);
      const detached = await ctk(lab, ["detach", "--pid", String(c.pid), "xpu.dev/files=one"]);
      strictEqual(detached.code, 0, detached.stderr);
      match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
      strictEqual(Deno.readTextFileSync(`${share}/sub/a.txt`), "shared dir\n");
    } finally {
      await stopContainer(lab, c);
    }
  },
);

await labTest(
  "device attach and detach by CDI name, from the spec xpu-ctk cdi generate wrote",
  [...NEEDS],
  { mode: "cdi" },
  async (lab) => {
    await generateCdiSpec(lab);
    const c = await startContainer(lab, 2, "cdi");
    try {
      const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "xpu.dev/xpu=1"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(
        attached.stdout,
        /^CDI device "xpu.dev\/xpu=1": attached to pid \d+ \(\/dev\/xpu1 c 240:0;/m,
      );
      match(await c.exec(OPEN_XPU1), ENXIO);
      const unknown = await ctk(lab, ["attach", "--pid", String(c.pid), "xpu.dev/xpu=9"]);
      strictEqual(unknown.code, 1);
      match(
        unknown.stderr,
        /Cannot use CDI device "xpu.dev\/xpu=9": no spec in "[^"]+" defines it/,
      );
      const detached = await ctk(lab, ["detach", "--pid", String(c.pid), "xpu.dev/xpu=1"]);
      strictEqual(detached.code, 0, detached.stderr);
      match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

/**
 * Attach and detach of XPU 1 by an engine's short container id: absent before, ENXIO after attach
 * with the pid unchanged (no restart), absent after detach.
 */
async function attachThroughEngine(c: {
  engine: string;
  id: string;
  env: Record<string, string>;
  exec: (script: string) => Promise<string>;
  pid: () => Promise<string>;
}) {
  const before = await c.pid();
  const device = (verb: string) =>
    runTool(toolArgv("xpu-ctk"), {
      args: ["device", verb, "--engine", c.engine, c.id.slice(0, 12), "1"],
      env: c.env,
    });
  match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
  const attached = await device("attach");
  strictEqual(attached.code, 0, attached.stderr);
  match(
    attached.stdout,
    new RegExp(
      `^XPU 1 \\([^)]+\\): attached to ${c.engine} container "[0-9a-f]{12}" \\(pid \\d+\\)`,
      "m",
    ),
  );
  match(await c.exec(OPEN_XPU1), ENXIO);
  strictEqual(await c.pid(), before, `${c.engine} did not restart the container`);
  const detached = await device("detach");
  strictEqual(detached.code, 0, detached.stderr);
  match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
  strictEqual(await c.pid(), before);
}

await labTest(
  "device attach and detach under docker, by its container id",
  ["root", "runc", "busybox", "dockerd"],
  { mode: "legacy" },
  async (lab) => {
    const dir = `${lab.dir}/docker`;
    Deno.mkdirSync(dir);
    const daemonJson = `${dir}/daemon.json`;
    Deno.writeTextFileSync(daemonJson, "{}\n");
    const env = { ...lab.env, PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    await withDockerd(dir, daemonJson, env, async (d) => {
      const started = await d.docker([
        "run",
        "-d",
        "--network",
        "none",
        "busybox:min",
        "sleep",
        "600",
      ]);
      strictEqual(started.code, 0, started.stderr);
      const id = started.stdout.trim();
      const exec = async (script: string) => {
        const out = await d.docker(["exec", id, "sh", "-c", script]);
        return out.stdout + out.stderr;
      };
      const pid = async () =>
        (await d.docker(["inspect", "-f", "{{.State.Pid}}", id])).stdout.trim();
      const withSocket = { ...lab.env, DOCKER_HOST: `unix://${d.socket}` };
      await attachThroughEngine({ engine: "docker", id, env: withSocket, exec, pid });
      await d.docker(["rm", "-f", id]);
    });
  },
);

await labTest(
  "device attach and detach under podman, by its container id",
  ["root", "runc", "busybox", "podman"],
  { mode: "legacy" },
  async (lab) => {
    await withPodman(lab, async (podman) => {
      const started = await podman([
        "run",
        "-d",
        "--cgroup-parent",
        CGROUP_PARENT,
        "busybox:min",
        "sleep",
        "600",
      ]);
      strictEqual(started.code, 0, started.stderr);
      const id = started.stdout.trim();
      const exec = async (script: string) => {
        const out = await podman(["exec", id, "sh", "-c", script]);
        return out.stdout + out.stderr;
      };
      const pid = async () =>
        (await podman(["inspect", "--format", "{{.State.Pid}}", id])).stdout.trim();
      // The private podman's config, for the podman the toolkit runs.
      const env = {
        ...lab.env,
        CONTAINERS_CONF: `${lab.dir}/podman/containers.conf`,
        CONTAINERS_STORAGE_CONF: `${lab.dir}/podman/storage.conf`,
      };
      await attachThroughEngine({ engine: "podman", id, env, exec, pid });
      // An id podman does not know: its own message, and nothing done.
      const unknown = await runTool(toolArgv("xpu-ctk"), {
        args: ["device", "attach", "--engine", "podman", "no-such-container", "1"],
        env,
      });
      strictEqual(unknown.code, 1);
      match(unknown.stderr, /^xpu-ctk: Cannot find podman container "no-such-container": /m);
    });
  },
);

for (const version of [1, 2] as const) {
  await labTest(
    `device detach, cgroup v${version}: a device the container was created with is taken away`,
    [...NEEDS],
    { mode: "legacy" },
    async (lab) => {
      // As the shim's csv and cdi modes create it: the node and runc's own allow rule.
      const c = await startContainer(lab, version, "created-with", (spec) => {
        const linux = spec.linux as Record<string, unknown>;
        linux.devices = [{ path: "/dev/xpu1", type: "c", major: 240, minor: 0, fileMode: 0o666 }];
        const resources = linux.resources as { devices: unknown[] };
        resources.devices.push({ allow: true, type: "c", major: 240, minor: 0, access: "rwm" });
      });
      try {
        match(await c.exec(OPEN_XPU1), ENXIO);
        const detached = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
        strictEqual(detached.code, 0, detached.stderr);
        match(detached.stdout, /^XPU 1 \([^)]+\): detached from pid /m);
        match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
        await sh("mknod", [`/proc/${c.pid}/root/dev/xpu1`, "c", "240", "0"]);
        match(await c.exec(OPEN_XPU1), EPERM);
        const listed = await ctk(lab, ["list", "--pid", String(c.pid)]);
        match(
          listed.stdout,
          /^XPU 1 \([^)]+\): not attached \(\/dev\/xpu1 c 240:0 present, denied\)$/m,
        );
        // And back: attach undoes the detach.
        const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
        strictEqual(attached.code, 0, attached.stderr);
        match(await c.exec(OPEN_XPU1), ENXIO);
      } finally {
        await stopContainer(lab, c);
      }
    },
  );
}

await labTest(
  "device attach and detach in a container with its own user namespace: the node is bound",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    Deno.chmodSync(lab.dir, 0o755);
    const c = await startContainer(lab, 1, "userns", (spec) => {
      const linux = spec.linux as Record<string, unknown>;
      (linux.namespaces as { type: string }[]).push({ type: "user" });
      linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 2000 }];
      linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 3000 }];
    });
    try {
      const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(await c.exec(OPEN_XPU1), ENXIO);
      match(await c.exec(`cat ${LIB}/libxpu.so`), /^fake libxpu 1\.0\.0$/m);
      // Bound from the host, not made: a node made in the namespace's /dev could not be opened.
      match(await c.exec("grep -c ' /dev/xpu1 ' /proc/self/mountinfo"), /^1$/m);
      const listed = await ctk(lab, ["list", "--pid", String(c.pid)]);
      match(listed.stdout, /^XPU 1 \([^)]+\): attached /m);
      const detached = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
      strictEqual(detached.code, 0, detached.stderr);
      match(await c.exec(OPEN_XPU1), /^xpu1: absent$/m);
      match(await c.exec("grep -c ' /dev/xpu1 ' /proc/self/mountinfo"), /^0$/m);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

await labTest(
  "device attach refuses a container whose process changed while it was being opened",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 1, "moved");
    try {
      // A runtime whose state names the container's pid once, then another (a restart).
      const counter = `${lab.dir}/state-calls`;
      const moving = `${lab.dir}/tools/moving-runtime`;
      Deno.writeTextFileSync(
        moving,
        [
          "#!/bin/sh",
          `if [ -e ${counter} ]; then echo '{"status":"running","pid":1}'; exit 0; fi`,
          `touch ${counter}`,
          `exec ${c.runc[0]} "$@"`,
          "",
        ].join("\n"),
      );
      Deno.chmodSync(moving, 0o755);
      const listBefore = await ctk(lab, ["list", "--pid", String(c.pid)]);
      const run = await ctk(lab, [
        "attach",
        "--runtime-root",
        lab.stateRoot,
        "--runtime",
        moving,
        c.id,
        "1",
      ]);
      strictEqual(run.code, 1, run.stdout);
      match(run.stderr, /its process changed to 1 while it was being opened .*: try again$/m);
      strictEqual((await ctk(lab, ["list", "--pid", String(c.pid)])).stdout, listBefore.stdout);
      // Asked again with a runtime that keeps its answer, the same attach works.
      const target = ["--runtime-root", lab.stateRoot, "--runtime", c.runc[0], c.id];
      const attached = await ctk(lab, ["attach", ...target, "1"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(await c.exec(OPEN_XPU1), ENXIO);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

await labTest(
  "device attach is all or nothing: a step that fails undoes the nodes and the permission",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    const c = await startContainer(lab, 1, "undo");
    try {
      // The control node's place is taken by a directory: its node cannot be made. The
      // container's own link where the device's node goes is replaced first, and put back.
      await c.exec("mkdir /dev/xpuctl && ln -s /dev/null /dev/xpu1");
      const list = () =>
        Deno.readTextFileSync(`/sys/fs/cgroup/devices${devicesPath(c.pid)}/devices.list`);
      const cgroupBefore = list();
      // Without the times: the link put back is a new link, made maybe in the next minute.
      const listing =
        "ls -l /dev | sed -E 's/ [A-Z][a-z]{2} +[0-9]+ +([0-9]+:[0-9]+|[0-9]{4}) / /'";
      const devBefore = await c.exec(listing);
      const run = await ctk(lab, ["attach", "--pid", String(c.pid), "1"]);
      strictEqual(run.code, 1);
      strictEqual(run.stdout, "");
      match(
        run.stderr,
        /^xpu-ctk: Cannot create device node "\/dev\/xpuctl" in the container's rootfs "\/": .*Is a directory/,
      );
      strictEqual(await c.exec(listing), devBefore);
      strictEqual(list(), cgroupBefore);
      match(await c.exec(`cat ${LIB}/libxpu.so 2>&1`), /No such file or directory/);
    } finally {
      await stopContainer(lab, c);
    }
  },
);

await labTest(
  "device attach and detach under containerd, by its task id (ctr)",
  ["root", "runc", "busybox", "containerd"],
  { mode: "legacy" },
  async (lab) => {
    const dir = `${lab.dir}/containerd`;
    Deno.mkdirSync(dir);
    const socket = `${dir}/c.sock`;
    const config = `${dir}/config.toml`;
    Deno.writeTextFileSync(
      config,
      [
        "version = 2",
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${socket}"`,
        "",
      ].join("\n"),
    );
    const log = Deno.openSync(`${dir}/containerd.log`, { write: true, create: true });
    const daemon = new Deno.Command("containerd", {
      args: ["--config", config],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const drained = daemon.stderr.pipeTo(
      new WritableStream({ write: (chunk) => void log.writeSync(chunk) }),
    );
    const namespace = `xpu${Deno.pid}`;
    const ctr = (args: string[]) =>
      runTool(["ctr"], { args: ["-a", socket, "-n", namespace, ...args] });
    const id = `attach${Deno.pid}`;
    try {
      const deadline = Date.now() + 20_000;
      while ((await ctr(["version"])).code !== 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const rootfs = makeBusyboxRootfs(`${dir}/rootfs`);
      const started = await ctr([
        "run",
        "-d",
        "--runc-root",
        `${dir}/runc`,
        "--fifo-dir",
        `${dir}/fifo`,
        "--rootfs",
        rootfs,
        id,
        "/bin/sleep",
        "600",
      ]);
      strictEqual(started.code, 0, started.stderr);
      let execs = 0;
      const exec = async (script: string) => {
        const out = await ctr([
          "task",
          "exec",
          "--exec-id",
          `e${++execs}`,
          id,
          "/bin/sh",
          "-c",
          script,
        ]);
        return out.stdout + out.stderr;
      };
      const device = (verb: string) =>
        runTool(toolArgv("xpu-ctk"), {
          args: ["device", verb, "--engine", "containerd", "--namespace", namespace, id, "1"],
          env: { ...lab.env, CONTAINERD_ADDRESS: socket },
        });
      match(await exec(OPEN_XPU1), /^xpu1: absent$/m);
      const attached = await device("attach");
      strictEqual(attached.code, 0, attached.stderr);
      match(attached.stdout, /^XPU 1 \([^)]+\): attached to containerd container /m);
      match(await exec(OPEN_XPU1), ENXIO);
      const detached = await device("detach");
      strictEqual(detached.code, 0, detached.stderr);
      match(await exec(OPEN_XPU1), /^xpu1: absent$/m);
    } finally {
      await ctr(["task", "kill", "-s", "SIGKILL", id]);
      await new Promise((r) => setTimeout(r, 300));
      await ctr(["task", "delete", "-f", id]);
      await ctr(["container", "delete", id]);
      daemon.kill("SIGTERM");
      await daemon.status;
      await drained.catch(() => {});
      log.close();
      await runTool(["sh"], {
        args: [
          "-c",
          `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l; true`,
        ],
      });
    }
  },
);

await labTest(
  "device detach never removes the host's own node from a host /dev bound into the container",
  [...NEEDS],
  { mode: "legacy" },
  async (lab) => {
    // As `docker run -v /dev/dri:/dev/dri`: the container's /dev is the host's directory.
    await sh("mknod", ["-m", "666", `${lab.driverRoot}/dev/null`, "c", "1", "3"]);
    const c = await startContainer(lab, 1, "host-dev", (spec) => {
      const mounts = spec.mounts as Record<string, unknown>[];
      const at = mounts.findIndex((m) => m.destination === "/dev");
      mounts[at] = {
        destination: "/dev",
        type: "bind",
        source: `${lab.driverRoot}/dev`,
        options: ["rbind"],
      };
    });
    try {
      const listBefore = await ctk(lab, ["list", "--pid", String(c.pid)]);
      const run = await ctk(lab, ["detach", "--pid", String(c.pid), "1"]);
      strictEqual(run.code, 1, run.stdout);
      strictEqual(run.stdout, "");
      match(
        run.stderr,
        /^xpu-ctk: Cannot remove "\/dev\/xpu1" from the container: it is the host's own node/,
      );
      strictEqual(Deno.lstatSync(`${lab.driverRoot}/dev/xpu1`).isCharDevice, true);
      // Nothing else changed either: the permission the detach took first is back.
      strictEqual((await ctk(lab, ["list", "--pid", String(c.pid)])).stdout, listBefore.stdout);
      // The honest use of the same container still works: xpu0, the host's node already there,
      // only needs the permission, and then opens.
      const attached = await ctk(lab, ["attach", "--pid", String(c.pid), "0"]);
      strictEqual(attached.code, 0, attached.stderr);
      match(await c.exec("(exec 3>/dev/xpu0) 2>&1 && echo 'xpu0: open ok'"), /^xpu0: open ok$/m);
    } finally {
      await stopContainer(lab, c);
    }
  },
);
