/**
 * Every executable's command line under malformed invocations generated from a seed: unknown
 * flags (typos, unicode, huge), missing values, values with line breaks, control characters and
 * unicode in the slots that are checked, flags without their command, unknown commands, repeated
 * flags. Each case starts from a harmless invocation (temp paths, `--dry-run`, a fake engine) and
 * gets at least one mutation that must make it fail, so no case does real work.
 *
 * What the user sees is checked: exit 2 for a usage error and 1 for any other failure, exactly
 * one stderr line, no stack trace, nothing on the runtime shim's stdout, no file created in the
 * working directory. All cases run in-process through each tool's `main` (as the entry module
 * would report them); a sample also runs as real processes (`deno run bin/<tool>.ts`), which must
 * print the same line.
 *
 * `XPU_FUZZ_CASES` (default 300) and `XPU_FUZZ_SEED` (default 1) override the run;
 * `XPU_FUZZ_SUBPROCESSES` (default 3 per tool, twice that for the shim) the sample.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runTool, toolArgv, type ToolName } from "../helpers/toolkit_commands.ts";
import { cliMain } from "../../src/cli/main.ts";
import {
  exitCodeOf,
  failureMessage,
  quoted,
  ToolError,
  UsageError,
} from "../../src/core/errors.ts";
import { parseRuncArgs } from "../../src/core/oci/runc_args.ts";
import type { ToolIo } from "../../src/core/io/tool_io.ts";
import { ctkMain } from "../../src/ctk/main.ts";
import { parseRuntimeCommand } from "../../src/engines/runtime_cli.ts";
import { hookMain } from "../../src/hook/main.ts";
import { asksForVersion } from "../../src/runtime/shim.ts";
import { versionLine } from "../../src/core/version.ts";
import type { DaemonDeps } from "../../src/installer/daemon.ts";
import { installerMain } from "../../src/installer/main.ts";
import { runShim } from "../../src/runtime/shim.ts";
import { prng } from "../helpers/fuzz.ts";

const envNumber = (name: string, fallback: number) => {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? fallback : Number(value);
};
const CASES = envNumber("XPU_FUZZ_CASES", 300);
const SEED = envNumber("XPU_FUZZ_SEED", 1);
const SUBPROCESSES = envNumber("XPU_FUZZ_SUBPROCESSES", 3);

/** Values that break messages and parsers; no NUL (an argv cannot hold one). */
const WEIRD: readonly string[] = [
  "a\nb",
  "line\r\nxpu-ctk: forged second line",
  "\r",
  "bell\u0007",
  "\u001b[31mred\u001b[0m",
  "tab\there",
  "del\u007f",
  "nel\u0085",
  "ünïcødé",
  "😀",
  "\u2028",
  "\u202eevil",
  "\uFEFF",
  "",
  " ",
  "-",
  "'",
  '"',
  "\\",
  "$(id)",
  "x".repeat(100_000),
  "--",
  "../../etc",
];

/** Flag names no tool has (typos, unicode, huge). */
const UNKNOWN_FLAGS: readonly string[] = [
  "--cofig",
  "--runtim",
  "--dry-rn",
  "-Z",
  "--ünïcode",
  "--a\nb",
  "--x=\r",
  `--${"y".repeat(100_000)}`,
  "-\u0007",
  "---triple",
];

/** One argument, or a flag with its value: mutations never split a flag from its value. */
type Unit = string[];

/** A tool's harmless starting points and the slots where a bad value must be refused. */
interface ToolSpec {
  name: ToolName;
  bases: Unit[][];
  /** Flags that take a value (the value is left off at the end: missing value). */
  valueFlags: string[];
  /** Flags whose value is checked (`--runtime WEIRD`, or `--flag=WEIRD`), with valid weird ones. */
  checked: { flag: string; equals?: boolean; valid?: string[] }[];
  /** Words that are commands (replaced by unknown ones, or dropped). */
  commands: string[];
  /** Where unknown flags may go: anywhere, or (Go flag style) before the command only. */
  flagsFirst?: boolean;
  /** The shim: every invocation is handed over; nothing is malformed to it but `--bundle`. */
  passThrough?: boolean;
  run(args: string[], context: Context): Promise<Outcome>;
}

