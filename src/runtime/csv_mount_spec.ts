/**
 * CSV mount specs (`*.csv` in the mount-spec dir): one `<type>, <path>` per line, naming the device
 * nodes, libraries, symlinks and directories a CSV-style platform gives its containers.
 *
 * @module
 */

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
 * `#` comments are ignored; lines with an unknown type, no comma or no path are skipped and
 * reported.
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
      skip(`unknown type "${type}" (expected dev, lib, sym or dir)`);
    } else if (path === "") {
      skip("empty path");
    } else if (!path.startsWith("/") && type !== "dev") {
      skip("the path is not absolute");
    } else {
      if (!path.startsWith("/")) path = `/dev/${path}`;
      entries.push({ type: type as CsvEntryType, path });
    }
  }
  return { entries, skipped };
}
