/**
 * The host file system, as the rest of the toolkit sees it. Modules outside `core/io` import these
 * instead of touching `Deno.*`, so every file-system effect has one seam (and the module-graph
 * test can hold the line):
 *
 * - the synchronous `Deno` calls the toolkit uses, named once, and predicates for the OS errors
 *   it tells apart;
 * - files at paths an admin or an engine names (log files, the installer's pid file, the outputs
 *   the tools write, a bundle's `config.json`), opened as file descriptors that never follow a
 *   final symbolic link (`O_NOFOLLOW`) and never wait for a FIFO's other end (`O_NONBLOCK`). What
 *   the file is gets checked on the open descriptor (`statx` with `AT_EMPTY_PATH`), so it cannot
 *   be swapped between the check and the use. Refusals are {@link FileKindError}s that say what
 *   the path is instead. Deno's own `open` has no `O_NOFOLLOW`, so these go through the C library
 *   (opened on first use).
 *
 * @module
 */

import {
  AT,
  cString,
  ERRNO,
  type FileKind as StatKind,
  O,
  OsCallError,
  statAt,
  syscall,
} from "./libc.ts";

/** Metadata of a path (`stat`/`lstat`). */
export type FileInfo = Deno.FileInfo;
/** One entry of a directory listing. */
export type DirEntry = Deno.DirEntry;

export const readTextFileSync: (path: string | URL) => string = Deno.readTextFileSync;
export const readFileSync: (path: string | URL) => Uint8Array = Deno.readFileSync;
export const writeTextFileSync: typeof Deno.writeTextFileSync = Deno.writeTextFileSync;
export const writeFileSync: typeof Deno.writeFileSync = Deno.writeFileSync;
export const statSync: (path: string | URL) => FileInfo = Deno.statSync;
export const lstatSync: (path: string | URL) => FileInfo = Deno.lstatSync;
export const readDirSync: (path: string | URL) => Iterable<DirEntry> = Deno.readDirSync;
export const readLinkSync: (path: string | URL) => string = Deno.readLinkSync;
export const realPathSync: (path: string | URL) => string = Deno.realPathSync;
export const mkdirSync: typeof Deno.mkdirSync = Deno.mkdirSync;
export const removeSync: typeof Deno.removeSync = Deno.removeSync;
export const renameSync: typeof Deno.renameSync = Deno.renameSync;
export const chmodSync: typeof Deno.chmodSync = Deno.chmodSync;
export const symlinkSync: typeof Deno.symlinkSync = Deno.symlinkSync;
export const copyFileSync: typeof Deno.copyFileSync = Deno.copyFileSync;

/** The path does not exist (ENOENT). */
export function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** A path component is not a directory (ENOTDIR). */
export function isNotADirectory(error: unknown): boolean {
  return error instanceof Deno.errors.NotADirectory;
}

/** The path exists already (EEXIST). */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof Deno.errors.AlreadyExists;
}

/** Too many levels of symbolic links (ELOOP). */
export function isFilesystemLoop(error: unknown): boolean {
  return error instanceof Deno.errors.FilesystemLoop;
}

/** An ELOOP error of our own making, for a resolver that gives up on a link chain. */
export function filesystemLoopError(message: string): Error {
  return new Deno.errors.FilesystemLoop(message);
}

/** An error of one of Deno's OS error classes (`Deno.errors.*`). */
export function isOsError(error: unknown): boolean {
  return Object.values(Deno.errors).some((kind) => error instanceof kind);
}

/** An open file or directory (to lock, sync or close it). */
export type FsFile = Deno.FsFile;
/** How to open a file (`read`, `write`, `create`, …). */
export type OpenOptions = Deno.OpenOptions;

/** Opens a file or directory (a directory: `{ read: true }`, to lock or fsync it). */
export const openSync: (path: string | URL, options?: OpenOptions) => FsFile = Deno.openSync;

/** What a path is, in the words a message uses. */
export type FileKind =
  | "regular file"
  | "directory"
  | "symbolic link"
  | "FIFO"
  | "socket"
  | "character device"
  | "block device";

/** A path that is not the kind of file it must be (a symbolic link, a FIFO, a directory…). */
export class FileKindError extends Error {
  override readonly name = "FileKindError";
  readonly path: string;
  readonly kind: FileKind;
  /** The message's detail without the path: `it is a symbolic link (to "/etc/passwd")`. */
  readonly detail: string;

  constructor(path: string, kind: FileKind, target?: string) {
    const detail = kind === "symbolic link"
      ? `it is a symbolic link${target === undefined ? "" : ` (to "${target}")`}`
      : `it is a ${kind}, not a regular file`;
    super(`"${path}": ${detail}`);
    this.path = path;
    this.kind = kind;
    this.detail = detail;
  }
}

/** How a file is opened. */
export type OpenAccess = "read" | "append" | "create-new" | "read-write";

