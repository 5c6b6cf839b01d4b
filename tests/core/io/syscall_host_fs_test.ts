/** `syscallHostFs`: its `stat` and `lstat` answer as Deno's calls do, on a real tree. */

import { deepStrictEqual, throws } from "node:assert/strict";
import { realHostFs } from "../../../src/core/io/host_fs.ts";
import { OsCallError } from "../../../src/core/io/libc.ts";
import { syscallHostFs } from "../../../src/core/io/syscall_host_fs.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

Deno.test("syscallHostFs stats every kind of entry as realHostFs does", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "x", { mode: 0o640 });
    Deno.chmodSync(`${dir}/file`, 0o4751);
    Deno.mkdirSync(`${dir}/dir`, { mode: 0o1777 });
    Deno.chmodSync(`${dir}/dir`, 0o1777);
    Deno.symlinkSync("file", `${dir}/link`);
    Deno.symlinkSync("nowhere", `${dir}/dangling`);
    Deno.symlinkSync("loop", `${dir}/loop`);
    Deno.chownSync(`${dir}/file`, 1234, 5678);
    const paths = [
      `${dir}/file`,
      `${dir}/dir`,
      `${dir}/link`,
      `${dir}/dangling`,
      `${dir}/missing`,
      `${dir}/file/below-a-file`,
      `${dir}/dir/../file`,
      "/dev/null",
      "/dev/zero",
      "",
    ];
    for (const path of paths) {
      deepStrictEqual(syscallHostFs.lstat(path), realHostFs.lstat(path), `lstat ${path}`);
      deepStrictEqual(syscallHostFs.stat(path), realHostFs.stat(path), `stat ${path}`);
    }
    deepStrictEqual(syscallHostFs.stat("/dev/null")?.major, 1);
    deepStrictEqual(syscallHostFs.stat("/dev/zero")?.minor, 5);
    // A loop of links is an error, not a missing file, as Deno's own call makes it.
    throws(() => realHostFs.stat(`${dir}/loop`));
    throws(() => syscallHostFs.stat(`${dir}/loop`), OsCallError);
    deepStrictEqual(syscallHostFs.lstat(`${dir}/loop`), realHostFs.lstat(`${dir}/loop`));
  });
});
