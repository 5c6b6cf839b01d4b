/**
 * Paired samples for the benchmarks: the order variants run in within an iteration, and the
 * figures read off the samples afterwards (quantiles, paired differences). Pure: numbers in,
 * numbers out, so a table test can feed it made-up samples.
 *
 * ```ts
 * import { pairedDifferences, pairedOrder, spread } from "./paired_samples.ts";
 * pairedOrder([["a", "A"], ["b", "B"]], 1); // ["b", "B", "a", "A"]
 * spread(pairedDifferences([12, 15, 11], [10, 10, 10])); // { median: 2, p90: 5 }
 * ```
 *
 * @module
 */

/**
 * The value at rank ⌊q·n⌋ of the sorted values (q = 0.5: the median, upper middle for an even
 * count; q = 0.9: p90), as the shim benchmark reads its samples. No values: `NaN`, which a
 * target then counts as no figure.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)))];
}

/** The median and p90 of some samples. */
export interface Spread {
  median: number;
  p90: number;
}

/** The median and p90 of `values`. */
export function spread(values: readonly number[]): Spread {
  return { median: quantile(values, 0.5), p90: quantile(values, 0.9) };
}

/**
 * `with[i] − without[i]` for each iteration i: the overhead as each iteration measured it, so
 * load that hit both samples of an iteration cancels out.
 *
 * @throws {RangeError} when the two sample lists are not of the same length (not paired)
 */
export function pairedDifferences(
  withIt: readonly number[],
  without: readonly number[],
): number[] {
  if (withIt.length !== without.length) {
    throw new RangeError(
      `Cannot pair ${withIt.length} samples with ${without.length}: each iteration must ` +
        "measure both variants",
    );
  }
  return withIt.map((value, i) => value - without[i]);
}

/**
 * The order the variants of iteration `iteration` run in: the pairs rotated by one per
 * iteration, and both variants of every pair swapped every `pairs.length` iterations. The two
 * variants of a pair always run back to back (what loads one loads the other), and over
 * `2 × pairs.length` iterations each variant runs first in its pair as often as second and in each
 * slot of the iteration equally often, so neither warm caches nor drift favour one of them.
 */
export function pairedOrder<T>(
  pairs: readonly (readonly [T, T])[],
  iteration: number,
): T[] {
  const n = pairs.length;
  if (n === 0) return [];
  const shift = ((iteration % n) + n) % n;
  const swapped = Math.floor(iteration / n) % 2 === 1;
  const rotated = [...pairs.slice(shift), ...pairs.slice(0, shift)];
  return rotated.flatMap(([a, b]) => swapped ? [b, a] : [a, b]);
}
