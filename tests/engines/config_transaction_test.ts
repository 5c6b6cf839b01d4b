/**
 * Writing planned changes: atomic writes that keep an existing file's mode and owner, removals,
 * revert memories beside them, the report lines; unified diffs for `--dry-run`; and the directory
 * lock that serialises two configures, checked against another process (`flock` from util-linux).
 */

import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  commitChanges,
  diffChange,
  finishInterrupted,
  readIfExists,
  reasonOf,
  withDirLock,
} from "../../src/engines/config_transaction.ts";
import { journalPath, journalText, type PlannedWrite } from "../../src/engines/change_journal.ts";
import { ConfigError, WriteError } from "../../src/core/errors.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import type { FileChange } from "../../src/engines/file_change.ts";
import {
  beginMemory,
  memoryPath,
  readMemory,
  type RevertMemory,
} from "../../src/engines/revert_memory.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function memoryFor(file: string, before: string | null, after: string | null): RevertMemory {
  return { ...beginMemory(undefined, { engine: "docker", file, before }), after };
}

/** Commits `changes` as a runtime command does, the state dir naming the lock dir too. */
function writeChanges(changes: FileChange[], stateDir: string): string[] {
  return commitChanges(changes, { stateDir, lockDir: `${stateDir}-lock`, command: "test" });
}

