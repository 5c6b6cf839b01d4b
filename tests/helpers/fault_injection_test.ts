/**
 * The crash test's reading of strace logs (`fault_injection.ts`): which calls are kill points, and
 * when a kill that landed in another call still leaves the files as a kill at the point would.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { killPointsOf, killVerdict, nextAim, steerFrom } from "./fault_injection.ts";

const BASE = "/t/b";
const OPTIONS = { watch: [`${BASE}/etc`, `${BASE}/state`], base: BASE };
const TMP = `${BASE}/etc/.daemon.json.tmp-700-1abc`;

/** A plain run: an eventfd write and a read of a watched dir among the calls that change files. */
const PLAIN = [
  `700 execve("/usr/bin/deno", ["deno"], 0x7ffd /* 9 vars */) = 0`,
  `700 openat(AT_FDCWD</w>, "/t/b/etc/daemon.json", O_RDONLY|O_CLOEXEC) = 21</t/b/etc/daemon.json>`,
  `700 openat(AT_FDCWD</w>, "${TMP}", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 22<${TMP}>`,
  `700 write(4<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8`,
  `700 write(22<${TMP}>, "{}", 2) = 2`,
  `700 fsync(22<${TMP}>) = 0`,
  `700 openat(AT_FDCWD</w>, "/t/b/etc", O_RDONLY|O_DIRECTORY|O_CLOEXEC) = 23</t/b/etc>`,
  `700 fsync(23</t/b/etc>) = 0`,
  `700 rename("${TMP}", "/t/b/etc/daemon.json") = 0`,
  `700 write(1</dev/null>, "Updated", 7) = 7`,
  `700 +++ exited with 0 +++`,
].join("\n");

const { points, totals } = killPointsOf(PLAIN, OPTIONS);
const point = (label: string) => points.find((p) => p.label === label)!;
const WRITE = "write(etc/.daemon.json.tmp-*)";
const DIR_SYNC = "fsync(etc)";

/** A killed run's log: `lines`, with `700` as the tool's thread, ending in the kill. */
const killedLog = (...lines: string[]) =>
  [`700 execve("/usr/bin/deno", ["deno"], 0x7ffd /* 9 vars */) = 0`, ...lines].join("\n") +
  "\n700 +++ killed by SIGKILL +++\n";
const created =
  `700 openat(AT_FDCWD</w>, "${TMP}", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 22<${TMP}>`;
const eventfdWrite = (result: string) =>
  `700 write(4<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = ${result}`;

Deno.test("the plain run's kill points: every call that changes a watched file, in order, with what came before", () => {
  deepStrictEqual(points.map((p) => [p.label, p.n]), [
    ["openat+O_CREAT(etc/.daemon.json.tmp-*)", 2],
    [WRITE, 2],
    ["fsync(etc/.daemon.json.tmp-*)", 1],
    [DIR_SYNC, 2],
    ["rename(etc/.daemon.json.tmp-* → etc/daemon.json)", 1],
  ]);
  deepStrictEqual(point(DIR_SYNC).prior, points.slice(0, 3).map((p) => p.label));
  deepStrictEqual(point(WRITE).sequence, ["write()", WRITE, "write(/dev/null)"]);
  deepStrictEqual(totals, { openat: 3, write: 3, fsync: 2, rename: 1 });
});

Deno.test("a kill in the call aimed at is a hit, not a stand-in", () => {
  const log = killedLog(created, eventfdWrite("8"), `700 write(22<${TMP}>, "{}", 2) = ?`);
  deepStrictEqual(killVerdict(log, point(WRITE), OPTIONS), {
    killed: true,
    hit: WRITE,
    equivalent: false,
    calls: ["write()", WRITE],
  });
});

Deno.test("a kill in an eventfd write after the same file calls as the plain run is equivalent", () => {
  const log = killedLog(created, eventfdWrite("8"), eventfdWrite("?"));
  deepStrictEqual(killVerdict(log, point(WRITE), OPTIONS), {
    killed: true,
    hit: "write()",
    equivalent: true,
    calls: ["write()", "write()"],
  });
});

Deno.test("a kill in an eventfd write before a file call the plain run made first is not", () => {
  const log = killedLog(eventfdWrite("?"));
  const verdict = killVerdict(log, point(WRITE), OPTIONS);
  strictEqual(verdict.hit, "write()");
  strictEqual(verdict.equivalent, false);
});