interface Context {
  dir: string;
  env: Record<string, string>;
}

/** How an invocation ended, as the entry module would report it. */
interface Outcome {
  code: number;
  stdout: string;
  /** Everything the tool wrote to stderr, and the entry module's failure line. */
  stderr: string;
  error?: unknown;
}

function fakeIo(context: Context) {
  const out = { stdout: "", stderr: "" };
  const io: ToolIo = {
    env: context.env,
    cwd: context.dir,
    stdout: (text) => void (out.stdout += text),
    stderr: (text) => void (out.stderr += text),
    readStdin: () => Promise.resolve(""),
  };
  return { io, out };
}

/** Runs a main the way its entry module does: a failure is one `<tool>: …` line, exit code. */
async function asEntry(
  name: ToolName,
  context: Context,
  main: (io: ToolIo) => Promise<number>,
): Promise<Outcome> {
  const { io, out } = fakeIo(context);
  try {
    const code = await main(io);
    return { code, stdout: out.stdout, stderr: out.stderr };
  } catch (error) {
    return {
      code: exitCodeOf(error),
      stdout: out.stdout,
      stderr: out.stderr + `${name}: ${failureMessage(error)}\n`,
      error,
    };
  }
}

/** The installer's engine and install faked: the daemon form stops at once. */
function fakeDaemonDeps(): DaemonDeps {
  const quiet = fakeIo({ dir: "/", env: {} }).io;
  return {
    log: () => {},
    onStopSignal: (handler) => (queueMicrotask(() => handler("SIGTERM")), () => {}),
    install: () => Promise.resolve(),
    parseRuntime: (args) => parseRuntimeCommand(args, quiet),
    runRuntime: () => Promise.resolve(),
    startNriPlugin: () => ({ pid: 1, exited: Promise.resolve(0), kill: () => {} }),
  };
}

class Handover extends Error {}

