/**
 * Reading a bundle's config.json as a regular file: its exact bytes when it is one; a clear
 * refusal, at once, when it is a FIFO, a link, a directory or a device.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { OsCallError } from "../../../src/core/io/libc.ts";
import { FileKindError } from "../../../src/core/io/fs.ts";
import { readRegularFile } from "../../../src/core/io/regular_file.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const REGULAR_FILE_MODULE = new URL("../../../src/core/io/regular_file.ts", import.meta.url).href;

function mkfifo(path: string): void {
  strictEqual(new Deno.Command("mkfifo", { args: [path] }).outputSync().code, 0, "mkfifo");
}

Deno.test("readRegularFile gives a regular file's exact bytes", async (t) => {
  const cases: { name: string; input: Uint8Array }[] = [
    { name: "a small JSON file", input: new TextEncoder().encode('{"ociVersion":"1.0.2"}\n') },
    { name: "an empty file", input: new Uint8Array() },
    { name: "invalid UTF-8 survives", input: new Uint8Array([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]) },
    {
      name: "a file larger than the first read buffer",
      input: new Uint8Array(70_000).map((_, i) => i % 251),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        Deno.writeFileSync(`${dir}/config.json`, c.input);
        deepStrictEqual(readRegularFile(`${dir}/config.json`), c.input);
      });
    });
  }
});

Deno.test("readRegularFile refuses what is not a regular file", async (t) => {
  const cases: {
    name: string;
    input: (dir: string) => string;
    expected: string;
  }[] = [
    {
      name: "a FIFO",
      input: (dir) => (mkfifo(`${dir}/config.json`), `${dir}/config.json`),
      expected: "it is a FIFO, not a regular file",
    },
    {
      name: "a symbolic link to a regular file",
      input: (dir) => {
        Deno.writeTextFileSync(`${dir}/elsewhere.json`, "{}");
        Deno.symlinkSync(`${dir}/elsewhere.json`, `${dir}/config.json`);
        return `${dir}/config.json`;
      },
      expected: "it is a symbolic link (to ",
    },
    {
      name: "a directory",
      input: (dir) => (Deno.mkdirSync(`${dir}/config.json`), `${dir}/config.json`),
      expected: "it is a directory, not a regular file",
    },
    {
      name: "a character device",
      input: () => "/dev/null",
      expected: "it is a character device, not a regular file",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        const path = c.input(dir);
        const error = assertThrowsError(() => readRegularFile(path), FileKindError, c.expected);
        strictEqual(error.path, path);
      });
    });
  }
  await t.step("a missing file is an OsCallError with ENOENT", async () => {
    await withTempDir((dir) => {
      const error = assertThrowsError(
        () => readRegularFile(`${dir}/config.json`),
        OsCallError,
        "No such file",
      );
      strictEqual(error.code, "ENOENT");
    });
  });
});

Deno.test("readRegularFile on a FIFO returns at once in a fresh process", async () => {
  // Run in a child: a read that blocked would block this test's own event loop, timer included.
  await withTempDir(async (dir) => {
    mkfifo(`${dir}/config.json`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { readRegularFile } from ${JSON.stringify(REGULAR_FILE_MODULE)};\n` +
        `try { readRegularFile(${JSON.stringify(`${dir}/config.json`)}); console.log("read"); }\n` +
        `catch (error) { console.log(error.message); }`,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
    strictEqual(
      new TextDecoder().decode(out.stdout),
      `"${dir}/config.json": it is a FIFO, not a regular file\n`,
    );
  });
});

Deno.test("readRegularFile refuses a path with a NUL byte instead of reading a shorter one", async () => {
  await withTempDir((dir) => {
    // The C string would end at the NUL, which names this file.
    Deno.writeTextFileSync(`${dir}/config`, "{}");
    const error = assertThrowsError(
      () => readRegularFile(`${dir}/config\0.json`),
      OsCallError,
      "open: ",
    );
    strictEqual(error.code, "EINVAL");
    deepStrictEqual(readRegularFile(`${dir}/config`), new TextEncoder().encode("{}"));
  });
});
