/**
 * Revert memories in a state dir: where each lives, reading a damaged one, writing only when the
 * content changes, and the first record of a key winning.
 */

import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ConfigError } from "../../src/core/errors.ts";
import {
  beginMemory,
  memoryPath,
  readMemory,
  rememberChange,
  type RevertMemory,
  writeMemory,
} from "../../src/engines/revert_memory.ts";
import { memoryValuesOf } from "../../src/engines/engines.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const FILE = "/etc/docker/daemon.json";

function sampleMemory(): RevertMemory {
  return {
    version: 1,
    engine: "docker",
    file: FILE,
    before: '{ "default-runtime": "crun" }\n',
    after: '{ "default-runtime": "xpu" }\n',
    changes: [{ path: ["default-runtime"], had: true, value: "crun" }],
    created: [],
  };
}

Deno.test("memoryPath: one URL-encoded file name per edited file", async (t) => {
  const cases = [
    {
      name: "daemon.json",
      input: { file: FILE, stateDir: "/var/lib/xpu/state" },
      expected: "/var/lib/xpu/state/%2Fetc%2Fdocker%2Fdaemon.json.json",
    },
    {
      name: "trailing slashes of the state dir",
      input: { file: FILE, stateDir: "/s//" },
      expected: "/s/%2Fetc%2Fdocker%2Fdaemon.json.json",
    },
    {
      name: "spaces and percent signs",
      input: { file: "/etc/my conf/100%.toml", stateDir: "/s" },
      expected: "/s/%2Fetc%2Fmy%20conf%2F100%25.toml.json",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(memoryPath(c.input.file, c.input.stateDir), c.expected));
  }
  await t.step("two files never share a memory", () => {
    notStrictEqual(memoryPath("/a/b.toml", "/s"), memoryPath("/a%2Fb.toml", "/s"));
  });
});

/** A valid memory's JSON with some fields replaced. */
function memoryWith(fields: Record<string, unknown>): string {
  return JSON.stringify({ ...sampleMemory(), ...fields });
}

Deno.test("readMemory", async (t) => {
  await t.step("no memory: undefined", async () => {
    await withTempDir((dir) => strictEqual(readMemory(FILE, `${dir}/state`), undefined));
  });
  await t.step("a written memory reads back", async () => {
    await withTempDir((dir) => {
      writeMemory(FILE, sampleMemory(), dir);
      deepStrictEqual(readMemory(FILE, dir), sampleMemory());
    });
  });
  await t.step("a docker memory's JSON value is not read as TOML text", async () => {
    await withTempDir((dir) => {
      // "crun" is a JSON string; as TOML text it would be a bare word, which TOML refuses.
      writeMemory(FILE, sampleMemory(), dir);
      deepStrictEqual(readMemory(FILE, dir, { valuesOf: memoryValuesOf }), sampleMemory());
    });
  });
  await t.step("a containerd memory's TOML value text reads back", async () => {
    await withTempDir((dir) => {
      const memory: RevertMemory = {
        ...sampleMemory(),
        engine: "containerd",
        changes: [{ path: ["a"], had: true, value: '"crun"' }],
      };
      writeMemory(FILE, memory, dir);
      deepStrictEqual(readMemory(FILE, dir, { valuesOf: memoryValuesOf }), memory);
    });
  });
  const corrupt = [
    { name: "not JSON", input: "{ half" },
    { name: "another version", input: '{ "version": 2, "changes": [] }' },
    { name: "no changes list", input: '{ "version": 1 }' },
    { name: "a JSON list", input: "[1]" },
    { name: "before is a number", input: memoryWith({ before: 1 }) },
    { name: "a change without a key path", input: memoryWith({ changes: [{ had: false }] }) },
    { name: "an empty key path", input: memoryWith({ changes: [{ path: [], had: false }] }) },
    { name: "had is a string", input: memoryWith({ changes: [{ path: ["a"], had: "yes" }] }) },
    {
      name: "a containerd value that is no TOML value",
      input: memoryWith({
        engine: "containerd",
        changes: [{ path: ["a"], had: true, value: "1\nb = 2" }],
      }),
    },
    { name: "created is not a list of paths", input: memoryWith({ created: ["runtimes"] }) },
    {
      name: "a handler without a path",
      input: memoryWith({ request: { handlers: [{ name: "x" }], cdi: false } }),
    },
    { name: "cdi is missing", input: memoryWith({ request: { handlers: [] } }) },
  ];
  for (const c of corrupt) {
    await t.step(`${c.name}: ConfigError naming the file`, async () => {
      await withTempDir((dir) => {
        const path = memoryPath(FILE, dir);
        Deno.writeTextFileSync(path, c.input);
        // As xpu-ctk reads them: each engine's values checked as its adapter keeps them.
        const read = () => readMemory(FILE, dir, { valuesOf: memoryValuesOf });
        const error = assertThrowsError(read, ConfigError, `"${path}"`);
        strictEqual(error.path, path);
        ok(error.message.includes("remove it"), error.message);
      });
    });
  }
});

