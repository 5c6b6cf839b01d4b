/**
 * The TOML layer under the seeded mutation fuzzer (`tests/helpers/fuzz.ts`): containerd in place,
 * with a drop-in and configure-then-unconfigure, the cri-o drop-in, the toolkit's config.toml and
 * the TOML editor, seeded with every containerd, cri-o and config fixture and preceded by named
 * regressions. `XPU_FUZZ_CASES`, `XPU_FUZZ_SEED` and `XPU_FUZZ_BUDGET_MS` (per target, default
 * 3 s: the project's whole fuzz suite stays within a minute) override the run.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { describeFailures, fuzz } from "../helpers/fuzz.ts";

/** Every TOML text under the containerd, cri-o and config fixtures. */
function seeds(): string[] {
  const found: string[] = [];
  const read = (dir: string) => {
    for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) read(path);
      else if (/\.(toml|conf)$/.test(entry.name)) found.push(Deno.readTextFileSync(path));
    }
  };
  for (const dir of ["engines/containerd", "engines/crio", "config"]) {
    read(`${REPO_ROOT}/fixtures/${dir}`);
  }
  return found;
}

const CRI = '[plugins."io.containerd.grpc.v1.cri"]';

/** Inputs that once hung, crashed or were mis-edited, by name. */
export const REGRESSIONS: Record<string, string> = {
  "a UTF-8 BOM before the first key (the splitter made no progress on it)":
    `\uFEFFversion = 2\n\n${CRI}\n  enable_cdi = false\n`,
  "a BOM before a header": `\uFEFF${CRI}\n  sandbox_image = "pause"\n`,
  'an escaped quote in a header: [plugins."a\\"b"]': 'version = 2\n[plugins."a\\"b"]\n  x = 1\n',
  'a handler named with a quote already there: runtimes."a\\"b"': `version = 2\n${CRI}\n` +
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."a\\"b"]\n' +
    '  runtime_type = "io.containerd.runc.v2"\n',
  "\\U0001F600 in a key (JSON.parse threw on it)": 'version = 2\n[plugins."\\U0001F600"]\nx = 1\n',
  "\\U escapes, literal and multi-line strings in keys and values": "version = 2\n" +
    "['lit\\eral'.\"\\u00e9\\U0001F600\"]\n" +
    "a = '''\n[not.a.header]\nb = 1\n'''\n" +
    's = """x\\"""\n"""\n' +
    'm = """\\\n  trimmed """\n',
  'imports = ["/etc/[x"] (made a RegExp of it)':
    'version = 2\nimports = ["/etc/[x", "/etc/containerd/conf.d/[*.toml"]\n',
  "imports with a ? and a class that do cover the drop-in":
    'version = 2\nimports = ["/etc/containerd/conf.d/9?-[w-z]pu.*"]\n',
  "a relative import that covers the drop-in": 'version = 2\nimports = ["conf.d/*.toml"]\n',
  "CRLF line endings": `version = 2\r\n\r\n${CRI}\r\n  enable_cdi = false # c\r\n` +
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\r\n' +
    '  runtime_type = "io.containerd.runc.v2"\r\n',
  "CRLF without a final line break": `version = 2\r\n${CRI}\r\n  enable_cdi = false`,
  "a multi-line array with comments and brackets in strings":
    `version = 2\n${CRI}\n  x = [ # [\n    "]", # ]\n    '[',\n  ]\n  y = 1\n`,
  "a multi-line inline table (TOML 1.1)": `version = 2\n${CRI}\n  t = {\n    a = "}",\n  }\n`,
  "the CRI section as an inline table":
    `version = 2\nplugins = { "io.containerd.grpc.v1.cri" = {} }\n`,
  "runtimes as an array of tables":
    "version = 2\n[[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]]\n  name = 'x'\n",
  "containerd holding a string": `version = 2\n${CRI}\n  containerd = "x"\n`,
  "enable_cdi as a table": `version = 2\n[plugins."io.containerd.grpc.v1.cri".enable_cdi]\n`,
  "dotted keys implying the CRI tables":
    'version = 2\n[plugins]\n"io.containerd.grpc.v1.cri".containerd.snapshotter = "native"\n',
  "runc's options with a local date, inf, nan, -0.0 and a float beyond 2^53": `version = 2\n` +
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n' +
    "  D = 1979-05-27\n  T = 07:32:00\n  I = -inf\n  N = nan\n  Z = -0.0\n" +
    "  B = 12345678901234567890.0\n",
  "a default runtime naming our handler before configure": `version = 2\n` +
    '[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "xpu"\n',
  "__proto__ and constructor as keys": `version = 2\n` +
    '[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "constructor"\n' +
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  __proto__ = 1\n',
  "version 1 with the cri plugin": '[plugins.cri.containerd]\n  snapshotter = "overlayfs"\n',
  "an unknown version": "version = 4\n",
  "a header without a line break before the next key": "[a]b = 1\n",
  "an unterminated string in a header": '[a."b\n',
  "a lone surrogate escape": 'a = "\\uD800"\n',
  "NUL and DEL": 'a = "\u0000"\nb = "\u007f"\n',
  "empty text": "",
  "only a BOM": "\uFEFF",
};

/** The fixtures, and the regressions that parse, to mutate from. */
function mutationSeeds(): string[] {
  return [...seeds(), ...Object.values(REGRESSIONS).filter((text) => text.length < 10_000)];
}

const TARGETS = [
  "containerdInPlace",
  "containerdDropIn",
  "containerdRoundTrip",
  "crioDropIn",
  "toolkitConfig",
  "tomlEdits",
] as const;

/** Per target; `XPU_FUZZ_BUDGET_MS` overrides it (in the fuzzer). */
const budget = 3_000;

for (const exportName of TARGETS) {
  Deno.test(`fuzz TOML: ${exportName}`, async () => {
    const report = await fuzz(
      { module: import.meta.resolve("./toml_targets.ts"), exportName },
      { seeds: mutationSeeds(), cases: undefined, timeoutMs: 4_000, budgetMs: budget },
      Object.values(REGRESSIONS),
    );
    deepStrictEqual(report.failures.length, 0, describeFailures(report.failures));
    ok(report.ok > 0, "some cases were accepted");
    ok(report.typedErrors > 0, "some cases were refused");
    console.log(
      `${exportName}: ${report.cases} cases (${report.ok} ok, ${report.typedErrors} refused) ` +
        `in ${report.elapsedMs} ms`,
    );
  });
}
