/**
 * The host as the create step reaches it, through one seam: the read-only {@link HostFs} that
 * device discovery and the CSV mount specs use, plus the bundle spec's read and atomic write, the
 * CDI spec dirs and the check of a hook's program. Tests run `create` against an in-memory one;
 * the real one is made of the calls that keep the file-safety properties (a FIFO or link in place
 * of `config.json` refused at once, the spec replaced atomically, its bytes kept as read).
 *
 * @module
 */

import { type CdiDirReader, realCdiDirReader } from "../core/cdi/cdi_dir_reader.ts";
import { writeFileAtomic } from "../core/io/atomic_file.ts";
import { isExecutableFile } from "../core/io/executable_lookup.ts";
import type { HostFs } from "../core/io/host_fs.ts";
import { readRegularFile } from "../core/io/regular_file.ts";
import { syscallHostFs } from "../core/io/syscall_host_fs.ts";
import type { MountTargetPlan } from "./mount_targets.ts";

/** Everything the create step reads and writes on the host. Paths are absolute host paths. */
export interface CreateFs extends HostFs {
  /**
   * The bytes of the regular file at `path`, checked on the open descriptor: a symbolic link, a
   * FIFO, a device or a directory there is refused at once, never read.
   *
   * @throws {FileKindError} when `path` is not a regular file
   * @throws {OsCallError} when it cannot be opened or read (missing, permissions)
   */
  readRegularFile(path: string): Uint8Array;
  /**
   * Replaces the file at `path` with `data` atomically, keeping its owner and mode: a reader sees
   * the old file or the new one, never a truncated one.
   *
   * @throws {UsageError} when `path` is a symbolic link or not a regular file (nothing is written)
   */
  writeFileAtomic(path: string, data: Uint8Array): void;
  /** Whether `path` (links followed) is a regular file with an execute bit set. */
  isExecutableFile(path: string): boolean;
  /** How the CDI spec dirs are listed and their files read. */
  readonly cdiSpecDirs: CdiDirReader;
  /**
   * Creates the mount targets of `plan` in the rootfs at `rootfs` (a container with its own user
   * namespace); see `mount_targets.ts`.
   *
   * @returns one line per target that could not be made
   */
  prepareMountTargets(rootfs: string, plan: MountTargetPlan): Promise<string[]>;
}

/** The real host; its lookups are raw system calls, as the spec's read and write are. */
export const realCreateFs: CreateFs = {
  ...syscallHostFs,
  readRegularFile,
  // No fsync: a bundle does not outlive a crash of the host (the engine writes it anew for every
  // start), so durability would buy nothing; the rename keeps the replacement atomic.
  writeFileAtomic: (path, data) => writeFileAtomic(path, data, { durable: false }),
  isExecutableFile,
  cdiSpecDirs: realCdiDirReader,
  prepareMountTargets: async (rootfs, plan) =>
    await (await import("./mount_targets.ts")).prepareMountTargets(rootfs, plan),
};
