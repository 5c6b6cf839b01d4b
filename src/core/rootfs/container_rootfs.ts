/**
 * The one place the toolkit touches a container's rootfs. Everything inside a rootfs belongs to
 * the image, which may be hostile and may change while we work (a second container sharing a
 * volume), so the rootfs is opened once and every lookup and change is made relative to that fd:
 * `openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (absolute symlinks restart at the
 * rootfs, `..` stops there, procfs magic links such as `/proc/1/root` are refused), then
 * `mkdirat`, `symlinkat`, `mknodat`, writes through the fd, and bind mounts through
 * `/proc/thread-self/fd/N`. No path string into the rootfs is trusted after it was resolved.
 *
 * Kernels without `openat2` (before 5.6) are refused rather than served unsafely.
 *
 * @module
 */

import {
  AT,
  check,
  cString,
  ERRNO,
  errno,
  type FileKind,
  type FileStatus,
  libc,
  MS,
  O,
  OsCallError,
  statAt,
  syscall,
} from "../io/libc.ts";
import { writeAll } from "../io/fs.ts";
import { attachTree, detachMountOf } from "../io/mount_tree.ts";
import { ownPid } from "../io/process.ts";
import { normalizeInRoot } from "../path/root_path.ts";

const RESOLVE_NO_MAGICLINKS = 0x02n;
const MAX_SYMLINKS = 40;
const RESOLVE_IN_ROOT = 0x10n;

/** File systems nothing is ever written into, whatever the image's symlinks say. */
const PSEUDO_FS_MAGIC: Readonly<Record<number, string>> = {
  0x9fa0: "proc",
  0x62656572: "sysfs",
  0x27e0eb: "cgroup",
  0x63677270: "cgroup2",
  0x64626720: "debugfs",
  0x74726163: "tracefs",
  0x73636673: "securityfs",
  0xcafe4a11: "bpf",
  0x6e736673: "nsfs",
  0x62646576: "bdev",
  0x42494e4d: "binfmt_misc",
  0x67596969: "rpc_pipefs",
  0xf97cff8c: "selinuxfs",
  0x43415d53: "smackfs",
  0x6165676c: "pstorefs",
  0xde5e81e4: "efivarfs",
  0x19800202: "mqueue",
};

/** A change in the rootfs that the image's layout does not allow; the message names the path. */
export class RootfsError extends Error {
  override readonly name = "RootfsError";
  /** The in-container path. */
  readonly path: string;
  /** The errno code behind it (`ELOOP`, `EROFS`, …), when a call failed. */
  readonly code?: string;

  constructor(path: string, message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    this.path = path;
    this.code = options?.code;
  }
}

/** What {@link ContainerRootfs.symlink} did. */
export type SymlinkResult = "created" | "present" | "blocked";

