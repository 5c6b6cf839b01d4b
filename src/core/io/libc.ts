/**
 * The C library and the raw system calls the toolkit needs that Deno has no API for (`openat2`,
 * `*at` calls on a directory fd, namespaces, `pivot_root`, capabilities), opened once through
 * `Deno.dlopen` and used only from the calling thread: a call returns its result or throws an
 * {@link OsCallError} carrying the errno.
 *
 * Newer calls go through `syscall(2)` with the number for this architecture rather than glibc's
 * wrapper, so hosts with an older glibc work as long as their kernel has the call.
 *
 * @module
 */

import type { FileKind } from "./host_fs.ts";

export type { FileKind };

/** A failed system call: the call's name and the kernel's errno. */
export class OsCallError extends Error {
  override readonly name = "OsCallError";
  readonly call: string;
  readonly errno: number;
  readonly code: string;

  constructor(call: string, errno: number) {
    super(`${call}: ${errnoText(errno)}`);
    this.call = call;
    this.errno = errno;
    this.code = ERRNO_CODES[errno] ?? `E${errno}`;
  }
}

/** errno values the callers act on, by name. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ENOSYS: 38,
  ELOOP: 40,
  ENOTEMPTY: 39,
  ENXIO: 6,
  EOVERFLOW: 75,
  ENAMETOOLONG: 36,
  ECONNREFUSED: 111,
} as const;

const ERRNO_CODES: Record<number, string> = Object.fromEntries(
  Object.entries(ERRNO).map(([name, value]) => [value, name]),
);

/** Syscall numbers that differ between the two architectures the toolkit ships for. */
const SYSCALLS = {
  x86_64: {
    openat2: 437n,
    close_range: 436n,
    execveat: 322n,
    pivot_root: 155n,
    capset: 126n,
    statx: 332n,
    setresuid: 117n,
    setresgid: 119n,
    setgroups: 116n,
    rt_sigaction: 13n,
    rt_sigprocmask: 14n,
    fcntl: 72n,
    bpf: 321n,
    open_tree: 428n,
    move_mount: 429n,
    mount_setattr: 442n,
    execve: 59n,
    socket: 41n,
    connect: 42n,
    ppoll: 271n,
    read: 0n,
    write: 1n,
    close: 3n,
    openat: 257n,
    fchmod: 91n,
    fchown: 93n,
    fsync: 74n,
  },
  aarch64: {
    openat2: 437n,
    close_range: 436n,
    execveat: 281n,
    pivot_root: 41n,
    capset: 91n,
    statx: 291n,
    setresuid: 147n,
    setresgid: 149n,
    setgroups: 159n,
    rt_sigaction: 134n,
    rt_sigprocmask: 135n,
    fcntl: 25n,
    bpf: 280n,
    open_tree: 428n,
    move_mount: 429n,
    mount_setattr: 442n,
    execve: 221n,
    socket: 198n,
    connect: 203n,
    ppoll: 73n,
    read: 63n,
    write: 64n,
    close: 57n,
    openat: 56n,
    fchmod: 52n,
    fchown: 55n,
    fsync: 82n,
  },
} as const;

/** `open(2)` flags; `O_DIRECTORY` and `O_NOFOLLOW` differ between the two architectures. */
export const O = {
  RDONLY: 0,
  WRONLY: 0o1,
  RDWR: 0o2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
  DIRECTORY: Deno.build.arch === "aarch64" ? 0o40000 : 0o200000,
  NOFOLLOW: Deno.build.arch === "aarch64" ? 0o100000 : 0o400000,
} as const;

/** `mount(2)` flags. */
export const MS = {
  RDONLY: 1n,
  NOSUID: 2n,
  NODEV: 4n,
  NOEXEC: 8n,
  REMOUNT: 32n,
  NOATIME: 1024n,
  NODIRATIME: 2048n,
  BIND: 4096n,
  REC: 16384n,
  PRIVATE: 1n << 18n,
  RELATIME: 1n << 21n,
  STRICTATIME: 1n << 24n,
} as const;

