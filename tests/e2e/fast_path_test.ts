/**
 * The pass-through fast path of an installed toolkit, end to end against real runc and docker.
 *
 * - Every runc command docker, containerd and podman use, run through the installed wrapper with
 *   its record current (the fast path) and with the fast path refused (the shim), on twin
 *   containers: the same exit codes, stdout, stderr, `--log` lines and `state` JSON, but for pids,
 *   times and the two state and bundle dirs; only `create` reaches the shim on the fast side.
 * - A change of the config's `runtimes` sends the next call to the shim, which uses the new
 *   runtime and rewrites the record; the call after that takes the fast path to the new runtime.
 * - docker with the installed wrapper as its runtime: the container gets its XPU, every call but
 *   `create` reached runc without the shim.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle } from "../helpers/container_lab.ts";
import { withDockerd } from "../helpers/dockerd.ts";
import {
  isCreate,
  loggedCalls,
  logShimCalls,
  writeRecordingRuntime,
} from "../helpers/fast_path.ts";
import { installToolkit, type Lab, labTest, writeToolkitSources } from "../helpers/lab.ts";
import { FAST_PATH_RECORD } from "../../src/installer/toolkit_layout.ts";

/** What a runtime gets from an engine: no toolkit config in its environment. */
const ENGINE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
/** Set in a call's environment, it sends the call to the shim (an outer launcher looked). */
const REFUSE_FAST_PATH = { XPU_FAST_PATH_RECORD: "/nonexistent/xpu-fast-path-record" };

interface Installed {
  toolkit: string;
  runtime: string;
  config: string;
  record: string;
  /** The calls that reached the shim. */
  shimCalls: () => string[];
}

/** The toolkit installed from the lab's sources, its shim logging each call it gets. */
async function install(lab: Lab): Promise<Installed> {
  const source = `${lab.dir}/source`;
  writeToolkitSources(source);
  const shimLog = `${lab.dir}/shim-calls.log`;
  logShimCalls(source, shimLog);
  const toolkit = `${lab.dir}/installed/toolkit`;
  await installToolkit(source, toolkit, lab.driverRoot);
  const record = `${toolkit}/${FAST_PATH_RECORD}`;
  ok(Deno.statSync(record).isFile, "the installer wrote the fast-path record");
  return {
    toolkit,
    runtime: `${toolkit}/xpu-container-runtime`,
    config: `${toolkit}/.config/xpu-container-runtime/config.toml`,
    record,
    shimCalls: () => loggedCalls(shimLog),
  };
}

/** Sets the `runtimes` of the installed config. */
function setRuntimes(installed: Installed, runtimes: string[]): void {
  const text = Deno.readTextFileSync(installed.config);
  const line = /^runtimes = .*$/m;
  ok(line.test(text), `no runtimes line in ${installed.config}:\n${text}`);
  Deno.writeTextFileSync(
    installed.config,
    text.replace(line, `runtimes = ${JSON.stringify(runtimes)}`),
  );
}

