/**
 * Processes: replacing this process with another program (`execve(2)` through Deno's FFI, since
 * Deno has no exec), the signal state handed over, and running child programs.
 *
 * @module
 */

import { ExecError } from "../errors.ts";
import {
  addressOf,
  cString,
  cStringArray,
  errnoText,
  libc,
  syscall,
  syscallNumber,
} from "./libc.ts";

/** What to exec: the program, its argv (argv[0] included) and its environment. */
export interface ExecRequest {
  path: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
}

const SIG_SETMASK = 2;
/** The kernel's `sigset_t` size, as `rt_sigprocmask(2)` and `rt_sigaction(2)` expect it. */
const KERNEL_SIGSET_BYTES = 8;
/** A kernel `struct sigaction` (handler, flags, restorer, mask) on either architecture. */
const SIGACTION_BYTES = 32;
/** A kernel `struct sigaction` of all zeros is `SIG_DFL`, no flags, empty mask (either arch). */
const DEFAULT_SIGACTION = new Uint8Array(SIGACTION_BYTES);
const EMPTY_SIGSET = new Uint8Array(KERNEL_SIGSET_BYTES);

const encoder = new TextEncoder();

/** Signal numbers whose disposition is "ignore", from a `/proc/<pid>/status` text. */
export function ignoredSignals(procStatus: string): number[] {
  const hex = /^SigIgn:\s*([0-9a-f]+)$/m.exec(procStatus)?.[1];
  if (hex === undefined) return [];
  const mask = BigInt(`0x${hex}`);
  const signals: number[] = [];
  for (let signal = 1; signal <= 64; signal++) {
    if ((mask >> BigInt(signal - 1)) & 1n) signals.push(signal);
  }
  return signals;
}

/**
 * Replaces this process with `request.path`: same PID, same open file descriptors (Deno opens its
 * own with close-on-exec). Every ignored signal (Deno ignores SIGPIPE; a parent may have ignored
 * others) is set back to its default and the signal mask is emptied first, because a new program
 * inherits both; if the kernel refuses the exec, both are put back.
 *
 * @returns never on success
 * @throws {ExecError} when the kernel refuses the exec
 */
export function execve(request: ExecRequest): never {
  const path = cString(request.path);
  const argv = cStringArray(request.argv);
  const env = cStringArray(Object.entries(request.env).map(([k, v]) => `${k}=${v}`));
  // Through syscall(2), which the signal reset binds anyway (each symbol bound costs a quarter
  // of a millisecond, on every create). errno's location is bound before the reset: in the reset
  // state only the exec runs, and errno is read before another call can change it.
  const { syscall: raw, __errno_location: errnoLocation } = libc();
  const errnoPointer = errnoLocation();
  const saved = resetSignalsForExec();
  raw(
    syscallNumber("execve"),
    addressOf(path),
    addressOf(argv.array),
    addressOf(env.array),
    0n,
    0n,
  );
  const failure = errnoPointer ? new Deno.UnsafePointerView(errnoPointer).getInt32() : 0;
  restoreSignals(saved);
  throw new ExecError(
    `Cannot execute "${request.path}": ${errnoText(failure)}: ` +
      `check that it is an executable for this machine`,
  );
}

/** The signal state {@link resetSignalsForExec} replaced, for {@link restoreSignals}. */
export interface SavedSignals {
  /** The calling thread's signal mask, as the kernel's 8-byte set. */
  readonly mask: Uint8Array;
  /** The kernel `struct sigaction` of each signal that was ignored, by signal number. */
  readonly actions: ReadonlyMap<number, Uint8Array>;
}

/**
 * Empties the signal mask of the calling thread and sets every ignored signal back to its
 * default, as a program about to be exec'ed from this thread needs: it inherits both.
 *
 * Raw system calls, because glibc hides its own signals 32 and 33 (it refuses to change their
 * disposition, which a parent may have set to ignore: every child Deno spawns starts so) and the
 * kernel's 8-byte mask is what is saved and restored. The mask goes first, so that a signal sent
 * while it was both blocked and ignored is discarded instead of delivered with its default action.
 *
 * @returns what was replaced, for {@link restoreSignals} should the exec fail
 */
