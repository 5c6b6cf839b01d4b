/**
 * A seeded, bounded mutation fuzzer for the parsers and config editors. Each target is a function
 * `(input: string) => void` exported by a module; it may return or throw a tool error (the closed
 * set in `src/core/errors.ts`), and anything else it throws is a failure. The target runs in a
 * worker so that a case that hangs (or grows without bound) is caught by a per-case timeout: the
 * worker is terminated and the input reported.
 *
 * The same seed gives the same inputs, so a failure is reproduced by its seed and case number; the
 * failing input is printed too, so it can become a named regression case.
 *
 * @module
 */

/** One fuzz target: the module that exports it and the export's name. */
export interface FuzzTarget {
  /** `import.meta.resolve(...)` of the module exporting the target. */
  module: string;
  /** The exported function `(input: string) => void`. */
  exportName: string;
}

/** How much to fuzz. */
export interface FuzzOptions {
  /** Valid inputs to mutate (the mutations start from these). */
  seeds: readonly string[];
  /** The PRNG seed (default from `XPU_FUZZ_SEED`, else 1). */
  seed?: number;
  /** How many mutated inputs (default from `XPU_FUZZ_CASES`, else 400). */
  cases?: number;
  /** Time allowed for one case, in ms (default 2,000). */
  timeoutMs?: number;
  /** Stop early once this much time was spent, in ms (`XPU_FUZZ_BUDGET_MS` wins; default 15,000). */
  budgetMs?: number;
}

/** A case that did not end in success or a tool error. */
export interface FuzzFailure {
  /** The case's number (with the seed, it reproduces the input). */
  index: number;
  input: string;
  /** `crash` (an unexpected error), `hang` (the timeout passed) or `invariant` (the target said). */
  kind: "crash" | "hang" | "invariant";
  detail: string;
}

/** What a fuzz run did. */
export interface FuzzReport {
  cases: number;
  ok: number;
  typedErrors: number;
  failures: FuzzFailure[];
  elapsedMs: number;
}

/** The worker's answer for one case. */
export interface CaseOutcome {
  id: number;
  outcome: "ok" | "typed" | "crash" | "invariant";
  detail?: string;
}

/** mulberry32: small, seeded, good enough to pick mutations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fragments that break parsers: quotes, escapes, brackets, BOM, NUL, CR, huge numbers, unicode. */
export const TOKENS: readonly string[] = [
  '"',
  "'",
  "\\",
  '\\"',
  "\\q",
  "\\u00",
  "\\U0001F600",
  "\\uD800",
  "[",
  "]",
  "[[",
  "{",
  "}",
  ",",
  ":",
  "=",
  ".",
  "#",
  "*",
  "\uFEFF",
  "\0",
  "\r",
  "\r\n",
  "\n",
  "\t",
  " ",
  "-",
  "0",
  "-1",
  "1e999",
  "9007199254740993",
  "18446744073709551616",
  "0x10",
  "0o777",
  "0666",
  "true",
  "null",
  "yes",
  "~",
  "&a",
  "*a",
  "<<",
  "!!binary",
  "---",
  '"""',
  "'''",
  "\u2028",
  "😀",
  "\uDC00",
  "../",
  "/",
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** One mutation of `input` (another seed can be spliced in). */
export function mutate(input: string, seeds: readonly string[], random: () => number): string {
  const at = () => Math.floor(random() * (input.length + 1));
  switch (Math.floor(random() * 9)) {
    case 0: {
      const i = at();
      return input.slice(0, i) + pick(random, TOKENS) + input.slice(i);
    }
    case 1: {
      const i = at();
      const n = 1 + Math.floor(random() * 8);
      return input.slice(0, i) + input.slice(i + n);
    }
    case 2: {
      const i = at();
      return input.slice(0, i) + pick(random, TOKENS) + input.slice(i + 1);
    }
    case 3: {
      // Duplicate a slice (repeated keys, tables, lines).
      const i = at();
      const j = Math.min(input.length, i + Math.floor(random() * 80));
      return input.slice(0, j) + input.slice(i, j) + input.slice(j);
    }
    case 4: {
      // Splice another seed in.
      const other = pick(random, seeds);
      const i = at();
      const j = Math.floor(random() * (other.length + 1));
      return input.slice(0, i) + other.slice(j);
    }
    case 5: {
      // Deep nesting.
      const i = at();
      const open = pick(random, ["[", "{", "- ", '{"a":', "[[", "a:\n  "]);
      return input.slice(0, i) + open.repeat(1000 + Math.floor(random() * 9000)) +
        input.slice(i);
    }
    case 6: {
      // A line swapped with another.
      const lines = input.split("\n");
      const a = Math.floor(random() * lines.length);
      const b = Math.floor(random() * lines.length);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      return lines.join("\n");
    }
    case 7: {
      // A byte flipped (as a UTF-16 code unit).
      const i = Math.floor(random() * input.length);
      if (input.length === 0) return pick(random, TOKENS);
      const code = input.charCodeAt(i) ^ (1 << Math.floor(random() * 7));
      return input.slice(0, i) + String.fromCharCode(code) + input.slice(i + 1);
    }
    default:
      return input.slice(0, at());
  }
}

/** The inputs of a run: seeds first, then mutations of mutations (1 to 4 deep). */
export function* fuzzInputs(
  seeds: readonly string[],
  cases: number,
  seed: number,
): Generator<string> {
  const random = prng(seed);
  for (const s of seeds) yield s;
  for (let n = 0; n < cases; n++) {
    let input = pick(random, seeds);
    const depth = 1 + Math.floor(random() * 4);
    for (let d = 0; d < depth; d++) input = mutate(input, seeds, random);
    yield input;
  }
}

function envNumber(name: string): number | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : Number(value);
}

