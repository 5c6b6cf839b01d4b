/**
 * The fast-path record: what a launcher in front of the runtime shim needs to hand a
 * pass-through call (anything but `create`) straight to the low-level runtime, without starting
 * Deno, and still pick the runtime the shim would pick.
 *
 * The shim's choice depends on the config file that applies and on which programs exist. The
 * record holds the first part as data: the config file's path, its exact bytes (or that it was
 * absent) and the `runtimes` list those bytes give. A launcher uses the record only while the
 * file still holds exactly those bytes; the second part it works out itself, the way
 * `findFirstExecutable` does, on every call. So editing the config by hand never makes the
 * launcher and the shim disagree: a changed file sends calls to the shim until the shim writes
 * a new record.
 *
 * Layout, readable by bash's `read -d ''` without a fork:
 *
 * ```text
 * xpu-container-runtime fast path 1      the format
 * on                                     or "off: <why>": the shim takes every call
 * /etc/xpu-container-runtime/config.toml the config file the record is about
 * present                                or "absent"
 * runc                                   the runtimes, one a line
 * crun
 * \0<the config file's bytes>
 * ```
 *
 * It imports nothing: the shim loads it only when it refreshes a record.
 *
 * @module
 */

/** The record's first line. */
export const FAST_PATH_FORMAT = "xpu-container-runtime fast path 1";

/**
 * The variable a launcher sets when it found the record missing or out of date, naming the
 * record for the shim to rewrite. It is never passed on to the low-level runtime.
 */
export const FAST_PATH_RECORD_ENV = "XPU_FAST_PATH_RECORD";

/** What the record is made from. */
export interface FastPathInput {
  /** The config file the shim loads (`resolveConfigPath`). */
  configPath: string;
  /** The file's bytes, or `undefined` when it does not exist (the defaults apply). */
  configBytes: Uint8Array | undefined;
  /** `[xpu-container-runtime] runtimes` as those bytes give it. */
  runtimes: readonly string[];
  /** `[xpu-container-runtime] log-level` as those bytes give it. */
  logLevel: string;
}

/**
 * Why the launcher must leave every call to the shim for this config, or `undefined` when it
 * may take the fast path.
 */
export function fastPathOffReason(input: FastPathInput): string | undefined {
  if (input.logLevel === "debug") {
    return "log-level is debug: the shim logs every hand-over";
  }
  const unwritable = input.runtimes.find((r) => /[\n\0]/.test(r));
  if (unwritable !== undefined) {
    return `the runtime ${JSON.stringify(unwritable)} holds a line break or NUL`;
  }
  return undefined;
}

/**
 * The record's bytes, or `undefined` when none can be written: a config path or bytes that
 * the layout cannot hold (a line break in the path, a NUL in the file).
 *
 * @example
 * ```ts
 * const bytes = encodeFastPathRecord({
 *   configPath: "/etc/xpu-container-runtime/config.toml",
 *   configBytes: undefined,
 *   runtimes: ["runc", "crun"],
 *   logLevel: "info",
 * });
 * new TextDecoder().decode(bytes);
 * // "xpu-container-runtime fast path 1\non\n/etc/xpu-container-runtime/config.toml\nabsent\nrunc\ncrun\n\0"
 * ```
 */
export function encodeFastPathRecord(input: FastPathInput): Uint8Array | undefined {
  if (/[\n\0]/.test(input.configPath) || input.configPath === "") return undefined;
  if (input.configBytes?.includes(0)) return undefined;
  const off = fastPathOffReason(input);
  const head = [
    FAST_PATH_FORMAT,
    off === undefined ? "on" : `off: ${off}`,
    input.configPath,
    input.configBytes === undefined ? "absent" : "present",
    // Empty names are never found (lookPath); bash's read drops empty lines too.
    ...(off === undefined ? input.runtimes.filter((r) => r !== "") : []),
  ];
  const headBytes = new TextEncoder().encode(`${head.join("\n")}\n\0`);
  const body = input.configBytes ?? new Uint8Array();
  const record = new Uint8Array(headBytes.length + body.length);
  record.set(headBytes);
  record.set(body, headBytes.length);
  return record;
}

/** Whether two byte strings are equal. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A record read back (as text: what `xpu-ctk doctor` compares it with is text too). */
export interface DecodedFastPathRecord {
  /** `undefined`: the launcher may take the fast path; else why the shim takes every call. */
  offReason?: string;
  configPath: string;
  /** Whether the config file existed when the record was made. */
  present: boolean;
  runtimes: string[];
  /** The config file's text the record was made from ("" when absent). */
  configText: string;
}

/**
 * The record in `text`, or `undefined` when it is not one of this format (another format, cut
 * short, garbled): the launcher would not use it either.
 */
export function decodeFastPathRecord(text: string): DecodedFastPathRecord | undefined {
  const end = text.indexOf("\n\0");
  if (end < 0) return undefined;
  const [format, state, configPath, presence, ...runtimes] = text.slice(0, end).split("\n");
  if (format !== FAST_PATH_FORMAT || configPath === undefined || configPath === "") {
    return undefined;
  }
  if (state !== "on" && !state?.startsWith("off: ")) return undefined;
  if (presence !== "present" && presence !== "absent") return undefined;
  return {
    offReason: state === "on" ? undefined : state.slice("off: ".length),
    configPath,
    present: presence === "present",
    runtimes: runtimes.filter((r) => r !== ""),
    configText: text.slice(end + 2),
  };
}
