/**
 * CSV mount specs (`*.csv` in the mount-spec dir): one `<type>, <path>` per line, naming the device
 * nodes, libraries, symlinks and directories a CSV-style platform gives its containers.
 *
 * @module
 */

import { hasGlob, isValidGlob } from "../core/path/root_path.ts";

/** The entry types. */
export const CSV_ENTRY_TYPES = ["dev", "lib", "sym", "dir"] as const;
/** One entry type. */
export type CsvEntryType = typeof CSV_ENTRY_TYPES[number];

/** One usable line. */
export interface CsvEntry {
  type: CsvEntryType;
  /** Absolute in-root path or glob; `dev` names without a `/` are taken under `/dev`. */
  path: string;
}

/** A line that was skipped, and why. */
export interface SkippedLine {
  line: number;
  text: string;
  reason: string;
}

/**
 * Parses one CSV file: each line is split on its first comma and trimmed; blank lines and
 * `#` comments are ignored; lines with an unknown type, no comma, no path, a path with a NUL byte
 * (no file has one: the C library would stop reading the path there), a path longer than Linux
 * allows, or a glob that cannot be matched (`[z-a]`) are skipped and reported.
 *
 * @example
 * ```ts
 * parseCsvMountSpec("dev, /dev/xpu0\nlib,/usr/lib/libxpu.so.1\n");
 * // { entries: [{ type: "dev", path: "/dev/xpu0" }, { type: "lib", path: "/usr/lib/libxpu.so.1" }],
 * //   skipped: [] }
 * ```
 */
export function parseCsvMountSpec(text: string): { entries: CsvEntry[]; skipped: SkippedLine[] } {
  const entries: CsvEntry[] = [];
  const skipped: SkippedLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const skip = (reason: string) => skipped.push({ line: i + 1, text: raw, reason });
    const comma = line.indexOf(",");
    if (comma < 0) {
      skip("no comma between type and path");
      continue;
    }
    const type = line.slice(0, comma).trim().toLowerCase();
    let path = line.slice(comma + 1).trim();
    if (!(CSV_ENTRY_TYPES as readonly string[]).includes(type)) {
      skip(`unknown type ${quote(type)} (expected dev, lib, sym or dir)`);
    } else if (path === "") {
      skip("empty path");
    } else if (!path.startsWith("/") && type !== "dev") {
      skip("the path is not absolute");
    } else {
      if (!path.startsWith("/")) path = `/dev/${path}`;
      const problem = pathProblem(path);
      if (problem !== undefined) skip(problem);
      else entries.push({ type: type as CsvEntryType, path });
    }
  }
  return { entries, skipped };
}

/** Linux's limits: a path (with its NUL) and one name, in bytes. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

/**
 * Why a path cannot name a file on Linux, or `undefined`: a NUL byte in it (the C library would
 * read the path only up to there), too long a path or name, or a glob part that is no pattern.
 */
function pathProblem(path: string): string | undefined {
  if (path.includes("\0")) return "the path contains a NUL byte";
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  if (bytes(path) >= PATH_MAX) return `the path is longer than ${PATH_MAX - 1} bytes`;
  for (const part of path.split("/")) {
    if (hasGlob(part)) {
      // A glob's parts are matched against directory entries, never looked up by name.
      if (!isValidGlob(part)) return `invalid glob: ${quote(part)} is not a valid pattern`;
    } else if (bytes(part) > NAME_MAX) {
      return `the name ${quote(part.slice(0, 40))}… in the path is longer than ${NAME_MAX} bytes`;
    }
  }
  return undefined;
}

/**
 * A value in double quotes for a reason, escaped as in JSON and with the line and paragraph
 * separators JSON leaves as they are, so the debug line stays one line.
 */
function quote(text: string): string {
  return JSON.stringify(text).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}