function specs(dir: string): ToolSpec[] {
  const daemonJson = `${dir}/daemon.json`;
  const state = `${dir}/state`;
  return [
    {
      name: "xpu-ctk",
      bases: [
        [
          ["runtime"],
          ["configure"],
          ["--runtime", "docker"],
          ["--config", daemonJson],
          ["--state-dir", state],
          ["--restart-mode", "none"],
          ["--dry-run"],
        ],
        [
          ["runtime"],
          ["setup"],
          ["--runtime", "containerd"],
          ["--config", `${dir}/config.toml`],
          ["--drop-in-config", `${dir}/conf.d/99-xpu.toml`],
          ["--state-dir", state],
          ["--restart-mode", "none"],
          ["--dry-run"],
          [`${dir}/toolkit`],
        ],
        [["cdi"], ["list"], ["--spec-dir", `${dir}/cdi`]],
        [["cdi"], ["generate"], ["--driver-root", `${dir}/driver`], ["--format", "json"]],
        [["config"], ["default"]],
        [["hook"], ["create-symlinks"], ["--link", "a::/b"]],
      ],
      valueFlags: ["--runtime", "--config", "--state-dir", "--spec-dir", "--format", "--link"],
      checked: [
        { flag: "--runtime" },
        { flag: "--restart-mode" },
        { flag: "--config-mode" },
        { flag: "--set-as-default", equals: true },
        { flag: "--cdi.enabled", equals: true },
        { flag: "--format" },
        { flag: "--kind" },
        { flag: "--link" },
      ],
      commands: ["runtime", "configure", "setup", "cdi", "list", "generate", "config", "default"],
      run: (args, context) => asEntry("xpu-ctk", context, (io) => ctkMain(args, io)),
    },
    {
      name: "xpu-container-cli",
      bases: [
        [["--root", `${dir}/driver`], ["info"]],
        [["--root", `${dir}/driver`], ["list"], ["--json"]],
        // pid 0 is refused whatever else happens: configure never runs.
        [["--root", `${dir}/driver`], ["configure"], ["--pid", "0"], [`${dir}/rootfs`]],
      ],
      valueFlags: ["--root", "--user", "--profile", "--device", "--pid"],
      checked: [
        { flag: "--root" },
        { flag: "--user" },
        { flag: "--profile" },
        { flag: "--pid" },
      ],
      commands: ["info", "list", "configure"],
      run: (args, context) => asEntry("xpu-container-cli", context, (io) => cliMain(args, io)),
    },
    {
      name: "xpu-container-runtime-hook",
      bases: [
        [["prestart"]],
        [["-debug"], ["prestart"]],
        [["-config", `${dir}/config.toml`], ["prestart"]],
      ],
      valueFlags: ["-config"],
      checked: [{ flag: "-debug", equals: true }, { flag: "-config", equals: true }],
      commands: ["prestart"],
      flagsFirst: true,
      run: (args, context) =>
        asEntry("xpu-container-runtime-hook", context, async (io) => {
          const outcome = await hookMain(args, io);
          return "exec" in outcome ? 0 : outcome.exitCode;
        }),
    },
    {
      name: "xpu-ctk-installer",
      bases: [
        [["install"], ["--toolkit-root", `${dir}/tk`], ["--source-dir", `${dir}/src`]],
        [["delete"], ["--toolkit-root", `${dir}/tk`]],
        [
          [`${dir}/root`],
          ["-n"],
          ["-r", "docker"],
          ["-u", `--config ${daemonJson} --state-dir ${state} --restart-mode none`],
          ["--pid-file", `${dir}/toolkit.pid`],
        ],
      ],
      valueFlags: ["--toolkit-root", "--pid-file", "-r", "-u", "--profile"],
      checked: [
        { flag: "-r" },
        { flag: "--profile" },
        // An empty module name turns the wrappers' check off.
        { flag: "--kernel-module", valid: [""] },
        { flag: "--driver-root" },
        { flag: "--pid-file" },
        { flag: "--cdi-enabled", equals: true },
      ],
      commands: ["install", "delete"],
      run: (args, context) =>
        asEntry(
          "xpu-ctk-installer",
          context,
          (io) => installerMain(args, io, `${context.dir}/src`, fakeDaemonDeps()),
        ),
    },
    {
      name: "xpu-container-runtime",
      bases: [
        [["create"], ["--bundle", `${dir}/bundle`], ["id"]],
        [["--root", `${dir}/run`], ["--log", `${dir}/log.json`], ["--log-format", "json"], [
          "delete",
        ], ["id"]],
        [["state"], ["id"]],
        [["--version"]],
      ],
      valueFlags: ["--bundle", "-b", "-bundle"],
      checked: [{ flag: "--bundle" }, { flag: "--log-format" }],
      commands: ["create", "delete", "state"],
      passThrough: true,
      run: async (args, context) => {
        try {
          await runShim(
            { args, env: context.env, cwd: context.dir, executableName: "xpu-container-runtime" },
            () => {
              throw new Handover();
            },
          );
          throw new Error("runShim returned");
        } catch (error) {
          if (error instanceof Handover) return { code: 0, stdout: "", stderr: "" };
          return {
            code: exitCodeOf(error),
            stdout: "",
            stderr: `xpu-container-runtime: ${failureMessage(error)}\n`,
            error,
          };
        }
      },
    },
  ];
}

/** A generated case: the tool, its argv and what was done to it. */
interface Case {
  tool: ToolSpec;
  args: string[];
  mutations: string[];
}

