/**
 * Fuzzes the document readers (`document_targets.ts`): seeds from `fixtures/oci`, `fixtures/cdi`
 * and `fixtures/csv`, every input that once crashed a reader as a named regression case, then
 * seeded mutations. Each target gets a time budget (default 4 s; the project's whole fuzz suite
 * stays under a minute). `XPU_FUZZ_CASES` and `XPU_FUZZ_SEED` choose the mutations,
 * `XPU_FUZZ_BUDGET_MS` the budget, for a longer run:
 *
 * ```sh
 * XPU_FUZZ_CASES=20000 XPU_FUZZ_BUDGET_MS=600000 deno test -A tests/fuzz/document_fuzz_test.ts
 * ```
 */

import { ok } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { describeFailures, fuzz } from "../helpers/fuzz.ts";

/** Per target; `XPU_FUZZ_BUDGET_MS` overrides it (in the fuzzer). */
const BUDGET_MS = 4_000;
const TIMEOUT_MS = 3_000;

function fixture(path: string): string {
  return Deno.readTextFileSync(`${REPO_ROOT}/fixtures/${path}`);
}

function fixtures(dir: string, extension: string): string[] {
  return [...Deno.readDirSync(`${REPO_ROOT}/fixtures/${dir}`)]
    .filter((e) => e.isFile && e.name.endsWith(extension))
    .map((e) => e.name)
    .sort()
    .map((name) => fixture(`${dir}/${name}`));
}

/** `[[[…]]]` `levels` deep. */
function nestedArrays(levels: number): string {
  return "[".repeat(levels) + "]".repeat(levels);
}

/** `{"a":{"a":…1…}}` `levels` deep. */
function nestedObjects(levels: number): string {
  return '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
}

/** The nesting regressions of a JSON document: inside a member, at the top, unclosed. */
function nesting(member: string): Record<string, string> {
  const cases: Record<string, string> = {};
  for (const levels of [5_000, 100_000]) {
    cases[`${levels} levels of arrays in "${member}"`] = `{"${member}": ${nestedArrays(levels)}}`;
    cases[`${levels} levels of objects`] = nestedObjects(levels);
    cases[`${levels} levels of arrays, unclosed`] = `{"${member}": ${"[".repeat(levels)}`;
  }
  return cases;
}

/** A YAML alias bomb ("billion laughs"): nine levels of ten aliases each. */
function aliasBomb(): string {
  const names = "abcdefghi";
  let text = `a: &a [${Array(10).fill('"lol"').join(",")}]\n`;
  for (let i = 1; i < names.length; i++) {
    text += `${names[i]}: &${names[i]} [${Array(10).fill(`*${names[i - 1]}`).join(",")}]\n`;
  }
  return text;
}

const BIG = "9007199254740993"; // 2^53 + 1

const RUNC_SPEC = fixture("oci/runc-spec.json");
/** The runc spec compact, with big integers, escapes, invalid UTF-8 (as U+DC80…U+DCFF) and CRLF. */
const OCI_SEEDS = [
  RUNC_SPEC,
  JSON.stringify(JSON.parse(RUNC_SPEC)),
  [
    "{\r",
    '  "ociVersion": "1.2.0",\r',
    '  "process": {"env": ["A=\\u0026", "B=caf\uDCC3\uDCA9 \uDCFF"], "rlimits": [{"hard": ' +
    "18446744073709551615}]},\r",
    '  "linux": {"resources": {"memory": {"limit": -9223372036854775808}}},\r',
    '  "hooks": {"prestart": [{"path": "/usr/bin/xpu-container-runtime-hook"}]},\r',
    '  "annotations": {"x": "1e400", "y": 1E400, "z": -0}\r',
    "}\r",
    "",
  ].join("\n"),
];

const STATE_SEEDS = [
  '{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":4242,' +
  '"bundle":"/run/containerd/io.containerd.runtime.v2.task/default/c1",' +
  '"annotations":{"io.kubernetes.cri.container-type":"container"}}',
  '{\n  "ociVersion": "1.0.0",\n  "id": "old",\n  "pid": 1,\n  "bundlePath": "rel/bundle"\n}\n',
  '{"id":"stopped","status":"stopped","pid":0,"bundle":"/b"}',
];

