/**
 * Opening admin-named files without following a final symbolic link, on real temp files: links
 * (dangling ones included) are refused and their targets untouched, FIFOs never block, regular
 * files work.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { OsCallError } from "../../../src/core/io/libc.ts";
import {
  closeFd,
  type FileKind,
  FileKindError,
  type OpenAccess,
  openNoFollow,
  readAll,
  statFd,
  writeAll,
} from "../../../src/core/io/fs.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const TARGET_TEXT = "root:x:0:0:host file\n";

/** A temp dir with a regular file, a link to it, a dangling link, a FIFO and a directory. */
function plant(dir: string): void {
  Deno.writeTextFileSync(`${dir}/target`, TARGET_TEXT);
  Deno.writeTextFileSync(`${dir}/file`, "honest\n");
  Deno.symlinkSync(`${dir}/target`, `${dir}/link`);
  Deno.symlinkSync(`${dir}/absent`, `${dir}/dangling`);
  Deno.mkdirSync(`${dir}/dir`);
  const fifo = new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
  strictEqual(fifo.code, 0, "mkfifo");
}

Deno.test("openNoFollow refuses a final symbolic link for every access", async (t) => {
  const cases: { name: string; input: { path: string; access: OpenAccess }; expected: string }[] = [
    { name: "read through a link", input: { path: "/link", access: "read" }, expected: "/target" },
    { name: "append to a link", input: { path: "/link", access: "append" }, expected: "/target" },
    {
      name: "read-write (pid file) through a link",
      input: { path: "/link", access: "read-write" },
      expected: "/target",
    },
    {
      name: "append to a dangling link does not create its target",
      input: { path: "/dangling", access: "append" },
      expected: "/absent",
    },
    {
      name: "create-new at a dangling link",
      input: { path: "/dangling", access: "create-new" },
      expected: "/absent",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        plant(dir);
        const error = assertThrowsError(
          () => openNoFollow(dir + c.input.path, c.input.access),
          FileKindError,
          `it is a symbolic link (to "${dir}${c.expected}")`,
        );
        strictEqual(error.kind, "symbolic link");
        strictEqual(error.path, dir + c.input.path);
        strictEqual(Deno.readTextFileSync(`${dir}/target`), TARGET_TEXT);
        ok(!exists(`${dir}/absent`), "the dangling link's target was created");
      });
    });
  }
});

Deno.test("openNoFollow on honest files and on FIFOs", async (t) => {
  await t.step("append creates a file with mode 0644 and appends to it", async () => {
    await withTempDir((dir) => {
      for (const line of ["one\n", "two\n"]) {
        const fd = openNoFollow(`${dir}/new.log`, "append");
        writeAll(fd, new TextEncoder().encode(line));
        closeFd(fd);
      }
      strictEqual(Deno.readTextFileSync(`${dir}/new.log`), "one\ntwo\n");
      strictEqual(Deno.statSync(`${dir}/new.log`).mode! & 0o777, 0o644 & ~Deno.umask());
    });
  });
  await t.step("read gives the file's bytes", async () => {
    await withTempDir((dir) => {
      plant(dir);
      const fd = openNoFollow(`${dir}/file`, "read");
      try {
        strictEqual(new TextDecoder().decode(readAll(fd)), "honest\n");
      } finally {
        closeFd(fd);
      }
    });
  });
  await t.step("create-new refuses an existing regular file", async () => {
    await withTempDir((dir) => {
      plant(dir);
      const error = assertThrowsError(
        () => openNoFollow(`${dir}/file`, "create-new"),
        OsCallError,
        "open",
      );
      strictEqual(error.code, "EEXIST");
      strictEqual(Deno.readTextFileSync(`${dir}/file`), "honest\n");
    });
  });
  await t.step("append to a FIFO nobody reads fails at once instead of waiting", async () => {
    await withTempDir((dir) => {
      plant(dir);
      const error = assertThrowsError(
        () => openNoFollow(`${dir}/fifo`, "append"),
        FileKindError,
        "it is a FIFO, not a regular file",
      );
      strictEqual(error.kind, "FIFO");
    });
  });
  await t.step("a missing directory is an OsCallError with ENOENT", async () => {
    await withTempDir((dir) => {
      const error = assertThrowsError(
        () => openNoFollow(`${dir}/no/such.log`, "append"),
        OsCallError,
        "open",
      );
      strictEqual(error.code, "ENOENT");
    });
  });
});

Deno.test("statFd says what an open descriptor is", async (t) => {
  const cases: { name: string; input: string; expected: FileKind }[] = [
    { name: "a regular file", input: "/file", expected: "regular file" },
    { name: "a FIFO (opened for reading without blocking)", input: "/fifo", expected: "FIFO" },
    { name: "a directory", input: "/dir", expected: "directory" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        plant(dir);
        const fd = openNoFollow(dir + c.input, "read");
        try {
          strictEqual(statFd(fd).kind, c.expected);
        } finally {
          closeFd(fd);
        }
      });
    });
  }
  await t.step("a character device, with the size of a file", async () => {
    const fd = openNoFollow("/dev/null", "read");
    try {
      strictEqual(statFd(fd).kind, "character device");
    } finally {
      closeFd(fd);
    }
    await withTempDir((dir) => {
      plant(dir);
      const file = openNoFollow(`${dir}/file`, "read");
      try {
        deepStrictEqual(statFd(file), { kind: "regular file", size: "honest\n".length });
      } finally {
        closeFd(file);
      }
    });
  });
});

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
