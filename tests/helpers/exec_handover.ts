/**
 * What a program exec'ed by the shim was handed: a fake low-level runtime that reports its PID,
 * argv, open fds and signal state on stdout, a parent that starts it (or the shim) with signals
 * blocked and ignored and an extra fd open, and the parser of the report.
 *
 * @module
 */

/**
 * The fake runtime, a `/bin/sh` script that measures itself with shell built-ins only: a forked
 * command (`grep`, `ls | sort`) would read the shell while it forks — dash blocks every signal
 * around its `vfork` (`SigBlk: fffffffe7ffbfeff`) and holds a pipeline's pipes open — and
 * report that instead of what the exec handed over. It exits 7.
 */
export const FAKE_RUNTIME = [
  "#!/bin/sh",
  'args="$*"',
  // Expanded before the script opens anything; the directory the glob reads is one more fd,
  // the same in every run.
  "set -- /proc/$$/fd/*",
  'fds=""',
  'for fd; do fds="$fds ${fd##*/}"; done',
  'echo "pid $$"',
  'echo "args $args"',
  'echo "fds$fds"',
  "while read -r key value; do",
  '  case $key in SigBlk: | SigIgn:) echo "$key $value" ;; esac',
  "done < /proc/$$/status",
  "exit 7",
].join("\n") + "\n";

/** The signal-state system calls, by architecture (glibc refuses to touch 32 and 33). */
const SYSCALLS: Record<string, { rtSigaction: number; rtSigprocmask: number }> = {
  x86_64: { rtSigaction: 13, rtSigprocmask: 14 },
  aarch64: { rtSigaction: 134, rtSigprocmask: 135 },
};

/** Signals the parent ignores: SIGINT, SIGQUIT, SIGUSR1, SIGPIPE and glibc's 32 and 33. */
export const PARENT_IGNORED = [2, 3, 10, 13, 32, 33];

/**
 * `[program, ...args]` to put in front of a program's argv: it runs the program with fd 7 open
 * on /dev/null, every signal blocked (the kernel keeps KILL and STOP unblocked) and
 * {@link PARENT_IGNORED} ignored, through raw system calls in perl (`perl-base`, essential on
 * Debian and Ubuntu; the shell has no way to block signals).
 */
export function blockingParent(): string[] {
  const numbers = SYSCALLS[Deno.build.arch];
  if (numbers === undefined) throw new Error(`no signal syscall numbers for ${Deno.build.arch}`);
  const perl = [
    `my $all = pack("Q", ~0);`,
    `syscall(${numbers.rtSigprocmask}, 2, $all, 0, 8) == 0 or die "rt_sigprocmask: $!";`,
    `my $ignore = pack("Q4", 1, 0, 0, 0);`,
    `for my $signal (${PARENT_IGNORED.join(", ")}) {`,
    `  syscall(${numbers.rtSigaction}, $signal, $ignore, 0, 8) == 0`,
    `    or die "rt_sigaction $signal: $!";`,
    `}`,
    `exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";`,
  ].join("\n");
  return ["sh", "-c", 'exec 7</dev/null; exec "$@"', "sh", "perl", "-e", perl, "--"];
}

/** What the fake runtime reported. */
export interface HandoverReport {
  pid: number;
  args: string;
  /** Open fds, sorted. */
  fds: number[];
  /** `SigBlk` and `SigIgn` of `/proc/<pid>/status`, as printed there. */
  blocked: string;
  ignored: string;
}

/** The report {@link FAKE_RUNTIME} printed, or undefined for anything else. */
export function parseHandoverReport(stdout: string): HandoverReport | undefined {
  const field = (name: string) => new RegExp(`^${name} ?(.*)$`, "m").exec(stdout)?.[1];
  const [pid, args, fds] = [field("pid"), field("args"), field("fds")];
  const [blocked, ignored] = [field("SigBlk:"), field("SigIgn:")];
  if (
    pid === undefined || args === undefined || fds === undefined || blocked === undefined ||
    ignored === undefined
  ) {
    return undefined;
  }
  return {
    pid: Number(pid),
    args,
    fds: fds.split(" ").filter((fd) => fd !== "").map(Number).sort((a, b) => a - b),
    blocked,
    ignored,
  };
}