function generate(tools: readonly ToolSpec[], count: number, seed: number): Case[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const cases: Case[] = [];
  for (let n = 0; n < count; n++) {
    const tool = tools[n % tools.length];
    const units = pick(tool.bases).map((u) => [...u]);
    const mutations: string[] = [];
    const insertAt = (unit: Unit) => {
      const commandAt = units.findIndex((u) => tool.commands.includes(u[0]));
      const end = tool.flagsFirst && commandAt >= 0 ? commandAt : units.length;
      units.splice(Math.floor(random() * (end + 1)), 0, unit);
    };
    if (random() < 0.3) {
      // Repeated flags, first: a unit inserted after a valueless flag would become its value.
      const flagged = units.filter((u) => u[0].startsWith("-"));
      if (flagged.length > 0) {
        mutations.push("repeated");
        const unit = pick(flagged);
        for (let r = 0; r < 1 + Math.floor(random() * 3); r++) insertAt([...unit]);
      }
    }
    // Breaking mutations (one or two); a missing value last, so nothing follows its flag.
    const kinds = tool.passThrough
      ? ["missing-value", "checked-value", "unknown-flag", "huge"]
      : ["unknown-flag", "missing-value", "checked-value", "no-command", "unknown-command", "huge"];
    const breaks = Array.from({ length: 1 + Math.floor(random() * 2) }, () => pick(kinds))
      .sort((a, b) => Number(a === "missing-value") - Number(b === "missing-value"));
    for (const kind of breaks) {
      mutations.push(kind);
      switch (kind) {
        case "unknown-flag":
          insertAt([pick(UNKNOWN_FLAGS)]);
          break;
        case "huge":
          insertAt([`--${"h".repeat(100_000)}`]);
          break;
        case "missing-value": {
          if (tool.passThrough && !units.some((u) => u[0] === "create")) units.unshift(["create"]);
          units.push([pick(tool.valueFlags)]);
          break;
        }
        case "checked-value": {
          const { flag, equals, valid } = pick(tool.checked);
          const value = pick(WEIRD.filter((w) => !valid?.includes(w)));
          // Every occurrence: of a repeated flag, the last one counts.
          const unit = equals ? [`${flag}=${value}`] : [flag, value];
          const isFlag = (u: Unit) => u[0] === flag || u[0].startsWith(`${flag}=`);
          if (units.some(isFlag)) units.forEach((u, i) => isFlag(u) && (units[i] = [...unit]));
          else insertAt(unit);
          if (tool.passThrough && flag === "--bundle") units.unshift(["create"]);
          break;
        }
        case "no-command": {
          const at = units.findIndex((u) => tool.commands.includes(u[0]));
          if (at >= 0) units.splice(at, 1);
          else insertAt([pick(UNKNOWN_FLAGS)]);
          break;
        }
        case "unknown-command": {
          const at = units.findIndex((u) => tool.commands.includes(u[0]));
          const word = pick(WEIRD.filter((w) => w !== "" && !w.startsWith("-"))) + "x";
          if (at >= 0) units[at] = [word];
          else units.unshift([word]);
          break;
        }
      }
    }
    cases.push({ tool, args: units.flat(), mutations });
  }
  return cases;
}

function lines(text: string): string[] {
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/** Names of entries in `dir`. */
function entries(dir: string): Set<string> {
  return new Set([...Deno.readDirSync(dir)].map((e) => e.name));
}

/** What is wrong with an outcome (none: an empty list). */
function problems(c: Case, outcome: Outcome): string[] {
  const found: string[] = [];
  // Warnings (`<tool>: warning: …`) are lines of their own; the failure is one more.
  const shown = lines(outcome.stderr).filter((l) => !l.startsWith(`${c.tool.name}: warning: `));
  if (/^\s+at .*:\d+:\d+\)?$/m.test(outcome.stderr)) found.push("a stack trace on stderr");
  // The shim's one line of its own: its version, before the runtime's, for an explicit --version.
  const shimLine = asksForVersion(c.args) ? `${versionLine("xpu-container-runtime")}\n` : "";
  if (c.tool.passThrough && ![shimLine, ""].includes(outcome.stdout)) {
    found.push("the shim wrote to stdout");
  }
  if (outcome.code === 0) {
    if (!c.tool.passThrough) found.push("a malformed invocation succeeded");
    if (shown.length > 1) found.push(`${shown.length} stderr lines`);
    return found;
  }
  const usage = outcome.error instanceof UsageError;
  if (outcome.code !== (usage ? 2 : 1)) {
    found.push(`exit ${outcome.code} for a ${(outcome.error as Error)?.name ?? "failure"}`);
  }
  if (outcome.error !== undefined && !(outcome.error instanceof ToolError)) {
    found.push(`not a tool error: ${failureMessage(outcome.error)}`);
  }
  if (shown.length !== 1) found.push(`${shown.length} stderr lines`);
  if (
    outcome.error instanceof Error && /[\n\r]/.test(outcome.error.message) &&
    !RAW_MESSAGES_ELSEWHERE.some((file) => thrownIn(outcome.error as Error, file))
  ) {
    found.push("the error's own message has a line break (escaped only when printed)");
  }
  return found;
}

