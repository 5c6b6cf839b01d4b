/**
 * Device profiles defined in the config file (`[profiles.<name>]`), for accelerator families the
 * toolkit has no built-in profile for:
 *
 * ```toml
 * [profiles.acme]
 * kernel-module = "acme"
 * device-nodes = ["/dev/acme[0-9]*"]
 * index-from = "suffix"            # or "order"
 * control-nodes = ["/dev/acmectl"]
 * uuid-file = "/sys/class/acme/acme{index}/uuid"
 * version-library = "libacme.so"
 * [[profiles.acme.driver-files]]
 * capabilities = ["compute", "utility"]
 * dirs = ["/usr/lib/x86_64-linux-gnu"]
 * patterns = ["libacme*.so*"]
 * ```
 *
 * @module
 */

import { CAPABILITIES, type Capability, isCapability } from "../device/capabilities.ts";
import type { DeviceProfile, DriverFileGroup } from "../device/device_profile.ts";
import { ConfigError, describePosition } from "../errors.ts";
import { isTable } from "../text/toml_table.ts";

/** Where the profiles come from, for messages. */
export interface ProfileSource {
  path: string;
  /** Finds the line of a dotted key in the file. */
  lineOf: (key: string) => number | undefined;
}

const PROFILE_KEYS = [
  "kernel-module",
  "device-nodes",
  "index-from",
  "control-nodes",
  "uuid-file",
  "name-file",
  "version-library",
  "driver-files",
];

/**
 * Reads the `profiles` table.
 *
 * @throws {ConfigError} naming the profile, the key, the line and what is expected
 */
export function parseProfiles(
  value: unknown,
  source: ProfileSource,
): { profiles: Record<string, DeviceProfile>; warnings: string[] } {
  /** `lineKey` locates the line: the key, or its table's header when the key is missing. */
  const fail = (key: string, expected: string, lineKey = key): never => {
    const where = { path: source.path, line: source.lineOf(lineKey) ?? source.lineOf(key) };
    throw new ConfigError(
      `Cannot load ${describePosition(where)}: "${key}" must be ${expected}: fix the profile ` +
        `or remove it`,
      where,
    );
  };
  if (!isTable(value)) return fail("profiles", "a table of [profiles.<name>] sections");
  const profiles: Record<string, DeviceProfile> = {};
  const warnings: string[] = [];
  for (const [name, table] of Object.entries(value)) {
    const at = (key: string) => `profiles.${name}.${key}`;
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
      fail(`profiles.${name}`, "named with lower-case letters, digits, '-' and '_'");
    }
    if (!isTable(table)) return fail(`profiles.${name}`, "a table");
    for (const key of Object.keys(table)) {
      if (!PROFILE_KEYS.includes(key)) {
        const where = { path: source.path, line: source.lineOf(at(key)) };
        warnings.push(
          `Ignoring unknown key "${at(key)}" in ${describePosition(where)}: profiles take ` +
            PROFILE_KEYS.map((k) => `"${k}"`).join(", "),
        );
      }
    }
    const string = (key: string): string | undefined => {
      const v = table[key];
      if (v === undefined) return undefined;
      return typeof v === "string" ? v : fail(at(key), "a string");
    };
    const paths = (
      key: string,
      from: Record<string, unknown>,
      label: string,
      lineKey = label,
    ): string[] => {
      const v = from[key];
      if (v === undefined) return [];
      if (!Array.isArray(v) || !v.every((p) => typeof p === "string" && p.startsWith("/"))) {
        return fail(label, "an array of absolute paths", lineKey);
      }
      return v as string[];
    };
    const deviceNodes = paths("device-nodes", table, at("device-nodes"));
    if (deviceNodes.length === 0) {
      const lineKey = table["device-nodes"] === undefined ? `profiles.${name}` : at("device-nodes");
      fail(at("device-nodes"), "a non-empty array of device node globs", lineKey);
    }
    const indexFrom = string("index-from") ?? "suffix";
    if (indexFrom !== "suffix" && indexFrom !== "order") {
      fail(at("index-from"), `"suffix" or "order"`);
    }
    const groups = table["driver-files"] ?? [];
    if (!Array.isArray(groups) || !groups.every(isTable)) {
      fail(at("driver-files"), "an array of tables ([[profiles.<name>.driver-files]])");
    }
    const driverFiles: DriverFileGroup[] = (groups as Record<string, unknown>[]).map((group, n) => {
      // Lines of the n-th [[profiles.<name>.driver-files]] table and of its keys.
      const line = (key?: string) => at(`driver-files.${n}${key ? `.${key}` : ""}`);
      const label = (key: string) => `profiles.${name}.driver-files[${n}].${key}`;
      const capabilities = group.capabilities ?? [...CAPABILITIES];
      if (
        !Array.isArray(capabilities) ||
        !capabilities.every((c) => typeof c === "string" && isCapability(c))
      ) {
        return fail(
          label("capabilities"),
          `capability names (${CAPABILITIES.join(", ")})`,
          line("capabilities"),
        );
      }
      const patterns = group.patterns;
      if (
        !Array.isArray(patterns) || patterns.length === 0 ||
        !patterns.every((p) => typeof p === "string")
      ) {
        return fail(
          label("patterns"),
          "a non-empty array of file-name globs",
          patterns === undefined ? line() : line("patterns"),
        );
      }
      return {
        capabilities: capabilities as Capability[],
        dirs: paths("dirs", group, label("dirs"), line("dirs")),
        patterns: patterns as string[],
      };
    });
    const identity: { uuid?: string; name?: string } = {};
    const uuidFile = string("uuid-file");
    const nameFile = string("name-file");
    if (uuidFile) identity.uuid = uuidFile;
    if (nameFile) identity.name = nameFile;
    const profile: DeviceProfile = {
      name,
      kernelModule: string("kernel-module") ?? "",
      deviceNodes,
      indexFrom: indexFrom as DeviceProfile["indexFrom"],
      controlNodes: paths("control-nodes", table, at("control-nodes")),
      identity,
      driverFiles,
    };
    const versionLibrary = string("version-library");
    if (versionLibrary) profile.versionLibrary = versionLibrary;
    profiles[name] = profile;
  }
  return { profiles, warnings };
}
