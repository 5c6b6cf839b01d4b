/**
 * Fault injection for end-to-end tests of the write paths: run a tool under strace and SIGKILL it
 * just before its Nth call of one system call; ask the engines themselves whether the files left
 * behind are ones they accept; mount tiny tmpfs dirs, fill them, make dirs read-only, and unmount
 * everything again; snapshot dir trees to compare outcomes byte for byte.
 *
 * strace facts this relies on (strace 6.1, checked here): `-e inject=SYSCALL:signal=KILL:when=N`
 * counts calls **per syscall and per tracee** (each thread on its own, not across the process
 * tree); the signal is delivered on syscall entry, so the Nth call never runs; the killed call is
 * logged as `SYSCALL(…) = ?`. `--seccomp-bpf` silently disables the injection, so it is not used.
 *
 * @module
 */

import { hasProgram } from "./container_lab.ts";
import { runTool, type ToolRun } from "./toolkit_commands.ts";
import { type E2eOptions, e2eTest, type Need } from "./e2e.ts";
import { dockerdArgs } from "./dockerd.ts";

/**
 * System calls through which a run can change files. The plain run traces all of them (plus
 * `execve`, to know the tool's own process); a kill is placed before each call of them that names
 * a watched path, except an `open*` without `O_CREAT` (a read). `fchmod`/`fchown` are left out:
 * they only ever touch a temp file no reader sees yet.
 */
export const TRACED_SYSCALLS = [
  "open",
  "openat",
  "openat2",
  "creat",
  "write",
  "pwrite64",
  "writev",
  "pwritev",
  "pwritev2",
  "ftruncate",
  "truncate",
  "fsync",
  "fdatasync",
  "sync_file_range",
  "rename",
  "renameat",
  "renameat2",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "unlink",
  "unlinkat",
  "rmdir",
  "mkdir",
  "mkdirat",
  "copy_file_range",
] as const;

/** One call of the plain run that touched a watched dir: where a kill can be placed. */
export interface KillPoint {
  syscall: string;
  /** Which call of `syscall` it is in its thread (1-based): strace's `when=`. */
  n: number;
  /** The thread that made it. */
  tid: number;
  /**
   * The call with paths relative to the base dir and temp names normalised, e.g.
   * `rename(etc/.daemon.json.tmp-* → etc/daemon.json)`.
   */
  label: string;
  /** The plain run's calls of `syscall` in the same thread, as labels (to place retries). */
  sequence: readonly string[];
  /** The labels of the plain run's kill points before this one, in order. */
  prior: readonly string[];
}

/** What the plain, traced run did. */
export interface TracedRun extends ToolRun {
  points: KillPoint[];
  /** Traced calls per syscall name in the tool's main thread (any path), for the report. */
  totals: Record<string, number>;
}

/** Options of {@link traceWrites} and {@link killAt}. */
export interface TraceOptions {
  args: string[];
  env?: Record<string, string>;
  /** Dirs whose files count: a call naming a path (or an fd) under one of them is a kill point. */
  watch: readonly string[];
  /** Stripped from paths in labels. */
  base: string;
  /** Where strace writes its log. */
  log: string;
}

interface Entry {
  tid: number;
  syscall: string;
  /** The arguments as strace printed them (up to the closing parenthesis). */
  args: string;
  /** Whether the call returned (a call SIGKILL ended on entry shows `= ?` or never resumes). */
  finished: boolean;
}