/**
 * Modules that still echo a command-line value unquoted into a message (owned elsewhere; the
 * printed line is escaped by `failureMessage` all the same, and log files encode it).
 */
const RAW_MESSAGES_ELSEWHERE: string[] = [];

/** Whether `error` was constructed in `file` (its stack's first frame). */
function thrownIn(error: Error, file: string): boolean {
  const frame = error.stack?.split("\n").find((line) => /^\s+at /.test(line));
  return frame?.includes(`/${file}:`) ?? false;
}

function describeCase(c: Case, outcome: Outcome, found: string[]): string {
  const args = c.args.map((a) => a.length > 80 ? `${a.slice(0, 80)}…(${a.length})` : a);
  return `${c.tool.name} ${JSON.stringify(args)} [${c.mutations.join(", ")}]: ` +
    `${found.join("; ")}\n  exit ${outcome.code}, stderr: ${
      JSON.stringify(outcome.stderr.slice(0, 300))
    }`;
}

Deno.test("quoted() keeps a value on one line and shows what it was", async (t) => {
  const cases: { name: string; input: string; expected: string }[] = [
    { name: "plain", input: "/etc/docker/daemon.json", expected: '"/etc/docker/daemon.json"' },
    { name: "line breaks", input: "a\r\nb", expected: '"a\\r\\nb"' },
    { name: "quotes and backslashes", input: 'a"\\', expected: '"a\\"\\\\"' },
    {
      name: "C0, DEL and C1 controls",
      input: "\u0007\u007f\u0085",
      expected: '"\\u0007\\u007f\\u0085"',
    },
    { name: "line separator, bidi override", input: "\u2028\u202e", expected: '"\\u2028\\u202e"' },
    { name: "unicode stays readable", input: "ünï 😀", expected: '"ünï 😀"' },
    { name: "a lone surrogate", input: "\ud800", expected: '"\\ud800"' },
    {
      name: "a huge value is cut, its length said",
      input: "x".repeat(5000),
      expected: `"${"x".repeat(1024)}…" (5000 characters)`,
    },
  ];
  for (const c of cases) await t.step(c.name, () => strictEqual(quoted(c.input), c.expected));
});

Deno.test("failureMessage() is one line for any thrown value, never a stack", async (t) => {
  const cases: { name: string; input: unknown; expected: string }[] = [
    {
      name: "a tool error as it is",
      input: new UsageError("Cannot x: y"),
      expected: "Cannot x: y",
    },
    {
      name: "a tool error's stray line break escaped",
      input: new UsageError('Cannot use "a\nb"'),
      expected: 'Cannot use "a\\nb"',
    },
    {
      name: "an OS error naming no file",
      input: Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" }),
      expected: "unexpected system error: No space left on device (os error 28)",
    },
    {
      name: "a Deno.errors kind",
      input: new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x\ny'"),
      expected: "unexpected system error: Permission denied (os error 13): open '/x\\ny'",
    },
    {
      name: "a bug",
      input: new TypeError("x is not a function\n    at f (file:///a.ts:1:1)"),
      expected: "internal error: TypeError: x is not a function\\n    at f (file:///a.ts:1:1)",
    },
    { name: "not an Error", input: "boom", expected: "internal error: boom" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(failureMessage(c.input), c.expected));
  }
});