Deno.test("a kill in a dir's open (a read) just before the point is equivalent; one in a file call is not", () => {
  const before = [created, `700 write(22<${TMP}>, "{}", 2) = 2`, `700 fsync(22<${TMP}>) = 0`];
  const atOpen = killedLog(
    ...before,
    `700 openat(AT_FDCWD</w>, "/t/b/etc", O_RDONLY|O_DIRECTORY|O_CLOEXEC) = ?`,
  );
  const creating = point("openat+O_CREAT(etc/.daemon.json.tmp-*)");
  // Aimed at the dir's sync, killed in the open before it: the files are as at the point.
  const syncPoint = { ...point(DIR_SYNC), syscall: "openat" };
  strictEqual(killVerdict(atOpen, syncPoint, OPTIONS).equivalent, true);
  // Aimed at the temp file's creation, killed in a later open: the file calls differ.
  strictEqual(killVerdict(atOpen, creating, OPTIONS).equivalent, false);
  // Killed in another call that changes a file (the temp file's sync, not the dir's).
  const atFileSync = killedLog(
    created,
    `700 write(22<${TMP}>, "{}", 2) = 2`,
    `700 fsync(22<${TMP}>) = ?`,
  );
  const verdict = killVerdict(atFileSync, point(DIR_SYNC), OPTIONS);
  strictEqual(verdict.hit, "fsync(etc/.daemon.json.tmp-*)");
  strictEqual(verdict.equivalent, false);
});

Deno.test("a watched call another thread had under way at the kill rules out an equivalent", () => {
  const log = killedLog(
    created,
    `701 fsync(22<${TMP}> <unfinished ...>`,
    eventfdWrite("?"),
  );
  strictEqual(killVerdict(log, point(WRITE), OPTIONS).equivalent, false);
});

Deno.test("a run that was not killed is neither a hit nor equivalent", () => {
  deepStrictEqual(killVerdict(PLAIN, point(WRITE), OPTIONS), {
    killed: false,
    hit: undefined,
    equivalent: false,
    calls: ["write()", WRITE, "write(/dev/null)"],
  });
});

Deno.test("a run that made the point's call steers the next one to its position there", () => {
  // One more eventfd write before the file's: the point is the third write in that run.
  strictEqual(steerFrom(["write()", "write()", WRITE, "write(/dev/null)"], point(WRITE), 2), 3);
  // Killed after it (aimed too late): its position all the same.
  strictEqual(steerFrom(["write()", WRITE, "write()"], point(WRITE), 3), 2);
});

Deno.test("a run killed before the point steers by the last call before the kill that names the base", () => {
  const dirSync = point(DIR_SYNC);
  // Deno's code cache synced once in this run: one call ahead of the plain run.
  strictEqual(
    steerFrom(
      ["fsync(/root/.cache/deno/v8_code_cache_v2-wal)", "fsync(etc/.daemon.json.tmp-*)"],
      dirSync,
      2,
    ),
    3,
  );
  // The lazy open of a /sys file came from this thread: the temp file's creation is one later.
  const creating = point("openat+O_CREAT(etc/.daemon.json.tmp-*)");
  strictEqual(
    steerFrom(
      ["openat(/sys/devices/system/cpu/cpu0/tsc_freq_khz)", "openat(etc/daemon.json)"],
      creating,
      2,
    ),
    3,
  );
  // Nothing before the kill names the base: no steer.
  strictEqual(steerFrom(["write()", "write()"], point(WRITE), 2), undefined);
});

Deno.test("after a miss: past a call of Deno's own, else the plain run's count or next to it", () => {
  const dirSync = point(DIR_SYNC);
  const tmpSync = "fsync(etc/.daemon.json.tmp-*)";
  const cacheSync = "fsync(/root/.cache/deno/v8_code_cache_v2)";
  // Killed in the code cache's sync after the temp file's: the dir's sync comes later.
  strictEqual(
    nextAim({ killed: true, hit: cacheSync, calls: [tmpSync, cacheSync] }, dirSync, 2),
    3,
  );
  // The log shows where the point was: there.
  strictEqual(
    nextAim({ killed: false, hit: undefined, calls: [cacheSync, tmpSync, DIR_SYNC] }, dirSync, 2),
    3,
  );
  // Not killed, the point not made either (the run failed early): next to the plain count, and back.
  strictEqual(nextAim({ killed: false, hit: undefined, calls: [] }, dirSync, 2), 1);
  strictEqual(nextAim({ killed: false, hit: undefined, calls: [] }, dirSync, 1), 2);
});
