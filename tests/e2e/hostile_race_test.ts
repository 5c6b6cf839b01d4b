/**
 * A concurrent writer to the rootfs (a second container sharing a volume) against the hooks that
 * write into it: while a C racer swaps a directory of the rootfs with a symlink to the lab's
 * "host" dir (renameat2 RENAME_EXCHANGE, bounded by swaps and seconds, stopped at the end), the
 * real `xpu-ctk hook create-symlinks` and `xpu-ctk hook update-ldcache` run a bounded number of
 * times with the OCI state on stdin. Zero links or drop-ins may ever appear on the host; without
 * the racer the same hooks create them in the rootfs.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { runTool, toolArgv, type ToolRun } from "../helpers/toolkit_commands.ts";
import { labTest } from "../helpers/lab.ts";
import {
  addRealLdconfig,
  assertHostUntouched,
  HOSTILE_NEEDS,
  type HostileLab,
  prepareHostileLab,
} from "../helpers/hostile.ts";

/** Hook runs under the racer, and the wall-clock budget they must fit in. */
const RACE_RUNS = 30;
const RACE_BUDGET_MS = 25_000;
/** Links per create-symlinks run: each is its own resolve-then-act window. */
const LINKS_PER_RUN = 20;
/** Bound of one hook run. */
const HOOK_TIMEOUT_S = 20;

/** A bundle whose config.json names `rootfs`, and the OCI state a runtime would pass. */
function makeRaceBundle(h: HostileLab, name: string) {
  const bundle = `${h.lab.dir}/${name}`;
  Deno.mkdirSync(`${bundle}/rootfs/usr/lib/x`, { recursive: true });
  Deno.mkdirSync(`${bundle}/rootfs/etc`, { recursive: true });
  Deno.writeTextFileSync(
    `${bundle}/config.json`,
    JSON.stringify({ ociVersion: "1.0.2", root: { path: "rootfs" } }),
  );
  const state = JSON.stringify({
    ociVersion: "1.0.2",
    id: name,
    status: "creating",
    pid: Deno.pid,
    bundle,
  });
  return { bundle, rootfs: `${bundle}/rootfs`, state };
}

