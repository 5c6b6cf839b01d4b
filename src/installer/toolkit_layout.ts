/**
 * What an installed toolkit dir holds, as data: the executables copied as `<name>.real`, the
 * runtime's mode-pinned names, the wrapper templates in front of them, the hook's second name,
 * and the `config.toml` that points every tool at the installed copies. Pure; `install.ts` writes it.
 *
 * @module
 */

import { join } from "node:path";
import { type Config, defaultConfig } from "../core/config/config.ts";
import { DEST_DIR, type WrapperTemplate } from "./wrapper_script.ts";

/** The executables a toolkit dir is made of, as found in the source dir. */
export const TOOLKIT_EXECUTABLES = [
  "xpu-container-runtime",
  "xpu-container-runtime-hook",
  "xpu-container-cli",
  "xpu-ctk",
] as const;

/** The installed config, relative to the toolkit dir. */
export const INSTALLED_CONFIG = ".config/xpu-container-runtime/config.toml";

/** The runtime wrappers' fast-path record, relative to the toolkit dir. */
export const FAST_PATH_RECORD = "xpu-container-runtime.fast-path";

/** The runtime's names: the plain one, and those whose name pins the mode. */
export const RUNTIME_NAMES = [
  "xpu-container-runtime",
  "xpu-container-runtime.cdi",
  "xpu-container-runtime.legacy",
] as const;

/** A symlink in the toolkit dir (targets are relative to the dir). */
export interface ToolkitLink {
  link: string;
  target: string;
}

/** Everything a toolkit dir holds besides the config. */
export interface ToolkitLayout {
  /** Source executable name → file name of its copy. */
  copies: { source: typeof TOOLKIT_EXECUTABLES[number]; file: string }[];
  /** Symlinks made after the copies: the runtime's pinned `.real` names, the hook's second name. */
  links: ToolkitLink[];
  wrappers: WrapperTemplate[];
}

/** How the wrappers behave. */
export interface LayoutOptions {
  /** Kernel module the runtime wrappers check for; empty: no check. */
  kernelModule: string;
  /** The low-level runtime a runtime wrapper execs when the module is absent. */
  fallbackRuntime: string;
  /** Whether the runtime wrappers take the fast path (they are bash scripts then). */
  fastPath?: boolean;
}

/**
 * The toolkit dir's layout.
 *
 * @example
 * ```ts
 * toolkitLayout({ kernelModule: "xpu", fallbackRuntime: "runc" }).wrappers.map((w) => w.name);
 * // ["xpu-container-runtime", "xpu-container-runtime.cdi", …, "xpu-ctk"]
 * ```
 */
export function toolkitLayout(options: LayoutOptions): ToolkitLayout {
  const configEnv = { XPU_CTK_CONFIG_FILE_PATH: join(DEST_DIR, INSTALLED_CONFIG) };
  const moduleCheck = options.kernelModule === ""
    ? undefined
    : { module: options.kernelModule, fallback: options.fallbackRuntime };
  const fastPath = options.fastPath ? { record: join(DEST_DIR, FAST_PATH_RECORD) } : undefined;
  return {
    copies: TOOLKIT_EXECUTABLES.map((source) => ({ source, file: `${source}.real` })),
    links: [
      // One binary; the name it is started as pins the mode.
      ...RUNTIME_NAMES.slice(1).map((name) => ({
        link: `${name}.real`,
        target: "xpu-container-runtime.real",
      })),
      // The hook's historical name, as engines' hook configs may still call it.
      { link: "xpu-container-toolkit", target: "xpu-container-runtime-hook" },
    ],
    wrappers: [
      ...RUNTIME_NAMES.map((name) => ({
        name,
        env: configEnv,
        moduleCheck,
        ...(fastPath ? { fastPath } : {}),
      })),
      { name: "xpu-container-runtime-hook", env: configEnv },
      { name: "xpu-container-cli", env: { LD_LIBRARY_PATH: DEST_DIR } },
      { name: "xpu-ctk", env: configEnv },
    ],
  };
}

/** Inputs of {@link installedConfig}. */
export interface InstalledConfigOptions {
  toolkitDir: string;
  /** The driver root on the host (`[xpu-container-cli] root`). */
  driverRoot: string;
  /** The device profile's name. */
  profile: string;
  /** Low-level runtimes the shim runs, first found wins; empty: the defaults. */
  lowLevelRuntimes: readonly string[];
  /** The dir the management CDI spec is written to, if one is. */
  cdiSpecDir?: string;
}

/** The config.toml of an installed toolkit: the defaults with the installed tools' paths. */
export function installedConfig(options: InstalledConfigOptions): Config {
  const dir = options.toolkitDir.replace(/\/+$/, "");
  const config = defaultConfig();
  config.cli.root = options.driverRoot;
  config.cli.profile = options.profile;
  config.cli.path = `${dir}/xpu-container-cli`;
  config.hook.path = `${dir}/xpu-container-runtime-hook`;
  // Engines run this hook only for the legacy runtime: it must not second-guess the mode.
  config.hook.skipModeDetection = true;
  config.ctk.path = `${dir}/xpu-ctk`;
  if (options.lowLevelRuntimes.length > 0) {
    const defaults = config.runtime.runtimes.filter((r) => !options.lowLevelRuntimes.includes(r));
    config.runtime.runtimes = [...options.lowLevelRuntimes, ...defaults];
  }
  const specDirs = config.runtime.modes.cdi.specDirs;
  const cdiDir = options.cdiSpecDir?.replace(/\/+$/, "");
  if (cdiDir && !specDirs.includes(cdiDir)) specDirs.push(cdiDir);
  return config;
}
