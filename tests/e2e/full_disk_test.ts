/**
 * Full and read-only dirs (issue 10, "Must show" 3): `xpu-ctk runtime configure | unconfigure`
 * for docker and containerd (drop-in), with the state dir or the engine's config dir on a tiny
 * tmpfs filled up (data blocks: a write fails; inodes: a create fails) or made read-only, and a
 * few splits that force a rollback (the config dir full while `conf.d` has room; `conf.d`
 * read-only; the state dir with room for the journal but not the memories). Each run must leave
 * the engine config either
 *
 * - unchanged: exit 1, one line on stderr naming (in double quotes) a file under the faulty dir and
 *   saying nothing was changed, and the state dir as it was; or
 * - completely changed: exit 0, the engine files and the state dir as a clean run leaves them.
 *
 * Once space is back (filler removed, mount gone) the same command converges to the clean run's
 * files byte for byte, and the unconfigure after a configure gives back the original (containerd:
 * the same `config dump`).
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { parse } from "smol-toml";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import {
  comparableDump,
  containerdDump,
  containerdRuntimeArgs,
  dockerRuntimeArgs,
  type Exhaust,
  faultTest,
  fillUp,
  Mounts,
  snapshotDiff,
  snapshotTree,
  unfill,
} from "../helpers/fault_injection.ts";

const DAEMON_JSON = `{
  "log-level": "warn",
  "max-concurrent-downloads": 2,
  "log-opts": {
    "max-size": "10m"
  }
}
`;

const CONTAINERD_TOML = Deno.readTextFileSync(
  `${REPO_ROOT}/fixtures/engines/containerd/v2-drop-in/input.toml`,
);

/** A tmpfs big enough for the fixtures, small enough to fill in a blink. */
const TMPFS = { sizeKiB: 512, inodes: 48 };

/** A page of tmpfs: what a small file takes. */
const PAGE = 4096;

interface Command {
  name: string;
  engine: "docker" | "containerd";
  /** Files of the original state (relative to the base dir); dirs end in `/`. */
  files: Record<string, string>;
  before?: (base: string) => string[];
  args: (base: string) => string[];
  inverse?: (base: string) => string[];
}

const docker = dockerRuntimeArgs;
const containerd = (action: string, extra: string[] = []) =>
  containerdRuntimeArgs(action, true, extra);

const COMMANDS: Command[] = [
  {
    name: "docker configure",
    engine: "docker",
    files: { "etc/daemon.json": DAEMON_JSON, "state/": "" },
    args: docker("configure", ["--set-as-default", "--cdi.enabled"]),
    inverse: docker("unconfigure"),
  },
  {
    name: "docker unconfigure",
    engine: "docker",
    files: { "etc/daemon.json": DAEMON_JSON, "state/": "" },
    before: docker("configure", ["--set-as-default", "--cdi.enabled"]),
    args: docker("unconfigure"),
  },
  {
    name: "containerd configure (drop-in)",
    engine: "containerd",
    // conf.d exists (empty) so it can be a mount point; the configure writes the drop-in in it.
    files: { "etc/config.toml": CONTAINERD_TOML, "etc/conf.d/": "", "state/": "" },
    args: containerd("configure", ["--set-as-default"]),
    inverse: containerd("unconfigure"),
  },
  {
    name: "containerd unconfigure (drop-in)",
    engine: "containerd",
    files: { "etc/config.toml": CONTAINERD_TOML, "etc/conf.d/": "", "state/": "" },
    before: containerd("configure", ["--set-as-default"]),
    args: containerd("unconfigure"),
  },
];

/** What is wrong with which dir (relative to the base dir). */
type Fault =
  | { dir: string; kind: "full"; exhaust: Exhaust; roomPages?: number }
  | { dir: string; kind: "read-only" }
  /** `dir` full (data blocks), `roomy` (under it) a tmpfs of its own with room. */
  | { dir: string; kind: "full-but"; roomy: string };

function faultName(f: Fault): string {
  switch (f.kind) {
    case "full":
      return f.roomPages !== undefined
        ? `${f.dir} with room for ${f.roomPages} page(s)`
        : `${f.dir} full (${f.exhaust})`;
    case "read-only":
      return `${f.dir} read-only`;
    case "full-but":
      return `${f.dir} full, ${f.roomy} with room`;
  }
}

const FAULTS: Fault[] = [
  { dir: "state", kind: "full", exhaust: "blocks" },
  { dir: "state", kind: "full", exhaust: "inodes" },
  { dir: "state", kind: "read-only" },
  { dir: "etc", kind: "full", exhaust: "blocks" },
  { dir: "etc", kind: "full", exhaust: "inodes" },
  { dir: "etc", kind: "read-only" },
];

/** Faults that only make sense with a drop-in dir. */
const DROP_IN_FAULTS: Fault[] = [
  { dir: "etc", kind: "full-but", roomy: "etc/conf.d" },
  { dir: "etc/conf.d", kind: "read-only" },
];

/** How one run under a fault came out. */
type Outcome = "unchanged" | "complete" | "broken";

