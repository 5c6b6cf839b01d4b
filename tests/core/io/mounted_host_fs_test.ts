/**
 * mountedHostFs over real temp dirs: a fake host tree at `<tmp>/host` read as the host's `/`.
 * Paths stay host paths; symlinks (absolute or relative, on the last part or on a directory in the
 * middle) are followed the way the host would, under the mount and never in the reader's own
 * tree; `..` cannot climb out of the mount; loops give up; a non-root host dir maps only its own
 * paths.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { realHostFs } from "../../../src/core/io/host_fs.ts";
import { mountedHostFs } from "../../../src/core/io/mounted_host_fs.ts";
import { withTempDir, writeTree } from "../../helpers/temp_dir.ts";

/** A name no real machine has, so a lookup that escapes the mount finds nothing. */
const LIB = "libxpuctk-mounttest-7f3c.so";

/** A merged-usr host: `/lib` and `/lib64` point into `/usr/lib`, with links of every kind. */
function writeHost(host: string, outside: string): void {
  writeTree(host, {
    "/etc/xpuctk-mounttest.conf": "host conf",
    [`/usr/lib/${LIB}.1`]: "host lib",
    [`/usr/lib/${LIB}`]: { link: `/usr/lib/${LIB}.1` },
    [`/usr/lib/rel-${LIB}`]: { link: `${LIB}.1` },
    "/usr/lib/xpuctk-sub/data.txt": "sub data",
    "/usr/lib/escape.conf": { link: "../../../../../../etc/xpuctk-mounttest.conf" },
    "/usr/lib/outside.txt": { link: `${outside}/real.txt` },
    "/usr/bin/xpuctk-tool": { link: `../lib/${LIB}` },
    "/usr/xpuctk-marker": "in usr",
    "/lib": { link: "usr/lib" },
    "/lib64": { link: "/usr/lib" },
    "/empty": { dir: true },
    "/loop/a": { link: "b" },
    "/loop/b": { link: "/loop/a" },
    "/loop/self": { link: "self/x" },
    "/dangling": { link: "/nonexistent-xpuctk-mounttest" },
  });
  writeTree(outside, { "/real.txt": "reader's own file" });
}

