/**
 * The rootfs fd: every change lands inside the rootfs whatever the image's symlinks say, never
 * through a procfs magic link or onto a kernel file system, and honest layouts still work.
 */

import assert from "node:assert/strict";
import { ContainerRootfs, RootfsError } from "../../../src/core/rootfs/container_rootfs.ts";
import { openOwnFdDir } from "../../../src/core/io/mount_tree.ts";
import { closeFd } from "../../../src/core/io/fs.ts";
import { AT, statAt } from "../../../src/core/io/libc.ts";
import { e2eTest } from "../../helpers/e2e.ts";
import { withTempDir, writeTree } from "../../helpers/temp_dir.ts";

function lstat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

type Tree = Record<string, string | { link: string } | { dir: true }>;

Deno.test("ContainerRootfs writes inside the rootfs only", async (t) => {
  const cases: {
    name: string;
    tree: (host: string) => Tree;
    act: (root: ContainerRootfs) => unknown;
    /** rootfs paths → symlink target (`->x`) or file text. */
    expected: Record<string, string> | ((host: string) => Record<string, string>);
  }[] = [
    {
      name: "symlink: parents made, target stored verbatim",
      tree: () => ({}),
      act: (r) => r.symlink("libxpu.so.1", "/usr/lib/libxpu.so"),
      expected: { "/usr/lib/libxpu.so": "->libxpu.so.1" },
    },
    {
      name: "symlink: an absolute directory link to a host dir is re-rooted",
      tree: (host) => ({ "/usr/lib": { link: host }, [`${host}/.keep`]: "" }),
      act: (r) => r.symlink("a", "/usr/lib/libxpu.so"),
      expected: (host) => ({ [`${host}/libxpu.so`]: "->a" }),
    },
    {
      name: "symlink: a dangling absolute directory link is made inside the rootfs",
      tree: (host) => ({ "/usr/lib": { link: `${host}/missing` } }),
      act: (r) => r.symlink("a", "/usr/lib/libxpu.so"),
      expected: (host) => ({ [`${host}/missing/libxpu.so`]: "->a" }),
    },
    {
      name: "symlink: dot-dot links stop at the rootfs",
      tree: () => ({ "/usr/lib": { link: "../../../../../../.." } }),
      act: (r) => r.symlink("a", "/usr/lib/libxpu.so"),
      expected: { "/libxpu.so": "->a" },
    },
    {
      name: "writeFile: a final symlink is replaced, its target untouched",
      tree: (host) => ({ "/etc/ld.so.conf.d/00.conf": { link: `${host}/victim` } }),
      act: (r) => r.writeFile("/etc/ld.so.conf.d/00.conf", "new\n"),
      expected: { "/etc/ld.so.conf.d/00.conf": "new\n" },
    },
    {
      name: "writeFile: a missing parent is not made unless asked",
      tree: () => ({ "/etc/.keep": "" }),
      act: (r) => assert.equal(r.writeFile("/etc/ld.so.conf.d/00.conf", "x"), false),
      expected: {},
    },
    {
      name: "mknod: exact mode despite the umask, owner set, a symlink in the way replaced",
      tree: (host) => ({ "/dev/xpu0": { link: `${host}/victim` } }),
      act: (r) => {
        r.mknod("/dev/xpu0", { type: "c", major: 1, minor: 3, mode: 0o666, uid: 7, gid: 8 });
        const info = r.lstat("/dev/xpu0");
        assert.deepEqual(
          [info?.kind, info?.mode, info?.uid, info?.gid, info?.rdevMajor, info?.rdevMinor],
          ["char", 0o666, 7, 8, 1, 3],
        );
      },
      expected: {},
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        const host = `${dir}/host`;
        const rootfs = `${dir}/rootfs`;
        Deno.mkdirSync(host);
        Deno.writeTextFileSync(`${host}/victim`, "host file\n");
        Deno.mkdirSync(rootfs);
        writeTree(rootfs, c.tree(host));
        ContainerRootfs.with(rootfs, (root) => c.act(root));
        const expected = typeof c.expected === "function" ? c.expected(host) : c.expected;
        for (const [path, want] of Object.entries(expected)) {
          if (want.startsWith("->")) assert.equal(Deno.readLinkSync(rootfs + path), want.slice(2));
          else assert.equal(Deno.readTextFileSync(rootfs + path), want);
        }
        assert.deepEqual(
          [...Deno.readDirSync(host)].map((e) => e.name).filter((n) => n !== ".keep"),
          ["victim"],
        );
        assert.equal(Deno.readTextFileSync(`${host}/victim`), "host file\n");
      });
    });
  }
});