interface CaseResult {
  outcome: Outcome;
  /** The first file the run's stderr names, relative to the base dir. */
  named: string;
  problems: string[];
}

type Tree = Record<string, string>;

const FILLERS = ["FILLER", "FILLER.d"];

function snapshot(base: string): { etc: Tree; state: Tree } {
  return {
    etc: snapshotTree(`${base}/etc`, { skip: FILLERS }),
    state: snapshotTree(`${base}/state`, { skip: FILLERS }),
  };
}

async function dump(base: string): Promise<unknown> {
  const out = await containerdDump(`${base}/etc/config.toml`);
  strictEqual(out.code, 0, `containerd refuses the config: ${out.stderr}`);
  return comparableDump(parse(out.stdout));
}

async function ctk(args: string[]) {
  return await runTool(toolArgv("xpu-ctk"), { args });
}

/** The clean run's outcomes of a command, in `base`. */
interface Reference {
  original: { etc: Tree; state: Tree };
  start: { etc: Tree; state: Tree };
  clean: { etc: Tree; state: Tree };
  cleanInverse?: { etc: Tree; state: Tree };
  originalDump?: unknown;
}

function writeFiles(base: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    const full = `${base}/${path}`;
    if (path.endsWith("/")) Deno.mkdirSync(full, { recursive: true });
    else {
      Deno.mkdirSync(full.replace(/\/[^/]*$/, ""), { recursive: true });
      Deno.writeTextFileSync(full, text);
    }
  }
}

async function reference(c: Command, base: string): Promise<Reference> {
  Deno.removeSync(base, { recursive: true });
  writeFiles(base, c.files);
  const original = snapshot(base);
  const originalDump = c.engine === "containerd" ? await dump(base) : undefined;
  if (c.before) strictEqual((await ctk(c.before(base))).code, 0);
  const start = snapshot(base);
  const run = await ctk(c.args(base));
  strictEqual(run.code, 0, run.stderr);
  const clean = snapshot(base);
  let cleanInverse;
  if (c.inverse) {
    strictEqual((await ctk(c.inverse(base))).code, 0);
    cleanInverse = snapshot(base);
    if (c.engine === "containerd") deepStrictEqual(await dump(base), originalDump);
  } else if (c.engine === "containerd") deepStrictEqual(await dump(base), originalDump);
  return { original, start, clean, cleanInverse, originalDump };
}

/** Sets up `fault` in `base` with the command's starting state on it. */
async function arrange(
  c: Command,
  base: string,
  fault: Fault,
  mounts: Mounts,
): Promise<() => Promise<void>> {
  Deno.removeSync(base, { recursive: true });
  Deno.mkdirSync(`${base}/etc`, { recursive: true });
  Deno.mkdirSync(`${base}/state`, { recursive: true });
  if (fault.kind !== "read-only") await mounts.tmpfs(`${base}/${fault.dir}`, TMPFS);
  if (fault.kind === "full-but") {
    Deno.mkdirSync(`${base}/${fault.roomy}`, { recursive: true });
    await mounts.tmpfs(`${base}/${fault.roomy}`, TMPFS);
  }
  writeFiles(base, c.files);
  if (c.before) strictEqual((await ctk(c.before(base))).code, 0);
  const dir = `${base}/${fault.dir}`;
  switch (fault.kind) {
    case "read-only":
      await mounts.readOnly(dir);
      return () => mounts.unmount(dir);
    case "full-but": {
      const made = await fillUp(dir, "blocks");
      return () => Promise.resolve(unfill(dir, made));
    }
    case "full": {
      const made = await fillUp(dir, fault.exhaust);
      if (fault.roomPages !== undefined) {
        // Give back exactly `roomPages` pages.
        const filler = `${dir}/${made[0]}`;
        const pages = Math.ceil(Deno.statSync(filler).size / PAGE);
        Deno.truncateSync(filler, (pages - fault.roomPages) * PAGE);
      }
      return () => Promise.resolve(unfill(dir, made));
    }
  }
}