/** Parses an `strace -f -y` log into calls (entries joined with their `resumed` halves). */
function parseLog(text: string): Entry[] {
  const entries: Entry[] = [];
  const open = new Map<number, Entry>();
  const end = (entry: Entry, rest: string) => {
    const result = /^(.*)\) += (.*)$/.exec(rest);
    entry.args += result ? result[1] : rest;
    entry.finished = result !== null && result[2] !== "?";
  };
  for (const line of text.split("\n")) {
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(line);
    if (resumed) {
      const entry = open.get(Number(resumed[1]));
      if (entry) {
        end(entry, resumed[2]);
        open.delete(entry.tid);
      }
      continue;
    }
    const call = /^(\d+)\s+([a-z_0-9]+)\((.*)$/.exec(line);
    if (!call) continue;
    const entry: Entry = { tid: Number(call[1]), syscall: call[2], args: "", finished: false };
    const unfinished = /^(.*) <unfinished \.\.\.>$/.exec(call[3]);
    if (unfinished) {
      entry.args = unfinished[1];
      open.set(entry.tid, entry);
    } else end(entry, call[3]);
    entries.push(entry);
  }
  return entries;
}

/** The tool's main thread: the one that made the first `execve` (the tool's own). */
function mainThreadOf(entries: readonly Entry[]): number | undefined {
  return entries.find((e) => e.syscall === "execve")?.tid;
}

/** Every path a call names, as a string argument or a `-y` fd annotation (not the cwd's). */
function pathsOf(entry: Entry): string[] {
  const found: string[] = [];
  for (const m of entry.args.matchAll(/AT_FDCWD<[^>]*>|"((?:[^"\\]|\\.)*)"|<(\/[^>]*)>/g)) {
    const path = m[1] ?? m[2];
    if (path !== undefined && path.startsWith("/")) found.push(path);
  }
  return found;
}