function exists(path: string): boolean {
  return readIfExists(path) !== null;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs `flock -n dir true`: whether another process could take the lock right now. */
async function lockIsFree(dir: string): Promise<boolean> {
  const { code } = await new Deno.Command("flock", {
    args: ["-n", "-x", dir, "true"],
    stdout: "null",
    stderr: "null",
  }).output();
  return code === 0;
}

Deno.test("readIfExists", async (t) => {
  await t.step("a file's text, null when missing", async () => {
    await withTempDir((dir) => {
      Deno.writeTextFileSync(`${dir}/a`, "x\n");
      strictEqual(readIfExists(`${dir}/a`), "x\n");
      strictEqual(readIfExists(`${dir}/missing`), null);
    });
  });
});

Deno.test("commitChanges writes each file safely and reports it", async (t) => {
  await t.step("a new file gets the planned mode, in a dir created for it", async () => {
    await withTempDir((dir) => {
      const cases = [
        { path: `${dir}/etc/containerd/conf.d/99-xpu.toml`, mode: 0o644 },
        { path: `${dir}/private/hook.json`, mode: 0o600 },
      ];
      const state = `${dir}/state`;
      const changes: FileChange[] = cases.map((c) => ({
        path: c.path,
        before: null,
        after: "new\n",
        memory: memoryFor(c.path, null, "new\n"),
        mode: c.mode,
      }));
      const report = writeChanges(changes, state);
      deepStrictEqual(report, cases.map((c) => `Created "${c.path}"`));
      for (const c of cases) {
        strictEqual(Deno.readTextFileSync(c.path), "new\n");
        strictEqual(Deno.statSync(c.path).mode! & 0o7777, c.mode);
        strictEqual(readMemory(c.path, state)?.after, "new\n");
      }
    });
  });

  await t.step("an existing file keeps its mode (0640) and owner (1234:1234)", async () => {
    await withTempDir((dir) => {
      const path = `${dir}/config.toml`;
      Deno.writeTextFileSync(path, "old\n");
      Deno.chmodSync(path, 0o640);
      Deno.chownSync(path, 1234, 1234);
      const inode = Deno.statSync(path).ino;
      const report = writeChanges([{
        path,
        before: "old\n",
        after: "new\n",
        memory: memoryFor(path, "old\n", "new\n"),
        mode: 0o644,
      }], `${dir}/state`);
      deepStrictEqual(report, [`Updated "${path}"`]);
      const info = Deno.statSync(path);
      strictEqual(Deno.readTextFileSync(path), "new\n");
      strictEqual(info.mode! & 0o7777, 0o640);
      strictEqual(info.uid, 1234);
      strictEqual(info.gid, 1234);
      notStrictEqual(info.ino, inode, "replaced by a rename, not rewritten in place");
      deepStrictEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        ["config.toml", "state"],
        "no temp file is left",
      );
    });
  });

  await t.step("a null file is removed, and its memory with it", async () => {
    await withTempDir((dir) => {
      const path = `${dir}/99-xpu.toml`;
      const state = `${dir}/state`;
      Deno.writeTextFileSync(path, "ours\n");
      writeChanges([{
        path,
        before: null,
        after: "ours\n",
        memory: memoryFor(path, null, "ours\n"),
      }], state);
      ok(exists(memoryPath(path, state)));
      const report = writeChanges(
        [{ path, before: "ours\n", after: null, memory: undefined }],
        state,
      );
      deepStrictEqual(report, [`Removed "${path}"`]);
      strictEqual(exists(path), false);
      strictEqual(exists(memoryPath(path, state)), false);
    });
  });

  await t.step("an unchanged file is not written and not reported", async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/daemon.json`;
      Deno.writeTextFileSync(path, "{}\n");
      const before = Deno.statSync(path);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const report = writeChanges(
        [{ path, before: "{}\n", after: "{}\n", memory: undefined }],
        `${dir}/state`,
      );
      deepStrictEqual(report, []);
      const after = Deno.statSync(path);
      strictEqual(after.ino, before.ino);
      strictEqual(after.mtime?.getTime(), before.mtime?.getTime());
    });
  });

  await t.step("several files: one line each, in order", async () => {
    await withTempDir((dir) => {
      const [a, b, c] = ["a", "b", "c"].map((n) => `${dir}/${n}`);
      Deno.writeTextFileSync(b, "b\n");
      Deno.writeTextFileSync(c, "c\n");
      const report = writeChanges([
        { path: a, before: null, after: "a\n", memory: undefined, mode: 0o644 },
        { path: b, before: "b\n", after: "B\n", memory: undefined },
        { path: c, before: "c\n", after: null, memory: undefined },
      ], `${dir}/state`);
      deepStrictEqual(report, [`Created "${a}"`, `Updated "${b}"`, `Removed "${c}"`]);
      strictEqual(readIfExists(a), "a\n");
      strictEqual(readIfExists(b), "B\n");
      strictEqual(readIfExists(c), null);
    });
  });
});

Deno.test("commitChanges: an order the engine accepts, all or nothing, a journal", async (t) => {
  await t.step("writes before removals: the imports line goes before the drop-in", async () => {
    await withTempDir((dir) => {
      const [dropIn, config] = [`${dir}/99-xpu.toml`, `${dir}/config.toml`];
      Deno.writeTextFileSync(dropIn, "ours\n");
      Deno.writeTextFileSync(config, "imports\n");
      const report = writeChanges([
        { path: dropIn, before: "ours\n", after: null, memory: undefined },
        { path: config, before: "imports\n", after: "plain\n", memory: undefined },
      ], `${dir}/state`);
      deepStrictEqual(report, [`Updated "${config}"`, `Removed "${dropIn}"`]);
    });
  });

  await t.step("a write that fails undoes the ones before it, names the file", async () => {
    await withTempDir((dir) => {
      const state = `${dir}/state`;
      const [a, b] = [`${dir}/a`, `${dir}/b`];
      Deno.writeTextFileSync(a, "a\n");
      Deno.writeTextFileSync(`${dir}/blocker`, "a file where a dir must be\n");
      const bad = `${dir}/blocker/c`;
      Deno.writeTextFileSync(b, "b\n");
      const error = assertThrowsError(
        () =>
          writeChanges([
            { path: a, before: "a\n", after: "A\n", memory: memoryFor(a, "a\n", "A\n") },
            { path: bad, before: null, after: "c\n", memory: undefined, mode: 0o644 },
            { path: b, before: "b\n", after: null, memory: undefined },
          ], state),
        WriteError,
        `Cannot write "${bad}": `,
      );
      ok(error.message.includes("nothing was changed"), error.message);
      strictEqual(error.message.split("\n").length, 1);
      strictEqual(readIfExists(a), "a\n");
      strictEqual(readIfExists(b), "b\n");
      strictEqual(exists(memoryPath(a, state)), false, "no memory of a change that did not happen");
      strictEqual(exists(journalPath(state, `${state}-lock`)), false, "no journal left");
    });
  });

  await t.step("a state dir that cannot hold the journal: nothing is changed", async () => {
    await withTempDir((dir) => {
      const path = `${dir}/daemon.json`;
      Deno.writeTextFileSync(path, "{}\n");
      Deno.writeTextFileSync(`${dir}/file`, "");
      const state = `${dir}/file/state`;
      const error = assertThrowsError(
        () =>
          writeChanges([{
            path,
            before: "{}\n",
            after: '{"a": 1}\n',
            memory: memoryFor(path, "{}\n", '{"a": 1}\n'),
          }], state),
        WriteError,
        `Cannot record the change in "${journalPath(state, `${state}-lock`)}"`,
      );
      ok(error.message.includes("nothing was changed"), error.message);
      strictEqual(readIfExists(path), "{}\n");
    });
  });

  await t.step("the journal is gone once the change is complete", async () => {
    await withTempDir((dir) => {
      const path = `${dir}/daemon.json`;
      const state = `${dir}/state`;
      writeChanges([{
        path,
        before: null,
        after: "{}\n",
        memory: memoryFor(path, null, "{}\n"),
        mode: 0o644,
      }], state);
      deepStrictEqual([...Deno.readDirSync(state)].map((e) => e.name), [
        encodeURIComponent(path) + ".json",
      ]);
    });
  });

  await t.step("temp files of writers that were killed are swept, a live one's stay", async () => {
    await withTempDir((dir) => {
      const path = `${dir}/daemon.json`;
      Deno.writeTextFileSync(path, "{}\n");
      const dead = `${dir}/.daemon.json.tmp-999999999-abc`;
      const live = `${dir}/.daemon.json.tmp-1-abc`;
      const other = `${dir}/.other.json.tmp-999999999-abc`;
      for (const f of [dead, live, other]) Deno.writeTextFileSync(f, "partial");
      writeChanges([{ path, before: "{}\n", after: "[]\n", memory: undefined }], `${dir}/state`);
      strictEqual(exists(dead), false);
      strictEqual(exists(live), true, "pid 1 is alive");
      strictEqual(exists(other), true, "another file's temp is not ours to judge");
    });
  });
});

Deno.test("finishInterrupted: the next run finishes or drops what a killed run left", async (t) => {
  const setUp = (dir: string, states: ("before" | "after" | "other")[]) => {
    const state = `${dir}/state`;
    const lock = `${dir}/lock`;
    const writes: PlannedWrite[] = states.map((_, i) => ({
      role: i === states.length - 1 ? "memory" : "engine",
      path: `${dir}/f${i}`,
      before: i === 0 ? null : `before ${i}\n`,
      after: `after ${i}\n`,
      mode: 0o644,
    }));
    states.forEach((s, i) => {
      const w = writes[i];
      const content = s === "other" ? "edited by hand\n" : w[s];
      if (content !== null) Deno.writeTextFileSync(w.path, content);
    });
    Deno.mkdirSync(state, { recursive: true });
    const journal = journalPath(state, lock);
    Deno.writeTextFileSync(journal, journalText({ version: 1, command: "test", writes }));
    return { state, lock, writes, journal };
  };

  await t.step("nothing started: the journal is dropped, nothing written", async () => {
    await withTempDir((dir) => {
      const { state, lock, writes, journal } = setUp(dir, ["before", "before", "before"]);
      deepStrictEqual(finishInterrupted(state, lock), []);
      strictEqual(exists(journal), false);
      strictEqual(exists(writes[0].path), false);
      strictEqual(readIfExists(writes[1].path), "before 1\n");
    });
  });

  await t.step("half done: the rest is written, in order, and reported", async () => {
    await withTempDir((dir) => {
      const { state, lock, writes, journal } = setUp(dir, ["after", "before", "before"]);
      deepStrictEqual(finishInterrupted(state, lock), [
        `Finished an interrupted change: Created "${writes[0].path}"`,
        `Finished an interrupted change: Updated "${writes[1].path}"`,
      ]);
      for (const w of writes) strictEqual(readIfExists(w.path), w.after);
      strictEqual(exists(journal), false);
    });
  });

  await t.step("a file changed since: refused, nothing touched", async () => {
    await withTempDir((dir) => {
      const { state, lock, writes, journal } = setUp(dir, ["after", "other", "before"]);
      assertThrowsError(
        () => finishInterrupted(state, lock),
        ConfigError,
        `"${writes[1].path}" was changed since`,
      );
      strictEqual(readIfExists(writes[1].path), "edited by hand\n");
      strictEqual(readIfExists(writes[2].path), "before 2\n");
      strictEqual(exists(journal), true);
    });
  });

  await t.step("a hand-edited journal is refused with the field", async () => {
    await withTempDir((dir) => {
      const { state, lock, journal } = setUp(dir, ["after", "before", "before"]);
      Deno.writeTextFileSync(journal, '{"version": 1, "command": "x", "writes": [{"path": 1}]}');
      assertThrowsError(() => finishInterrupted(state, lock), ConfigError, '"writes[0]".role');
    });
  });

  await t.step("no journal: nothing to do", async () => {
    await withTempDir((dir) => deepStrictEqual(finishInterrupted(`${dir}/s`, `${dir}/l`), []));
  });
});

Deno.test("reasonOf: an OS error's reason, without Deno's call and path", () => {
  const cases: [string, string][] = [
    ["No space left on device (os error 28): write '/x/y'", "No space left on device"],
    ["Read-only file system (os error 30): rename '/a' -> '/b'", "Read-only file system"],
    ['Cannot write "/a": fsync: No space left on device', "No space left on device"],
  ];
  for (const [message, reason] of cases) strictEqual(reasonOf(new Error(message)), reason);
});

Deno.test("readIfExists refuses a file that is not UTF-8 (an edit would corrupt it)", async () => {
  await withTempDir((dir) => {
    Deno.writeFileSync(`${dir}/bad`, new Uint8Array([0x7b, 0xff, 0x7d]));
    assertThrowsError(() => readIfExists(`${dir}/bad`), ConfigError, "it is not UTF-8 text");
    Deno.writeTextFileSync(`${dir}/bom`, "\uFEFFversion = 2\n");
    strictEqual(readIfExists(`${dir}/bom`), "\uFEFFversion = 2\n", "a BOM is kept");
  });
});

Deno.test("diffChange gives a unified diff", async (t) => {
  const path = "/etc/docker/daemon.json";
  const cases = [
    {
      name: "an updated file",
      input: { path, before: '{\n  "a": 1\n}\n', after: '{\n  "a": 2\n}\n', memory: undefined },
      expected: `--- ${path}\t(current)\n+++ ${path}\t(after)\n@@ -1,3 +1,3 @@\n {\n-  "a": 1\n` +
        `+  "a": 2\n }\n`,
    },
    {
      name: "a created file",
      input: { path, before: null, after: "x\n", memory: undefined },
      expected: `--- ${path}\t(missing)\n+++ ${path}\t(after)\n@@ -0,0 +1,1 @@\n+x\n`,
    },
    {
      name: "a removed file",
      input: { path, before: "x\n", after: null, memory: undefined },
      expected: `--- ${path}\t(current)\n+++ ${path}\t(removed)\n@@ -1,1 +0,0 @@\n-x\n`,
    },
    {
      name: "no change: empty",
      input: { path, before: "x\n", after: "x\n", memory: undefined },
      expected: "",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(diffChange(c.input), c.expected));
  }

  await t.step("patch(1) applies it to the file", async () => {
    await withTempDir(async (dir) => {
      const file = `${dir}/config.toml`;
      const before = Array.from({ length: 30 }, (_, i) => `key${i} = ${i}`).join("\n") + "\n";
      const after = before.replace("key3 = 3", "key3 = 33").replace("key15 = 15\n", "") +
        "[new]\nk = 1\n";
      Deno.writeTextFileSync(file, before);
      const diff = diffChange({ path: file, before, after, memory: undefined });
      ok(diff.startsWith(`--- ${file}`), diff);
      ok(diff.includes(`\n+++ ${file}`), diff);
      strictEqual(diff.split("\n").filter((l) => l.startsWith("@@")).length, 3, diff);
      const child = new Deno.Command("patch", {
        args: [file],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(diff));
      await writer.close();
      const out = await child.output();
      strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
      strictEqual(Deno.readTextFileSync(file), after);
    });
  });
});

Deno.test("withDirLock excludes another locker of the directory", async (t) => {
  await t.step("waits until another process releases the lock", async () => {
    await withTempDir(async (dir) => {
      const lockDir = `${dir}/etc`;
      Deno.mkdirSync(lockDir);
      const held = `${dir}/held`;
      const released = `${dir}/released`;
      // The other process marks when it holds the lock and, still holding it, when it is done.
      const other = new Deno.Command("flock", {
        args: [
          "-x",
          lockDir,
          "sh",
          "-c",
          'touch "$1"; sleep 0.5; touch "$2"',
          "sh",
          held,
          released,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      await waitFor(() => exists(held), "the other process to take the lock");
      const result = await withDirLock(lockDir, () => {
        ok(exists(released), "the critical section ran while the other process held the lock");
        return 42;
      });
      strictEqual(result, 42);
      const status = await other.output();
      strictEqual(status.code, 0, new TextDecoder().decode(status.stderr));
    });
  });

  await t.step("holds it against other processes while the plan runs", async () => {
    await withTempDir(async (dir) => {
      const inside = await withDirLock(dir, async () => await lockIsFree(dir));
      strictEqual(inside, false, "another process cannot take the lock");
      strictEqual(await lockIsFree(dir), true, "released afterwards");
    });
  });

  await t.step("releases it when the plan throws", async () => {
    await withTempDir(async (dir) => {
      let caught: unknown;
      try {
        await withDirLock(dir, () => {
          throw new Error("plan failed");
        });
      } catch (error) {
        caught = error;
      }
      strictEqual((caught as Error).message, "plan failed");
      strictEqual(await lockIsFree(dir), true);
    });
  });

  await t.step("creates a missing lock dir", async () => {
    await withTempDir(async (dir) => {
      const lockDir = `${dir}/etc/containerd`;
      strictEqual(await withDirLock(lockDir, () => Deno.statSync(lockDir).isDirectory), true);
    });
  });
});

Deno.test("commitChanges: only the state dir is private", async (t) => {
  const cases: {
    name: string;
    input: { existing: [string, number][]; stateDir: string };
    expected: [string, number][];
  }[] = [
    {
      name: "a state dir it creates is 0700, each parent it creates 0755",
      input: { existing: [], stateDir: "/etc/xpu-container-runtime/revert" },
      expected: [
        ["/etc", 0o755],
        ["/etc/xpu-container-runtime", 0o755],
        ["/etc/xpu-container-runtime/revert", 0o700],
      ],
    },
    {
      name: "existing dirs keep their modes",
      input: {
        existing: [["/etc", 0o750], ["/etc/xpu-container-runtime", 0o711]],
        stateDir: "/etc/xpu-container-runtime",
      },
      expected: [["/etc", 0o750], ["/etc/xpu-container-runtime", 0o711]],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        for (const [path, mode] of c.input.existing) {
          Deno.mkdirSync(dir + path);
          Deno.chmodSync(dir + path, mode);
        }
        const file = `${dir}/daemon.json`;
        writeChanges(
          [{ path: file, before: null, after: "{}\n", memory: memoryFor(file, null, "{}\n") }],
          dir + c.input.stateDir,
        );
        for (const [path, mode] of c.expected) {
          strictEqual((Deno.statSync(dir + path).mode! & 0o7777).toString(8), mode.toString(8));
        }
      });
    });
  }
  await t.step("the dir a new engine file needs: 0755", async () => {
    await withTempDir((dir) => {
      const file = `${dir}/etc/containerd/conf.d/99-xpu.toml`;
      const umask = Deno.umask(0o077);
      try {
        writeChanges([{ path: file, before: null, after: "x\n", memory: undefined }], `${dir}/s`);
      } finally {
        Deno.umask(umask);
      }
      strictEqual(Deno.statSync(`${dir}/etc/containerd`).mode! & 0o7777, 0o755);
      strictEqual(Deno.statSync(`${dir}/etc/containerd/conf.d`).mode! & 0o7777, 0o755);
    });
  });
});

Deno.test("commitChanges: a plan's own report line replaces the plain one", async () => {
  await withTempDir((dir) => {
    const kept = `${dir}/daemon.json`;
    const plain = `${dir}/other.json`;
    const report = `Kept "${kept}" as {"runtimes": {}} so dockerd's reload drops "xpu"`;
    const lines = writeChanges([
      { path: kept, before: null, after: '{"runtimes": {}}\n', memory: undefined, report },
      { path: plain, before: null, after: "{}\n", memory: undefined },
    ], `${dir}/state`);
    deepStrictEqual(lines, [report, `Created "${plain}"`]);
  });
});

Deno.test("withDirLock for a dry run (readOnly): nothing created, a shared lock", async (t) => {
  await t.step("a missing dir: not created, the plan runs without a lock", async () => {
    await withTempDir(async (dir) => {
      const lockDir = `${dir}/etc/docker`;
      strictEqual(await withDirLock(lockDir, () => 7, { readOnly: true }), 7);
      deepStrictEqual([...Deno.readDirSync(dir)], [], "nothing created");
    });
  });
  await t.step("an existing dir: shared, so another reader may lock it, a writer not", async () => {
    await withTempDir(async (dir) => {
      const shared = (mode: string) =>
        new Deno.Command("flock", { args: ["-n", mode, dir, "true"] }).output();
      const inside = await withDirLock(dir, async () => ({
        reader: (await shared("-s")).code === 0,
        writer: (await shared("-x")).code === 0,
      }), { readOnly: true });
      deepStrictEqual(inside, { reader: true, writer: false });
    });
  });
});
