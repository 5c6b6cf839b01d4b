/**
 * `xpu-ctk-installer install | delete`: putting a toolkit dir on a host and taking it off. The new
 * dir is built beside the old one and swapped in by two renames, so an engine starting a container
 * meanwhile never finds half a toolkit (between the renames, for an instant, none); a failure
 * leaves the old one as it was.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "../core/io/atomic_file.ts";
import { formatCdiSpec, hooksWithoutEnv, parseCdiSpec } from "../core/cdi/cdi_spec.ts";
import { generateManagementCdiSpec } from "../core/cdi/cdi_generate.ts";
import { renderConfigToml } from "../core/config/config_render.ts";
import type { DeviceProfile } from "../core/device/device_profile.ts";
import { errorMessage, RequestError, UsageError } from "../core/errors.ts";
import { type HostFs, realHostFs } from "../core/io/host_fs.ts";
import {
  chmodSync,
  copyFileSync,
  type FileInfo,
  isNotADirectory,
  isNotFound,
  lstatSync,
  mkdirSync,
  readDirSync,
  readTextFileSync,
  realPathSync,
  removeSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeTextFileSync,
} from "../core/io/fs.ts";
import { encodeFastPathRecord } from "../core/fast_path/fast_path_record.ts";
import { mountedHostFs } from "../core/io/mounted_host_fs.ts";
import { ownPid } from "../core/io/process.ts";
import {
  FAST_PATH_RECORD,
  INSTALLED_CONFIG,
  installedConfig,
  toolkitLayout,
} from "./toolkit_layout.ts";
import { renderWrapper } from "./wrapper_script.ts";

/** The management spec's kind (README, `xpu-ctk-installer`: the files it writes). */
export const MANAGEMENT_KIND = "management.xpu.dev/xpu";
/** Where the management spec goes unless told otherwise. */
export const DEFAULT_CDI_OUTPUT_DIR = "/var/run/cdi";

