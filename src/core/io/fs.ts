/**
 * The host file system, as the rest of the toolkit sees it: the synchronous `Deno` calls it uses,
 * named once here, and predicates for the OS errors it tells apart. Modules outside `core/io`
 * import these instead of touching `Deno.*`, so every file-system effect has one seam (and the
 * module-graph test can hold the line).
 *
 * @module
 */

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