function isUnder(path: string, watch: readonly string[]): boolean {
  return watch.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

/**
 * A call as a short stable text: syscall, `+O_CREAT` for a creating open, and its paths relative
 * to `base` (`BASE` in encoded names) with temp names' PID and random part as `*`. Equal across
 * runs for the same call.
 */
function signatureOf(entry: Entry, base: string): string {
  // Revert memories and journals are named after the URI-encoded path of the file they are for.
  const encoded = encodeURIComponent(base);
  const short = pathsOf(entry).map((p) =>
    (p.startsWith(`${base}/`) ? p.slice(base.length + 1) : p).replaceAll(encoded, "BASE")
      .replace(/\.tmp-\d+-[0-9a-z]+/, ".tmp-*")
  );
  const creates = /^open/.test(entry.syscall) && /O_CREAT/.test(entry.args) ? "+O_CREAT" : "";
  return `${entry.syscall}${creates}(${[...new Set(short)].join(" → ")})`;
}

function isKillPoint(entry: Entry, watch: readonly string[]): boolean {
  if (entry.syscall === "execve" || !pathsOf(entry).some((p) => isUnder(p, watch))) return false;
  return !/^open/.test(entry.syscall) || /O_CREAT/.test(entry.args);
}

function strace(extra: string[], argv: readonly string[], options: TraceOptions) {
  return runTool(["strace", "-f", "-qq", "-y", "-o", options.log, ...extra, ...argv], {
    args: options.args,
    env: options.env,
  });
}

/**
 * Runs `argv` once under strace (no fault) and lists, in order, every call that touched a watched
 * dir: an `open*` with `O_CREAT`, and any write, sync, rename, link, unlink or mkdir.
 */
export async function traceWrites(
  argv: readonly string[],
  options: TraceOptions,
): Promise<TracedRun> {
  const run = await strace(["-e", `trace=execve,${TRACED_SYSCALLS.join(",")}`], argv, options);
  return { ...run, ...killPointsOf(Deno.readTextFileSync(options.log), options) };
}

/** The kill points and per-syscall totals of a plain run's strace log (see {@link traceWrites}). */
export function killPointsOf(
  log: string,
  options: Pick<TraceOptions, "watch" | "base">,
): Pick<TracedRun, "points" | "totals"> {
  const entries = parseLog(log);
  const main = mainThreadOf(entries);
  const sequences = new Map<string, string[]>();
  const totals: Record<string, number> = {};
  const points: KillPoint[] = [];
  for (const entry of entries) {
    const key = `${entry.tid} ${entry.syscall}`;
    const sequence = sequences.get(key) ?? [];
    sequences.set(key, sequence);
    sequence.push(signatureOf(entry, options.base));
    if (entry.tid === main && entry.syscall !== "execve") {
      totals[entry.syscall] = (totals[entry.syscall] ?? 0) + 1;
    }
    if (isKillPoint(entry, options.watch)) {
      points.push({
        syscall: entry.syscall,
        n: sequence.length,
        tid: entry.tid,
        label: sequence[sequence.length - 1],
        sequence,
        prior: points.map((p) => p.label),
      });
    }
  }
  return { points, totals };
}

/** What a run killed at a point did. */
export interface KilledRun extends ToolRun {
  /** Whether SIGKILL ended the tool. */
  killed: boolean;
  /** The call it was killed in (as {@link KillPoint.label}), if it was. */
  hit?: string;
  /**
   * Killed elsewhere, in a call that changes no watched file, after exactly the plain run's kill
   * points before the target and before the target itself: the files are as a kill at the target
   * leaves them (see {@link killAt}).
   */
  equivalent: boolean;
  /** The run's calls of the point's syscall in its main thread, as labels, the kill's included. */
  calls: string[];
  /** Runs it took to hit the point (see {@link killAt}). */
  attempts: number;
  /** The runs that missed, in order: the count aimed at and where the run was killed, if it was. */
  misses: { n: number; hit?: string }[];
}

/**
 * Runs `argv` under strace, SIGKILLing it on entry to call number `n` of `point.syscall` (in
 * whichever thread reaches that number first). Every call that can change a file is traced, to
 * tell whether a kill elsewhere is {@link KilledRun.equivalent}.
 */
async function killedRun(
  argv: readonly string[],
  point: KillPoint,
  n: number,
  options: TraceOptions,
): Promise<Omit<KilledRun, "attempts" | "misses">> {
  const run = await strace(
    [
      "-e",
      `trace=execve,${TRACED_SYSCALLS.join(",")}`,
      "-e",
      `inject=${point.syscall}:signal=KILL:when=${n}`,
    ],
    argv,
    options,
  );
  return { ...run, ...killVerdict(Deno.readTextFileSync(options.log), point, options) };
}

/**
 * What a killed run's strace log (every call of {@link TRACED_SYSCALLS}) shows: whether SIGKILL
 * ended it, in which call, and whether that kill is {@link KilledRun.equivalent} to one at `point`.
 */
export function killVerdict(
  log: string,
  point: KillPoint,
  options: Pick<TraceOptions, "watch" | "base">,
): Pick<KilledRun, "killed" | "hit" | "equivalent" | "calls"> {
  const killed = /\+\+\+ killed by SIGKILL/.test(log);
  const entries = parseLog(log);
  const label = (e: Entry) => signatureOf(e, options.base);
  const stopped = entries.filter((e) => !e.finished && e.syscall === point.syscall);
  const at = stopped.find((e) => label(e) === point.label) ?? stopped[0];
  const hit = killed ? (at ? label(at) : "(elsewhere)") : undefined;
  const done = entries.filter((e) => e.finished && isKillPoint(e, options.watch)).map(label);
  const main = mainThreadOf(entries);
  const calls = entries.filter((e) => e.tid === main && e.syscall === point.syscall).map(label);
  const equivalent = killed && at !== undefined && hit !== point.label &&
    !entries.some((e) => !e.finished && isKillPoint(e, options.watch)) &&
    done.length === point.prior.length && done.every((d, i) => d === point.prior[i]);
  return { killed, hit, equivalent, calls };
}

/** Runs {@link killAt} makes at most for one point. */
export const MAX_ATTEMPTS = 20;

/** After this many runs steered by what the misses showed, nearby counts are scanned instead. */
const STEERED_ATTEMPTS = 10;

/** The offsets the scan tries, nearest first. */
const SCAN_OFFSETS = [-1, 1, -2, 2, -3, 3, -4, 4, -5, 5];

/**
 * Kills a run of `argv` just before `point`, from the state `reset` makes. The count of calls
 * before the point differs from the plain run's now and then: Deno opens and writes files of its
 * own (a lazy `/sys/devices/system/cpu/cpu0/tsc_freq_khz` from whichever thread comes first, the
 * code cache's writes and syncs when it updates it) and wakes its event loop (eventfd writes) a
 * number of times that depends on timing. A run killed elsewhere, or not at all, is repeated at
 * the count its own log points to ({@link steerFrom}), else alternately at the plain run's count
 * and next to it; after {@link STEERED_ATTEMPTS} runs, the counts nearby are scanned, nearest
 * first, up to {@link MAX_ATTEMPTS} runs.
 *
 * A run killed in another call counts as killed at the point when it is
 * {@link KilledRun.equivalent}: it ended in a call that changes no watched file (an `open` of a
 * watched dir to sync it, an eventfd write, a write to Deno's own cache) after exactly the
 * watched calls the plain run made before the point, and before the point itself. Nothing that
 * could change a watched file ran in between, so the files are the same.
 *
 * The last run is returned either way; {@link KilledRun.hit} says where it was killed.
 */
export async function killAt(
  argv: readonly string[],
  point: KillPoint,
  options: TraceOptions & { reset: () => Promise<void> },
): Promise<KilledRun> {
  let last: Omit<KilledRun, "attempts" | "misses"> | undefined;
  const misses: KilledRun["misses"] = [];
  let next = point.n;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const n = attempt > STEERED_ATTEMPTS
      ? Math.max(1, point.n + SCAN_OFFSETS[(attempt - STEERED_ATTEMPTS - 1) % SCAN_OFFSETS.length])
      : next;
    await options.reset();
    last = await killedRun(argv, point, n, options);
    if (last.hit === point.label || last.equivalent) return { ...last, attempts: attempt, misses };
    misses.push({ n, hit: last.hit });
    next = nextAim(last, point, n);
  }
  return { ...last!, attempts: MAX_ATTEMPTS, misses };
}

