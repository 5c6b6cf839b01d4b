/**
 * Atomic writes on real temp dirs: honest files are replaced keeping their mode; a symbolic link
 * or a special file at the path is refused with one line and its target stays byte-identical,
 * also while another process keeps swapping a link in and out; no temp file is left behind.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { writeFileAtomic } from "../../../src/core/io/atomic_file.ts";
import { UsageError } from "../../../src/core/errors.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const HOST_FILE = "root:x:0:0:the host's own file\n";

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("writeFileAtomic writes honest files", async (t) => {
  const cases: {
    name: string;
    input: { before?: { text: string; mode: number }; mode?: number };
    expected: { mode: number };
  }[] = [
    { name: "a new file gets 0644", input: {}, expected: { mode: 0o644 } },
    { name: "a new file with an explicit mode", input: { mode: 0o600 }, expected: { mode: 0o600 } },
    {
      name: "a replaced file keeps its mode",
      input: { before: { text: "old", mode: 0o640 } },
      expected: { mode: 0o640 },
    },
    {
      name: "an explicit mode wins over the old one",
      input: { before: { text: "old", mode: 0o600 }, mode: 0o644 },
      expected: { mode: 0o644 },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        const path = `${dir}/out.yaml`;
        if (c.input.before) {
          Deno.writeTextFileSync(path, c.input.before.text);
          Deno.chmodSync(path, c.input.before.mode);
        }
        writeFileAtomic(path, "new\n", c.input.mode === undefined ? {} : { mode: c.input.mode });
        strictEqual(Deno.readTextFileSync(path), "new\n");
        strictEqual(Deno.lstatSync(path).mode! & 0o7777, c.expected.mode);
        deepStrictEqual(entries(dir), ["out.yaml"]);
      });
    });
  }
  await t.step("bytes are written as given, invalid UTF-8 included", async () => {
    await withTempDir((dir) => {
      const bytes = new Uint8Array([0x7b, 0xff, 0x00, 0xc3, 0x28, 0x7d]);
      writeFileAtomic(`${dir}/config.json`, bytes);
      deepStrictEqual(Deno.readFileSync(`${dir}/config.json`), bytes);
    });
  });
  await t.step("a missing directory: one line naming the file", async () => {
    await withTempDir((dir) => {
      const error = assertThrowsError(
        () => writeFileAtomic(`${dir}/no/out.yaml`, "x"),
        Error,
        `Cannot write "${dir}/no/out.yaml": open: No such file or directory`,
      );
      ok(!error.message.includes("\n"));
    });
  });
});

Deno.test("writeFileAtomic refuses a link or a special file at the path", async (t) => {
  const cases: {
    name: string;
    input: (dir: string) => void;
    expected: string;
  }[] = [
    {
      name: "a symbolic link to a host file",
      input: (dir) => Deno.symlinkSync(`${dir}/host/passwd`, `${dir}/out.yaml`),
      expected: `it is a symbolic link (to "DIR/host/passwd"): files are never written through ` +
        `a link; name the file itself or remove the link`,
    },
    {
      name: "a dangling symbolic link",
      input: (dir) => Deno.symlinkSync(`${dir}/host/new-file`, `${dir}/out.yaml`),
      expected: `it is a symbolic link (to "DIR/host/new-file")`,
    },
    {
      name: "a FIFO",
      input: (dir) => {
        strictEqual(new Deno.Command("mkfifo", { args: [`${dir}/out.yaml`] }).outputSync().code, 0);
      },
      expected: "it is a FIFO, not a regular file: name a regular file",
    },
    {
      name: "a directory",
      input: (dir) => Deno.mkdirSync(`${dir}/out.yaml`),
      expected: "it is a directory, not a regular file",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        Deno.mkdirSync(`${dir}/host`);
        Deno.writeTextFileSync(`${dir}/host/passwd`, HOST_FILE);
        c.input(dir);
        const before = Deno.lstatSync(`${dir}/out.yaml`);
        const error = assertThrowsError(
          () => writeFileAtomic(`${dir}/out.yaml`, "attacker's bytes\n"),
          UsageError,
          `Cannot write "${dir}/out.yaml": ${c.expected.replaceAll("DIR", dir)}`,
        );
        ok(!error.message.includes("\n"));
        strictEqual(Deno.readTextFileSync(`${dir}/host/passwd`), HOST_FILE);
        deepStrictEqual(entries(`${dir}/host`), ["passwd"]);
        // The link (or FIFO, or dir) itself is left as it was, and no temp file remains.
        strictEqual(Deno.lstatSync(`${dir}/out.yaml`).mode, before.mode);
        deepStrictEqual(entries(dir), ["host", "out.yaml"]);
      });
    });
  }
});

Deno.test(
  "writeFileAtomic never writes through a link swapped in while it runs",
  async () => {
    // A second process keeps replacing the output with a link to the host file and back with a
    // regular file; every write either lands in the directory or is refused. rename(2) replaces a
    // link that appears after the check instead of following it, and the temp file is O_EXCL.
    await withTempDir(async (dir) => {
      Deno.mkdirSync(`${dir}/host`);
      Deno.writeTextFileSync(`${dir}/host/passwd`, HOST_FILE);
      const out = `${dir}/out.yaml`;
      const swapper = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `const [out, target] = ${JSON.stringify([out, `${dir}/host/passwd`])};\n` +
          `const end = Date.now() + 1500;\n` +
          `for (let i = 0; Date.now() < end; i++) {\n` +
          `  try { Deno.symlinkSync(target, out + ".l"); Deno.renameSync(out + ".l", out); } catch {}\n` +
          `  try { Deno.writeTextFileSync(out + ".f", "file"); Deno.renameSync(out + ".f", out); } catch {}\n` +
          `}`,
        ],
      }).spawn();
      let written = 0;
      let refused = 0;
      const end = Date.now() + 1000;
      while (Date.now() < end) {
        try {
          writeFileAtomic(out, "ours\n");
          written++;
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          refused++;
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await swapper.status;
      ok(written + refused > 50, `only ${written + refused} writes ran`);
      strictEqual(Deno.readTextFileSync(`${dir}/host/passwd`), HOST_FILE);
      deepStrictEqual(entries(`${dir}/host`), ["passwd"]);
      ok(!entries(dir).some((name) => name.includes(".tmp-")), entries(dir).join(", "));
    });
  },
);