await e2eTest("ContainerRootfs refuses procfs magic links and kernel file systems", [
  "root",
], async (t) => {
  await withTempDir(async (dir) => {
    const host = `${dir}/host`;
    const rootfs = `${dir}/rootfs`;
    Deno.mkdirSync(host);
    Deno.mkdirSync(`${rootfs}/proc`, { recursive: true });
    writeTree(rootfs, {
      "/usr/lib/magic": { link: `/proc/1/root${host}` },
      "/usr/lib/self": { link: "/proc/self/cwd" },
      "/etc/ld.so.conf.d": { link: "/proc/sys/kernel" },
    });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "proc", "proc", `${rootfs}/proc`],
    })
      .output();
    assert.equal(mount.code, 0);
    try {
      const cases: { name: string; act: (r: ContainerRootfs) => unknown; error: RegExp }[] = [
        {
          name: "a link through /proc/1/root",
          act: (r) => r.symlink("a", "/usr/lib/magic/x"),
          error: /"\/usr\/lib\/magic"/,
        },
        {
          name: "a link through /proc/self/cwd",
          act: (r) =>
            r.mknod("/usr/lib/self/xpu0", {
              type: "c",
              major: 1,
              minor: 3,
              mode: 0o666,
              uid: 0,
              gid: 0,
            }),
          error: /magic link|leaves the rootfs|"\/usr\/lib\/self"/,
        },
        {
          name: "a drop-in onto procfs",
          act: (r) => r.writeFile("/etc/ld.so.conf.d/00-xpu-ctk.conf", "x"),
          error: /is on proc, not a file system of the image/,
        },
      ];
      for (const c of cases) {
        await t.step(c.name, () => {
          ContainerRootfs.with(rootfs, (root) => {
            assert.throws(() => c.act(root), (e: unknown) => {
              assert.ok(e instanceof RootfsError, String(e));
              assert.match(e.message, c.error);
              return true;
            });
          });
          assert.deepEqual([...Deno.readDirSync(host)], []);
        });
      }
      await t.step("the honest path next to them still works", () => {
        ContainerRootfs.with(rootfs, (root) => {
          assert.equal(root.symlink("libxpu.so.1", "/usr/lib/libxpu.so"), "created");
        });
        assert.equal(lstat(`${rootfs}/usr/lib/libxpu.so`)?.isSymlink, true);
      });
    } finally {
      await new Deno.Command("umount", { args: [`${rootfs}/proc`] }).output();
    }
  });
});