/**
 * The count to aim the next run at, after a run aimed at `n` missed: where its own calls point
 * ({@link steerFrom}); past a call of Deno's own it was killed in (the point comes later in that
 * run); else the plain run's count, or next to it when that was just tried.
 */
export function nextAim(
  missed: Pick<KilledRun, "killed" | "hit" | "calls">,
  point: KillPoint,
  n: number,
): number {
  const steered = steerFrom(missed.calls, point, n);
  if (steered !== undefined && steered !== n) return steered;
  if (missed.killed && !namesBase(missed.hit ?? "")) return n + 1;
  return n === point.n ? Math.max(1, point.n + (missed.killed ? 1 : -1)) : point.n;
}

/** The 1-based position of the `k`-th `label` in `calls`, if there is one. */
function positionOf(calls: readonly string[], label: string, k: number): number | undefined {
  let seen = 0;
  for (let i = 0; i < calls.length; i++) {
    if (calls[i] === label && ++seen === k) return i + 1;
  }
  return undefined;
}

/** Whether a label names a path under the base (relative in labels), not only Deno's own files. */
function namesBase(label: string): boolean {
  const inside = /\((.*)\)$/.exec(label)?.[1] ?? "";
  return inside.split(" → ").some((p) => p !== "" && !p.startsWith("/"));
}

/**
 * Where to aim next, from a missed run's own calls of `point.syscall` in its main thread
 * (`calls`, as labels; the run was aimed at call `n`):
 *
 * - when the run made the point's call (it was not killed, or was killed after it), its position
 *   in that run;
 * - when it was killed before, the plain run's count shifted by what the last call before the kill
 *   that names a path under the base shows (this run's position of it less the plain run's);
 * - else nothing.
 */
