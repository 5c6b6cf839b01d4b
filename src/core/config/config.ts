/**
 * The toolkit's configuration (`config.toml`): its typed form, the built-in defaults, and the
 * table of every key (TOML name, field, value type, comment) that parsing, validation and
 * rendering are driven by.
 *
 * @module
 */

import type { Capability } from "../device/capabilities.ts";
import type { DeviceProfile } from "../device/device_profile.ts";

/** How the runtime shim edits a container's spec. */
export const MODES = ["auto", "legacy", "csv", "cdi"] as const;
/** One runtime mode. */
export type Mode = typeof MODES[number];

/** Log levels, as runc/logrus name them. */
export const LOG_LEVELS = [
  "trace",
  "debug",
  "info",
  "warning",
  "warn",
  "error",
  "fatal",
  "panic",
] as const;
/** One log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The typed configuration. Field names mirror the TOML keys (see {@link CONFIG_KEYS}). */
export interface Config {
  disableRequire: boolean;
  swarmResource: string;
  acceptEnvvarUnprivileged: boolean;
  acceptVolumeMounts: boolean;
  supportedDriverCapabilities: Capability[];
  cli: {
    root: string;
    profile: string;
    path: string;
    environment: string[];
    debug: string;
    ldcache: string;
    loadKmods: boolean;
    noCgroups: boolean;
    user: string;
    ldconfig: string;
  };
  runtime: {
    debug: string;
    logLevel: LogLevel;
    runtimes: string[];
    mode: Mode;
    modes: {
      csv: { mountSpecPath: string };
      cdi: {
        specDirs: string[];
        defaultKind: string;
        annotationPrefixes: string[];
        /** The CDI kinds a container may request; empty: every kind in the spec dirs. */
        allowedKinds: string[];
      };
    };
  };
  hook: { path: string; skipModeDetection: boolean };
  ctk: { path: string };
  /** Device profiles defined in the file (`[profiles.<name>]`), by name. */
  profiles: Record<string, DeviceProfile>;
}

/** The built-in defaults (README, Configuration). Returns a fresh object each call. */
export function defaultConfig(): Config {
  return {
    disableRequire: false,
    swarmResource: "",
    acceptEnvvarUnprivileged: true,
    acceptVolumeMounts: false,
    supportedDriverCapabilities: ["compat32", "compute", "display", "graphics", "utility", "video"],
    cli: {
      root: "/",
      profile: "xpu",
      path: "",
      environment: [],
      debug: "",
      ldcache: "",
      loadKmods: true,
      noCgroups: false,
      user: "",
      ldconfig: "@/sbin/ldconfig",
    },
    runtime: {
      debug: "",
      logLevel: "info",
      runtimes: ["runc", "crun"],
      mode: "auto",
      modes: {
        csv: { mountSpecPath: "/etc/xpu-container-runtime/host-files-for-container.d" },
        cdi: {
          specDirs: ["/etc/cdi", "/var/run/cdi"],
          defaultKind: "xpu.dev/xpu",
          annotationPrefixes: ["cdi.k8s.io/"],
          allowedKinds: [],
        },
      },
    },
    hook: { path: "xpu-container-runtime-hook", skipModeDetection: false },
    ctk: { path: "xpu-ctk" },
    profiles: {},
  };
}

/** What a key's value must be. */
export type ValueType =
  | { kind: "boolean" }
  | { kind: "string" }
  | { kind: "path" }
  | { kind: "strings"; nonEmpty?: boolean }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "capabilities" }
  | { kind: "cdi-kind" }
  | { kind: "cdi-kinds" }
  | { kind: "profile" };

/** One configuration key. */
export interface ConfigKey {
  /** Dotted TOML path, e.g. `xpu-container-runtime.mode`. */
  key: string;
  /** Dotted path of the field in {@link Config}, e.g. `runtime.mode`. */
  field: string;
  type: ValueType;
  /** Shown after the default in `xpu-ctk config default`. */
  comment?: string;
}

