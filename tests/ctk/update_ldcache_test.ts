import assert from "node:assert/strict";
import { ExecError } from "../../src/core/errors.ts";
import { type LdcacheOutcome, updateLdcache } from "../../src/ctk/update_ldcache.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import { withTempDir, writeTree } from "../helpers/temp_dir.ts";

// Real programs from the host: Debian's ldconfig is static, so it runs chrooted into a rootfs that
// holds nothing else; busybox-static serves as the /bin/sh of a failing ldconfig script.
const HOST_LDCONFIG = "/sbin/ldconfig";
const HOST_BUSYBOX = "/bin/busybox";
const HOST_LIBRARY = "/lib/x86_64-linux-gnu/libz.so.1.2.13";
const SONAME = "libz.so.1";

/** A rootfs entry: what `writeTree` takes, or a copy of a host file with a mode. */
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

function readOrUndefined(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function contains(bytes: Uint8Array | undefined, text: string): boolean {
  return bytes !== undefined && new TextDecoder("latin1").decode(bytes).includes(text);
}

const LDCONFIG = { copy: HOST_LDCONFIG, mode: 0o755 };
const LIBRARY = { copy: HOST_LIBRARY, mode: 0o644 };
const IMAGE: Record<string, RootfsEntry> = {
  "/sbin/ldconfig": LDCONFIG,
  "/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n",
  "/etc/ld.so.conf.d": { dir: true },
  "/opt/xpu/lib/libz.so.1.2.13": LIBRARY,
};

Deno.test("the host programs these tests run are present", () => {
  for (const path of [HOST_LDCONFIG, HOST_BUSYBOX, HOST_LIBRARY, "/usr/sbin/chroot"]) {
    assert.ok(Deno.statSync(path).isFile, `${path} must exist to run the ldcache tests`);
  }
});

Deno.test("updateLdcache refreshes the container's ld cache with its own ldconfig", async (t) => {
  const OUTSIDE = `/xpu-ctk-test-ldconf-${crypto.randomUUID().slice(0, 8)}`;
  const cases: {
    name: string;
    input: { tree: Record<string, RootfsEntry>; folders: string[] };
    expected: {
      outcome: LdcacheOutcome;
      /** rootfs paths → text the file must contain (`undefined`: the file must not exist). */
      files: Record<string, string | undefined>;
    };
  }[] = [
    {
      name: "an image without ldconfig is left alone",
      input: {
        tree: { "/etc/ld.so.conf.d": { dir: true }, "/opt/xpu/lib/libz.so.1.2.13": LIBRARY },
        folders: ["/opt/xpu/lib"],
      },
      expected: {
        outcome: { ran: false, reason: "the image has no ldconfig" },
        files: { "/etc/ld.so.conf.d/00-xpu-ctk.conf": undefined, "/etc/ld.so.cache": undefined },
      },
    },
    {
      name: "an ldconfig without execute bits is not run",
      input: {
        tree: { ...IMAGE, "/sbin/ldconfig": { copy: HOST_LDCONFIG, mode: 0o644 } },
        folders: ["/opt/xpu/lib"],
      },
      expected: {
        outcome: { ran: false, reason: "the image has no ldconfig" },
        files: { "/etc/ld.so.conf.d/00-xpu-ctk.conf": undefined, "/etc/ld.so.cache": undefined },
      },
    },
    {
      // The link names the host's real ldconfig; following it outside the rootfs would run it.
      name: "an absolute ldconfig link is resolved inside the rootfs",
      input: {
        tree: {
          "/sbin/ldconfig": { link: HOST_LDCONFIG.replace("/sbin", "/usr/sbin") },
          "/etc/x": "",
        },
        folders: ["/opt/xpu/lib"],
      },
      expected: {
        outcome: { ran: false, reason: "the image has no ldconfig" },
        files: { "/etc/ld.so.cache": undefined },
      },
    },
    {
      name: "a working ldconfig writes the cache and the drop-in",
      input: { tree: IMAGE, folders: ["/opt/xpu/lib"] },
      expected: {
        outcome: { ran: true, ldconfig: "/sbin/ldconfig", dropIn: true },
        files: {
          "/etc/ld.so.cache": `/opt/xpu/lib/${SONAME}`,
          "/etc/ld.so.conf.d/00-xpu-ctk.conf": "/opt/xpu/lib\n",
          [`/opt/xpu/lib/${SONAME}`]: "ELF",
        },
      },
    },
    {
      name: "folders are normalised and listed once",
      input: {
        tree: { ...IMAGE, "/usr/lib/xpu/.keep": "" },
        folders: ["/opt/xpu/lib/", "/opt//xpu/./lib", "/usr/lib/xpu"],
      },
      expected: {
        outcome: { ran: true, ldconfig: "/sbin/ldconfig", dropIn: true },
        files: {
          "/etc/ld.so.cache": SONAME,
          "/etc/ld.so.conf.d/00-xpu-ctk.conf": "/opt/xpu/lib\n/usr/lib/xpu\n",
        },
      },
    },
    {
      name: "merged /usr: /sbin links to usr/sbin",
      input: {
        tree: {
          "/sbin": { link: "usr/sbin" },
          "/usr/sbin/ldconfig": LDCONFIG,
          "/etc/ld.so.conf.d": { dir: true },
          "/opt/xpu/lib/libz.so.1.2.13": LIBRARY,
        },
        folders: ["/opt/xpu/lib"],
      },
      expected: {
        outcome: { ran: true, ldconfig: "/sbin/ldconfig", dropIn: true },
        files: { "/etc/ld.so.cache": SONAME },
      },
    },
    {
      name: "ldconfig only in /usr/sbin",
      input: {
        tree: {
          "/usr/sbin/ldconfig": LDCONFIG,
          "/etc/x": "",
          "/opt/xpu/lib/libz.so.1.2.13": LIBRARY,
        },
        folders: ["/opt/xpu/lib"],
      },
      expected: {
        outcome: { ran: true, ldconfig: "/usr/sbin/ldconfig", dropIn: false },
        files: { "/etc/ld.so.cache": SONAME, "/etc/ld.so.conf.d/00-xpu-ctk.conf": undefined },
      },
    },
    {
      name: "an absolute ld.so.conf.d link is followed inside the rootfs",
      input: {
        tree: {
          ...IMAGE,
          "/etc/ld.so.conf.d": { link: OUTSIDE },
          [`${OUTSIDE}/.keep`]: "",
        },
        folders: ["/opt/xpu/lib"],
      },
      expected: {
        outcome: { ran: true, ldconfig: "/sbin/ldconfig", dropIn: true },
        files: { [`${OUTSIDE}/00-xpu-ctk.conf`]: "/opt/xpu/lib\n" },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (rootfs) => {
        writeRootfs(rootfs, c.input.tree);
        assert.deepEqual(await updateLdcache(rootfs, c.input.folders), c.expected.outcome);
        for (const [path, text] of Object.entries(c.expected.files)) {
          const bytes = readOrUndefined(rootfs + path);
          if (text === undefined) assert.equal(bytes, undefined, `${path} must not exist`);
          else assert.ok(contains(bytes, text), `${path} must contain "${text}"`);
        }
      });
      assert.equal(readOrUndefined(`${OUTSIDE}/00-xpu-ctk.conf`), undefined);
    });
  }
});

Deno.test("updateLdcache reports a failing ldconfig", async (t) => {
  const cases = [
    {
      name: "ldconfig exits 1",
      input: "#!/bin/sh\necho 'ldconfig: simulated failure' >&2\nexit 1\n",
      expected: { error: ExecError, messages: ["/sbin/ldconfig", "simulated failure"] },
    },
    {
      name: "ldconfig exits 3 silently",
      input: "#!/bin/sh\nexit 3\n",
      expected: { error: ExecError, messages: ["/sbin/ldconfig", "exit status 3"] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (rootfs) => {
        writeRootfs(rootfs, {
          "/bin/sh": { copy: HOST_BUSYBOX, mode: 0o755 },
          "/sbin/ldconfig": c.input,
          "/etc/ld.so.conf.d": { dir: true },
        });
        Deno.chmodSync(`${rootfs}/sbin/ldconfig`, 0o755);
        const error = await assertRejectsError(
          () => updateLdcache(rootfs, ["/opt/xpu/lib"]),
          c.expected.error,
          c.expected.messages[0],
        );
        for (const fragment of [rootfs, ...c.expected.messages]) {
          assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
        }
      });
    });
  }
});
