/**
 * Processes: replacing this process with another program (`execve(2)` through Deno's FFI, since
 * Deno has no exec), the signal state handed over, and running child programs.
 *
 * @module
 */

import { ExecError } from "./errors.ts";
import { cString, cStringArray, errno, errnoText, hasSyscall, libc, syscall } from "./libc.ts";

/** What to exec: the program, its argv (argv[0] included) and its environment. */
export interface ExecRequest {
  path: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
}

const SIG_SETMASK = 2;
/** `sizeof(sigset_t)` in glibc. */
const SIGSET_BYTES = 128;
/** A kernel `struct sigaction` of all zeros is `SIG_DFL`, no flags, empty mask (either arch). */
const DEFAULT_SIGACTION = new Uint8Array(32);
/** The kernel's `sigset_t` size, as `rt_sigaction` expects it. */
const KERNEL_SIGSET_BYTES = 8;

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
 * inherits both.
 *
 * @returns never on success
 * @throws {ExecError} when the kernel refuses the exec
 */
export function execve(request: ExecRequest): never {
  const argv = cStringArray(request.argv);
  const env = cStringArray(Object.entries(request.env).map(([k, v]) => `${k}=${v}`));
  resetSignalsForExec();
  libc().execve(cString(request.path), argv.array, env.array);
  throw new ExecError(
    `Cannot execute "${request.path}": ${errnoText(errno())}: ` +
      `check that it is an executable for this machine`,
  );
}

/**
 * Sets every ignored signal back to its default and empties the signal mask of the calling
 * thread, as a program about to be exec'ed needs: a new program inherits both. glibc's `signal()`
 * refuses 32 and 33, which a parent may ignore, so `rt_sigaction(2)` is called directly.
 */
export function resetSignalsForExec(): void {
  for (const signal of ignoredSignals(Deno.readTextFileSync("/proc/thread-self/status"))) {
    if (!hasSyscall("rt_sigaction")) libc().signal(signal, null);
    else {
      try {
        syscall("rt_sigaction", signal, DEFAULT_SIGACTION, null, KERNEL_SIGSET_BYTES);
      } catch {
        // SIGKILL and SIGSTOP cannot be ignored, so every other signal can be reset.
      }
    }
  }
  libc().sigprocmask(SIG_SETMASK, new Uint8Array(SIGSET_BYTES), null);
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
