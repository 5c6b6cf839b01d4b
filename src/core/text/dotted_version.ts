/**
 * Dotted version numbers (`1.10.2`), as drivers and requirements write them.
 *
 * @module
 */

/**
 * Compares dotted versions numerically (`1.10` > `1.9`); missing parts count as 0.
 *
 * @returns negative, zero or positive like a sort comparator
 * @example
 * ```ts
 * compareVersions("1.10", "1.9"); // 1
 * compareVersions("2", "2.0.0"); // 0
 * ```
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(".").map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
