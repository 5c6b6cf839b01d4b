/**
 * Finding, reading and validating `config.toml`: which file applies, every key checked against
 * {@link CONFIG_KEYS}, unknown keys reported as warnings, invalid values rejected with the file,
 * the line and the fix.
 *
 * @module
 */

import { type Capability, isCapability, splitCommaList } from "../device/capabilities.ts";
import { kindProblem } from "../cdi/cdi_name.ts";
import {
  type Config,
  CONFIG_KEYS,
  type ConfigKey,
  defaultConfig,
  getField,
  setField,
} from "./config.ts";
import { parseProfiles } from "./config_profiles.ts";
import { BUILTIN_PROFILES, findProfile } from "../device/device_profile.ts";
import { ConfigError, describePosition, osErrorReason, quoted } from "../errors.ts";
import { isNotFound, readTextFileSync } from "../io/fs.ts";
import { findTomlKeyLine, isTable, parseTomlDocument } from "../text/toml_table.ts";

/** The system-wide config file. */
export const SYSTEM_CONFIG_PATH = "/etc/xpu-container-runtime/config.toml";

/** Environment variable naming the config file explicitly. */
export const CONFIG_PATH_ENV = "XPU_CTK_CONFIG_FILE_PATH";

/**
 * Which config file applies: `$XPU_CTK_CONFIG_FILE_PATH`, else
 * `$XDG_CONFIG_HOME/xpu-container-runtime/config.toml`, else the system file.
 */
export function resolveConfigPath(env: Readonly<Record<string, string | undefined>>): string {
  const explicit = env[CONFIG_PATH_ENV];
  if (explicit) return explicit;
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg) return `${xdg.replace(/\/+$/, "")}/xpu-container-runtime/config.toml`;
  return SYSTEM_CONFIG_PATH;
}

/** A loaded configuration and what was noticed on the way. */
export interface LoadedConfig {
  config: Config;
  /** The file consulted (it may not exist). */
  path: string;
  /** Whether the file existed; when not, `config` holds the defaults. */
  found: boolean;
  /** Unknown keys and other non-fatal findings, one line each. */
  warnings: string[];
}

/**
 * Parses and validates config text. Missing keys take their defaults.
 *
 * @throws {ConfigError} on a syntax error or an invalid value, naming file, line and fix
 */
export function parseConfig(text: string, path: string): { config: Config; warnings: string[] } {
  const tree = parseTomlDocument(text, path);
  const config = defaultConfig();
  const warnings: string[] = [];
  const known = new Map(CONFIG_KEYS.map((k) => [k.key, k]));
  const tables = new Set(CONFIG_KEYS.flatMap((k) => prefixesOf(k.key)));

  const visit = (table: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(table)) {
      const key = prefix ? `${prefix}.${name}` : name;
      const spec = known.get(key);
      if (key === "profiles") {
        const parsed = parseProfiles(value, { path, lineOf: (k) => findTomlKeyLine(text, k) });
        config.profiles = parsed.profiles;
        warnings.push(...parsed.warnings);
      } else if (spec) {
        setField(config, spec.field, checkValue(spec, value, { path, text }));
      } else if (tables.has(key)) {
        if (!isTable(value)) {
          const where = { path, line: findTomlKeyLine(text, key) };
          throw new ConfigError(
            `Cannot load ${describePosition(where)}: "${key}" is ${describeValue(value)}, ` +
              `expected a table: write it as a [${key}] section`,
            where,
          );
        }
        visit(value, key);
      } else {
        const where = { path, line: findTomlKeyLine(text, key) };
        warnings.push(
          `Ignoring unknown key "${key}" in ${describePosition(where)}: ` +
            `check its spelling ("xpu-ctk config default" lists every key)`,
        );
      }
    }
  };
  visit(tree, "");
  const cdi = config.runtime.modes.cdi;
  if (cdi.allowedKinds.length > 0 && !cdi.allowedKinds.includes(cdi.defaultKind)) {
    const where = {
      path,
      line: findTomlKeyLine(text, "xpu-container-runtime.modes.cdi.allowed-kinds"),
    };
    warnings.push(
      `"xpu-container-runtime.modes.cdi.allowed-kinds" in ${describePosition(where)} does not ` +
        `list default-kind "${cdi.defaultKind}": requests by index or UUID will be refused; ` +
        `add it if containers should get those devices`,
    );
  }
  if (findProfile(config.profiles, config.cli.profile) === undefined) {
    const where = { path, line: findTomlKeyLine(text, "xpu-container-cli.profile") };
    const names = [...Object.keys(BUILTIN_PROFILES), ...Object.keys(config.profiles)];
    throw new ConfigError(
      `Cannot load ${describePosition(where)}: "xpu-container-cli.profile" is ` +
        `"${config.cli.profile}", expected a known device profile ` +
        `(${names.map((n) => `"${n}"`).join(", ")}): name a built-in profile or define ` +
        `[profiles.${config.cli.profile}]`,
      where,
    );
  }
  return { config, warnings };
}