const ACCESS_FLAGS: Readonly<Record<OpenAccess, number>> = {
  /** Read an existing file. */
  read: O.RDONLY,
  /** Append to a log, creating it. */
  append: O.WRONLY | O.APPEND | O.CREAT | O.NOCTTY,
  /** A new file only: fails when anything, a dangling link included, is at the path. */
  "create-new": O.WRONLY | O.CREAT | O.EXCL,
  /** Read and write, creating it (a pid file). */
  "read-write": O.RDWR | O.CREAT | O.NOCTTY,
};

/** The errnos of an open that may mean "not a regular file": the path is looked at then. */
const KIND_ERRNOS: readonly number[] = [ERRNO.ELOOP, ERRNO.EEXIST, ERRNO.ENXIO, ERRNO.EISDIR];

/**
 * Opens `path` without following a final symbolic link and without blocking.
 *
 * @param mode permission bits of a file this creates (before the umask)
 * @returns the file descriptor; the caller closes it with {@link closeFd}
 * @throws {FileKindError} when `path` is a symbolic link, a FIFO or socket nobody serves, or a
 *   directory opened for writing
 * @throws {OsCallError} for any other failure (missing directory, permissions)
 */
export function openNoFollow(path: string, access: OpenAccess, mode = 0o644): number {
  const flags = ACCESS_FLAGS[access] | O.NOFOLLOW | O.NONBLOCK | O.CLOEXEC;
  // Raw system calls here and below: `syscall` is bound for every create anyway, and each libc
  // function bound besides costs a quarter of a millisecond or more.
  let error: OsCallError;
  try {
    return Number(syscall("openat", AT.FDCWD, cString(path), flags, mode));
  } catch (failure) {
    if (!(failure instanceof OsCallError)) throw failure;
    error = new OsCallError("open", failure.errno);
  }
  // ELOOP is what O_NOFOLLOW returns for a link (EEXIST when O_EXCL comes first); ENXIO, a FIFO
  // without a reader or a socket; EISDIR, a directory opened for writing.
  if (KIND_ERRNOS.includes(error.errno)) {
    const kind = kindAt(path);
    if (kind === "symbolic link") throw new FileKindError(path, kind, linkTarget(path));
    if (kind !== undefined && kind !== "regular file") throw new FileKindError(path, kind);
  }
  throw error;
}

/** What is at `path` itself (a link is not followed); `undefined` when nothing is. */
function kindAt(path: string): FileKind | undefined {
  try {
    return kindOfInfo(lstatSync(path));
  } catch {
    return undefined;
  }
}

/** The kind of an `lstat` result. */
export function kindOfInfo(info: FileInfo): FileKind {
  if (info.isSymlink) return "symbolic link";
  if (info.isDirectory) return "directory";
  if (info.isFifo) return "FIFO";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "character device";
  if (info.isBlockDevice) return "block device";
  return "regular file";
}

/** A link's target for a message; `undefined` when it cannot be read. */
export function linkTarget(path: string): string | undefined {
  try {
    return readLinkSync(path);
  } catch {
    return undefined;
  }
}

/** The words a message uses for each kind a `stat` (or `HostFs`) reports. */
export const FILE_KIND_WORDS: Readonly<Record<StatKind, FileKind>> = {
  file: "regular file",
  dir: "directory",
  symlink: "symbolic link",
  fifo: "FIFO",
  socket: "socket",
  char: "character device",
  block: "block device",
};

/** What an open file descriptor is, and its size. */
export function statFd(fd: number): { kind: FileKind; size: number } {
  const { kind, size } = statAt(fd);
  return { kind: FILE_KIND_WORDS[kind], size };
}

/**
 * Reads from `fd` to the end of the file.
 *
 * @param sizeHint the expected size (a file can grow while it is read)
 */
export function readAll(fd: number, sizeHint = 0): Uint8Array {
  let buffer = new Uint8Array(Math.max(sizeHint + 1, 4096));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const grown = new Uint8Array(buffer.length * 2);
      grown.set(buffer);
      buffer = grown;
    }
    const chunk = buffer.subarray(length);
    const n = Number(syscall("read", fd, chunk, chunk.length));
    if (n === 0) return buffer.slice(0, length);
    length += n;
  }
}

/** Writes all of `bytes` to `fd`. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  // An FFI "buffer" argument must be backed by an ArrayBuffer, not a SharedArrayBuffer.
  const data = bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
  let written = 0;
  while (written < data.length) {
    const rest = data.subarray(written);
    written += Number(syscall("write", fd, rest, rest.length));
  }
}

/** Closes `fd`; a failure to close is not reported (the data was written or fsync'ed before). */
export function closeFd(fd: number): void {
  try {
    syscall("close", fd);
  } catch {
    // Closed either way (close(2) frees the descriptor even when it reports an error).
  }
}
