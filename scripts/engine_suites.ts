/**
 * The end-to-end suite against the engines of today: builds (or finds) the Debian 13 and Debian
 * unstable test roots, then runs `deno test -A tests/e2e` inside each, one after the other, and
 * prints one line per root. The host's own engines are covered by `deno task test`.
 *
 *   deno task test:engines [trixie|sid ...] [-- DENO_TEST_ARGS...]
 *
 * @module
 */

import { buildRoot, defaultRootDir, runInRoot, type Suite, SUITES } from "./engine_roots.ts";

const dashes = Deno.args.indexOf("--");
const names = dashes < 0 ? Deno.args : Deno.args.slice(0, dashes);
const testArgs = dashes < 0 ? ["tests/e2e"] : Deno.args.slice(dashes + 1);
for (const name of names) {
  if (!(SUITES as readonly string[]).includes(name)) {
    console.error(`engine_suites: unknown root "${name}": use ${SUITES.join(" or ")}`);
    Deno.exit(2);
  }
}
const suites = (names.length > 0 ? names : [...SUITES]) as Suite[];

// The roots are built side by side: most of the time is the archive's download.
const started = Date.now();
await Promise.all(suites.map((suite) => buildRoot(suite, defaultRootDir(suite))));
console.error(`engine_suites: roots ready in ${Math.round((Date.now() - started) / 1000)} s`);

const results: { suite: Suite; code: number; seconds: number }[] = [];
for (const suite of suites) {
  const at = Date.now();
  console.error(`engine_suites: running the e2e suite in the ${suite} root`);
  const code = await runInRoot(defaultRootDir(suite), [
    "env",
    "XPU_E2E_REQUIRED=1",
    "deno",
    "test",
    "-A",
    ...testArgs,
  ]);
  results.push({ suite, code, seconds: Math.round((Date.now() - at) / 1000) });
}
for (const r of results) {
  console.error(
    `engine_suites: ${r.suite}: ${
      r.code === 0 ? "passed" : `FAILED (exit ${r.code})`
    } in ${r.seconds} s`,
  );
}
Deno.exit(results.every((r) => r.code === 0) ? 0 : 1);