export function resetSignalsForExec(): SavedSignals {
  const mask = new Uint8Array(KERNEL_SIGSET_BYTES);
  syscall("rt_sigprocmask", SIG_SETMASK, EMPTY_SIGSET, mask, KERNEL_SIGSET_BYTES);
  const actions = new Map<number, Uint8Array>();
  for (const signal of ignoredSignals(Deno.readTextFileSync("/proc/thread-self/status"))) {
    const old = new Uint8Array(SIGACTION_BYTES);
    try {
      syscall("rt_sigaction", signal, DEFAULT_SIGACTION, old, KERNEL_SIGSET_BYTES);
      actions.set(signal, old);
    } catch {
      // SIGKILL and SIGSTOP cannot be ignored, so every other signal can be reset.
    }
  }
  return { mask, actions };
}

/** Puts back the signal state {@link resetSignalsForExec} replaced (after a failed exec). */
export function restoreSignals(saved: SavedSignals): void {
  for (const [signal, action] of saved.actions) {
    syscall("rt_sigaction", signal, action, null, KERNEL_SIGSET_BYTES);
  }
  syscall("rt_sigprocmask", SIG_SETMASK, saved.mask, null, KERNEL_SIGSET_BYTES);
}

/** What a finished child program did. */
export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run a child program. */
export interface RunOptions {
  args?: readonly string[];
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  /** Replace the environment instead of extending it. */
  clearEnv?: boolean;
  stdin?: string;
}

/** Runs a program to completion, capturing its output. */
export async function runProcess(path: string, options: RunOptions = {}): Promise<ProcessResult> {
  const command = new Deno.Command(path, {
    args: [...(options.args ?? [])],
    cwd: options.cwd,
    env: options.env ? { ...options.env } : undefined,
    clearEnv: options.clearEnv,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A child program started by {@link startProcess}, running with this process's stdio. */
export interface RunningProcess {
  pid: number;
  /** Its exit status (128 + the signal's number when a signal ended it). */
  exited: Promise<number>;
  /** Sends it `signal`; a child that is gone already is no error. */
  kill(signal: Signal): void;
}

/** Starts a long-running child with this process's stderr and stdout, and stdin from /dev/null. */
export function startProcess(path: string, options: RunOptions = {}): RunningProcess {
  const child = new Deno.Command(path, {
    args: [...(options.args ?? [])],
    cwd: options.cwd,
    env: options.env ? { ...options.env } : undefined,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return {
    pid: child.pid,
    exited: child.status.then((status) =>
      status.signal === null ? status.code : 128 + signalNumber(status.signal)
    ),
    kill(signal) {
      try {
        child.kill(signal);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
    },
  };
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};

function signalNumber(signal: string): number {
  return SIGNAL_NUMBERS[signal] ?? 0;
}

/**
 * The name this process was started as (argv[0], from `/proc/self/cmdline`): Deno exposes only
 * the resolved executable path, which loses the name of a symlink like `xpu-container-runtime.cdi`.
 */
export function currentArgv0(): string {
  try {
    const cmdline = Deno.readFileSync("/proc/self/cmdline");
    const end = cmdline.indexOf(0);
    return new TextDecoder().decode(end < 0 ? cmdline : cmdline.subarray(0, end));
  } catch {
    return Deno.execPath();
  }
}

/** This process's PID. */
export function ownPid(): number {
  return Deno.pid;
}

/** This process's mount namespace, as `/proc/self/ns/mnt` names it (`mnt:[4026531841]`). */
export function ownMountNamespace(): string {
  try {
    return Deno.readLinkSync("/proc/self/ns/mnt");
  } catch {
    return "";
  }
}

/** This process's user id. */
export function ownUid(): number {
  return Deno.uid() ?? 0;
}

/** This process's working directory. */
export function workingDirectory(): string {
  return Deno.cwd();
}

/** Makes `path` this process's working directory (every thread's: one request at a time). */
export function changeDirectory(path: string): void {
  Deno.chdir(path);
}

/** The CPU architecture this program runs on, in Deno's words: `x86_64`, `aarch64`. */
export function hostArch(): string {
  return Deno.build.arch;
}

/** A signal this process can listen for. */
export type Signal = Deno.Signal;

/** Calls `handler` on each of `signals` (with the signal's name) until the returned function is called. */
export function listenForSignals(
  signals: readonly Signal[],
  handler: (signal: Signal) => void,
): () => void {
  const listeners = signals.map((signal) => {
    const listener = () => handler(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}
