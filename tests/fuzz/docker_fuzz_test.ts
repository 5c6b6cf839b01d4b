/**
 * daemon.json under the seeded mutation fuzzer (`tests/helpers/fuzz.ts`): configure,
 * configure-then-unconfigure, and the JSON editor under them, seeded with every docker fixture
 * and preceded by named regressions. `XPU_FUZZ_CASES` and `XPU_FUZZ_SEED` override the defaults;
 * each target stops after its budget (8 s) whatever the case count.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { describeFailures, fuzz } from "../helpers/fuzz.ts";

const DIR = `${REPO_ROOT}/fixtures/engines/docker`;

/** Every `*.json` under the docker fixtures except the request files. */
function seeds(): string[] {
  const found: string[] = [];
  for (const fixture of [...Deno.readDirSync(DIR)].map((e) => e.name).sort()) {
    for (const file of [...Deno.readDirSync(`${DIR}/${fixture}`)].map((e) => e.name).sort()) {
      if (file.endsWith(".json") && file !== "case.json") {
        found.push(Deno.readTextFileSync(`${DIR}/${fixture}/${file}`));
      }
    }
  }
  return found;
}

const nested = (levels: number) =>
  `{\n  "log-level": "warn",\n  "x": ${"[".repeat(levels)}${"]".repeat(levels)}\n}\n`;

/** Inputs that once crashed, hung or were mis-edited, by name. */
export const REGRESSIONS: Record<string, string> = {
  "5,000 levels of nesting (jsonc-parser recursed out of stack)": nested(5_000),
  "100,000 levels of nesting": nested(100_000),
  "100,000 unclosed objects": '{"a":'.repeat(100_000),
  "2^53+1 where an object goes": '{\n  "runtimes": 9007199254740993\n}\n',
  "2^53+1 inside a handler that is replaced and restored":
    '{\n  "runtimes": {\n    "xpu": {"path": "/old", "n": 9007199254740993}\n  }\n}\n',
  "1e999 (Go's float64 cannot hold it)": '{\n  "max-concurrent-downloads": 1e999\n}\n',
  "default-runtime twice (dockerd reads the last)":
    '{\n  "default-runtime": "runc",\n  "debug": true,\n  "default-runtime": "crun"\n}\n',
  "runtimes twice": '{\n  "runtimes": {},\n  "runtimes": {"crun": {"path": "/c"}}\n}\n',
  "a handler twice": '{"runtimes": {"xpu": {"path": "/a"}, "xpu": {"path": "/b"}}}',
  "features.cdi twice": '{"features": {"cdi": false, "cdi": true}}',
  "an unrelated key twice (kept)": '{\n  "debug": true,\n  "debug": false\n}\n',
  "BOM": '\uFEFF{\n  "debug": true\n}\n',
  "\\q escape": '{\n  "data-root": "/var/\\q"\n}\n',
  "NUL in a string": '{\n  "data-root": "/var/\0lib"\n}\n',
  "NUL after the document": '{"debug": true}\0',
  "lone surrogate escapes (Go reads U+FFFD)": '{\n  "label": "\\uD800\\uDC00\\uDC00"\n}\n',
  "raw lone surrogate": '{"label": "\uD800"}',
  "U+2028 in a string": '{"label": "a\u2028b"}',
  "CRLF line endings":
    '{\r\n  "debug": true,\r\n  "features": {\r\n    "buildkit": true\r\n  }\r\n}\r\n',
  "blank file (dockerd: no settings)": "\n  \n",
  "empty runtimes kept on revert": '{\n  "runtimes": {},\n  "features": {}\n}\n',
  "default names Object's constructor": '{"default-runtime": "constructor"}',
  "__proto__ keys": '{"__proto__": {"x": 1}, "runtimes": {"__proto__": {"path": "/p"}}}',
  "handler already as asked": '{\n  "runtimes": {\n    "xpu": {\n      "path": ' +
    '"/usr/bin/xpu-container-runtime",\n      "runtimeArgs": []\n    }\n  }\n}\n',
  "default points at a missing runtime": '{"default-runtime": "xpu-cdi"}',
  "root is an array": "[]",
  "root is a number": "9007199254740993",
  "trailing comma": '{"debug": true,}',
  "comment": '{"debug": true /* no */}',
};

/** The fixtures, and the regressions that are documents, to mutate from. */
function mutationSeeds(): string[] {
  const documents = Object.values(REGRESSIONS).filter((text) => {
    try {
      JSON.parse(text);
      return text.length < 10_000;
    } catch {
      return false;
    }
  });
  return [...seeds(), ...documents];
}

const TARGETS = ["configure", "configureThenUnconfigure", "setValue", "removeValue"] as const;

for (const exportName of TARGETS) {
  Deno.test(`fuzz daemon.json: ${exportName}`, async () => {
    const report = await fuzz(
      { module: import.meta.resolve("./docker_targets.ts"), exportName },
      { seeds: mutationSeeds(), timeoutMs: 4_000, budgetMs: 8_000 },
      Object.values(REGRESSIONS),
    );
    deepStrictEqual(report.failures, [], describeFailures(report.failures));
    ok(report.ok > 0, "some cases were accepted");
    ok(report.typedErrors > 0, "some cases were refused");
    console.log(
      `${exportName}: ${report.cases} cases (${report.ok} ok, ${report.typedErrors} refused) ` +
        `in ${report.elapsedMs} ms`,
    );
  });
}