/**
 * Runs `target` on every input (the named `regressions` first, then the seeds and their
 * mutations), each with a timeout.
 */
export async function fuzz(
  target: FuzzTarget,
  options: FuzzOptions,
  regressions: readonly string[] = [],
): Promise<FuzzReport> {
  const seed = options.seed ?? envNumber("XPU_FUZZ_SEED") ?? 1;
  const cases = options.cases ?? envNumber("XPU_FUZZ_CASES") ?? 400;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const budgetMs = envNumber("XPU_FUZZ_BUDGET_MS") ?? options.budgetMs ?? 15_000;
  const started = performance.now();
  const report: FuzzReport = { cases: 0, ok: 0, typedErrors: 0, failures: [], elapsedMs: 0 };
  let worker: Worker | undefined;
  const start = (): Worker =>
    new Worker(new URL("./fuzz_worker.ts", import.meta.url).href, {
      type: "module",
      name: `fuzz ${target.exportName}`,
    });
  const inputs = [...regressions, ...fuzzInputs(options.seeds, cases, seed)];
  try {
    for (let index = 0; index < inputs.length; index++) {
      if (index >= regressions.length && performance.now() - started > budgetMs) break;
      const input = inputs[index];
      worker ??= start();
      const current = worker;
      const outcome = await new Promise<CaseOutcome | "hang">((resolve) => {
        const timer = setTimeout(() => resolve("hang"), timeoutMs);
        current.onmessage = (event: MessageEvent<CaseOutcome>) => {
          clearTimeout(timer);
          resolve(event.data);
        };
        current.onerror = (event: ErrorEvent) => {
          event.preventDefault();
          clearTimeout(timer);
          resolve({ id: index, outcome: "crash", detail: `worker: ${event.message}` });
        };
        current.postMessage({
          id: index,
          module: target.module,
          exportName: target.exportName,
          input,
        });
      });
      report.cases++;
      if (
        outcome === "hang" || outcome.outcome === "crash" && outcome.detail?.startsWith("worker:")
      ) {
        current.terminate();
        worker = undefined;
      }
      if (outcome === "hang") {
        report.failures.push({
          index,
          input,
          kind: "hang",
          detail: `no answer in ${timeoutMs} ms`,
        });
      } else if (outcome.outcome === "ok") report.ok++;
      else if (outcome.outcome === "typed") report.typedErrors++;
      else {
        report.failures.push({
          index,
          input,
          kind: outcome.outcome,
          detail: outcome.detail ?? "",
        });
      }
    }
  } finally {
    worker?.terminate();
  }
  report.elapsedMs = Math.round(performance.now() - started);
  return report;
}

/** A failure as text for an assertion message: kind, detail and the input (shortened). */
export function describeFailures(failures: readonly FuzzFailure[], limit = 5): string {
  return failures.slice(0, limit).map((f) => {
    const shown = f.input.length > 300
      ? `${f.input.slice(0, 300)}… (${f.input.length} chars)`
      : f.input;
    return `case ${f.index} ${f.kind}: ${f.detail}\n  input: ${JSON.stringify(shown)}`;
  }).join("\n") + (failures.length > limit ? `\n… and ${failures.length - limit} more` : "");
}

/** Thrown by a target when a case broke an invariant (output not re-parsing as intended, …). */
export class InvariantError extends Error {
  override readonly name = "InvariantError";
}