/** Every key the toolkit reads, in the order `xpu-ctk config default` prints them. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  { key: "disable-require", field: "disableRequire", type: { kind: "boolean" } },
  {
    key: "swarm-resource",
    field: "swarmResource",
    type: { kind: "string" },
    comment: "comma list of env names that replace XPU_VISIBLE_DEVICES",
  },
  {
    key: "accept-xpu-visible-devices-envvar-when-unprivileged",
    field: "acceptEnvvarUnprivileged",
    type: { kind: "boolean" },
  },
  {
    key: "accept-xpu-visible-devices-as-volume-mounts",
    field: "acceptVolumeMounts",
    type: { kind: "boolean" },
  },
  {
    key: "supported-driver-capabilities",
    field: "supportedDriverCapabilities",
    type: { kind: "capabilities" },
  },
  {
    key: "xpu-container-cli.root",
    field: "cli.root",
    type: { kind: "path" },
    comment: "driver root",
  },
  {
    key: "xpu-container-cli.profile",
    field: "cli.profile",
    type: { kind: "profile" },
    comment: "device profile",
  },
  {
    key: "xpu-container-cli.path",
    field: "cli.path",
    type: { kind: "string" },
    comment: "empty: xpu-container-cli from PATH under root, then /usr/bin",
  },
  { key: "xpu-container-cli.environment", field: "cli.environment", type: { kind: "strings" } },
  { key: "xpu-container-cli.debug", field: "cli.debug", type: { kind: "string" } },
  { key: "xpu-container-cli.ldcache", field: "cli.ldcache", type: { kind: "string" } },
  { key: "xpu-container-cli.load-kmods", field: "cli.loadKmods", type: { kind: "boolean" } },
  { key: "xpu-container-cli.no-cgroups", field: "cli.noCgroups", type: { kind: "boolean" } },
  { key: "xpu-container-cli.user", field: "cli.user", type: { kind: "string" } },
  {
    key: "xpu-container-cli.ldconfig",
    field: "cli.ldconfig",
    type: { kind: "string" },
    comment: "'@' = host path",
  },
  {
    key: "xpu-container-runtime.debug",
    field: "runtime.debug",
    type: { kind: "string" },
    comment: "extra log file; empty or /dev/null = none",
  },
  {
    key: "xpu-container-runtime.log-level",
    field: "runtime.logLevel",
    type: { kind: "enum", values: LOG_LEVELS },
  },
  {
    key: "xpu-container-runtime.runtimes",
    field: "runtime.runtimes",
    type: { kind: "strings", nonEmpty: true },
  },
  {
    key: "xpu-container-runtime.mode",
    field: "runtime.mode",
    type: { kind: "enum", values: MODES },
    comment: "auto | legacy | csv | cdi",
  },
  {
    key: "xpu-container-runtime.modes.csv.mount-spec-path",
    field: "runtime.modes.csv.mountSpecPath",
    type: { kind: "path" },
  },
  {
    key: "xpu-container-runtime.modes.cdi.spec-dirs",
    field: "runtime.modes.cdi.specDirs",
    type: { kind: "strings" },
  },
  {
    key: "xpu-container-runtime.modes.cdi.default-kind",
    field: "runtime.modes.cdi.defaultKind",
    type: { kind: "cdi-kind" },
  },
  {
    key: "xpu-container-runtime.modes.cdi.annotation-prefixes",
    field: "runtime.modes.cdi.annotationPrefixes",
    type: { kind: "strings" },
  },
  {
    key: "xpu-container-runtime.modes.cdi.allowed-kinds",
    field: "runtime.modes.cdi.allowedKinds",
    type: { kind: "cdi-kinds" },
    comment: "kinds a container may request; empty: every kind in spec-dirs",
  },
  { key: "xpu-container-runtime-hook.path", field: "hook.path", type: { kind: "string" } },
  {
    key: "xpu-container-runtime-hook.skip-mode-detection",
    field: "hook.skipModeDetection",
    type: { kind: "boolean" },
  },
  { key: "xpu-ctk.path", field: "ctk.path", type: { kind: "string" } },
];

/** Reads the field at a dotted path of a config object. */
export function getField(config: Config, field: string): unknown {
  let value: unknown = config;
  for (const part of field.split(".")) value = (value as Record<string, unknown>)[part];
  return value;
}

/** Sets the field at a dotted path of a config object (the path must exist in the defaults). */
export function setField(config: Config, field: string, value: unknown): void {
  const parts = field.split(".");
  let target = config as unknown as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) target = target[part] as Record<string, unknown>;
  target[parts[parts.length - 1]] = value;
}