/**
 * Loads the config that applies for `env`. A missing file at the default location
 * (`$XDG_CONFIG_HOME/…` or the system file) means the defaults; a missing file that
 * `$XPU_CTK_CONFIG_FILE_PATH` names is an error, since the operator asked for that file and a
 * typo would otherwise run with the defaults unnoticed.
 *
 * @throws {ConfigError} when the file `$XPU_CTK_CONFIG_FILE_PATH` names is missing, or when the
 *   file exists but cannot be read or is invalid
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  readTextFile: (path: string) => string = readTextFileSync,
): LoadedConfig {
  const path = resolveConfigPath(env);
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    // An empty variable counts as unset (resolveConfigPath): only a named file must exist.
    if (isNotFound(error) && env[CONFIG_PATH_ENV]) {
      const fallback = resolveConfigPath({ ...env, [CONFIG_PATH_ENV]: undefined });
      throw new ConfigError(
        `Cannot load the config file ${quoted(path)} that ${CONFIG_PATH_ENV} names: no such ` +
          `file: create it (${quoted(`xpu-ctk config default --output ${path}`)} writes the ` +
          `defaults), or unset ${CONFIG_PATH_ENV} to use ${quoted(fallback)}`,
        { path },
        { cause: error },
      );
    }
    if (isNotFound(error)) {
      return { config: defaultConfig(), path, found: false, warnings: [] };
    }
    throw new ConfigError(
      `Cannot read ${quoted(path)}: ${osErrorReason(error)}: ` +
        `make it a readable file or point ${CONFIG_PATH_ENV} at one`,
      { path },
      { cause: error },
    );
  }
  return { path, found: true, ...parseConfig(text, path) };
}

function prefixesOf(key: string): string[] {
  const parts = key.split(".");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("."));
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean" || typeof value === "number" || typeof value === "bigint") {
    return `${value}`;
  }
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  return "a table";
}

/** The fix for a bad value: a valid one, or the key's default. */
function useDefault(spec: ConfigKey): string {
  const value = getField(defaultConfig(), spec.field);
  const text = JSON.stringify(
    spec.type.kind === "capabilities" ? (value as string[]).join(",") : value,
  );
  return `set a valid value or remove the key to use the default ${text}`;
}

function checkValue(
  spec: ConfigKey,
  value: unknown,
  file: { path: string; text: string },
): unknown {
  // The fix names the key's default, worked out only for an error: a valid config (the run of
  // every create) builds no default config per key.
  const fail = (expected: string, fix = useDefault(spec)): never => {
    const where = { path: file.path, line: findTomlKeyLine(file.text, spec.key) };
    throw new ConfigError(
      `Cannot load ${describePosition(where)}: "${spec.key}" is ${describeValue(value)}, ` +
        `expected ${expected}: ${fix}`,
      where,
    );
  };
  const type = spec.type;
  switch (type.kind) {
    case "boolean":
      return typeof value === "boolean" ? value : fail("true or false");
    case "string":
      return typeof value === "string" ? value : fail("a string");
    case "path":
      if (typeof value !== "string" || !value.startsWith("/")) {
        return fail("an absolute path");
      }
      return value;
    case "strings": {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        return fail("an array of strings");
      }
      if (type.nonEmpty && value.length === 0) return fail("at least one entry");
      return value;
    }
    case "enum":
      if (typeof value !== "string" || !type.values.includes(value)) {
        return fail(`one of ${type.values.map((v) => `"${v}"`).join(", ")}`);
      }
      return value;
    case "capabilities": {
      if (typeof value !== "string") return fail("a comma-separated string");
      const names = splitCommaList(value);
      const unknown = names.filter((n) => !isCapability(n));
      if (unknown.length > 0) {
        return fail(
          `capability names, not ${unknown.map((n) => `"${n}"`).join(", ")}`,
          `use only "compat32", "compute", "display", "graphics", "utility", "video"`,
        );
      }
      return names as Capability[];
    }
    case "cdi-kind": {
      if (typeof value !== "string") return fail(`a "vendor/class" string`);
      const problem = kindProblem(value);
      return problem ? fail(`a valid CDI kind (${problem})`) : value;
    }
    case "cdi-kinds": {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        return fail(`an array of "vendor/class" strings`);
      }
      for (const kind of value) {
        const problem = kindProblem(kind);
        if (problem) return fail(`valid CDI kinds ("${kind}": ${problem})`);
      }
      return value;
    }
    case "profile":
      // Whether the profile exists is checked once [profiles.*] has been read.
      return typeof value === "string" ? value : fail("a profile name");
  }
}