Deno.test("writeMemory", async (t) => {
  await t.step("creates the state dir and a private file", async () => {
    await withTempDir((dir) => {
      const stateDir = `${dir}/deep/state`;
      writeMemory(FILE, sampleMemory(), stateDir);
      const info = Deno.statSync(memoryPath(FILE, stateDir));
      strictEqual(info.mode! & 0o777, 0o600);
      deepStrictEqual(
        JSON.parse(Deno.readTextFileSync(memoryPath(FILE, stateDir))),
        sampleMemory(),
      );
    });
  });
  await t.step("only the state dir is private (0700): a parent it creates is 0755", async () => {
    await withTempDir((dir) => {
      writeMemory(FILE, sampleMemory(), `${dir}/etc/xpu-container-runtime/revert`);
      const mode = (path: string) => (Deno.statSync(`${dir}${path}`).mode! & 0o7777).toString(8);
      deepStrictEqual(
        ["/etc", "/etc/xpu-container-runtime", "/etc/xpu-container-runtime/revert"].map(mode),
        ["755", "755", "700"],
      );
    });
  });
  await t.step("identical content is not rewritten (same inode and mtime)", async () => {
    await withTempDir(async (dir) => {
      writeMemory(FILE, sampleMemory(), dir);
      const before = Deno.statSync(memoryPath(FILE, dir));
      await new Promise((resolve) => setTimeout(resolve, 20));
      writeMemory(FILE, sampleMemory(), dir);
      const after = Deno.statSync(memoryPath(FILE, dir));
      strictEqual(after.ino, before.ino);
      strictEqual(after.mtime?.getTime(), before.mtime?.getTime());
    });
  });
  await t.step("changed content is written", async () => {
    await withTempDir((dir) => {
      writeMemory(FILE, sampleMemory(), dir);
      const changed = { ...sampleMemory(), after: null };
      writeMemory(FILE, changed, dir);
      deepStrictEqual(readMemory(FILE, dir), changed);
    });
  });
  await t.step("undefined removes it", async () => {
    await withTempDir((dir) => {
      writeMemory(FILE, sampleMemory(), dir);
      writeMemory(FILE, undefined, dir);
      strictEqual(readMemory(FILE, dir), undefined);
      strictEqual([...Deno.readDirSync(dir)].length, 0);
    });
  });
  await t.step("undefined without a memory (or a state dir) is fine", async () => {
    await withTempDir((dir) => {
      writeMemory(FILE, undefined, `${dir}/missing`);
      strictEqual([...Deno.readDirSync(dir)].length, 0, "no state dir is created");
    });
  });
});

Deno.test("rememberChange keeps the first record of a key", async (t) => {
  const cases = [
    {
      name: "a later record of the same key is ignored",
      input: [
        { path: ["default-runtime"], had: true, value: "crun" },
        { path: ["default-runtime"], had: true, value: "xpu" },
      ],
      expected: [{ path: ["default-runtime"], had: true, value: "crun" }],
    },
    {
      name: "another key is added",
      input: [
        { path: ["runtimes", "xpu"], had: false },
        { path: ["runtimes", "xpu-cdi"], had: false },
        { path: ["runtimes", "xpu"], had: true, value: { path: "/x" } },
      ],
      expected: [
        { path: ["runtimes", "xpu"], had: false },
        { path: ["runtimes", "xpu-cdi"], had: false },
      ],
    },
    {
      name: "paths are compared by parts, not by their joined text",
      input: [
        { path: ["a.b"], had: false },
        { path: ["a", "b"], had: false },
      ],
      expected: [{ path: ["a.b"], had: false }, { path: ["a", "b"], had: false }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const memory = beginMemory(undefined, { engine: "docker", file: FILE, before: "{}\n" });
      for (const change of c.input) rememberChange(memory, change);
      deepStrictEqual(memory.changes, c.expected);
    });
  }
});

Deno.test("beginMemory starts fresh or continues a copy", async (t) => {
  await t.step("fresh: after is before, nothing recorded", () => {
    deepStrictEqual(beginMemory(undefined, { engine: "crio", file: "/f", before: null }), {
      version: 1,
      engine: "crio",
      file: "/f",
      before: null,
      after: null,
      changes: [],
      created: [],
    });
  });
  await t.step("continued: the previous memory is not changed", () => {
    const previous = sampleMemory();
    const memory = beginMemory(previous, { engine: "docker", file: FILE, before: "other" });
    strictEqual(memory.before, previous.before, "the original before is kept");
    rememberChange(memory, { path: ["features", "cdi"], had: false });
    strictEqual(previous.changes.length, 1);
    strictEqual(memory.changes.length, 2);
  });
});
