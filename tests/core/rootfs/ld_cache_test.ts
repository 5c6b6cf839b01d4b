/**
 * The ld-cache refresh: the drop-in is written inside the rootfs only, and the image's ldconfig
 * runs isolated from the host, replacing the hook process. Run through the real `xpu-ctk hook
 * update-ldcache` (it execs), against rootfs trees holding Debian's static ldconfig, honest and
 * hostile.
 */

import assert from "node:assert/strict";
import type { IsolatedProgram } from "../../../src/core/io/isolated_exec.ts";
import { LDCONFIG_ENV, unwritableEtc, updateLdcache } from "../../../src/core/rootfs/ld_cache.ts";
import { runTool, toolArgv } from "../../helpers/toolkit_commands.ts";
import { e2eTest } from "../../helpers/e2e.ts";
import { withTempDir, writeTree } from "../../helpers/temp_dir.ts";

const HOST_LDCONFIG = "/sbin/ldconfig";
const HOST_BUSYBOX = "/bin/busybox";
const SONAME = "libz.so.1";
/** The host's zlib, whatever version the distribution ships (1.2.13 in Debian 12, 1.3.x later). */
const HOST_LIBRARY = Deno.realPathSync(`/lib/x86_64-linux-gnu/${SONAME}`);
const LIBRARY_NAME = HOST_LIBRARY.slice(HOST_LIBRARY.lastIndexOf("/") + 1);

type RootfsEntry = string | { link: string } | { dir: true } | { copy: string; mode: number };

function writeRootfs(rootfs: string, tree: Record<string, RootfsEntry>): void {
  for (const [path, entry] of Object.entries(tree)) {
    if (typeof entry === "object" && "copy" in entry) {
      Deno.mkdirSync(rootfs + path.slice(0, path.lastIndexOf("/")), { recursive: true });
      Deno.copyFileSync(entry.copy, rootfs + path);
      Deno.chmodSync(rootfs + path, entry.mode);
    } else {
      writeTree(rootfs, { [path]: entry });
    }
  }
}