Deno.test("mountedHostFs: a host tree at <tmp>/host read as the host's /", async (t) => {
  await withTempDir(async (dir) => {
    const host = `${dir}/host`;
    const outside = `${dir}/outside`;
    writeHost(host, outside);
    const fs = mountedHostFs(realHostFs, host);

    await t.step("the test names exist only in the host tree", () => {
      strictEqual(realHostFs.stat(`/usr/lib/${LIB}.1`), undefined);
      strictEqual(realHostFs.stat("/etc/xpuctk-mounttest.conf"), undefined);
    });

    await t.step("plain files and directories through the mount", () => {
      strictEqual(fs.readTextFile("/etc/xpuctk-mounttest.conf"), "host conf");
      strictEqual(fs.stat("/etc/xpuctk-mounttest.conf")?.kind, "file");
      strictEqual(fs.stat("/usr/lib")?.kind, "dir");
      strictEqual(fs.stat("/")?.kind, "dir");
      deepStrictEqual(fs.readDir("/usr/lib/xpuctk-sub"), ["data.txt"]);
      deepStrictEqual(fs.readDir("/empty"), []);
      deepStrictEqual(fs.readDir("/"), [
        "dangling",
        "empty",
        "etc",
        "lib",
        "lib64",
        "loop",
        "usr",
      ]);
      deepStrictEqual(fs.stat("/usr/xpuctk-marker"), realHostFs.stat(`${host}/usr/xpuctk-marker`));
    });

    await t.step("an absolute symlink resolves under the mount", () => {
      strictEqual(fs.readTextFile(`/usr/lib/${LIB}`), "host lib");
      strictEqual(fs.stat(`/usr/lib/${LIB}`)?.kind, "file");
      // Read directly, the reader's own tree would find nothing (the target is host-absolute).
      strictEqual(realHostFs.readTextFile(`${host}/usr/lib/${LIB}`), undefined);
    });

    await t.step("an absolute target in the reader's tree is not visible", () => {
      strictEqual(realHostFs.readTextFile(`${outside}/real.txt`), "reader's own file");
      strictEqual(fs.stat("/usr/lib/outside.txt"), undefined);
      strictEqual(fs.readTextFile("/usr/lib/outside.txt"), undefined);
      strictEqual(fs.lstat("/usr/lib/outside.txt")?.kind, "symlink");
    });

    await t.step("a relative symlink resolves beside the link", () => {
      strictEqual(fs.readTextFile(`/usr/lib/rel-${LIB}`), "host lib");
      // ../lib/<LIB> from /usr/bin, then the absolute link <LIB> -> /usr/lib/<LIB>.1.
      strictEqual(fs.readTextFile("/usr/bin/xpuctk-tool"), "host lib");
    });

    await t.step("a relative symlinked directory in the middle (merged usr)", () => {
      strictEqual(fs.readTextFile(`/lib/${LIB}.1`), "host lib");
      strictEqual(fs.readTextFile(`/lib/${LIB}`), "host lib");
      strictEqual(fs.readTextFile("/lib/xpuctk-sub/data.txt"), "sub data");
      strictEqual(fs.stat("/lib")?.kind, "dir");
      deepStrictEqual(fs.readDir("/lib"), fs.readDir("/usr/lib"));
      ok(fs.readDir("/lib")?.includes(`${LIB}.1`));
    });

    await t.step("an absolute symlinked directory in the middle", () => {
      strictEqual(fs.readTextFile(`/lib64/${LIB}.1`), "host lib");
      strictEqual(fs.readTextFile("/lib64/xpuctk-sub/data.txt"), "sub data");
      deepStrictEqual(fs.readDir("/lib64/xpuctk-sub"), ["data.txt"]);
      strictEqual(fs.stat("/lib64")?.kind, "dir");
    });

    await t.step(".. components", () => {
      strictEqual(fs.readTextFile("/usr/lib/../../etc/xpuctk-mounttest.conf"), "host conf");
      strictEqual(fs.readTextFile(`/usr/lib/xpuctk-sub/../${LIB}.1`), "host lib");
      strictEqual(fs.readTextFile("/usr/./lib/./xpuctk-sub/data.txt"), "sub data");
      // `..` after a symlinked directory is the parent of its target, as on Linux.
      strictEqual(fs.readTextFile("/lib/../xpuctk-marker"), "in usr");
      strictEqual(fs.readTextFile("/lib64/../xpuctk-marker"), "in usr");
      strictEqual(fs.stat("/xpuctk-marker"), undefined);
      // `..` of a missing directory is taken lexically (resolveInRoot keeps missing parts as
      // written), where Linux would fail: no discovery path has such a part.
      strictEqual(fs.readTextFile("/missing-xpuctk/../etc/xpuctk-mounttest.conf"), "host conf");
    });

    await t.step(".. cannot climb out of the mount", () => {
      strictEqual(fs.readTextFile("/../../../etc/xpuctk-mounttest.conf"), "host conf");
      strictEqual(fs.readTextFile("/usr/lib/escape.conf"), "host conf");
      strictEqual(fs.stat("/../host/etc/xpuctk-mounttest.conf"), undefined);
    });

    await t.step("lstat keeps the last symlink, stat follows it", () => {
      strictEqual(fs.lstat(`/usr/lib/${LIB}`)?.kind, "symlink");
      strictEqual(fs.stat(`/usr/lib/${LIB}`)?.kind, "file");
      strictEqual(fs.lstat("/lib")?.kind, "symlink");
      // "lib/" and "lib/." name the directory behind the link, as lstat(2) does.
      strictEqual(fs.lstat("/lib/")?.kind, "dir");
      strictEqual(fs.lstat("/lib/.")?.kind, "dir");
      strictEqual(fs.lstat("/lib64")?.kind, "symlink");
      // Directories in the middle are followed even by lstat.
      strictEqual(fs.lstat(`/lib/${LIB}`)?.kind, "symlink");
      strictEqual(fs.lstat(`/lib64/${LIB}.1`)?.kind, "file");
      strictEqual(fs.lstat("/dangling")?.kind, "symlink");
      strictEqual(fs.stat("/dangling"), undefined);
    });

    await t.step("readLink returns the target as stored", () => {
      strictEqual(fs.readLink(`/usr/lib/${LIB}`), `/usr/lib/${LIB}.1`);
      strictEqual(fs.readLink(`/usr/lib/rel-${LIB}`), `${LIB}.1`);
      strictEqual(fs.readLink("/lib"), "usr/lib");
      strictEqual(fs.readLink("/lib64"), "/usr/lib");
      strictEqual(fs.readLink(`/lib/${LIB}`), `/usr/lib/${LIB}.1`);
      strictEqual(fs.readLink("/lib64/rel-" + LIB), `${LIB}.1`);
      strictEqual(fs.readLink("/dangling"), "/nonexistent-xpuctk-mounttest");
    });

    await t.step("missing paths give undefined", () => {
      strictEqual(fs.stat("/missing-xpuctk"), undefined);
      strictEqual(fs.lstat("/missing-xpuctk"), undefined);
      strictEqual(fs.readDir("/missing-xpuctk"), undefined);
      strictEqual(fs.readTextFile("/missing-xpuctk"), undefined);
      strictEqual(fs.stat("/usr/lib/missing-xpuctk/data.txt"), undefined);
      strictEqual(fs.lstat("/missing-xpuctk/x"), undefined);
      strictEqual(fs.readTextFile("/lib/missing-xpuctk"), undefined);
      // A file used as a directory.
      strictEqual(fs.stat("/etc/xpuctk-mounttest.conf/x"), undefined);
      strictEqual(fs.readTextFile("/etc/xpuctk-mounttest.conf/x"), undefined);
    });

    await t.step("a symlink loop gives undefined instead of hanging", () => {
      strictEqual(fs.stat("/loop/a"), undefined);
      strictEqual(fs.stat("/loop/b"), undefined);
      strictEqual(fs.readTextFile("/loop/a"), undefined);
      strictEqual(fs.readDir("/loop/a"), undefined);
      strictEqual(fs.stat("/loop/a/x"), undefined);
      strictEqual(fs.lstat("/loop/a/x"), undefined);
      // A link that grows the path each time round.
      strictEqual(fs.stat("/loop/self"), undefined);
      strictEqual(fs.lstat("/loop/a")?.kind, "symlink");
      strictEqual(fs.readLink("/loop/b"), "/loop/a");
    });

    await t.step("a mount point with a trailing slash", () => {
      const slashed = mountedHostFs(realHostFs, `${host}/`);
      strictEqual(slashed.readTextFile(`/lib64/${LIB}`), "host lib");
      deepStrictEqual(slashed.readDir("/"), fs.readDir("/"));
    });
  });
});

Deno.test("mountedHostFs: the host's / at / is the base itself", () => {
  strictEqual(mountedHostFs(realHostFs, "/"), realHostFs);
  strictEqual(mountedHostFs(realHostFs, "//"), realHostFs);
  ok(mountedHostFs(realHostFs, "/host") !== realHostFs);
});