interface Call {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `program args`, with stdin, stdout and stderr from and to files (a created container keeps
 * its stdio open until it starts: no pipe would see an end).
 */
async function call(
  dir: string,
  program: string,
  args: string[],
  env: Record<string, string>,
): Promise<Call> {
  const [out, err] = [`${dir}/.out`, `${dir}/.err`];
  const status = await new Deno.Command("/bin/sh", {
    args: ["-c", 'exec "$@" </dev/null >"$XPU_T_OUT" 2>"$XPU_T_ERR"', "sh", program, ...args],
    env: { ...env, XPU_T_OUT: out, XPU_T_ERR: err },
    clearEnv: true,
  }).output();
  return {
    code: status.code,
    stdout: Deno.readTextFileSync(out),
    stderr: Deno.readTextFileSync(err),
  };
}

/** Twin containers: one driven through the fast path, one through the shim. */
interface Side {
  name: string;
  dir: string;
  root: string;
  bundle: string;
  log: string;
  /** The container's id: the sides' differ, as their cgroups must. */
  id: string;
  env: Record<string, string>;
}

function side(lab: Lab, name: string, env: Record<string, string>): Side {
  const dir = `${lab.dir}/${name}`;
  Deno.mkdirSync(dir);
  const bundle = `${dir}/bundle`;
  makeBundle(bundle, { args: ["sleep", "600"] });
  const id = `xpu-fast-path-${name}-${Deno.pid}`;
  return { name, dir, root: `${dir}/state`, bundle, log: `${dir}/runc.log`, id, env };
}

/** A side's output with its own dirs named alike, and numbers (pids, times, sizes) as N. */
function normalized(s: Side, text: string): string {
  return text.replaceAll(s.bundle, "<bundle>").replaceAll(s.root, "<root>").replaceAll(s.id, "<id>")
    .replaceAll(s.dir, "<dir>").replace(/\d+/g, "N").replace(/[ \t]+/g, " ");
}

/**
 * What an `events --stats` line says beyond its numbers: its type, id and which kinds of stats it
 * has. The stats of two containers differ in more than numbers: runc leaves out a memory field
 * that is 0 (`cache`) for one and not the other.
 */
function statsShape(stdout: string): string {
  let event;
  try {
    event = JSON.parse(stdout);
  } catch {
    return stdout;
  }
  return `${event.type} ${event.id} ${Object.keys(event.data ?? {}).sort().join(",")}\n`;
}

/**
 * The commands, in order, after `--root R --log L --log-format json`; `{b}` is the bundle, `c1`
 * the side's container.
 */
const LIFECYCLE: string[][] = [
  ["create", "--bundle", "{b}", "c1"],
  ["state", "c1"],
  ["list"],
  ["list", "--format", "json"],
  ["list", "-q"],
  ["ps", "c1"],
  ["ps", "--format", "json", "c1"],
  ["start", "c1"],
  ["state", "c1"],
  ["exec", "c1", "sh", "-c", "echo out; echo err >&2; exit 3"],
  ["exec", "--env", "XPU_T=1", "--cwd", "/tmp", "c1", "sh", "-c", 'echo "$XPU_T $PWD"'],
  ["exec", "c1", "/nonexistent"],
  ["update", "--pids-limit", "200", "c1"],
  ["events", "--stats", "c1"],
  ["pause", "c1"],
  ["state", "c1"],
  ["resume", "c1"],
  ["features"],
  ["kill", "c1", "KILL"],
  ["kill", "missing", "KILL"],
  ["delete", "--force", "c1"],
  ["state", "c1"],
  ["delete", "c1"],
  ["frobnicate"],
  ["--help"],
];

await labTest(
  "fast path: every runc command engines use behaves as through the shim; create still goes there",
  ["root", "runc", "busybox"],
  { mode: "csv" },
  async (lab) => {
    const installed = await install(lab);
    const fast = side(lab, "fast", ENGINE_ENV);
    const slow = side(lab, "slow", { ...ENGINE_ENV, ...REFUSE_FAST_PATH });
    try {
      for (const command of LIFECYCLE) {
        const results = [];
        for (const s of [fast, slow]) {
          const args = command.map((a) => a === "{b}" ? s.bundle : a === "c1" ? s.id : a);
          const global = ["--root", s.root, "--log", s.log, "--log-format", "json"];
          const result = await call(s.dir, installed.runtime, [...global, ...args], s.env);
          results.push({
            code: result.code,
            stdout: normalized(
              s,
              command[0] === "events" ? statsShape(result.stdout) : result.stdout,
            ),
            stderr: normalized(s, result.stderr),
          });
        }
        if (Deno.env.get("XPU_T_DEBUG")) console.log(command.join(" "), JSON.stringify(results));
        deepStrictEqual(results[0], results[1], command.join(" "));
        if (command[0] === "kill" && command[1] === "c1") {
          // Both gone before the state is read.
          for (const s of [fast, slow]) {
            for (let i = 0; i < 100; i++) {
              const state = await call(s.dir, "runc", ["--root", s.root, "state", s.id], {});
              if (state.stdout.includes('"status": "stopped"')) break;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
        }
      }
      deepStrictEqual(
        ...([fast, slow].map((s) => normalized(s, Deno.readTextFileSync(s.log))) as [
          string,
          string,
        ]),
        "the --log lines",
      );
      const fastCalls = installed.shimCalls().filter((line) => line.includes(fast.root));
      deepStrictEqual(
        fastCalls.map((line) => line.split(" ").filter((a) => a === "create").length),
        [1],
        `the shim got the fast side's create only: ${fastCalls.join(" | ")}`,
      );
      strictEqual(
        installed.shimCalls().filter((line) => line.includes(slow.root)).length,
        LIFECYCLE.length,
        "the shim got every call of the slow side",
      );
    } finally {
      for (const s of [fast, slow]) {
        await call(s.dir, "runc", ["--root", s.root, "delete", "--force", s.id], {});
      }
    }
  },
);

await labTest(
  "fast path: a change of the runtimes goes to the shim once, then straight to the new runtime",
  ["root", "runc"],
  { mode: "csv" },
  async (lab) => {
    const installed = await install(lab);
    const runcLog = `${lab.dir}/recorded.log`;
    const recorder = writeRecordingRuntime(`${lab.dir}/tools/recording-runc`, runcLog);
    // runc 1.3 refuses to list a state dir that does not exist.
    Deno.mkdirSync(`${lab.dir}/state`);
    const list = ["--root", `${lab.dir}/state`, "list", "-q"];
    const listed = () => call(lab.dir, installed.runtime, list, ENGINE_ENV);
    const before = Deno.readFileSync(installed.record);
    const configText = Deno.readTextFileSync(installed.config);

    strictEqual((await listed()).code, 0);
    deepStrictEqual([installed.shimCalls(), loggedCalls(runcLog)], [[], []], "fast, to runc");

    setRuntimes(installed, [recorder, "runc"]);
    deepStrictEqual(await listed(), { code: 0, stdout: "", stderr: "" });
    deepStrictEqual(installed.shimCalls().length, 1, "the changed config: the shim");
    deepStrictEqual(loggedCalls(runcLog), [list.join(" ")], "the shim ran the new runtime");
    const rewritten = Deno.readFileSync(installed.record);
    ok(new TextDecoder().decode(rewritten).includes(recorder), "the record names it");

    deepStrictEqual(await listed(), { code: 0, stdout: "", stderr: "" });
    deepStrictEqual(installed.shimCalls().length, 1, "then the fast path");
    deepStrictEqual(loggedCalls(runcLog).length, 2, "to the new runtime");

    Deno.writeTextFileSync(installed.config, configText);
    strictEqual((await listed()).code, 0);
    strictEqual((await listed()).code, 0);
    deepStrictEqual([installed.shimCalls().length, loggedCalls(runcLog).length], [2, 2]);
    deepStrictEqual(Deno.readFileSync(installed.record), before, "the record as installed");
  },
);

await labTest(
  "fast path: docker through the installed toolkit gets the XPU, only create reaches the shim",
  ["root", "runc", "nsenter", "busybox", "dockerd"],
  { mode: "csv" },
  async (lab) => {
    const installed = await install(lab);
    const runcLog = `${lab.dir}/recorded.log`;
    setRuntimes(installed, [writeRecordingRuntime(`${lab.dir}/tools/recording-runc`, runcLog)]);
    // One call for the shim to rewrite the record after the edit, as the first engine call would.
    strictEqual((await call(lab.dir, installed.runtime, ["features"], ENGINE_ENV)).code, 0);
    const primed = installed.shimCalls().length;

    const dir = `${lab.dir}/docker`;
    Deno.mkdirSync(dir);
    const daemonJson = `${dir}/daemon.json`;
    Deno.writeTextFileSync(
      daemonJson,
      JSON.stringify({ runtimes: { xpu: { path: installed.runtime } } }, null, 2),
    );
    await withDockerd(dir, daemonJson, ENGINE_ENV, async (d) => {
      await d.waitForRuntimes((names) => names.includes("xpu"));
      const run = await d.runProbe(["--runtime", "xpu", "-e", "XPU_VISIBLE_DEVICES=0"]);
      strictEqual(run.code, 0, run.stderr);
      match(run.stdout, /^\/dev\/xpu0: open ok$/m);
      match(run.stdout, /^\/dev\/xpu1: absent$/m);
      match(run.stdout, /^fake libxpu 1\.0\.0$/m);
    });
    // dockerd's own `features` call (at start, not per container) comes with SIGPIPE ignored,
    // which dockerd does to itself: the fast path leaves it to the shim, which resets it.
    const shim = installed.shimCalls().slice(primed).filter((call) => call !== "features");
    const runc = loggedCalls(runcLog);
    ok(shim.length > 0 && shim.every(isCreate), `the shim got: ${shim.join(" | ")}`);
    const passedBy = runc.filter((line) => !isCreate(line));
    for (const verb of ["start", "delete"]) {
      ok(
        passedBy.some((line) => line.split(" ").includes(verb)),
        `runc got ${verb} without the shim: ${runc.join(" | ")}`,
      );
    }
  },
);