/** A system call this module knows the number of. */
export type SyscallName = keyof (typeof SYSCALLS)["x86_64"];

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "u64"], result: "i64" },
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  fsync: { parameters: ["i32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  fchdir: { parameters: ["i32"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "pointer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  unshare: { parameters: ["i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  setfsuid: { parameters: ["u32"], result: "i32" },
  setfsgid: { parameters: ["u32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const bound: Record<string, unknown> = {};

/**
 * Binding a symbol costs about a quarter of a millisecond and the shim runs on every container
 * operation, so each function is bound on its first use, not the whole table at once.
 */
const LAZY = new Proxy({} as Libc, {
  get(_, name: string) {
    if (!(name in SYMBOLS)) return undefined;
    if (!(name in bound)) {
      const definition = SYMBOLS[name as keyof typeof SYMBOLS];
      bound[name] = Deno.dlopen("libc.so.6", { [name]: definition }).symbols[name];
    }
    return bound[name];
  },
});

/** The C library's functions (each bound on first use). */
export function libc(): Libc {
  return LAZY;
}

/** The calling thread's errno. */
export function errno(): number {
  const pointer = libc().__errno_location();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}

/** The C library's text for an errno. */
export function errnoText(value: number): string {
  const text = libc().strerror(value);
  return text ? Deno.UnsafePointerView.getCString(text) : `errno ${value}`;
}

/** Throws {@link OsCallError} for `call` when `result` is negative, else returns it. */
export function check<T extends number | bigint>(call: string, result: T): T {
  if (result < 0) throw new OsCallError(call, errno());
  return result;
}

const encoder = new TextEncoder();

/**
 * A NUL-terminated C string.
 *
 * @throws {OsCallError} EINVAL for text with a NUL byte of its own (C would see a shorter string:
 *   another path than the one named)
 */
export function cString(text: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  if (bytes.includes(0)) throw new OsCallError("cString", ERRNO.EINVAL);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A NULL-terminated `char *[]`; `keep` holds the strings alive while the pointers are used. */
export function cStringArray(
  items: readonly string[],
): { array: Uint8Array<ArrayBuffer>; keep: unknown[] } {
  const strings = items.map((item) => cString(item));
  const pointers = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => {
    pointers[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
  });
  return { array: new Uint8Array(pointers.buffer), keep: strings };
}

/** A raw system call argument: a number, a buffer (passed as its address) or null. */
export type SyscallArg = number | bigint | Uint8Array | null;

function word(arg: SyscallArg | undefined): bigint {
  if (arg === undefined || arg === null) return 0n;
  if (typeof arg === "bigint") return arg;
  if (typeof arg === "number") return BigInt(arg);
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(arg)));
}

/** The address of a buffer, for a pointer field of a system call's argument struct. */
export function addressOf(buffer: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

/**
 * The number of the system call `name` on this architecture.
 *
 * @throws {OsCallError} ENOSYS on an architecture the toolkit does not ship for
 */
export function syscallNumber(name: SyscallName): bigint {
  const table = SYSCALLS[Deno.build.arch as keyof typeof SYSCALLS];
  if (table === undefined) throw new OsCallError(name, ERRNO.ENOSYS);
  return table[name];
}

/** Whether this architecture has a number for `name`. */
export function hasSyscall(name: SyscallName): boolean {
  const table = (SYSCALLS as Record<string, Record<string, bigint>>)[Deno.build.arch];
  return table?.[name] !== undefined;
}

/**
 * Makes the raw system call `name` (buffers are passed by address; the caller keeps them alive).
 *
 * @throws {OsCallError} when the kernel returns an error
 */
export function syscall(name: SyscallName, ...args: SyscallArg[]): bigint {
  const number = syscallNumber(name);
  const [a, b, c, d, e] = [0, 1, 2, 3, 4].map((i) => word(args[i]));
  return check(name, libc().syscall(number, a, b, c, d, e));
}

/** `statx(2)` flags. */
export const AT = {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  EMPTY_PATH: 0x1000,
} as const;

const KINDS: Record<number, FileKind> = {
  0o100000: "file",
  0o040000: "dir",
  0o120000: "symlink",
  0o020000: "char",
  0o060000: "block",
  0o010000: "fifo",
  0o140000: "socket",
};

/** The fields of a `statx` result the toolkit reads. */
export interface FileStatus {
  kind: FileKind;
  /** Permission bits (with setuid, setgid, sticky). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** The inode's identity: its number and the device of its file system. */
  ino: bigint;
  devMajor: number;
  devMinor: number;
  /** Device numbers of a device node. */
  rdevMajor: number;
  rdevMinor: number;
  /** The mount the file is on; `undefined` on kernels before 5.8, which do not report it. */
  mountId: bigint | undefined;
}

const STATX_MNT_ID = 0x1000;
const STATX_BASIC_STATS_AND_MNT_ID = 0x7ff | STATX_MNT_ID;

/**
 * `statx(dirfd, path, flags)`: with `path` empty, the file `dirfd` is open on (`AT_EMPTY_PATH`).
 *
 * @throws {OsCallError} when the call fails
 */
export function statAt(dirfd: number, path = "", flags = 0): FileStatus {
  const buffer = new Uint8Array(256);
  const name = cString(path);
  syscall(
    "statx",
    dirfd,
    name,
    flags | (path === "" ? AT.EMPTY_PATH : 0),
    STATX_BASIC_STATS_AND_MNT_ID,
    buffer,
  );
  const view = new DataView(buffer.buffer);
  const mode = view.getUint16(28, true);
  return {
    kind: KINDS[mode & 0o170000] ?? "file",
    mode: mode & 0o7777,
    uid: view.getUint32(20, true),
    gid: view.getUint32(24, true),
    size: Number(view.getBigUint64(40, true)),
    ino: view.getBigUint64(32, true),
    devMajor: view.getUint32(136, true),
    devMinor: view.getUint32(140, true),
    rdevMajor: view.getUint32(128, true),
    rdevMinor: view.getUint32(132, true),
    mountId: (view.getUint32(0, true) & STATX_MNT_ID) !== 0
      ? view.getBigUint64(144, true)
      : undefined,
  };
}
