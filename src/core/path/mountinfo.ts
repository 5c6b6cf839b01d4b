/**
 * `/proc/<pid>/mountinfo`: which mounts a mount namespace has, with their options and types.
 *
 * @module
 */

/** One line of `mountinfo`, the fields the toolkit reads. */
export interface MountInfo {
  mountPoint: string;
  /** Per-mount options (`rw`, `nosuid`, `relatime`, …). */
  options: string[];
  fsType: string;
  /** Per-superblock options (for a cgroup v1 mount, its controllers). */
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Parses a `mountinfo` text; lines without the ` - ` separator are skipped.
 *
 * @example
 * ```ts
 * parseMountinfo("22 27 0:21 / /proc rw,relatime - proc proc rw\n");
 * // [{ mountPoint: "/proc", options: ["rw", "relatime"], fsType: "proc", superOptions: ["rw"] }]
 * ```
 */
export function parseMountinfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields.length < dash + 3) continue;
    mounts.push({
      mountPoint: unescape(fields[4]),
      options: fields[5].split(","),
      fsType: fields[dash + 1],
      superOptions: (fields[dash + 3] ?? "").split(","),
    });
  }
  return mounts;
}