await e2eTest("ContainerRootfs.detachNodeMount never unlinks a node of the host", [
  "root",
], async (t) => {
  await withTempDir(async (dir) => {
    const run = async (command: string, ...args: string[]) => {
      const out = await new Deno.Command(command, { args }).output();
      assert.equal(
        out.code,
        0,
        `${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
      );
    };
    // The host's /dev and the rootfs on file systems of their own, as on a node.
    const hostDev = `${dir}/hostdev`;
    const rootfs = `${dir}/rootfs`;
    const mounted: string[] = [];
    Deno.mkdirSync(hostDev);
    Deno.mkdirSync(rootfs);
    try {
      for (const at of [hostDev, rootfs]) {
        await run("mount", "-t", "tmpfs", "tmpfs", at);
        mounted.unshift(at);
      }
      await run("mknod", `${hostDev}/xpu1`, "c", "1", "3");
      // Another name for the same device on the host: same numbers, another inode.
      await run("mknod", `${hostDev}/alias1`, "c", "1", "3");
      // The container binds the host's /dev elsewhere (`-v /dev:/hostdev`) and points its own
      // /dev/dri there: what a swap of /dev/dri for a symlink during a detach would show.
      Deno.mkdirSync(`${rootfs}/hostdev`);
      await run("mount", "--bind", hostDev, `${rootfs}/hostdev`);
      mounted.unshift(`${rootfs}/hostdev`);
      Deno.mkdirSync(`${rootfs}/dev/own`, { recursive: true });
      Deno.symlinkSync("/hostdev", `${rootfs}/dev/dri`);
      await run("mknod", `${rootfs}/dev/own/xpu1`, "c", "1", "3");
      Deno.writeFileSync(`${rootfs}/dev/own/xpu2`, new Uint8Array());
      await run("mount", "--bind", `${hostDev}/xpu1`, `${rootfs}/dev/own/xpu2`);
      mounted.unshift(`${rootfs}/dev/own/xpu2`);
      const { ino, devMajor, devMinor } = statAt(AT.FDCWD, `${hostDev}/xpu1`);
      const host = { ino, devMajor, devMinor };
      const node = { type: "c" as const, major: 1, minor: 3, host };
      const fdDir = openOwnFdDir();
      try {
        for (const path of ["/dev/dri/xpu1", "/dev/dri/alias1"]) {
          await t.step(`${path}, through a link to the bound host /dev, is refused`, () => {
            ContainerRootfs.with(rootfs, (root) => {
              assert.throws(() => root.detachNodeMount(path, node), (e: unknown) => {
                assert.ok(e instanceof RootfsError, String(e));
                assert.match(e.message, /it is the host's own node/);
                assert.equal(e.code, "EBUSY");
                return true;
              });
            }, { fdDir });
            assert.equal(lstat(`${hostDev}/xpu1`)?.isCharDevice, true);
            assert.equal(lstat(`${hostDev}/alias1`)?.isCharDevice, true);
          });
        }
        await t.step(
          "a mount in the bound host /dev is detached, the host's file under it stays",
          async () => {
            Deno.writeFileSync(`${hostDev}/xpu3`, new Uint8Array());
            await run("mount", "--bind", `${hostDev}/xpu1`, `${rootfs}/hostdev/xpu3`);
            mounted.unshift(`${rootfs}/hostdev/xpu3`);
            ContainerRootfs.with(rootfs, (root) => {
              assert.equal(root.detachNodeMount("/dev/dri/xpu3", node), "removed");
            }, { fdDir });
            mounted.shift();
            assert.equal(lstat(`${hostDev}/xpu3`)?.isFile, true);
            assert.equal(lstat(`${rootfs}/hostdev/xpu3`)?.isFile, true, "no longer the node");
          },
        );
        await t.step("the container's own nodes go: one made in place, one bind-mounted", () => {
          ContainerRootfs.with(rootfs, (root) => {
            assert.equal(root.detachNodeMount("/dev/own/xpu1", node), "removed");
            assert.equal(root.detachNodeMount("/dev/own/xpu2", node), "removed");
            assert.equal(root.detachNodeMount("/dev/own/xpu1", node), "absent");
          }, { fdDir });
          mounted.shift();
          assert.equal(lstat(`${rootfs}/dev/own/xpu1`), undefined);
          assert.equal(lstat(`${rootfs}/dev/own/xpu2`), undefined);
          assert.equal(lstat(`${hostDev}/xpu1`)?.isCharDevice, true);
        });
        await t.step("another node there is left alone", () => {
          ContainerRootfs.with(rootfs, (root) => {
            assert.equal(
              root.detachNodeMount("/dev/dri/xpu1", { ...node, minor: 5, host: undefined }),
              "other",
            );
          }, { fdDir });
        });
      } finally {
        closeFd(fdDir);
      }
    } finally {
      for (const at of mounted) await new Deno.Command("umount", { args: ["-l", at] }).output();
    }
  });
});