export function steerFrom(
  calls: readonly string[],
  point: KillPoint,
  n: number,
): number | undefined {
  const occurrence = (list: readonly string[], upTo: number, label: string) =>
    list.slice(0, upTo).filter((l) => l === label).length;
  const k = occurrence(point.sequence, point.n, point.label);
  const made = positionOf(calls, point.label, k);
  if (made !== undefined) return made;
  for (let i = Math.min(n, calls.length) - 1; i >= 0; i--) {
    if (!namesBase(calls[i])) continue;
    const m = positionOf(point.sequence, calls[i], occurrence(calls, i + 1, calls[i]));
    if (m !== undefined) return Math.max(1, point.n + (i + 1 - m));
  }
  return undefined;
}

/**
 * At most `max` points, every syscall kind among them: the first point of each kind, then points
 * evenly spread over the rest, in run order.
 */
export function samplePoints(points: readonly KillPoint[], max: number): KillPoint[] {
  if (points.length <= max) return [...points];
  const chosen = new Set<number>();
  const kinds = new Set<string>();
  points.forEach((p, i) => {
    if (!kinds.has(p.syscall)) {
      kinds.add(p.syscall);
      chosen.add(i);
    }
  });
  const rest = points.map((_, i) => i).filter((i) => !chosen.has(i));
  const room = Math.max(0, max - chosen.size);
  for (let k = 0; k < room && rest.length > 0; k++) {
    chosen.add(rest[Math.floor((k * rest.length) / room)]);
  }
  return [...chosen].sort((a, b) => a - b).map((i) => points[i]);
}

/** `containerd -c CONFIG config dump`: containerd's own parse of the config and its imports. */
export async function containerdDump(config: string): Promise<ToolRun> {
  return await runTool(["containerd"], { args: ["-c", config, "config", "dump"] });
}

/**
 * A parsed `config dump` made comparable: plain objects, and `imports` sorted (containerd 1.6
 * prints that list in Go map order, which changes from run to run).
 */
export function comparableDump(doc: Record<string, unknown>): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(doc));
  if (Array.isArray(plain.imports)) plain.imports.sort();
  return plain;
}

/** What a private dockerd made of a daemon.json. */
export interface DockerdVerdict {
  accepted: boolean;
  /** `docker info`'s default runtime and runtime names, when it started. */
  defaultRuntime?: string;
  runtimes?: string[];
  /** The daemon's last log lines when it refused. */
  detail: string;
}

/**
 * Starts a private dockerd (own data and exec roots, socket, cgroup parent; no network setup) on
 * `daemonJson`, waits until it answers or exits, asks `docker info` for its runtimes, and stops
 * it. dockerd 20.10 has no `--validate`: a start is the check (its config is loaded and validated
 * before anything else, so a refusal is quick).
 */
