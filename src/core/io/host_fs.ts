/**
 * The read-only view of the host file system that discovery logic works through, so the logic can
 * be tested against in-memory trees as well as real temp dirs.
 *
 * @module
 */

/** What a directory entry is. */
export type FileKind = "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";

/** The parts of `stat(2)` the toolkit uses. */
export interface FileStat {
  kind: FileKind;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Device number of a character or block device, split into major and minor. */
  major: number;
  minor: number;
}

/** Read-only access to a file tree. Paths are absolute host paths. */
export interface HostFs {
  /** `stat(2)`, following symlinks; `undefined` when the path does not exist. */
  stat(path: string): FileStat | undefined;
  /** `lstat(2)`; `undefined` when the path does not exist. */
  lstat(path: string): FileStat | undefined;
  /** Entry names of a directory, sorted; `undefined` when it is not a readable directory. */
  readDir(path: string): string[] | undefined;
  /** The target of a symlink exactly as stored. */
  readLink(path: string): string;
  /** A text file's contents; `undefined` when it does not exist. */
  readTextFile(path: string): string | undefined;
}

/** Splits a Linux `dev_t` into major and minor numbers (glibc's encoding). */
export function splitDeviceNumber(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
  return { major, minor };
}

function toFileStat(info: Deno.FileInfo): FileStat {
  const kind: FileKind = info.isSymlink
    ? "symlink"
    : info.isDirectory
    ? "dir"
    : info.isFile
    ? "file"
    : info.isCharDevice
    ? "char"
    : info.isBlockDevice
    ? "block"
    : info.isFifo
    ? "fifo"
    : "socket";
  const { major, minor } = kind === "char" || kind === "block"
    ? splitDeviceNumber(info.rdev ?? 0)
    : { major: 0, minor: 0 };
  return {
    kind,
    mode: (info.mode ?? 0) & 0o7777,
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
    major,
    minor,
  };
}

function missingAsUndefined<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/** The real file system, through Deno's synchronous calls. */
export const realHostFs: HostFs = {
  stat: (path) => missingAsUndefined(() => toFileStat(Deno.statSync(path))),
  lstat: (path) => missingAsUndefined(() => toFileStat(Deno.lstatSync(path))),
  readDir(path) {
    try {
      return [...Deno.readDirSync(path)].map((e) => e.name).sort();
    } catch {
      return undefined;
    }
  },
  readLink: (path) => Deno.readLinkSync(path),
  readTextFile: (path) => missingAsUndefined(() => Deno.readTextFileSync(path)),
};

/**
 * `fs` answering each `stat`, `lstat` and `readLink` of a path once: for one walk of a driver
 * root that resolves the same dirs again and again (a CSV mount spec's entries resolve `/usr`,
 * `/usr/lib`, … for every file), made for that walk and dropped after it, so nothing it remembers
 * outlives the container it serves. A lookup that throws is not remembered.
 */
export function withRememberedLookups(fs: HostFs): HostFs {
  const stats = new Map<string, FileStat | undefined>();
  const lstats = new Map<string, FileStat | undefined>();
  const links = new Map<string, string>();
  const remembered = <T>(map: Map<string, T>, path: string, look: () => T): T => {
    if (map.has(path)) return map.get(path) as T;
    const value = look();
    map.set(path, value);
    return value;
  };
  return {
    stat: (path) => remembered(stats, path, () => fs.stat(path)),
    lstat: (path) => remembered(lstats, path, () => fs.lstat(path)),
    readLink: (path) => remembered(links, path, () => fs.readLink(path)),
    readDir: (path) => fs.readDir(path),
    readTextFile: (path) => fs.readTextFile(path),
  };
}
