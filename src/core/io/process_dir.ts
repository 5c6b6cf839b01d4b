/**
 * A process's `/proc/<pid>` directory, held open: what is read through it is that process's, or
 * a failure once it has exited, never another process's that was given its pid meanwhile. What
 * a command learns about a running container (its mount namespace, user namespace, cgroup) is
 * read through one such fd, so every answer is about the same process.
 *
 * @module
 */

import { closeFd, readAll } from "./fs.ts";
import { check, cString, libc, O } from "./libc.ts";

/** An open `/proc/<pid>` directory (`O_PATH`); `close` it when done. */
export interface ProcessDir {
  readonly pid: number;
  readonly fd: number;
}

/**
 * Opens `/proc/<pid>`.
 *
 * @throws {OsCallError} when there is no such process
 */
export function openProcessDir(pid: number): ProcessDir {
  const fd = check(
    "open",
    libc().open(cString(`/proc/${pid}`), O.PATH | O.DIRECTORY | O.CLOEXEC, 0),
  );
  return { pid, fd };
}

/** Closes a {@link ProcessDir}. */
export function closeProcessDir(process: ProcessDir): void {
  closeFd(process.fd);
}

/** Runs `fn` with `/proc/<pid>` open (or the given one), closing what it opened. */
export function withProcessDir<T>(process: number | ProcessDir, fn: (dir: ProcessDir) => T): T {
  if (typeof process !== "number") return fn(process);
  const dir = openProcessDir(process);
  try {
    return fn(dir);
  } finally {
    closeProcessDir(dir);
  }
}

/**
 * Opens the entry `name` of the process (`ns/mnt`, `cgroup`), read-only.
 *
 * @throws {OsCallError} when the process has exited since its directory was opened
 */
export function openProcessEntry(process: ProcessDir, name: string): number {
  return check("openat", libc().openat(process.fd, cString(name), O.RDONLY | O.CLOEXEC, 0));
}

/** The text of the process's entry `name` (`cgroup`, `uid_map`). */
export function readProcessText(process: ProcessDir, name: string): string {
  const fd = openProcessEntry(process, name);
  try {
    return new TextDecoder().decode(readAll(fd));
  } finally {
    closeFd(fd);
  }
}

/** The target of the process's link `name` (`ns/user`). */
export function readProcessLink(process: ProcessDir, name: string): string {
  const buffer = new Uint8Array(256);
  const length = Number(
    check(
      "readlinkat",
      libc().readlinkat(process.fd, cString(name), buffer, BigInt(buffer.length)),
    ),
  );
  return new TextDecoder().decode(buffer.subarray(0, length));
}
