/**
 * The shim's half of the fast path: when a launcher found its fast-path record missing or made
 * from other config bytes (and so handed the call to the shim, naming the record in
 * `XPU_FAST_PATH_RECORD`), the shim writes the record again from the config file as it is now.
 * The next pass-through call then takes the fast path.
 *
 * The record is made from one read of the file: its bytes and the `runtimes` those bytes give
 * always belong together, even when the file changes meanwhile. Nothing is written when the
 * record already holds those bytes. Loaded only when a launcher asks.
 *
 * The shim runs as root and takes the record's path from its environment, so it writes only a
 * file named `*.fast-path` that is absent or already a record: a wrong variable never replaces
 * another file.
 *
 * @module
 */

import { defaultConfig } from "../core/config/config.ts";
import { CONFIG_PATH_ENV, parseConfig, SYSTEM_CONFIG_PATH } from "../core/config/config_file.ts";
import {
  encodeFastPathRecord,
  FAST_PATH_FORMAT,
  sameBytes,
} from "../core/fast_path/fast_path_record.ts";
import { writeFileAtomic } from "../core/io/atomic_file.ts";
import { isNotFound, readFileSync } from "../core/io/fs.ts";

/** The file access a refresh needs; tests pass fakes. */
export interface RefreshIo {
  /** A file's bytes, or `undefined` when it does not exist; other errors are thrown. */
  readFile(path: string): Uint8Array | undefined;
  /** Writes `bytes` to `path` atomically (its dir must exist: the launcher's layout made it). */
  writeFile(path: string, bytes: Uint8Array): void;
}

/** The real file system. */
export const realRefreshIo: RefreshIo = {
  readFile(path) {
    try {
      return readFileSync(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  },
  writeFile(path, bytes) {
    writeFileAtomic(path, bytes, { mode: 0o644 });
  },
};

/** Whether `bytes` start as a record of any format version does. */
function isRecord(bytes: Uint8Array): boolean {
  const prefix = new TextEncoder().encode(FAST_PATH_FORMAT.replace(/\d+$/, ""));
  return prefix.every((byte, i) => bytes[i] === byte);
}

/** Decodes a config file's bytes as `Deno.readTextFileSync` does (a BOM is kept). */
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Rewrites the fast-path record at `recordPath` for `env`'s config file, and says in one line
 * what it did (for the debug log).
 *
 * @throws the file system's error when the config or the record cannot be read or written
 */
export function refreshFastPathRecord(
  recordPath: string,
  env: Readonly<Record<string, string | undefined>>,
  io: RefreshIo = realRefreshIo,
): string {
  if (!recordPath.startsWith("/")) {
    return `Not writing the fast-path record "${recordPath}": not an absolute path`;
  }
  if (!/\/[^/]+\.fast-path$/.test(recordPath)) {
    return `Not writing the fast-path record "${recordPath}": its name does not end in .fast-path`;
  }
  const explicit = env[CONFIG_PATH_ENV] || undefined;
  if (explicit === undefined && env.XDG_CONFIG_HOME) {
    return "Not writing the fast-path record: launchers leave XDG_CONFIG_HOME configs to the shim";
  }
  const configPath = explicit ?? SYSTEM_CONFIG_PATH;
  const configBytes = io.readFile(configPath);
  if (configBytes === undefined && explicit !== undefined) {
    return `Not writing the fast-path record: ${CONFIG_PATH_ENV} names a missing file`;
  }
  const config = configBytes === undefined
    ? defaultConfig()
    : parseConfig(decoder.decode(configBytes), configPath).config;
  const record = encodeFastPathRecord({
    configPath,
    configBytes,
    runtimes: config.runtime.runtimes,
    logLevel: config.runtime.logLevel,
  });
  if (record === undefined) {
    return `Not writing the fast-path record: "${configPath}" cannot be recorded (a NUL byte)`;
  }
  const existing = io.readFile(recordPath);
  if (sameBytes(existing, record)) {
    return `The fast-path record "${recordPath}" is current`;
  }
  if (existing !== undefined && existing.length > 0 && !isRecord(existing)) {
    return `Not writing the fast-path record "${recordPath}": the file there is no record`;
  }
  io.writeFile(recordPath, record);
  return `Wrote the fast-path record "${recordPath}" for "${configPath}"`;
}