export async function dockerdAccepts(daemonJson: string, dir: string): Promise<DockerdVerdict> {
  Deno.mkdirSync(`${dir}/data`, { recursive: true });
  Deno.mkdirSync(`${dir}/exec`, { recursive: true });
  const socket = `${dir}/d.sock`;
  const cgroupParent = `/xpu-fault-${Deno.pid}`;
  const logPath = `${dir}/dockerd.log`;
  const log = Deno.openSync(logPath, { write: true, create: true, truncate: true });
  const child = new Deno.Command("dockerd", {
    args: dockerdArgs({ dir, daemonJson, socket, cgroupParent, storageDriver: "vfs" }),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const drained = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void log.writeSync(chunk) }),
  ).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const docker = (args: string[]) =>
    runTool(["docker"], { args, env: { DOCKER_HOST: `unix://${socket}` } });
  try {
    const deadline = Date.now() + 30_000;
    while (!exited && Date.now() < deadline) {
      const info = await docker(["info", "--format", "{{json .}}"]);
      // The whole document: one field's template output differs between docker versions. A CLI
      // that reached no daemon yet (docker 26: exit 0 with ServerErrors) has no server fields.
      const parsed = info.code === 0 ? JSON.parse(info.stdout) : {};
      if (info.code === 0 && parsed.ServerVersion) {
        const { DefaultRuntime, Runtimes } = parsed;
        return {
          accepted: true,
          defaultRuntime: DefaultRuntime,
          runtimes: Object.keys(Runtimes ?? {}).sort(),
          detail: "",
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await drained;
    const tail = Deno.readTextFileSync(logPath).trim().split("\n").slice(-3).join("\n");
    return { accepted: false, detail: exited ? tail : `no answer in 30 s: ${tail}` };
  } finally {
    if (!exited) child.kill("SIGTERM");
    await status;
    await drained;
    log.close();
    await runTool(["sh"], {
      args: [
        "-c",
        `grep -o " ${dir}/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null; ` +
        `for c in /sys/fs/cgroup/*${cgroupParent}; do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`,
      ],
    });
  }
}

/**
 * A dir tree as text per entry (`relative path → "file 644 <content>"`, `"dir 700"`,
 * `"link <target>"`), for byte-for-byte comparisons of outcomes. Entries under `skip` names are
 * left out; a missing dir is an empty tree.
 */
export function snapshotTree(
  dir: string,
  options: { skip?: readonly string[] } = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(path)];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (options.skip?.includes(entry.name)) continue;
      const full = `${path}/${entry.name}`;
      const name = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const info = Deno.lstatSync(full);
      const mode = ((info.mode ?? 0) & 0o7777).toString(8);
      if (info.isSymlink) out[name] = `link ${Deno.readLinkSync(full)}`;
      else if (info.isDirectory) {
        out[name] = `dir ${mode}`;
        walk(full, name);
      } else out[name] = `file ${mode} ${Deno.readTextFileSync(full)}`;
    }
  };
  walk(dir, "");
  return out;
}

/** The names in which two snapshots differ, for a failure message. */
export function snapshotDiff(
  want: Record<string, string>,
  got: Record<string, string>,
): string[] {
  const names = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort();
  return names.filter((n) => want[n] !== got[n]).map((n) =>
    want[n] === undefined ? `+${n}` : got[n] === undefined ? `-${n}` : `~${n}`
  );
}

/** Mounts made by a test, unmounted (last first) by {@link Mounts.release}. */
export class Mounts {
  #points: string[] = [];

  /** Mounts a tmpfs of `sizeKiB` (and at most `inodes` inodes) on `dir`. */
  async tmpfs(dir: string, options: { sizeKiB: number; inodes?: number }): Promise<void> {
    Deno.mkdirSync(dir, { recursive: true });
    const opts = [`size=${options.sizeKiB}k`, "mode=755"];
    if (options.inodes !== undefined) opts.push(`nr_inodes=${options.inodes}`);
    await must("mount", ["-t", "tmpfs", "-o", opts.join(","), "tmpfs", dir]);
    this.#points.push(dir);
  }

  /** Makes `dir` read-only through a read-only bind mount of itself. */
  async readOnly(dir: string): Promise<void> {
    await must("mount", ["--bind", dir, dir]);
    this.#points.push(dir);
    await must("mount", ["-o", "remount,bind,ro", dir]);
  }

  /** Unmounts `dir`'s last mount now (it must be the last one made on it). */
  async unmount(dir: string): Promise<void> {
    const i = this.#points.lastIndexOf(dir);
    if (i < 0) throw new Error(`"${dir}" was not mounted by this test`);
    await must("umount", [dir]);
    this.#points.splice(i, 1);
  }

  /** Unmounts everything still mounted, last first (lazily when busy). */
  async release(): Promise<void> {
    for (const dir of this.#points.reverse()) {
      const out = await runTool(["umount", dir]);
      if (out.code !== 0) await runTool(["umount", "-l", dir]);
    }
    this.#points = [];
  }
}

async function must(program: string, args: string[]): Promise<string> {
  const out = await runTool([program], { args });
  if (out.code !== 0) throw new Error(`${program} ${args.join(" ")}: ${out.stderr.trim()}`);
  return out.stdout;
}