/** Runs `c` under `fault`; checks the outcome, then that a run with space back converges. */
async function runCase(
  c: Command,
  base: string,
  fault: Fault,
  ref: Reference,
): Promise<CaseResult> {
  const problems: string[] = [];
  const mounts = new Mounts();
  let outcome: Outcome = "broken";
  let named = "";
  try {
    const restore = await arrange(c, base, fault, mounts);
    const before = snapshot(base);
    deepStrictEqual(before, ref.start, "the arranged start is the clean run's start");
    const run = await ctk(c.args(base));
    const after = snapshot(base);
    const faulty = `${base}/${fault.dir}`;
    named = /"([^"]+)"/.exec(run.stderr)?.[1].replace(`${base}/`, "") ?? "";
    if (isDeepStrictEqual(after.etc, ref.start.etc)) {
      outcome = "unchanged";
      const lines = run.stderr.trim().split("\n");
      const quoted = [...run.stderr.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
      if (run.code !== 1) problems.push(`unchanged, but exit ${run.code}`);
      if (lines.length !== 1 || !lines[0].startsWith("xpu-ctk: ")) {
        problems.push(`stderr is not one "xpu-ctk: " line: ${JSON.stringify(run.stderr)}`);
      }
      if (!/nothing was changed/.test(run.stderr)) {
        problems.push(`stderr does not say nothing was changed: ${run.stderr.trim()}`);
      }
      if (!quoted.some((p) => p === faulty || p.startsWith(`${faulty}/`))) {
        problems.push(`stderr names no file under "${faulty}": ${run.stderr.trim()}`);
      }
      if (!isDeepStrictEqual(after.state, ref.start.state)) {
        problems.push(
          `the engine config is unchanged but the state dir is not: ${
            snapshotDiff(ref.start.state, after.state).join(", ")
          }`,
        );
      }
    } else if (isDeepStrictEqual(after.etc, ref.clean.etc)) {
      outcome = "complete";
      if (run.code !== 0) {
        problems.push(`complete, but exit ${run.code}: ${run.stderr.trim()}`);
      }
      if (!isDeepStrictEqual(after.state, ref.clean.state)) {
        problems.push(
          `the engine config is changed but the state dir differs from a clean run's: ${
            snapshotDiff(ref.clean.state, after.state).join(", ")
          }`,
        );
      }
    } else {
      problems.push(
        `the engine config is half changed (exit ${run.code}: ${run.stderr.trim()}): ${
          snapshotDiff(ref.start.etc, after.etc).join(", ")
        }`,
      );
    }

    // Space back (the filler removed, the read-only mount gone; the tmpfs and what the run left
    // on it stay): the same command converges, and the unconfigure gives back the original.
    await restore();
    const again = await ctk(c.args(base));
    const now = snapshot(base);
    if (again.code !== 0 || !isDeepStrictEqual(now, ref.clean)) {
      problems.push(
        `with space back, the re-run does not converge (exit ${again.code}: ${again.stderr.trim()}; ` +
          `differs in ${
            [
              ...snapshotDiff(ref.clean.etc, now.etc).map((n) => `etc/${n}`),
              ...snapshotDiff(ref.clean.state, now.state).map((n) => `state/${n}`),
            ].join(", ")
          })`,
      );
    } else if (c.inverse && ref.cleanInverse) {
      const back = await ctk(c.inverse(base));
      const reverted = snapshot(base);
      if (back.code !== 0 || !isDeepStrictEqual(reverted, ref.cleanInverse)) {
        problems.push(`the unconfigure afterwards does not give back the original files`);
      } else if (
        c.engine === "containerd" && !isDeepStrictEqual(await dump(base), ref.originalDump)
      ) {
        problems.push(`the unconfigure afterwards does not give back the original config dump`);
      }
    }
  } finally {
    await mounts.release();
  }
  return { outcome, named, problems };
}

await faultTest(
  "full and read-only dirs: the engine config is unchanged or completely changed",
  ["root", "containerd"],
  ["mount", "umount", "dd"],
  async (t) => {
    const root = Deno.makeTempDirSync({ prefix: "xpu-disk-" });
    const rows: string[] = [];
    const started = Date.now();
    try {
      for (const [i, c] of COMMANDS.entries()) {
        const base = `${root}/c${i}`;
        Deno.mkdirSync(base);
        const ref = await reference(c, base);
        const faults = c.engine === "containerd" ? [...FAULTS, ...DROP_IN_FAULTS] : FAULTS;
        for (const fault of faults) {
          await t.step(`${c.name}: ${faultName(fault)}`, async () => {
            const result = await runCase(c, base, fault, ref);
            rows.push(
              `${c.name} | ${
                faultName(fault)
              } | ${result.outcome} | ${result.named} | ${result.problems.length}`,
            );
            deepStrictEqual(result.problems, [], result.problems.join("\n"));
          });
        }
        // The state dir with room for k pages, k = 1, 2, …: the journal does not fit, then the
        // journal fits but a memory does not (the engine files are rolled back), then it all fits.
        await t.step(`${c.name}: state dir with room for 1, 2, … pages`, async () => {
          const problems: string[] = [];
          let complete = false;
          for (let k = 1; k <= 8 && !complete; k++) {
            const fault: Fault = { dir: "state", kind: "full", exhaust: "blocks", roomPages: k };
            const result = await runCase(c, base, fault, ref);
            rows.push(
              `${c.name} | ${
                faultName(fault)
              } | ${result.outcome} | ${result.named} | ${result.problems.length}`,
            );
            problems.push(...result.problems.map((p) => `${k} page(s): ${p}`));
            complete = result.outcome === "complete";
          }
          ok(complete, "8 free pages were not enough for a complete run");
          deepStrictEqual(problems, [], problems.join("\n"));
        });
      }
    } finally {
      console.log("command | fault | outcome | file named | problems");
      for (const row of rows) console.log(row);
      console.log(`${rows.length} runs in ${Math.round((Date.now() - started) / 1000)} s`);
      // Every mount was released by its case; a lazy unmount of leftovers, should a case have
      // been interrupted between mount and release.
      await runTool(["sh"], {
        args: [
          "-c",
          `grep -o " ${root}/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l; true`,
        ],
      });
      Deno.removeSync(root, { recursive: true });
    }
  },
);
