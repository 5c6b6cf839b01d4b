import { deepStrictEqual, notDeepStrictEqual } from "node:assert/strict";
import { ExecError } from "../../../src/core/errors.ts";
import { syscall } from "../../../src/core/io/libc.ts";
import {
  execve,
  ignoredSignals,
  resetSignalsForExec,
  restoreSignals,
} from "../../../src/core/io/process.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

Deno.test("ignoredSignals reads the SigIgn mask of /proc/<pid>/status", async (t) => {
  const cases = [
    {
      name: "nothing ignored",
      input: "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
      expected: [],
    },
    { name: "SIGPIPE (Deno's default)", input: "SigIgn:\t0000000000001000\n", expected: [13] },
    {
      name: "SIGINT, SIGQUIT, SIGPIPE and 32",
      input: "SigIgn:\t0000000080001006\n",
      expected: [2, 3, 13, 32],
    },
    { name: "signal 64", input: "SigIgn:\t8000000000000000\n", expected: [64] },
    { name: "no SigIgn line", input: "Name:\tdeno\n", expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(ignoredSignals(c.input), c.expected));
  }
});

const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
const SIGUSR1 = 10;
const SIGUSR2 = 12;
/** glibc's SIGCANCEL, which glibc's own calls refuse to ignore or reset. */
const SIGCANCEL = 32;

/** The calling thread's signal mask and the process's ignored signals, as /proc shows them. */
function threadSignals(): { blocked: string; ignored: string } {
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)$`, "m").exec(status)?.[1] ?? "";
  return { blocked: field("SigBlk"), ignored: field("SigIgn") };
}

/**
 * Runs `fn` with SIGUSR1 blocked in this thread and SIGUSR2 and 32 ignored (SIGPIPE is already,
 * by Deno), then puts the test process's signal state back.
 */
function withSignalState(fn: () => void): void {
  const set = new Uint8Array(8);
  new DataView(set.buffer).setBigUint64(0, 1n << BigInt(SIGUSR1 - 1), true);
  const oldMask = new Uint8Array(8);
  syscall("rt_sigprocmask", SIG_BLOCK, set, oldMask, 8);
  const ignore = new Uint8Array(32);
  ignore[0] = 1; // SIG_IGN
  const oldActions = new Map<number, Uint8Array>();
  try {
    for (const signal of [SIGUSR2, SIGCANCEL]) {
      const old = new Uint8Array(32);
      syscall("rt_sigaction", signal, ignore, old, 8);
      oldActions.set(signal, old);
    }
    fn();
  } finally {
    for (const [signal, old] of oldActions) syscall("rt_sigaction", signal, old, null, 8);
    syscall("rt_sigprocmask", SIG_SETMASK, oldMask, null, 8);
  }
}

Deno.test("resetSignalsForExec empties the mask and the ignored set; restoreSignals puts both back", () => {
  withSignalState(() => {
    const before = threadSignals();
    notDeepStrictEqual(ignoredSignals(`SigIgn: ${before.ignored}`), []);
    const saved = resetSignalsForExec();
    const reset = threadSignals();
    restoreSignals(saved);
    deepStrictEqual(reset, { blocked: "0000000000000000", ignored: "0000000000000000" });
    deepStrictEqual(threadSignals(), before);
  });
});

Deno.test("a refused execve throws ExecError and leaves the signal state as it was", async (t) => {
  await withTempDir(async (dir) => {
    const cases = [
      { name: "no such file", input: { file: undefined, mode: 0 }, expected: "No such file" },
      {
        name: "not executable",
        input: { file: "#!/bin/sh\n", mode: 0o644 },
        expected: "Permission denied",
      },
      {
        name: "not a program for this machine",
        input: { file: "not an ELF file", mode: 0o755 },
        expected: "Exec format error",
      },
    ];
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, () => {
        const path = `${dir}/program-${i}`;
        if (c.input.file !== undefined) {
          Deno.writeTextFileSync(path, c.input.file);
          Deno.chmodSync(path, c.input.mode);
        }
        withSignalState(() => {
          const before = threadSignals();
          assertThrowsError(
            () => execve({ path, argv: [path], env: {} }),
            ExecError,
            `Cannot execute "${path}": ${c.expected}`,
          );
          deepStrictEqual(threadSignals(), before);
        });
      });
    }
  });
});