Deno.test("every executable's command line: malformed invocations fail in one line", async () => {
  const started = performance.now();
  const dir = Deno.makeTempDirSync({ prefix: "xpu-cmdline-fuzz-" });
  try {
    Deno.mkdirSync(`${dir}/bundle`);
    Deno.mkdirSync(`${dir}/driver`);
    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      // The shim hands over to /bin/true: a pass-through invocation does nothing.
      '[xpu-container-runtime]\nruntimes = ["/bin/true"]\n',
    );
    const context: Context = {
      dir,
      env: {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        // The subprocesses find the modules this process compiled.
        DENO_DIR: Deno.env.get("DENO_DIR") ??
          `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`}/deno`,
        XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml`,
        XPU_CTK_STATE_DIR: `${dir}/state`,
        RUNTIME_RESTART_MODE: "none",
        TOOLKIT_PID_FILE: `${dir}/toolkit.pid`,
        ROOT: `${dir}/root`,
      },
    };
    const tools = specs(dir);
    const cases = generate(tools, CASES, SEED);
    const cwd = Deno.cwd();
    const before = { dir: entries(dir), cwd: entries(cwd) };
    const failures: string[] = [];
    const outcomes: Outcome[] = [];
    for (const c of cases) {
      const outcome = await c.tool.run(c.args, context);
      outcomes.push(outcome);
      const found = problems(c, outcome);
      if (found.length > 0) failures.push(describeCase(c, outcome, found));
    }
    const inProcessMs = Math.round(performance.now() - started);

    // A sample as real processes, with the same environment, in the temp dir: only cases that
    // failed on their command line (nothing ran) — and the shim's, which hand over to /bin/true.
    const sample: number[] = [];
    for (const tool of tools) {
      const picked = cases.map((c, i) => [c, i] as const).filter(([c, i]) =>
        c.tool === tool && (tool.passThrough || outcomes[i].error instanceof UsageError)
      ).slice(0, tool.passThrough ? 2 * SUBPROCESSES : SUBPROCESSES); // the shim: its stdout
      sample.push(...picked.map(([, i]) => i));
    }
    // Deno drops one trailing CR from each argument before a program sees it (Deno.args):
    // the process is compared with an in-process run of what it was given.
    const delivered = (args: string[]) => args.map((a) => a.replace(/\r$/, ""));
    const expectations = await Promise.all(
      sample.map((i) => cases[i].tool.run(delivered(cases[i].args), context)),
    );
    const runs = await Promise.all(
      sample.map((i) =>
        runTool(toolArgv(cases[i].tool.name), {
          args: cases[i].args,
          env: context.env,
          cwd: dir,
        })
      ),
    );
    const normal = (text: string) => new TextDecoder().decode(new TextEncoder().encode(text));
    runs.forEach((run, k) => {
      const c = cases[sample[k]];
      const expected = expectations[k];
      const outcome: Outcome = { ...run, error: expected.error };
      const found = problems(c, outcome);
      if (run.code !== expected.code) {
        found.push(`exit ${run.code} as a process, ${expected.code} in-process`);
      }
      if (run.stderr !== normal(expected.stderr)) found.push("a process printed another line");
      if (found.length > 0) failures.push(`(process) ${describeCase(c, outcome, found)}`);
    });

    // Nothing created where the tools ran: the temp dir (their cwd) and this process's cwd.
    const after = { dir: entries(dir), cwd: entries(cwd) };
    const expectedInDir = new Set(["state", "toolkit.pid", "log.json", "run"]);
    const created = [
      ...[...after.dir].filter((e) => !before.dir.has(e) && !expectedInDir.has(e)),
      ...[...after.cwd].filter((e) =>
        !before.cwd.has(e) && cases.some((c) => c.args.some((a) => a.endsWith(e)))
      ),
    ];
    // The shim logs where runc's --log says, as runc does: such a file is expected.
    const logs = new Set(cases.map((c) => parseRuncArgs(c.args).log).filter((l) => l));
    const unexpected = created.filter((e) => ![...logs].some((l) => l!.endsWith(e)));
    deepStrictEqual(unexpected, [], "files created in a working directory");

    // How the cases ended, per tool: `UsageError` for most, the others where a file is named.
    const ended = new Map<string, number>();
    cases.forEach((c, i) => {
      const error = outcomes[i].error;
      const key = `${c.tool.name}: ${
        error instanceof Error ? error.name : `exit ${outcomes[i].code}`
      }`;
      ended.set(key, (ended.get(key) ?? 0) + 1);
    });
    console.log([...ended].sort().map(([k, n]) => `${k} ×${n}`).join("; "));
    const elapsed = Math.round(performance.now() - started);
    console.log(
      `${cases.length} invocations in-process (${inProcessMs} ms), ${runs.length} as processes; ` +
        `${elapsed} ms in all; seed ${SEED}`,
    );
    deepStrictEqual(failures, [], failures.slice(0, 10).join("\n"));
    ok(cases.length === CASES);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