/** What {@link fillUp} exhausts: data blocks (writes fail) or inodes (creates fail). */
export type Exhaust = "blocks" | "inodes";

/**
 * Fills the file system of `dir` until it reports ENOSPC: with `blocks`, `dd` into `dir/FILLER`
 * (a later write fails, a create still works); with `inodes`, empty files under `dir/FILLER.d`
 * (a create fails). Returns the names it made, for {@link snapshotTree}'s `skip`.
 */
export async function fillUp(dir: string, exhaust: Exhaust): Promise<string[]> {
  if (exhaust === "blocks") {
    const out = await runTool(["dd"], { args: ["if=/dev/zero", `of=${dir}/FILLER`, "bs=4k"] });
    if (!/No space left on device/.test(out.stderr)) {
      throw new Error(`dd did not fill "${dir}": ${out.stderr.trim()}`);
    }
    return ["FILLER"];
  }
  Deno.mkdirSync(`${dir}/FILLER.d`);
  for (let i = 0;; i++) {
    try {
      Deno.writeFileSync(`${dir}/FILLER.d/${i}`, new Uint8Array());
    } catch (error) {
      if (error instanceof Error && /No space left on device/.test(error.message)) break;
      throw error;
    }
  }
  return ["FILLER.d"];
}

/** Removes what {@link fillUp} made: space is back. */
export function unfill(dir: string, names: readonly string[]): void {
  for (const name of names) Deno.removeSync(`${dir}/${name}`, { recursive: true });
}

/**
 * An end-to-end test like {@link e2eTest} that also needs programs outside {@link Need} (e.g.
 * `strace`): skipped with the reason printed, or failed with `XPU_E2E_REQUIRED=1`.
 */
export async function faultTest(
  name: string,
  needs: readonly Need[],
  programs: readonly string[],
  fn: (t: Deno.TestContext) => Promise<void>,
  options: E2eOptions = {},
): Promise<void> {
  const absent: string[] = [];
  for (const program of programs) {
    if (!(await hasProgram(program))) absent.push(`${program} (apt-get install ${program})`);
  }
  if (absent.length > 0 && Deno.env.get("XPU_E2E_REQUIRED") !== "1") {
    console.error(`SKIP "${name}": missing ${absent.join(", ")}`);
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  await e2eTest(name, needs, async (t) => {
    if (absent.length > 0) {
      throw new Error(`cannot run with XPU_E2E_REQUIRED=1: missing ${absent.join(", ")}`);
    }
    await fn(t);
  }, options);
}

/** The runtime path the scenarios configure (never run: the engines are only parsers here). */
export const SCENARIO_SHIM = "/usr/local/xpu/toolkit/xpu-container-runtime";

/** `xpu-ctk runtime ACTION --runtime docker` on `BASE/etc/daemon.json`, state in `BASE/state`. */
export function dockerRuntimeArgs(action: string, extra: string[] = []) {
  return (base: string): string[] => [
    "runtime",
    action,
    "--runtime",
    "docker",
    "--config",
    `${base}/etc/daemon.json`,
    "--restart-mode",
    "none",
    "--state-dir",
    `${base}/state`,
    ...(action === "configure" ? ["--runtime-path", SCENARIO_SHIM] : []),
    ...extra,
  ];
}

/** The same for containerd's `BASE/etc/config.toml`, with the drop-in in `conf.d` or in place. */
export function containerdRuntimeArgs(action: string, dropIn: boolean, extra: string[] = []) {
  return (base: string): string[] => [
    "runtime",
    action,
    "--runtime",
    "containerd",
    "--config",
    `${base}/etc/config.toml`,
    "--drop-in-config",
    dropIn ? `${base}/etc/conf.d/99-xpu.toml` : "",
    "--restart-mode",
    "none",
    "--state-dir",
    `${base}/state`,
    ...(action === "configure" ? ["--runtime-path", SCENARIO_SHIM] : []),
    ...extra,
  ];
}