function read(path: string): string | undefined {
  try {
    return new TextDecoder("latin1").decode(Deno.readFileSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const LDCONFIG = { copy: HOST_LDCONFIG, mode: 0o755 };
const IMAGE: Record<string, RootfsEntry> = {
  "/sbin/ldconfig": LDCONFIG,
  "/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n",
  "/etc/ld.so.conf.d": { dir: true },
  [`/opt/xpu/lib/${LIBRARY_NAME}`]: { copy: HOST_LIBRARY, mode: 0o644 },
  "/tmp": { dir: true },
};

/** A busybox shell in the image, for hostile ldconfig scripts. */
const SHELL: Record<string, RootfsEntry> = {
  "/bin/busybox": { copy: HOST_BUSYBOX, mode: 0o755 },
  "/bin/sh": { link: "busybox" },
  "/sbin/ldconfig.real": LDCONFIG,
};

/** Runs the hook for a bundle `dir/bundle` whose rootfs is `dir/bundle/rootfs`. */
async function runHook(dir: string, folders: string[], env: Record<string, string> = {}) {
  const bundle = `${dir}/bundle`;
  Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify({ root: { path: "rootfs" } }));
  return await runTool(toolArgv("xpu-ctk"), {
    args: ["hook", "update-ldcache", ...folders.flatMap((f) => ["--folder", f])],
    stdin: JSON.stringify({ ociVersion: "1.0.2", id: "c", status: "creating", pid: 1, bundle }),
    cwd: `${bundle}/rootfs`,
    env,
  });
}

Deno.test("updateLdcache hands the image's ldconfig to the isolated exec", async (t) => {
  const cases: {
    name: string;
    input: { tree: Record<string, RootfsEntry>; folders: string[]; ldconfig?: string };
    expected: Omit<IsolatedProgram, "rootfs"> | { ran: false };
  }[] = [
    {
      name: "no ldconfig in the image: nothing runs",
      input: { tree: { "/etc/ld.so.conf.d": { dir: true } }, folders: ["/usr/lib"] },
      expected: { ran: false },
    },
    {
      name: "an ldconfig without execute bits is not run",
      input: { tree: { "/sbin/ldconfig": { copy: HOST_LDCONFIG, mode: 0o644 } }, folders: [] },
      expected: { ran: false },
    },
    {
      name: "the image's ldconfig, folders normalised and once, a fixed environment",
      input: { tree: IMAGE, folders: ["/opt/xpu/lib/", "/opt//xpu/./lib", "/usr/lib/xpu"] },
      expected: {
        program: { inRoot: "/sbin/ldconfig" },
        argv: ["ldconfig", "/opt/xpu/lib", "/usr/lib/xpu"],
        env: LDCONFIG_ENV,
        user: undefined,
      },
    },
    {
      name: "an absolute /sbin link in the image is resolved inside the rootfs",
      input: {
        tree: { "/sbin": { link: "/usr/sbin" }, "/usr/sbin/ldconfig": LDCONFIG },
        folders: ["/usr/lib"],
      },
      expected: {
        program: { inRoot: "/sbin/ldconfig" },
        argv: ["ldconfig", "/usr/lib"],
        env: LDCONFIG_ENV,
        user: undefined,
      },
    },
    {
      name: "an @ host ldconfig is run from the host, isolated all the same",
      input: { tree: {}, folders: ["/usr/lib"], ldconfig: "@/sbin/ldconfig" },
      expected: {
        program: { host: "/sbin/ldconfig" },
        argv: ["ldconfig", "/usr/lib"],
        env: LDCONFIG_ENV,
        user: undefined,
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((rootfs) => {
        writeRootfs(rootfs, c.input.tree);
        let ran: IsolatedProgram | undefined;
        const outcome = updateLdcache(rootfs, c.input.folders, {
          ldconfig: c.input.ldconfig,
          exec: (program) => {
            ran = program;
            throw new Error("exec");
          },
        }) as unknown;
        // A recorder that throws stands for the exec that never returns.
        assert.ok(ran === undefined || outcome === undefined);
        if ("ran" in c.expected) {
          assert.equal(ran, undefined);
          assert.equal((outcome as { ran: boolean }).ran, false);
        } else {
          assert.deepEqual(ran, { rootfs, ...c.expected });
        }
      }).catch((error) => {
        if (!(error instanceof Error && error.message === "exec")) throw error;
      });
    });
  }
});

Deno.test("unwritableEtc: whether ldconfig, without capabilities, can write /etc", async (t) => {
  const dir = (uid: number, gid: number, mode: number) => ({ kind: "dir", uid, gid, mode });
  const cases: {
    name: string;
    input: { etc?: ReturnType<typeof dir>; user: { uid: number; gid: number } };
    expected: string | undefined;
  }[] = [
    {
      name: "an image's /etc, root's",
      input: { etc: dir(0, 0, 0o755), user: { uid: 0, gid: 0 } },
      expected: undefined,
    },
    {
      name: "user namespace over a rootfs its root owns (docker userns-remap, podman)",
      input: { etc: dir(100000, 100000, 0o755), user: { uid: 100000, gid: 100000 } },
      expected: undefined,
    },
    {
      name: "user namespace over a rootfs the host's root owns",
      input: { etc: dir(0, 0, 0o755), user: { uid: 1000, gid: 1000 } },
      expected: `not refreshing the ld cache: the container's root (1000:1000) cannot write ` +
        `"/etc", which is 0:0 mode 755: give the container a rootfs its root owns (a user ` +
        `namespace's engine does) for the cache`,
    },
    {
      name: "the group may write",
      input: { etc: dir(0, 1000, 0o775), user: { uid: 1000, gid: 1000 } },
      expected: undefined,
    },
    {
      name: "the owner without search permission cannot",
      input: { etc: dir(1000, 1000, 0o600), user: { uid: 1000, gid: 1000 } },
      expected: `not refreshing the ld cache: the container's root (1000:1000) cannot write ` +
        `"/etc", which is 1000:1000 mode 600: give the container a rootfs its root owns (a user ` +
        `namespace's engine does) for the cache`,
    },
    {
      name: "no /etc: left to ldconfig",
      input: { user: { uid: 1000, gid: 1000 } },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.equal(unwritableEtc(c.input.etc, c.input.user), c.expected);
    });
  }
});

await e2eTest("xpu-ctk hook update-ldcache: the cache and drop-in land in the rootfs only", [
  "root",
  "busybox",
], async (t) => {
  const cases: {
    name: string;
    tree: (host: string) => Record<string, RootfsEntry>;
    /** Mount a procfs at the rootfs's /proc, as a runtime has when hooks run. */
    procfs?: boolean;
    folders: string[];
    expected: {
      code: number;
      /** rootfs paths and a text each must contain (undefined: must not exist). */
      files: Record<string, string | undefined>;
      stderr?: RegExp;
    };
  }[] = [
    {
      name: "an honest image gets the cache and the drop-in",
      tree: () => IMAGE,
      folders: ["/opt/xpu/lib"],
      expected: {
        code: 0,
        files: {
          "/etc/ld.so.cache": `/opt/xpu/lib/${SONAME}`,
          "/etc/ld.so.conf.d/00-xpu-ctk.conf": "/opt/xpu/lib\n",
        },
      },
    },
    {
      name: "an image without ld.so.conf.d gets the cache, no drop-in",
      tree: () => {
        const { "/etc/ld.so.conf.d": _, ...rest } = IMAGE;
        return rest;
      },
      folders: ["/opt/xpu/lib"],
      expected: {
        code: 0,
        files: { "/etc/ld.so.cache": SONAME, "/etc/ld.so.conf.d/00-xpu-ctk.conf": undefined },
      },
    },
    {
      name: "ld.so.conf.d linked to a host dir: the drop-in is re-rooted inside the rootfs",
      tree: (host) => ({ ...IMAGE, "/etc/ld.so.conf.d": { link: host }, [`${host}/.keep`]: "" }),
      folders: ["/opt/xpu/lib"],
      expected: {
        code: 0,
        files: { "/etc/ld.so.cache": SONAME, "HOST:/00-xpu-ctk.conf": undefined },
      },
    },
    {
      name: "ld.so.conf.d through a procfs magic link: a warning, the cache still refreshed",
      tree: () => ({
        ...IMAGE,
        "/etc/ld.so.conf.d": { link: "/proc/self/cwd" },
        "/proc": { dir: true },
      }),
      procfs: true,
      folders: ["/opt/xpu/lib"],
      expected: {
        code: 0,
        files: { "/etc/ld.so.cache": SONAME, "HOST:/00-xpu-ctk.conf": undefined },
        stderr: /warning: not writing "\/etc\/ld\.so\.conf\.d\/00-xpu-ctk\.conf"/,
      },
    },
    {
      name: "a hostile ldconfig reaches neither the host nor its privileges",
      tree: (host) => ({
        ...IMAGE,
        ...SHELL,
        "/sbin/ldconfig": {
          copy: writeScript(
            host,
            [
              `echo x > ${host}/marker-direct`,
              `echo x > /proc/1/root${host}/marker-proc`,
              `/bin/busybox mount -t proc proc /tmp && echo x > /tmp/1/root${host}/marker-mount`,
              `/bin/busybox mknod /tmp/null c 1 3 && echo x > ${host}/marker-mknod`,
              `/bin/busybox ls -A / > /tmp/root-listing`,
              `echo "$*" > /tmp/ran`,
              `exec /sbin/ldconfig.real "$@"`,
            ],
          ),
          mode: 0o755,
        },
      }),
      folders: ["/opt/xpu/lib"],
      expected: {
        code: 0,
        files: {
          "/etc/ld.so.cache": SONAME,
          "HOST:/marker-direct": undefined,
          "HOST:/marker-proc": undefined,
          "HOST:/marker-mount": undefined,
          "HOST:/marker-mknod": undefined,
          "/tmp/null": undefined,
          "/tmp/ran": "/opt/xpu/lib",
        },
      },
    },
    {
      name: "a failing ldconfig fails the hook with its own status",
      tree: (host) => ({
        ...IMAGE,
        ...SHELL,
        "/sbin/ldconfig": { copy: writeScript(host, ["echo broken >&2", "exit 3"]), mode: 0o755 },
      }),
      folders: ["/opt/xpu/lib"],
      expected: { code: 3, files: {}, stderr: /broken/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (dir) => {
        const host = `${dir}/host`;
        Deno.mkdirSync(host);
        Deno.mkdirSync(`${dir}/bundle/rootfs`, { recursive: true });
        writeRootfs(`${dir}/bundle/rootfs`, c.tree(host));
        const proc = `${dir}/bundle/rootfs/proc`;
        // Only mounts under this test's dir: other programs may mount elsewhere meanwhile.
        const mountsUnder = () =>
          Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => l.includes(dir));
        const mountsBefore = mountsUnder();
        if (c.procfs) await mount(["-t", "proc", "proc", proc]);
        let run;
        try {
          run = await runHook(dir, c.folders);
        } finally {
          if (c.procfs) await mount(["-u", proc]);
        }
        assert.equal(run.code, c.expected.code, run.stderr);
        if (c.expected.stderr) assert.match(run.stderr, c.expected.stderr);
        for (const [path, text] of Object.entries(c.expected.files)) {
          const file = path.startsWith("HOST:")
            ? host + path.slice(5)
            : `${dir}/bundle/rootfs${path}`;
          const content = read(file);
          if (text === undefined) assert.equal(content, undefined, `${path} must not exist`);
          else assert.ok(content?.includes(text), `${path} must contain ${text}`);
        }
        assert.deepEqual(Deno.readDirSync(host).map((e) => e.name).toArray().sort(), [
          ...(Deno.readDirSync(host).toArray().some((e) => e.name === ".keep") ? [".keep"] : []),
          ...(Deno.readDirSync(host).toArray().some((e) => e.name === "ldconfig.sh")
            ? ["ldconfig.sh"]
            : []),
        ]);
        assert.deepEqual(mountsUnder(), mountsBefore);
        const listing = read(`${dir}/bundle/rootfs/tmp/root-listing`);
        if (listing !== undefined) assert.doesNotMatch(listing, /\bhost\b|\bbundle\b|\bproc\b/);
      });
    });
  }
});

/** `mount ARGS`, or `umount PATH` for `["-u", PATH]`. */
async function mount(args: string[]): Promise<void> {
  const [program, rest] = args[0] === "-u" ? ["umount", args.slice(1)] : ["mount", args];
  const out = await new Deno.Command(program, { args: rest, stdout: "null", stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** A `#!/bin/sh` script in the test's host dir (copied into the image). */
function writeScript(host: string, lines: string[]): string {
  const path = `${host}/ldconfig.sh`;
  Deno.writeTextFileSync(path, ["#!/bin/sh", ...lines].join("\n") + "\n");
  return path;
}