function hook(h: HostileLab, state: string, args: string[], cwd: string): Promise<ToolRun> {
  return runTool(["timeout", String(HOOK_TIMEOUT_S), ...toolArgv("xpu-ctk")], {
    args: ["hook", ...args],
    env: { ...h.lab.env, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    stdin: state,
    cwd,
  });
}

/** The racer, started and ready: swapping `a` and `b` until stopped. */
async function startRacer(h: HostileLab, a: string, b: string) {
  const child = new Deno.Command("timeout", {
    args: ["-s", "KILL", "60", h.payloads.racer, a, b, "100000000", "45"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  // Wait until a swap is seen, so every hook run below races.
  const deadline = Date.now() + 10_000;
  while (Deno.lstatSync(a).isDirectory && Deno.lstatSync(b).isSymlink) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await output;
      throw new Error("the racer never swapped");
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return {
    /** Stops it (SIGTERM: it ends on an even count, both paths back); the swaps it made. */
    async stop(): Promise<number> {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already ended (its own time bound).
      }
      const out = await output;
      const text = new TextDecoder().decode(out.stdout);
      strictEqual(out.code, 0, `racer: ${new TextDecoder().decode(out.stderr)}`);
      return Number(text.trim().split("\n").pop());
    },
  };
}

/** Runs `run` up to RACE_RUNS times within the budget; returns how many ran. */
async function bounded(run: (i: number) => Promise<unknown>): Promise<number> {
  const began = Date.now();
  let i = 0;
  while (i < RACE_RUNS && Date.now() - began < RACE_BUDGET_MS) await run(i++);
  return i;
}

function raceDirEntries(h: HostileLab): string[] {
  return [...Deno.readDirSync(`${h.host}/race`)].map((e) => e.name).filter((n) => n !== ".keep")
    .sort();
}

await labTest(
  "hostile race: create-symlinks never lands a link on the host while a dir is swapped with a symlink",
  [...HOSTILE_NEEDS],
  { mode: "csv" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    const { rootfs, state, bundle } = makeRaceBundle(h, "race-links");
    const links = (tag: string) =>
      Array.from(
        { length: LINKS_PER_RUN },
        (_, i) => ["--link", `libxpu.so.1::/usr/lib/x/${tag}-${i}`],
      ).flat();

    // Honest: no racer, every link is made in the rootfs.
    const honest = await hook(h, state, ["create-symlinks", ...links("honest")], bundle);
    strictEqual(honest.code, 0, honest.stderr);
    for (let i = 0; i < LINKS_PER_RUN; i++) {
      strictEqual(Deno.readLinkSync(`${rootfs}/usr/lib/x/honest-${i}`), "libxpu.so.1");
    }

    Deno.symlinkSync(`${h.host}/race`, `${rootfs}/usr/lib/x.swap`);
    const racer = await startRacer(h, `${rootfs}/usr/lib/x`, `${rootfs}/usr/lib/x.swap`);
    let runs = 0;
    const failures: string[] = [];
    try {
      runs = await bounded(async (i) => {
        const run = await hook(h, state, ["create-symlinks", ...links(`r${i}`)], bundle);
        ok(run.code !== 124, `create-symlinks run ${i} hung`);
        if (run.code !== 0) failures.push(run.stderr.trim().split("\n").pop() ?? "");
      });
    } finally {
      const swaps = await racer.stop();
      ok(swaps > 0, "the racer made no swap");
    }
    ok(Deno.lstatSync(`${rootfs}/usr/lib/x`).isDirectory, "the racer left x swapped");
    deepStrictEqual(
      raceDirEntries(h),
      [],
      `links landed on the host in ${runs} runs (hook failures: ${failures.length})`,
    );
    assertHostUntouched(h, "create-symlinks race");
  },
);

await labTest(
  "hostile race: update-ldcache never writes its drop-in on the host while ld.so.conf.d is swapped",
  [...HOSTILE_NEEDS],
  { mode: "csv" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    const { rootfs, state, bundle } = makeRaceBundle(h, "race-dropin");
    addRealLdconfig(rootfs);
    const confDir = `${rootfs}/etc/ld.so.conf.d`;

    // Honest: no racer, the drop-in names the folder and the cache is written.
    const honest = await hook(h, state, ["update-ldcache", "--folder", "/usr/lib/x"], bundle);
    strictEqual(honest.code, 0, honest.stderr);
    match(Deno.readTextFileSync(`${confDir}/00-xpu-ctk.conf`), /^\/usr\/lib\/x$/m);
    ok(Deno.statSync(`${rootfs}/etc/ld.so.cache`).isFile, "no ld cache written");
    Deno.removeSync(`${confDir}/00-xpu-ctk.conf`);

    Deno.symlinkSync(`${h.host}/race`, `${rootfs}/etc/ld.so.conf.d.swap`);
    const racer = await startRacer(h, confDir, `${rootfs}/etc/ld.so.conf.d.swap`);
    let runs = 0;
    try {
      runs = await bounded(async (i) => {
        const run = await hook(h, state, ["update-ldcache", "--folder", "/usr/lib/x"], bundle);
        ok(run.code !== 124, `update-ldcache run ${i} hung`);
      });
    } finally {
      const swaps = await racer.stop();
      ok(swaps > 0, "the racer made no swap");
    }
    ok(Deno.lstatSync(confDir).isDirectory, "the racer left ld.so.conf.d swapped");
    deepStrictEqual(raceDirEntries(h), [], `the drop-in landed on the host in ${runs} runs`);
    assertHostUntouched(h, "update-ldcache race");
  },
);