function describe(error: unknown): string {
  if (error instanceof OsCallError) {
    if (error.errno === ERRNO.ELOOP) {
      return "it goes through a symbolic link that leaves the rootfs or a procfs magic link";
    }
    if (error.errno === ERRNO.EXDEV) return "it leaves the rootfs";
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): string | undefined {
  return error instanceof OsCallError ? error.code : undefined;
}

/** `makedev(3)`. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) |
    ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

function splitParent(path: string): { parent: string; name: string } {
  const normal = normalizeInRoot(path);
  if (normal === "/") throw new RootfsError(path, `Cannot change "/" of the container itself`);
  const slash = normal.lastIndexOf("/");
  return { parent: slash === 0 ? "/" : normal.slice(0, slash), name: normal.slice(slash + 1) };
}

/** The host ids that own what the toolkit creates in a user-namespaced container. */
export interface Owner {
  uid: number;
  gid: number;
}

/** Options of {@link ContainerRootfs.open}. */
export interface RootfsOptions {
  /** The host ids of the root of a container with its own user namespace (see `open`). */
  owner?: Owner;
  /**
   * This thread's fd dir in the host's procfs, opened before entering the container's mount
   * namespace (`openOwnFdDir`): what the detach methods unmount through. Without it they refuse.
   */
  fdDir?: number;
}

/**
 * Runs `make` with this thread's file-system ids switched to `owner` (`setfsuid`/`setfsgid`
 * act on the calling thread only), so a file system mounted in the container's user namespace
 * accepts the inode; the ids are switched back before returning.
 */
function asOwner(owner: Owner, make: () => number): { value: number; failure: number } {
  const gid = libc().setfsgid(owner.gid);
  const uid = libc().setfsuid(owner.uid);
  try {
    // setfsuid and setfsgid report no failure, only the previous id: asked with an id no one has
    // (-1, which changes nothing), they say whether the switch took.
    if (libc().setfsuid(-1 >>> 0) !== owner.uid || libc().setfsgid(-1 >>> 0) !== owner.gid) {
      return { value: -1, failure: ERRNO.EPERM };
    }
    const value = make();
    return { value, failure: value < 0 ? errno() : 0 };
  } finally {
    libc().setfsuid(uid);
    libc().setfsgid(gid);
  }
}

/** The value of a {@link ContainerRootfs} creation call, or its failure thrown. */
function succeeded(call: string, result: { value: number; failure: number }): number {
  if (result.value < 0) throw new OsCallError(call, result.failure);
  return result.value;
}

/** What is at `name` in the directory `dir` (not followed), or `undefined` when nothing is. */
function entryAt(dir: number, name: string): FileStatus | undefined {
  try {
    return statAt(dir, name, AT.SYMLINK_NOFOLLOW);
  } catch (error) {
    if (error instanceof OsCallError && error.errno === ERRNO.ENOENT) return undefined;
    throw error;
  }
}

/** The file system type (`statfs` magic) of what `fd` is open on, or `undefined`. */
function fileSystemMagic(fd: number): number | undefined {
  const statfs = new Uint8Array(120);
  if (libc().fstatfs(fd, statfs) !== 0) return undefined;
  return Number(new DataView(statfs.buffer).getBigUint64(0, true) & 0xffffffffn);
}

/** Whether two inodes' file systems are the same (their device numbers). */
function sameFileSystem(
  a: { devMajor: number; devMinor: number },
  b: { devMajor: number; devMinor: number },
): boolean {
  return a.devMajor === b.devMajor && a.devMinor === b.devMinor;
}

/** Whether this kernel has `openat2(2)` (Linux 5.6+). */
export function hasOpenat2(): boolean {
  try {
    openHow(AT.FDCWD, "/", O.PATH | O.CLOEXEC, 0n);
    return true;
  } catch (error) {
    if (error instanceof OsCallError && error.errno === ERRNO.ENOSYS) return false;
    throw error;
  }
}

function openHow(dirfd: number, path: string, flags: number, resolve: bigint, mode = 0): number {
  const how = new BigUint64Array([BigInt(flags), BigInt(mode), resolve]);
  const name = cString(path);
  return Number(syscall("openat2", dirfd, name, new Uint8Array(how.buffer), 24));
}

/**
 * A container's rootfs, open as a directory fd in the mount namespace the caller is in. Paths are
 * in-container (`/usr/lib/libxpu.so`); every operation resolves them inside the rootfs.
 */
export class ContainerRootfs {
  /** The rootfs as the caller named it (for messages only). */
  readonly path: string;
  readonly #fd: number;
  readonly #owner: Owner | undefined;
  readonly #fdDir: number | undefined;

  private constructor(path: string, fd: number, options: RootfsOptions) {
    this.path = path;
    this.#fd = fd;
    this.#owner = options.owner;
    this.#fdDir = options.fdDir;
  }

  /**
   * Opens the rootfs at `path`, a host path from the engine's bundle (trusted).
   *
   * With `owner` (the host ids of the root of a container with its own user namespace), every
   * directory, file and link created is that root's, as if the container had made it; on a file
   * system mounted in that namespace (runc's `/dev` tmpfs), where an inode of an id the namespace
   * does not map cannot exist, it is created as that root in the first place.
   *
   * @throws {RootfsError} when it is not a directory, or the kernel has no `openat2`
   */
  static open(path: string, options: RootfsOptions = {}): ContainerRootfs {
    let fd: number;
    try {
      fd = check("open", libc().open(cString(path), O.PATH | O.DIRECTORY | O.CLOEXEC, 0));
    } catch (error) {
      throw new RootfsError(
        "/",
        `Cannot open the container's rootfs "${path}": ${describe(error)}`,
        {
          cause: error,
          code: codeOf(error),
        },
      );
    }
    const rootfs = new ContainerRootfs(path, fd, options);
    try {
      libc().close(openHow(fd, ".", O.PATH | O.CLOEXEC, RESOLVE_IN_ROOT));
    } catch (error) {
      rootfs.close();
      if (error instanceof OsCallError && error.errno === ERRNO.ENOSYS) {
        throw new RootfsError(
          "/",
          `Cannot touch the container's rootfs "${path}" safely: this kernel has no openat2 ` +
            `(Linux 5.6 or later is needed): upgrade the host kernel`,
          { cause: error, code: "ENOSYS" },
        );
      }
      throw error;
    }
    return rootfs;
  }

  /** Closes the rootfs fd. */
  close(): void {
    libc().close(this.#fd);
  }

  /** Runs `fn` with the rootfs open (see {@link ContainerRootfs.open}), closing it afterwards. */
  static with<T>(
    path: string,
    fn: (rootfs: ContainerRootfs) => T,
    options: RootfsOptions = {},
  ): T {
    const rootfs = ContainerRootfs.open(path, options);
    try {
      return fn(rootfs);
    } finally {
      rootfs.close();
    }
  }

  /** Opens `path` inside the rootfs; the fd is the caller's to close. */
  #resolve(path: string, flags: number): number {
    const relative = normalizeInRoot(path).slice(1) || ".";
    return openHow(this.#fd, relative, flags | O.CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  }

  /**
   * What is at `path` (its last component not followed), or `undefined` when nothing is.
   *
   * @throws {RootfsError} when the path cannot be resolved inside the rootfs
   */
  lstat(path: string): FileStatus | undefined {
    const { parent, name } = splitParent(path);
    const dir = this.#openParent(parent, { create: false });
    if (dir === undefined) return undefined;
    try {
      return statAt(dir, name, AT.SYMLINK_NOFOLLOW);
    } catch (error) {
      if (error instanceof OsCallError && error.errno === ERRNO.ENOENT) return undefined;
      throw this.#error(path, "inspect", error);
    } finally {
      libc().close(dir);
    }
  }

  /** What `path` names with every symlink followed inside the rootfs, or `undefined`. */
  stat(path: string): FileStatus | undefined {
    let fd: number;
    try {
      fd = this.#resolve(path, O.PATH);
    } catch (error) {
      if (error instanceof OsCallError && error.errno === ERRNO.ENOENT) return undefined;
      if (error instanceof OsCallError && error.errno === ERRNO.ENOTDIR) return undefined;
      throw this.#error(path, "inspect", error);
    }
    try {
      return statAt(fd);
    } finally {
      libc().close(fd);
    }
  }

  /** The target of the symlink at `path`, or `undefined` when it is not a symlink. */
  readLink(path: string): string | undefined {
    const { parent, name } = splitParent(path);
    const dir = this.#openParent(parent, { create: false });
    if (dir === undefined) return undefined;
    try {
      const buffer = new Uint8Array(4096);
      const length = libc().readlinkat(dir, cString(name), buffer, BigInt(buffer.length));
      if (length < 0) return undefined;
      return new TextDecoder().decode(buffer.subarray(0, Number(length)));
    } finally {
      libc().close(dir);
    }
  }

  /**
   * Runs `make`, a call that creates the inode `name` in `dir`, and gives the new inode to the
   * owner (see {@link ContainerRootfs.open}).
   *
   * @returns the call's result, and its errno when it failed
   */
  #make(
    dir: number,
    name: string,
    make: () => number,
    options: { fd?: boolean } = {},
  ): { value: number; failure: number } {
    let value = make();
    let failure = value < 0 ? errno() : 0;
    const owner = this.#owner;
    if (owner === undefined) return { value, failure };
    if (failure === ERRNO.EOVERFLOW) return asOwner(owner, make);
    // A file made with its fd is given away through that fd: the name could name another inode
    // by now, swapped in by the container.
    const chowned = failure !== 0
      ? 0
      : options.fd
      ? libc().fchown(value, owner.uid, owner.gid)
      : libc().fchownat(dir, cString(name), owner.uid, owner.gid, AT.SYMLINK_NOFOLLOW);
    if (chowned < 0) {
      failure = errno();
      if (options.fd) libc().close(value);
      value = -1;
    }
    return { value, failure };
  }

  /**
   * Opens the directory `path` inside the rootfs (`O_PATH`), creating missing components with
   * `mode` when `create` is set. Each step is resolved from the rootfs fd again, so a directory
   * swapped for a symlink between two steps still resolves inside the rootfs.
   *
   * @returns the fd (the caller closes it), or `undefined` when it is missing and not created
   */
  #openParent(path: string, options: { create: boolean; mode?: number }): number | undefined {
    let pending = normalizeInRoot(path).split("/").filter((p) => p !== "");
    let done: string[] = [];
    let current = this.#resolve("/", O.PATH | O.DIRECTORY);
    let links = 0;
    while (pending.length > 0) {
      const part = pending[0];
      const prefix = "/" + [...done, part].join("/");
      let next: number | undefined;
      try {
        next = this.#resolve(prefix, O.PATH | O.DIRECTORY);
      } catch (error) {
        const missing = error instanceof OsCallError && error.errno === ERRNO.ENOENT;
        if (!missing || !options.create) {
          libc().close(current);
          if (missing) return undefined;
          throw this.#error(prefix, "open directory", error);
        }
      }
      if (next === undefined) {
        const { failure } = this.#make(
          current,
          part,
          () => libc().mkdirat(current, cString(part), options.mode ?? 0o755),
        );
        if (failure === ERRNO.EEXIST) {
          // A dangling symlink: make its target, resolved inside the rootfs, instead.
          const buffer = new Uint8Array(4096);
          const length = libc().readlinkat(current, cString(part), buffer, BigInt(buffer.length));
          if (length >= 0 && ++links <= MAX_SYMLINKS) {
            const target = new TextDecoder().decode(buffer.subarray(0, Number(length)));
            const base = target.startsWith("/") ? target : `/${done.join("/")}/${target}`;
            pending = [
              ...normalizeInRoot(base).split("/").filter((p) => p !== ""),
              ...pending.slice(1),
            ];
            done = [];
            libc().close(current);
            current = this.#resolve("/", O.PATH | O.DIRECTORY);
            continue;
          }
        }
        if (failure !== 0 && failure !== ERRNO.EEXIST) {
          libc().close(current);
          throw this.#error(prefix, "create directory", new OsCallError("mkdirat", failure));
        }
        try {
          next = this.#resolve(prefix, O.PATH | O.DIRECTORY);
        } catch (error) {
          libc().close(current);
          throw this.#error(prefix, "open directory", error);
        }
      }
      libc().close(current);
      current = next;
      done.push(part);
      pending = pending.slice(1);
    }
    return current;
  }

  /** Opens the parent of a path to change, refusing pseudo file systems (procfs, sysfs, …). */
  #writableParent(path: string, create: boolean): { dir: number; name: string } | undefined {
    const { parent, name } = splitParent(path);
    const dir = this.#openParent(parent, { create });
    if (dir === undefined) return undefined;
    const magic = fileSystemMagic(dir);
    if (magic !== undefined) {
      const kind = PSEUDO_FS_MAGIC[magic];
      if (kind !== undefined) {
        libc().close(dir);
        throw new RootfsError(
          path,
          `Cannot change "${path}" in the container's rootfs "${this.path}": "${parent}" is on ` +
            `${kind}, not a file system of the image: the image's symlinks point it elsewhere`,
          { code: "EXDEV" },
        );
      }
    }
    return { dir, name };
  }

  /** Creates the empty regular file `at.name` (never through a link) with exactly `mode`. */
  #createFileAt(at: { dir: number; name: string }, mode: number): void {
    const name = cString(at.name);
    const fd = succeeded(
      "openat",
      this.#make(
        at.dir,
        at.name,
        () =>
          libc().openat(at.dir, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, mode),
        {
          fd: true,
        },
      ),
    );
    try {
      // Through the fd, not the umask: the umask is the whole process's.
      check("fchmod", libc().fchmod(fd, mode));
    } finally {
      libc().close(fd);
    }
  }

  /**
   * Makes `at.name` ready to be mounted onto and opens it (`O_PATH`, not followed): a symlink in
   * the way is removed, a missing file target is created empty, and the target must be a
   * directory exactly when `wantDir`. The caller closes the fd.
   */
  #openMountTarget(at: { dir: number; name: string }, wantDir: boolean, call: string): number {
    const name = cString(at.name);
    let existing = entryAt(at.dir, at.name);
    if (existing?.kind === "symlink") {
      check("unlinkat", libc().unlinkat(at.dir, name, 0));
      existing = undefined;
    }
    if (existing === undefined && !wantDir) this.#createFileAt(at, 0o644);
    const target = check("openat", libc().openat(at.dir, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0));
    const kind = statAt(target).kind;
    if ((kind === "dir") !== wantDir || kind === "symlink") {
      libc().close(target);
      throw new OsCallError(call, wantDir ? ERRNO.ENOTDIR : ERRNO.EISDIR);
    }
    return target;
  }

  #error(path: string, action: string, error: unknown): RootfsError {
    if (error instanceof RootfsError) return error;
    return new RootfsError(
      path,
      `Cannot ${action} "${path}" in the container's rootfs "${this.path}": ${describe(error)}`,
      { cause: error, code: codeOf(error) },
    );
  }

  /**
   * Makes `path` a directory (and its parents).
   *
   * @throws {RootfsError} when it cannot be made inside the rootfs
   */
  mkdirAll(path: string, mode = 0o755): void {
    const dir = this.#openParent(path, { create: true, mode });
    if (dir !== undefined) libc().close(dir);
  }

  /**
   * Makes `path` an empty regular file (and its parents) unless something is there already:
   * a mount target, as a runtime would make it.
   *
   * @returns whether the file was created
   * @throws {RootfsError} when it cannot be made inside the rootfs
   */
  createEmptyFile(path: string, mode = 0o644): boolean {
    const at = this.#writableParent(path, true)!;
    try {
      if (entryAt(at.dir, at.name) !== undefined) return false;
      this.#createFileAt(at, mode);
      return true;
    } catch (error) {
      throw this.#error(path, "create the mount target", error);
    } finally {
      libc().close(at.dir);
    }
  }

  /**
   * Creates the symlink `path -> target` (target stored as given), making parent directories.
   * An existing symlink with another target is replaced; anything else in the way is left alone.
   */
  symlink(target: string, path: string): SymlinkResult {
    const at = this.#writableParent(path, true)!;
    const name = cString(at.name);
    try {
      const existing = entryAt(at.dir, at.name);
      if (existing !== undefined) {
        if (existing.kind !== "symlink") return "blocked";
        const buffer = new Uint8Array(4096);
        const length = libc().readlinkat(at.dir, name, buffer, BigInt(buffer.length));
        if (
          length >= 0 && new TextDecoder().decode(buffer.subarray(0, Number(length))) === target
        ) {
          return "present";
        }
        check("unlinkat", libc().unlinkat(at.dir, name, 0));
      }
      succeeded(
        "symlinkat",
        this.#make(at.dir, at.name, () => libc().symlinkat(cString(target), at.dir, name)),
      );
      return "created";
    } catch (error) {
      throw this.#error(path, `create symlink -> "${target}" at`, error);
    } finally {
      libc().close(at.dir);
    }
  }

  /**
   * Writes `data` to the regular file `path` atomically (temp file in the same directory, fsync,
   * rename), never through a symlink. The parent directory must exist unless `createParent`.
   *
   * @returns false when the parent directory does not exist
   */
  writeFile(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; createParent?: boolean } = {},
  ): boolean {
    const at = this.#writableParent(path, options.createParent ?? false);
    if (at === undefined) return false;
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const temp = `.${at.name}.xpu-${ownPid()}-${
      crypto.getRandomValues(new Uint32Array(1))[0].toString(36)
    }`;
    const tempName = cString(temp);
    try {
      const fd = succeeded(
        "openat",
        this.#make(at.dir, temp, () =>
          libc().openat(
            at.dir,
            tempName,
            O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC,
            options.mode ?? 0o644,
          ), { fd: true }),
      );
      try {
        writeAll(fd, bytes);
        check("fsync", libc().fsync(fd));
        check("fchmod", libc().fchmod(fd, options.mode ?? 0o644));
      } finally {
        libc().close(fd);
      }
      try {
        check("renameat", libc().renameat(at.dir, tempName, at.dir, cString(at.name)));
      } catch (error) {
        libc().unlinkat(at.dir, tempName, 0);
        throw error;
      }
      return true;
    } catch (error) {
      throw this.#error(path, "write", error);
    } finally {
      libc().close(at.dir);
    }
  }

  /**
   * Creates the device node `path` (replacing a non-directory in the way), with exactly `mode`
   * and the given owner, making parent directories.
   */
  mknod(
    path: string,
    node: { type: "c" | "b"; major: number; minor: number; mode: number; uid: number; gid: number },
  ): void {
    const at = this.#writableParent(path, true)!;
    const name = cString(at.name);
    const previousUmask = libc().umask(0);
    try {
      const existing = entryAt(at.dir, at.name);
      if (existing?.kind === "dir") {
        throw new OsCallError("mknodat", ERRNO.EISDIR);
      }
      if (existing !== undefined) check("unlinkat", libc().unlinkat(at.dir, name, 0));
      const type = node.type === "c" ? 0o020000 : 0o060000;
      check(
        "mknodat",
        libc().mknodat(at.dir, name, type | (node.mode & 0o7777), makedev(node.major, node.minor)),
      );
      check(
        "fchownat",
        libc().fchownat(at.dir, name, node.uid, node.gid, AT.SYMLINK_NOFOLLOW),
      );
    } catch (error) {
      throw this.#error(path, "create device node", error);
    } finally {
      libc().umask(previousUmask);
      libc().close(at.dir);
    }
  }

  /**
   * Bind-mounts the host file or directory open as `sourceFd` onto `path` (created as an empty
   * file or directory when missing; a symlink in the way is replaced), then makes the mount
   * read-only, nosuid and nodev. Must run in the container's mount namespace: the mount is made
   * there, on the fd the rootfs resolution gave, never on a path string.
   */
  bindReadOnly(sourceFd: number, path: string): void {
    this.#bind(sourceFd, path, {
      flags: MS.RDONLY | MS.NOSUID | MS.NODEV,
      action: "bind-mount a driver file onto",
    });
  }

  /**
   * Bind-mounts the host device node open as `sourceFd` onto `path` (an empty file made for it;
   * a symlink in the way is replaced), nosuid and noexec: how a device reaches a container with
   * its own user namespace, where no node can be created (what runc does for `linux.devices`
   * there). The node keeps the host's mode and owner. Must run in the container's mount
   * namespace.
   */
  bindDevice(sourceFd: number, path: string): void {
    const kind = statAt(sourceFd).kind;
    if (kind !== "char" && kind !== "block") {
      throw new RootfsError(
        path,
        `Cannot bind-mount a device node onto "${path}" in the container's rootfs ` +
          `"${this.path}": the host's file is a ${kind}, not a device node`,
        { code: "EINVAL" },
      );
    }
    this.#bind(sourceFd, path, {
      flags: MS.NOSUID | MS.NOEXEC,
      action: "bind-mount a device onto",
    });
  }

  #bind(sourceFd: number, path: string, how: { flags: bigint; action: string }): void {
    const wantDir = statAt(sourceFd).kind === "dir";
    if (wantDir) this.mkdirAll(path);
    const at = this.#writableParent(path, true)!;
    const name = cString(at.name);
    let target = -1;
    try {
      target = this.#openMountTarget(at, wantDir, "mount");
      const before = statAt(target);
      check(
        "mount",
        libc().mount(
          cString(`/proc/thread-self/fd/${sourceFd}`),
          cString(`/proc/thread-self/fd/${target}`),
          null,
          MS.BIND,
          null,
        ),
      );
      // The fd still names the file under the new mount: open the mount itself to remount it,
      // and make sure it is ours before changing its flags.
      libc().close(target);
      target = check("openat", libc().openat(at.dir, name, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0));
      const after = statAt(target);
      const source = statAt(sourceFd);
      if (
        (after.mountId !== undefined && after.mountId === before.mountId) ||
        after.ino !== source.ino || !sameFileSystem(after, source)
      ) {
        throw new OsCallError("mount", ERRNO.EINVAL);
      }
      check(
        "mount",
        libc().mount(
          null,
          cString(`/proc/thread-self/fd/${target}`),
          null,
          MS.BIND | MS.REMOUNT | how.flags,
          null,
        ),
      );
    } catch (error) {
      throw this.#error(path, how.action, error);
    } finally {
      if (target >= 0) libc().close(target);
      libc().close(at.dir);
    }
  }

  /**
   * Attaches the detached mount `tree` (see `mount_tree.ts`) onto `path`, made first as an empty
   * file (`kind` "file") or directory when missing; a symlink in the way is replaced. For a
   * running container, after entering its mount namespace: the source was opened on the host.
   *
   * @returns whether the file or directory mounted onto was made for it, or was the image's
   */
  attachMount(tree: number, path: string, kind: "file" | "dir"): "made" | "kept" {
    const before = this.lstat(path);
    const placeholder = before === undefined || before.kind === "symlink" ? "made" : "kept";
    if (kind === "dir") this.mkdirAll(path);
    const at = this.#writableParent(path, true)!;
    let target = -1;
    try {
      target = this.#openMountTarget(at, kind === "dir", "move_mount");
      attachTree(tree, target);
      return placeholder;
    } catch (error) {
      throw this.#error(path, "mount onto", error);
    } finally {
      if (target >= 0) libc().close(target);
      libc().close(at.dir);
    }
  }

  /**
   * Removes the device node of `node`'s type and numbers at `path`: the mount {@link attachMount}
   * put there (detached, with the empty file under it), or a node made in place. Anything else
   * there is left alone ("other").
   *
   * Everything is done through one parent directory fd and the entry's own fd, both checked: a
   * container that swaps a directory for a symlink meanwhile changes what later lookups of the
   * path would find, not what is removed. The host's own node is never unlinked: refused when the
   * entry is that inode, or when the directory holding it is on the host node's file system (a
   * bind of a host `/dev` directory, where any node is the host's).
   */
  detachNodeMount(
    path: string,
    node: {
      type: "c" | "b";
      major: number;
      minor: number;
      /**
       * The host node's identity (taken before entering the container; where the host has no
       * such node, its directory's): never unlinked, nor anything on its file system.
       */
      host?: { ino: bigint; devMajor: number; devMinor: number };
    },
  ): "removed" | "absent" | "other" {
    const kind = node.type === "c" ? "char" : "block";
    return this.#atEntry(path, "remove device node", (at, target, info) => {
      if (info.kind !== kind || info.rdevMajor !== node.major || info.rdevMinor !== node.minor) {
        return "other";
      }
      const dir = statAt(at.dir);
      const host = node.host;
      // A directory of the host's /dev seen through a bind (any link may lead there): nothing in
      // it is the container's.
      const hostDirectory = host !== undefined && sameFileSystem(dir, host);
      if (this.#isMount(path, info, dir)) {
        this.#detach(target);
        if (!hostDirectory) this.#removePlaceholderAt(at);
        return "removed";
      }
      if (
        hostDirectory || (host !== undefined && info.ino === host.ino && sameFileSystem(info, host))
      ) {
        throw new RootfsError(
          path,
          `Cannot remove "${path}" from the container: it is the host's own node (the container ` +
            `binds a host directory there): remove that bind mount from the container instead`,
          { code: "EBUSY" },
        );
      }
      // The name may have been given to another inode since it was opened: only the checked one
      // goes.
      const now = entryAt(at.dir, at.name);
      if (now === undefined) return "absent";
      if (now.ino !== info.ino || !sameFileSystem(now, info)) return "other";
      check("unlinkat", libc().unlinkat(at.dir, cString(at.name), 0));
      return "removed";
    }) ?? "absent";
  }

  /** Removes the symlink at `path` (nothing else). */
  removeLink(path: string): void {
    const at = this.#writableParent(path, false);
    if (at === undefined) return;
    try {
      if (entryAt(at.dir, at.name)?.kind === "symlink") {
        check("unlinkat", libc().unlinkat(at.dir, cString(at.name), 0));
      }
    } catch (error) {
      throw this.#error(path, "remove symlink", error);
    } finally {
      libc().close(at.dir);
    }
  }

  /**
   * Detaches the mount at `path` (undoing {@link attachMount}), and removes the empty file or
   * directory it covered when `placeholder` says attachMount made it.
   */
  detachFileMount(path: string, placeholder: "made" | "kept"): void {
    const done = this.#atEntry(path, "unmount", (at, target, info) => {
      if (!this.#isMount(path, info, statAt(at.dir))) {
        throw new OsCallError("umount2", ERRNO.EINVAL);
      }
      this.#detach(target);
      if (placeholder === "made") this.#removePlaceholderAt(at);
      return true;
    });
    if (done === undefined) {
      throw this.#error(path, "unmount", new OsCallError("umount2", ERRNO.ENOENT));
    }
  }

  /**
   * Runs `fn` on what is at `path`: its parent directory opened inside the rootfs and refused on
   * a pseudo file system, the entry opened in it without following it (`O_PATH | O_NOFOLLOW`),
   * and its status through that fd. Both fds are closed afterwards.
   *
   * @returns what `fn` returns, or `undefined` when nothing is at `path`
   */
  #atEntry<T>(
    path: string,
    action: string,
    fn: (at: { dir: number; name: string }, target: number, info: FileStatus) => T,
  ): T | undefined {
    if (this.#fdDir === undefined) {
      throw this.#error(path, action, new OsCallError("umount2", ERRNO.EINVAL));
    }
    const at = this.#writableParent(path, false);
    if (at === undefined) return undefined;
    let target = -1;
    try {
      target = libc().openat(at.dir, cString(at.name), O.PATH | O.NOFOLLOW | O.CLOEXEC, 0);
      if (target < 0) {
        const failure = errno();
        if (failure === ERRNO.ENOENT) return undefined;
        throw new OsCallError("openat", failure);
      }
      return fn(at, target, statAt(target));
    } catch (error) {
      throw this.#error(path, action, error);
    } finally {
      if (target >= 0) libc().close(target);
      libc().close(at.dir);
    }
  }

  /** Whether the entry `info`, in the directory `dir`, is the root of a mount of its own. */
  #isMount(path: string, info: FileStatus, dir: FileStatus): boolean {
    if (info.mountId === undefined || dir.mountId === undefined) {
      throw new RootfsError(
        path,
        `Cannot tell whether "${path}" in the container's rootfs "${this.path}" is a mount: ` +
          `this kernel does not report mount ids (statx STATX_MNT_ID, Linux 5.8 or later): ` +
          `upgrade the host kernel`,
        { code: "ENOSYS" },
      );
    }
    return info.mountId !== dir.mountId;
  }

  /** Detaches the mount open as `target` (lazily, as `umount -l`), through the host's fd dir. */
  #detach(target: number): void {
    detachMountOf(target, this.#fdDir!);
  }

  /**
   * Removes the empty regular file or directory a detached mount uncovered at `at.name` (a
   * directory that is not empty, or anything else, stays).
   */
  #removePlaceholderAt(at: { dir: number; name: string }): void {
    const left = entryAt(at.dir, at.name);
    if (left?.kind === "file" && left.size === 0) libc().unlinkat(at.dir, cString(at.name), 0);
    if (left?.kind === "dir") libc().unlinkat(at.dir, cString(at.name), AT.REMOVEDIR);
  }

  /** Whether `path` resolves to an executable regular file inside the rootfs. */
  isExecutableFile(path: string): boolean {
    try {
      const info = this.stat(path);
      return info?.kind === "file" && (info.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  }
}

/** Opens a host path for use as a bind source (`O_PATH`); the caller closes it (`closeFd`). */
export function openHostPath(path: string): number {
  return check("open", libc().open(cString(path), O.PATH | O.CLOEXEC, 0));
}

export type { FileKind, FileStatus };
