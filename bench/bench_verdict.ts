/**
 * The benchmark's verdict: each target (a figure and the most it may be) held against what was
 * measured, one line per target. Pure: numbers in, lines out, so a table test can feed it made-up
 * figures.
 *
 * ```ts
 * import { judgeTargets, verdictLine } from "./bench_verdict.ts";
 * const targets = [{ figure: "create", what: "create overhead", limit: 1.6, unit: "×" }];
 * judgeTargets(targets, { create: 0.8 }).map(verdictLine);
 * // ["target create overhead ≤ 1.6×: 0.80× — met"]
 * ```
 *
 * @module
 */

/** One target: the figure it judges and the largest value that still meets it. */
export interface BenchTarget {
  /** Key of the figure in the measured record (`"passThrough"`). */
  figure: string;
  /** What is measured, as the verdict line names it (`"pass-through overhead"`). */
  what: string;
  /** The largest figure that meets the target (inclusive). */
  limit: number;
  /** Unit printed right after each number (`"×"`). */
  unit: string;
  /** What the figure is relative to, printed after the limit (`"hello world"`). */
  baseline?: string;
}

/** A target with its measured figure and whether the figure meets it. */
export interface BenchVerdict {
  target: BenchTarget;
  /** The measured figure; `undefined` when the run produced none. */
  measured: number | undefined;
  met: boolean;
}

/**
 * Judges every target against `measured`, in the targets' order. A figure that is missing or not
 * a finite number (no samples, a division by zero) misses its target: no figure is no evidence.
 */
export function judgeTargets(
  targets: readonly BenchTarget[],
  measured: Readonly<Record<string, number>>,
): BenchVerdict[] {
  return targets.map((target) => {
    const value = Object.hasOwn(measured, target.figure) ? measured[target.figure] : undefined;
    const usable = value !== undefined && Number.isFinite(value);
    return {
      target,
      measured: usable ? value : undefined,
      met: usable && value <= target.limit,
    };
  });
}

/** The limit as the bench states it: `≤ 1.3× hello world`. */
export function limitText(target: BenchTarget): string {
  return `≤ ${target.limit}${target.unit}${target.baseline ? ` ${target.baseline}` : ""}`;
}

/** One verdict line: `target <what> <limit>: <measured> — met|missed`. */
export function verdictLine(verdict: BenchVerdict): string {
  const { target, measured } = verdict;
  const figure = measured === undefined ? "no figure" : `${measured.toFixed(2)}${target.unit}`;
  return `target ${target.what} ${limitText(target)}: ${figure} — ${
    verdict.met ? "met" : "missed"
  }`;
}