/** What `install` needs, resolved. */
export interface InstallOptions {
  toolkitRoot: string;
  /** Where the executables to install are. */
  sourceDir: string;
  profile: DeviceProfile;
  /** The module the runtime wrappers check; empty: no check. */
  kernelModule: string;
  /** The driver root as the host sees it (what the installed tools use). */
  driverRoot: string;
  /** Where this process sees the host's `/` (`/host` in the DaemonSet). */
  hostRoot: string;
  /** Low-level runtimes for the shim, preferred first; the first is the wrappers' fallback. */
  lowLevelRuntimes: readonly string[];
  /** Write the management CDI spec into this dir. */
  cdiOutputDir?: string;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Checks that `dir` may be replaced or removed: an absolute path other than `/` that is missing,
 * empty, or a toolkit dir (it has the runtime's copy or the installed config).
 *
 * @throws {UsageError} naming the dir and what to pass instead
 */
export function checkToolkitRoot(dir: string, flag = "--toolkit-root"): string {
  const path = dir.replace(/\/+$/, "");
  if (!dir.startsWith("/") || path === "") {
    throw new UsageError(`Cannot use ${flag} "${dir}": expected an absolute path other than /`);
  }
  let entries: string[];
  try {
    entries = [...readDirSync(path)].map((e) => e.name);
  } catch (error) {
    if (isNotFound(error)) return path;
    if (isNotADirectory(error)) {
      throw new UsageError(`Cannot use ${flag} "${dir}": it is a file: pass a directory`);
    }
    throw error;
  }
  const ours = exists(join(path, "xpu-container-runtime.real")) ||
    exists(join(path, INSTALLED_CONFIG));
  if (entries.length > 0 && !ours) {
    throw new UsageError(
      `Cannot use ${flag} "${dir}": it holds files that are not an installed toolkit, and ` +
        `installing replaces the whole directory: pass a new or empty directory`,
    );
  }
  return path;
}

/** The source executables, symlinks resolved. */
function findSources(options: InstallOptions): Map<string, { path: string; mode: number }> {
  const found = new Map<string, { path: string; mode: number }>();
  for (const { source } of toolkitLayout({ kernelModule: "", fallbackRuntime: "" }).copies) {
    const named = join(options.sourceDir, source);
    let path: string;
    let info: FileInfo;
    try {
      path = realPathSync(named);
      info = statSync(path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw new UsageError(
        `Cannot install: the executable "${source}" is missing from "${options.sourceDir}" ` +
          `(${named}${exists(named) ? " is a dangling symlink" : " does not exist"}): ` +
          `pass --source-dir with the toolkit's executables`,
      );
    }
    const mode = (info.mode ?? 0) & 0o7777;
    if (!info.isFile || (mode & 0o111) === 0) {
      throw new UsageError(
        `Cannot install: "${named}" is not an executable file: pass --source-dir with the ` +
          `toolkit's executables`,
      );
    }
    found.set(source, { path, mode });
  }
  return found;
}

/**
 * The runtime dir of a bundled build (`deno task build` without `denort`): its executables are
 * launchers that run `lib/deno` on `lib/js/` beside them, so the dir is copied along.
 */
const BUNDLED_RUNTIME_DIR = "lib";

/**
 * The launchers' cache dir in it (scripts/build/launcher.ts): made anew, empty and 0700, never
 * copied, since what Deno keeps there decides which modules it loads and names them by the
 * source's paths.
 */
const BUNDLED_CACHE_DIR = "cache";

/**
 * Copies the tree at `from` (directories and regular files, with their modes) to `to`, but the
 * entries directly under `from` named in `skip`.
 */
function copyTree(from: string, to: string, skip: readonly string[] = []): void {
  mkdirSync(to, { mode: 0o755 });
  for (const entry of readDirSync(from)) {
    const [source, target] = [join(from, entry.name), join(to, entry.name)];
    if (skip.includes(entry.name)) {
      continue;
    } else if (entry.isDirectory) {
      copyTree(source, target);
    } else if (entry.isFile) {
      copyFileSync(source, target);
      chmodSync(target, (statSync(source).mode ?? 0o644) & 0o777);
    } else {
      throw new UsageError(
        `Cannot install: "${source}" is not a regular file or directory: pass --source-dir ` +
          `with an unpacked build`,
      );
    }
  }
}

/** The source dir's `lib/` when its executables are launchers of a bundled build. */
function bundledRuntimeOf(sources: Map<string, { path: string }>): string | undefined {
  const shim = sources.get("xpu-container-runtime")?.path;
  const lib = shim === undefined ? undefined : join(dirname(shim), BUNDLED_RUNTIME_DIR);
  return lib !== undefined && exists(join(lib, "deno")) ? lib : undefined;
}

/**
 * Fills `dir` with the toolkit (copies, links, wrappers, config, fast-path record); returns
 * whether the runtime wrappers take the fast path (they need the host's `/bin/bash`).
 */
function populate(
  dir: string,
  finalDir: string,
  options: InstallOptions,
  sources: Map<string, { path: string; mode: number }>,
): boolean {
  const fastPath = exists(join(options.hostRoot, "bin/bash"));
  const layout = toolkitLayout({
    kernelModule: options.kernelModule,
    fallbackRuntime: options.lowLevelRuntimes[0] ?? "runc",
    fastPath,
  });
  const runtime = bundledRuntimeOf(sources);
  if (runtime !== undefined) {
    copyTree(runtime, join(dir, BUNDLED_RUNTIME_DIR), [BUNDLED_CACHE_DIR]);
    const cache = join(dir, BUNDLED_RUNTIME_DIR, BUNDLED_CACHE_DIR);
    mkdirSync(cache, { mode: 0o700 });
    chmodSync(cache, 0o700);
  }
  for (const copy of layout.copies) {
    const source = sources.get(copy.source)!;
    copyFileSync(source.path, join(dir, copy.file));
    chmodSync(join(dir, copy.file), source.mode);
  }
  for (const link of layout.links) symlinkSync(link.target, join(dir, link.link));
  for (const wrapper of layout.wrappers) {
    writeTextFileSync(join(dir, wrapper.name), renderWrapper(wrapper, finalDir));
    chmodSync(join(dir, wrapper.name), 0o755);
  }
  const config = installedConfig({
    toolkitDir: finalDir,
    driverRoot: options.driverRoot,
    profile: options.profile.name,
    lowLevelRuntimes: options.lowLevelRuntimes,
    cdiSpecDir: options.cdiOutputDir,
  });
  const configText = renderConfigToml(config);
  mkdirSync(join(dir, dirname(INSTALLED_CONFIG)), { recursive: true, mode: 0o755 });
  writeTextFileSync(join(dir, INSTALLED_CONFIG), configText, { mode: 0o644 });
  if (fastPath) {
    // The record for the config just written, so the first call already takes the fast path.
    const record = encodeFastPathRecord({
      configPath: `${finalDir.replace(/\/+$/, "")}/${INSTALLED_CONFIG}`,
      configBytes: new TextEncoder().encode(configText),
      runtimes: config.runtime.runtimes,
      logLevel: config.runtime.logLevel,
    });
    if (record !== undefined) writeFileSync(join(dir, FAST_PATH_RECORD), record, { mode: 0o644 });
  }
  return fastPath;
}

/**
 * Installs the toolkit into `options.toolkitRoot`, replacing an earlier install.
 *
 * @param log receives one line per step
 * @throws {UsageError} for a toolkit root that is not one, or a missing source executable
 */
export async function installToolkit(
  options: InstallOptions,
  log: (line: string) => void,
  fs: HostFs = realHostFs,
): Promise<void> {
  const root = checkToolkitRoot(options.toolkitRoot);
  const sources = findSources(options);
  const parent = dirname(root);
  const base = basename(root);
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  const staging = join(parent, `.${base}.new-${ownPid()}`);
  const retired = join(parent, `.${base}.old-${ownPid()}`);
  if (exists(staging)) removeSync(staging, { recursive: true });
  mkdirSync(staging, { mode: 0o755 });
  try {
    const fastPath = populate(staging, root, options, sources);
    if (!fastPath) {
      log(
        `no /bin/bash on the host (under ${options.hostRoot}): the runtime wrappers hand every ` +
          "call to the shim (no pass-through fast path)",
      );
    }
    const replacing = exists(root);
    if (replacing) renameSync(root, retired);
    try {
      renameSync(staging, root);
    } catch (error) {
      if (replacing) renameSync(retired, root);
      throw error;
    }
    if (replacing) removeSync(retired, { recursive: true });
  } catch (error) {
    try {
      removeSync(staging, { recursive: true });
    } catch {
      // Already moved or never made; the original error is what matters.
    }
    throw error;
  }
  log(`installed the toolkit into ${root} (from ${options.sourceDir})`);
  if (options.cdiOutputDir !== undefined) {
    await writeManagementSpec(options, fs, log);
  }
}

/**
 * Writes the management CDI spec, on every install, so one an older version wrote (hooks
 * without `env`) is replaced. A host without devices gets a warning, not a failure; an old spec
 * whose hooks have no `env` is then removed rather than left for runtimes to apply.
 */
async function writeManagementSpec(
  options: InstallOptions,
  fs: HostFs,
  log: (line: string) => void,
): Promise<void> {
  const dir = options.cdiOutputDir!.replace(/\/+$/, "") || "/";
  const file = join(dir, `${MANAGEMENT_KIND.replace("/", "-")}.yaml`);
  try {
    const spec = generateManagementCdiSpec({
      profile: options.profile,
      fs: mountedHostFs(fs, options.hostRoot),
      driverRoot: options.driverRoot,
      kind: MANAGEMENT_KIND,
      ctkPath: join(options.toolkitRoot, "xpu-ctk"),
    });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    writeFileAtomic(file, await formatCdiSpec(spec, "yaml"), { mode: 0o644 });
    log(`wrote the management CDI spec ${file} (${MANAGEMENT_KIND}=all)`);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    log(`warning: no management CDI spec written: ${errorMessage(error)}`);
    if (await hasHooksWithoutEnv(file)) {
      removeSync(file);
      log(
        `removed the old management CDI spec ${file}: its hooks have no env, so runtimes would ` +
          `start them with the container's environment`,
      );
    }
  }
}

/** Whether `file` is a spec (of an older version) with hooks that have no `env`. */
async function hasHooksWithoutEnv(file: string): Promise<boolean> {
  let text: string;
  try {
    text = readTextFileSync(file);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  try {
    return hooksWithoutEnv(await parseCdiSpec(text, file)).length > 0;
  } catch {
    // Not a spec this version reads (the shim skips it too): the operator's to look at.
    return false;
  }
}

/**
 * Removes a toolkit dir (a missing one is fine).
 *
 * @throws {UsageError} for a dir that is not a toolkit dir
 */
export function deleteToolkit(toolkitRoot: string, log: (line: string) => void): void {
  const root = checkToolkitRoot(toolkitRoot);
  if (!exists(root)) {
    log(`nothing to delete: ${root} does not exist`);
    return;
  }
  removeSync(root, { recursive: true });
  log(`deleted the toolkit at ${root}`);
}