const CDI_JSON_SEEDS = fixtures("cdi", ".json");
const CDI_YAML_SEEDS = fixtures("cdi", ".yaml");
const CSV_SEEDS = [
  fixture("csv/xpu.csv"),
  "dev, /dev/xpu[0-9]\nlib, /usr/lib/x86_64-linux-gnu/libxpu.so*\r\nsym, " +
  "/usr/lib/x86_64-linux-gnu/libxpu.so\n# comment, here\ndir, /usr/share\n",
];

/** A valid CDI spec in JSON with `edits` as its device's edits. */
function cdiJson(edits: unknown): string {
  return JSON.stringify({
    cdiVersion: "0.5.0",
    kind: "xpu.dev/xpu",
    devices: [{ name: "0", containerEdits: edits }],
  });
}

interface TargetCase {
  exportName: string;
  seeds: string[];
  /** Inputs that once crashed a reader, by name. */
  regressions: Record<string, string>;
}

const TARGETS: TargetCase[] = [
  {
    exportName: "ociSpecTarget",
    seeds: OCI_SEEDS,
    regressions: {
      "2^53+1 where config.json has an object (process)": `{"ociVersion":"1.0.2","process":${BIG}}`,
      "2^53+1 where config.json has an object (linux)": `{"linux":${BIG},"process":{"env":[]}}`,
      "2^53+1 where config.json has an array (process.env)": `{"process":{"env":${BIG}}}`,
      "2^53+1 as a hook": `{"hooks":{"prestart":[${BIG}]}}`,
      "2^53+1 as the document": BIG,
      'an invalid "\\q" escape': '{"ociVersion":"1.0\\q"}',
      ...nesting("annotations"),
    },
  },
  {
    exportName: "ociStateTarget",
    seeds: STATE_SEEDS,
    regressions: {
      "2^53+1 as the document": BIG,
      "2^53+1 as the pid": `{"pid":${BIG},"bundle":"/b"}`,
      "a fractional pid": '{"pid":1.5,"bundle":"/b"}',
      "a pid too large for a double": '{"pid":1e400,"bundle":"/b"}',
      "2^53+1 as the bundle": `{"pid":1,"bundle":${BIG}}`,
      "a NUL in the bundle": '{"pid":1,"bundle":"/run/b\\u0000/../../etc"}',
      'an invalid "\\q" escape': '{"bundle":"/b\\q"}',
      ...nesting("annotations"),
    },
  },
  {
    exportName: "cdiJsonTarget",
    seeds: CDI_JSON_SEEDS,
    regressions: {
      'an invalid "\\q" escape': '{"cdiVersion":"0.5.0\\q","kind":"xpu.dev/xpu","devices":[]}',
      'a "\\u" escape with two hex digits': '{"cdiVersion":"\\u12"}',
      "a NUL in deviceNodes[].path": cdiJson({ deviceNodes: [{ path: "/dev/xpu0\0/x" }] }),
      "a NUL in deviceNodes[].hostPath": cdiJson({
        deviceNodes: [{ path: "/dev/xpu0", hostPath: "/dev/xpu0\0" }],
      }),
      "a NUL in mounts[].hostPath": cdiJson({
        mounts: [{ hostPath: "/usr/lib/libxpu.so\0.1", containerPath: "/usr/lib/libxpu.so" }],
      }),
      "a NUL in mounts[].containerPath": cdiJson({
        mounts: [{ hostPath: "/usr/lib/libxpu.so", containerPath: "/usr/lib/\0" }],
      }),
      "a NUL in hooks[].path": cdiJson({
        hooks: [{ hookName: "createContainer", path: "/usr/bin/xpu-ctk\0", env: [] }],
      }),
      "a path longer than Linux takes": cdiJson({ deviceNodes: [{ path: "/dev/x".repeat(700) }] }),
      "a name longer than Linux takes": cdiJson({ deviceNodes: [{ path: `/${"x".repeat(300)}` }] }),
      "a newline in a value quoted by a message": cdiJson({ env: ["NO_EQUALS\nSIGN"] }),
      "a newline in the kind": '{"cdiVersion":"0.5.0","kind":"xpu\\n.dev/xpu","devices":[]}',
      "2^53+1 where the spec has an object": cdiJson(Number(BIG)).replace("9007199254740992", BIG),
      ...nesting("kind"),
    },
  },
  {
    exportName: "cdiYamlTarget",
    seeds: CDI_YAML_SEEDS,
    regressions: {
      "an alias bomb": aliasBomb(),
      "an alias before its anchor": "cdiVersion: *v\nkind: &v xpu.dev/xpu\n",
      "an alias inside its own anchor": "cdiVersion: 0.5.0\nkind: xpu.dev/xpu\ndevices: &d [*d]\n",
      'an invalid "\\q" escape': 'cdiVersion: "0.5.0\\q"\n',
      "a NUL in deviceNodes[].path":
        'cdiVersion: 0.5.0\nkind: xpu.dev/xpu\ndevices:\n- name: "0"\n' +
        '  containerEdits:\n    deviceNodes:\n    - path: "/dev/xpu0\\0"\n',
      "a NUL in mounts[].hostPath":
        'cdiVersion: 0.5.0\nkind: xpu.dev/xpu\ndevices:\n- name: "0"\n' +
        '  containerEdits:\n    mounts:\n    - {hostPath: "/lib/a\\0", containerPath: /lib/a}\n',
      "a collection as a key": "cdiVersion: 0.5.0\n? [a]\n: b\n",
      "a !!set where an object goes":
        "cdiVersion: 0.5.0\nkind: xpu.dev/xpu\ncontainerEdits: !!set {a}\n" +
        'devices:\n- name: "0"\n  containerEdits: {env: [A=1]}\n',
      "a !!omap where a map of strings goes":
        "cdiVersion: 0.6.0\nkind: xpu.dev/xpu\nannotations: !!omap [a: b]\n" +
        'devices:\n- name: "0"\n  containerEdits: {env: [A=1]}\n',
      "5000 levels of flow sequences": `kind: ${nestedArrays(5_000)}\n`,
      "100000 levels of flow sequences": `kind: ${nestedArrays(100_000)}\n`,
      "5000 levels of flow maps": `kind: ${nestedObjects(5_000)}\n`,
      "5000 levels of block sequences": "- ".repeat(5_000) + "x\n",
      "100000 levels of block sequences": "- ".repeat(100_000) + "x\n",
      "5000 levels of explicit keys": "? ".repeat(5_000) + "x\n",
      // Found by the fuzzer: yaml's own repeated-key check took seconds on this.
      "10,000 repeated keys": "a:\n  ".repeat(10_000),
      "1000 levels of indented maps": Array.from({ length: 1_000 }, (_, i) => " ".repeat(i) + "a:")
        .join("\n"),
    },
  },
  {
    exportName: "csvTarget",
    seeds: CSV_SEEDS,
    regressions: {
      "a NUL in a path": "lib, /usr/lib/x86_64-linux-gnu/libxpu.so\0.1\n",
      "a NUL in a dev name": "dev, xpu\x000\n",
      "a character class out of order": "lib, /usr/lib/x86_64-linux-gnu/libxpu[z-a].so\n",
      "a newline-like separator in a type": "d\u2028ev, /dev/xpu0\n",
      "a name longer than Linux takes": `lib, /usr/${"x".repeat(300)}\n`,
      "a path longer than Linux takes": `dir, ${"/a".repeat(3_000)}\n`,
    },
  },
  {
    exportName: "jsonSyntaxTarget",
    seeds: [...OCI_SEEDS, ...STATE_SEEDS, ...CDI_JSON_SEEDS],
    regressions: {
      'an invalid "\\q" escape': '{"a":"\\q"}',
      'a "\\u" escape with two hex digits': '["\\u12"]',
      "a backslash at the end": '"\\',
      "2^53+1": BIG,
      "a repeated key before a syntax error": '{"a":1,"a":2,}',
      "5000 levels of arrays": nestedArrays(5_000),
      "100000 levels of arrays": nestedArrays(100_000),
      "100000 levels of objects, unclosed": '{"a":'.repeat(100_000),
    },
  },
];

for (const target of TARGETS) {
  Deno.test(`fuzz ${target.exportName}: typed errors, never a crash`, async () => {
    const names = Object.keys(target.regressions);
    const report = await fuzz(
      { module: import.meta.resolve("./document_targets.ts"), exportName: target.exportName },
      { seeds: target.seeds, timeoutMs: TIMEOUT_MS, budgetMs: BUDGET_MS },
      Object.values(target.regressions),
    );
    const failedRegressions = report.failures
      .filter((f) => f.index < names.length)
      .map((f) => `regression "${names[f.index]}"`);
    ok(
      report.failures.length === 0,
      [...failedRegressions, describeFailures(report.failures)].join("\n"),
    );
    ok(report.cases > names.length + target.seeds.length, `only ${report.cases} cases ran`);
  });
}
