import assert from "node:assert/strict";
import { applyInContainer, applyScriptArgs } from "../../src/cli/container_namespace.ts";
import type { ConfigureOp } from "../../src/cli/configure_plan.ts";
import { realHostFs } from "../../src/core/host_fs.ts";
import { memoryHostFs } from "../helpers/memory_fs.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const ROOTFS = "/r";

// An image with symlinks that point out of the rootfs if followed on the host.
const fs = memoryHostFs({
  "/r/usr/lib": { link: "/elsewhere" },
  "/r/elsewhere": { dir: true },
  "/r/lib": { link: "usr/lib" },
  "/r/usr/lib64": { link: "../../../../etc" },
  "/r/dev/xpu1": { link: "/etc/shadow" },
  "/r/usr/bin": { dir: true },
});

Deno.test("applyScriptArgs resolves every op's path inside the rootfs", async (t) => {
  const cases: { name: string; input: ConfigureOp[]; expected: string[] }[] = [
    {
      name: "node: 4-digit octal mode, type, numbers, owner",
      input: [
        {
          op: "node",
          path: "/dev/xpu0",
          type: "c",
          major: 240,
          minor: 0,
          mode: 0o666,
          uid: 0,
          gid: 44,
        },
      ],
      expected: ["node", "/r/dev/xpu0", "0666", "c", "240", "0", "0", "44"],
    },
    {
      name: "node: small mode padded, block device",
      input: [
        {
          op: "node",
          path: "/dev/xpu-blk",
          type: "b",
          major: 8,
          minor: 16,
          mode: 0o40,
          uid: 1,
          gid: 2,
        },
      ],
      expected: ["node", "/r/dev/xpu-blk", "0040", "b", "8", "16", "1", "2"],
    },
    {
      name: "node: a symlink at the node path itself is not followed",
      input: [
        {
          op: "node",
          path: "/dev/xpu1",
          type: "c",
          major: 240,
          minor: 1,
          mode: 0o660,
          uid: 0,
          gid: 0,
        },
      ],
      expected: ["node", "/r/dev/xpu1", "0660", "c", "240", "1", "0", "0"],
    },
    {
      name: "bind: host source kept, target under an absolute image symlink stays in the rootfs",
      input: [{
        op: "bind",
        source: "/drv/usr/lib/libxpu.so.1.0.0",
        path: "/usr/lib/libxpu.so.1.0.0",
      }],
      expected: ["bind", "/drv/usr/lib/libxpu.so.1.0.0", "/r/elsewhere/libxpu.so.1.0.0"],
    },
    {
      name: "bind: relative symlink chain",
      input: [{ op: "bind", source: "/drv/libxpu.so", path: "/lib/libxpu.so" }],
      expected: ["bind", "/drv/libxpu.so", "/r/elsewhere/libxpu.so"],
    },
    {
      name: "bind: .. in an image symlink stops at the rootfs",
      input: [{ op: "bind", source: "/drv/libxpu.so", path: "/usr/lib64/libxpu.so" }],
      expected: ["bind", "/drv/libxpu.so", "/r/etc/libxpu.so"],
    },
    {
      name: "link: raw target kept, link path resolved",
      input: [{ op: "link", target: "libxpu.so.1.0.0", path: "/usr/lib/libxpu.so.1" }],
      expected: ["link", "libxpu.so.1.0.0", "/r/elsewhere/libxpu.so.1"],
    },
    {
      name: "several ops in order, missing dirs kept as written",
      input: [
        { op: "bind", source: "/drv/usr/bin/xpu-smi", path: "/usr/bin/xpu-smi" },
        { op: "link", target: "/usr/bin/xpu-smi", path: "/opt/xpu/bin/smi" },
      ],
      expected: [
        "bind",
        "/drv/usr/bin/xpu-smi",
        "/r/usr/bin/xpu-smi",
        "link",
        "/usr/bin/xpu-smi",
        "/r/opt/xpu/bin/smi",
      ],
    },
    { name: "no ops", input: [], expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepStrictEqual(applyScriptArgs(fs, ROOTFS, c.input), c.expected);
    });
  }
});

/** Runs `argv` in the mount namespace of `pid`; returns stdout, failing on a non-zero exit. */
async function inNamespace(pid: number, ...argv: string[]): Promise<string> {
  const out = await new Deno.Command("nsenter", {
    args: ["-t", String(pid), "-m", "--", ...argv],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(out.code, 0, `nsenter ${argv.join(" ")}: ${decode(out.stderr)}`);
  return decode(out.stdout);
}

/** Waits until `pid` runs `sleep` in a mount namespace other than ours (unshare has exec'd). */
async function waitForPrivateSleep(pid: number): Promise<void> {
  const ours = Deno.readLinkSync("/proc/self/ns/mnt");
  for (let i = 0; i < 200; i++) {
    try {
      const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
      if (comm === "sleep" && Deno.readLinkSync(`/proc/${pid}/ns/mnt`) !== ours) return;
    } catch {
      // not started yet
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`process ${pid} never ran sleep in a private mount namespace`);
}

Deno.test("applyInContainer changes the container's mount namespace, not the host's", async () => {
  await withTempDir(async (dir) => {
    const rootfs = `${dir}/rootfs`;
    Deno.mkdirSync(`${rootfs}/usr`, { recursive: true });
    const source = `${dir}/driver/libfake.so.1.0`;
    Deno.mkdirSync(`${dir}/driver`);
    Deno.writeTextFileSync(source, "fake library\n");

    const sleeper = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sleep", "30"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitForPrivateSleep(sleeper.pid);
      await applyInContainer(
        sleeper.pid,
        rootfs,
        [
          { op: "bind", source, path: "/usr/lib/libfake.so.1" },
          { op: "link", target: "libfake.so.1", path: "/usr/lib/libfake.so" },
          {
            op: "node",
            path: "/dev/xpu9",
            type: "c",
            major: 240,
            minor: 9,
            mode: 0o640,
            uid: 0,
            gid: 0,
          },
        ],
        realHostFs,
      );

      // Inside: the library (through the link) and the node.
      assert.equal(
        await inNamespace(sleeper.pid, "cat", `${rootfs}/usr/lib/libfake.so`),
        "fake library\n",
      );
      assert.equal(
        await inNamespace(sleeper.pid, "stat", "-c", "%t:%T %a", `${rootfs}/dev/xpu9`),
        "f0:9 640\n",
      );
      assert.match(
        await inNamespace(sleeper.pid, "cat", "/proc/self/mountinfo"),
        new RegExp(` ${rootfs}/usr/lib/libfake\\.so\\.1 ro,`),
      );

      // On the host: the bind target is only the empty placeholder the mount sits on.
      assert.equal(Deno.readTextFileSync(`${rootfs}/usr/lib/libfake.so.1`), "");
      assert.equal(Deno.readLinkSync(`${rootfs}/usr/lib/libfake.so`), "libfake.so.1");
      assert.ok(
        !Deno.readTextFileSync("/proc/self/mountinfo").includes(`${rootfs}/usr/lib/libfake.so.1`),
        "the bind mount does not show up in the host's mount table",
      );
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  });
});
