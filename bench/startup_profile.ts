/**
 * Where the shim's start-up goes on `create`: a profile in wall-clock increments, each stage
 * measured against Deno's hello world in the same interleaved run, under `deno run` of the
 * sources and under the bundled artefact.
 *
 * ```sh
 * deno run -A bench/startup_profile.ts                      # 30 iterations, csv mode
 * deno run -A bench/startup_profile.ts --iterations 60 --mode legacy
 * deno run -A bench/startup_profile.ts --mode cdi --cdi-format json   # default yaml
 * deno run -A bench/startup_profile.ts --baseline-sources before=/tmp/old-checkout \
 *   --baseline-artefact before=/tmp/old-dist/x86_64-unknown-linux-gnu
 * ```
 *
 * Each stage is a small program that does what the shim does up to that point, the stages
 * cumulative:
 *
 * | stage | what the program does                                                            |
 * | ----- | -------------------------------------------------------------------------------- |
 * | a     | Deno's hello world (`bench/hello.ts`)                                            |
 * | b     | + the pass-through modules but the config's (errors, runc args, log, process, …) |
 * | c     | + `smol-toml`                                                                    |
 * | d     | + the config modules, `loadConfig`, the low-level runtime looked up              |
 * | e     | + binding the libc symbols `create` uses (FFI `dlopen`)                          |
 * | f     | + `import()` of the create graph, as the shim does                               |
 * | g     | + `editBundleForCreate` on a real bundle (loading the mode's edit on demand)     |
 * | h     | the shim's own entry: a full `create`, then exec of the low-level runtime        |
 * | i     | bundled only: `h` through the launcher script (bash), as installed               |
 * | j     | `h` (bundled: `i`) with a warm `xpu-ctk runtime-server` of the same kind serving it |
 *
 * The bundle's `config.json` asks for one device on a simulated driver root; the low-level
 * runtime is `/bin/true`, so runc's own cost is out and `h − a` is the shim's own cost. The
 * sources run with the flags the tests use (`deno run -A --config deno.json …`); the bundled
 * stages are bundled by the build's own `bundleTools` (code splitting, lazy `require`, deferred
 * dynamic imports), each on its own and for the platform the shim is bundled for, and run on the
 * artefact's `lib/deno` with the launcher's flags and environment (its cache dir too, filled by
 * the check run before the iterations, as on a host after its first container). The artefact itself is
 * built fresh by `build.ts --kind bundled` into a temp dir.
 *
 * Every iteration runs every variant once, the order rotated by one each iteration, so machine
 * load hits all alike. Reported per variant: median and p90 of the wall clock, and the medians of
 * the paired differences (same iteration) to hello world and to the stage before. Timings are
 * evidence, not a test: the exit status is 0 whatever they say. Needs root (device nodes).
 *
 * `--baseline-sources [LABEL=]DIR` (a copy of `bin/`, `src/`, `deno.json`, `deno.lock`) and
 * `--baseline-artefact [LABEL=]DIR` (a `dist/<target>` dir) add their full `create` (`h`, and
 * for an artefact `i`) as further variants of the same run, for a paired before/after; each may
 * be given more than once.
 *
 * @module
 */

import { makeSimulatedDriverRoot, REPO_ROOT } from "../tests/helpers/container_lab.ts";
import { toolArgv } from "../tests/helpers/toolkit_commands.ts";
import { bundleGroups, bundleTools } from "../scripts/build/bundle.ts";
import { CACHE_DIR, SHORT_LIVED_RUN_FLAGS } from "../scripts/build/launcher.ts";
import { DENO_SETTINGS } from "../src/core/fast_path/launcher_cache.ts";
import { RUNTIME_SERVER_SOCKET_ENV } from "../src/runtime/runtime_server_protocol.ts";
import { startRuntimeServer, stopRuntimeServer } from "./runtime_server_process.ts";

/** The modes the profile can serve the request in. */
export const MODES = ["csv", "legacy", "cdi"] as const;
/** One of {@link MODES}. */
export type Mode = typeof MODES[number];
/** The formats a CDI spec can be written in (mode `cdi`); YAML needs the `yaml` package. */
const CDI_FORMATS = ["yaml", "json"] as const;
type CdiFormat = typeof CDI_FORMATS[number];

/** The stages, in order; each program does what the one before does, and more. */
const STAGES = [
  { id: "a", what: "hello world" },
  { id: "b", what: "+ pass-through modules" },
  { id: "c", what: "+ smol-toml" },
  { id: "d", what: "+ config: load, lookup" },
  { id: "e", what: "+ libc dlopen" },
  { id: "f", what: "+ import() create graph" },
  { id: "g", what: "+ editBundleForCreate" },
  { id: "h", what: "shim entry: full create" },
  { id: "j", what: "h, a runtime server warm" },
] as const;
/** The stages that are the shim itself, not a program written for the profile. */
const SHIM_STAGES: readonly string[] = ["h", "j"];
type StageId = typeof STAGES[number]["id"];

/**
 * The libc symbols the create step binds: the spec's read and atomic write, the device lookups and
 * the exec all go through raw system calls, and the exec reads errno's location.
 */
const CREATE_SYMBOLS = ["syscall", "__errno_location"];

/**
 * The text of stage `stage`'s program. Modules are named by absolute file URL, so the programs can
 * live in a temp dir; `smol-toml` resolves through the repository's import map.
 */
function probeSource(stage: StageId, src: string): string {
  const order: readonly StageId[] = STAGES.map((s) => s.id);
  const upTo = (id: StageId) => order.indexOf(stage) >= order.indexOf(id);
  if (stage === "a") return 'console.log("hello");\n';
  const lines = [
    `import { errorMessage, exitCodeOf } from "${src}/core/errors.ts";`,
    `import { findFirstExecutable } from "${src}/core/io/executable_lookup.ts";`,
    `import { createLogger } from "${src}/core/io/log.ts";`,
    `import { currentArgv0, execve } from "${src}/core/io/process.ts";`,
    `import { parseRuncArgs } from "${src}/core/oci/runc_args.ts";`,
    `import { versionLine } from "${src}/core/version.ts";`,
  ];
  if (upTo("c")) lines.push(`import { parse as parseToml } from "smol-toml";`);
  if (upTo("d")) lines.push(`import { loadConfig } from "${src}/core/config/config_file.ts";`);
  if (upTo("e")) lines.push(`import { libc } from "${src}/core/io/libc.ts";`);
  lines.push(
    "const keep: unknown[] = [errorMessage, exitCodeOf, findFirstExecutable, createLogger,",
    "  currentArgv0, execve, versionLine];",
    "const runc = parseRuncArgs(Deno.args);",
    "const env = Deno.env.toObject();",
    "const cwd = Deno.cwd();",
  );
  if (upTo("c")) lines.push("keep.push(parseToml);");
  if (upTo("d")) {
    lines.push(
      "const loaded = loadConfig(env);",
      "const config = loaded.config;",
      "const logger = createLogger({ level: config.runtime.logLevel, sinks: [] });",
      "if (!findFirstExecutable(config.runtime.runtimes, { path: env.PATH })) Deno.exit(3);",
    );
  }
  if (upTo("e")) {
    lines.push(
      "const symbols = libc() as unknown as Record<string, unknown>;",
      `for (const name of ${JSON.stringify(CREATE_SYMBOLS)}) keep.push(symbols[name]);`,
    );
  }
  if (upTo("f")) {
    lines.push(
      "const [{ editBundleForCreate }, { realCreateFs }, { modeFromExecutableName }] =",
      `  await Promise.all([import("${src}/runtime/create.ts"),`,
      `    import("${src}/runtime/create_fs.ts"), import("${src}/core/request/mode.ts")]);`,
      "keep.push(editBundleForCreate, realCreateFs, modeFromExecutableName);",
    );
  }
  if (upTo("g")) {
    lines.push(
      "await editBundleForCreate({",
      "  bundle: runc.bundle ?? cwd, cwd, config, env, logger, fs: realCreateFs,",
      "  pinnedMode: modeFromExecutableName(currentArgv0()), configPath: loaded.path,",
      "});",
    );
  }
  lines.push("if (keep.length === 0 || runc.command !== 'create') Deno.exit(4);", "");
  return lines.join("\n");
}

/** One way of starting a program: argv, extra environment, and whether it edits the spec. */
interface Variant {
  name: string;
  argv: string[];
  env: Record<string, string>;
  edits: boolean;
}

/** The result of one run. */
interface RunResult {
  ms: number;
  code: number;
  stderr: string;
}

async function run(variant: Variant, args: readonly string[]): Promise<RunResult> {
  const [program, ...rest] = variant.argv;
  const start = performance.now();
  const out = await new Deno.Command(program, {
    args: [...rest, ...args],
    env: variant.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  return { ms, code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** `--name value` from `args`, or `fallback`. */
function option(args: readonly string[], name: string, fallback?: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}

/** Every value of a repeatable `--name value`. */
function options(args: readonly string[], name: string): string[] {
  return args.flatMap((arg, i) => arg === name && i + 1 < args.length ? [args[i + 1]] : []);
}

async function sh(program: string, args: string[], env?: Record<string, string>): Promise<void> {
  const out = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `${program} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/** The lab: a simulated driver root, the mode's files, a config, a bundle asking for a device. */
export async function makeProfileLab(dir: string, mode: Mode, cdiFormat: CdiFormat = "yaml") {
  Deno.mkdirSync(dir);
  const driverRoot = await makeSimulatedDriverRoot(`${dir}/host`);
  Deno.mkdirSync(`${dir}/specs`);
  Deno.copyFileSync(`${REPO_ROOT}/fixtures/csv/xpu.csv`, `${dir}/specs/xpu.csv`);
  Deno.mkdirSync(`${dir}/cdi`);
  const config = `${dir}/config.toml`;
  Deno.writeTextFileSync(
    config,
    [
      "[xpu-container-cli]",
      `root = "${driverRoot}"`,
      'path = "/bin/true"',
      "[xpu-container-runtime]",
      `mode = "${mode}"`,
      'runtimes = ["/bin/true"]',
      "[xpu-container-runtime.modes.csv]",
      `mount-spec-path = "${dir}/specs"`,
      "[xpu-container-runtime.modes.cdi]",
      `spec-dirs = ["${dir}/cdi"]`,
      "[xpu-container-runtime-hook]",
      'path = "/bin/true"',
      "[xpu-ctk]",
      'path = "/bin/true"',
      "",
    ].join("\n"),
  );
  const env = { XPU_CTK_CONFIG_FILE_PATH: config };
  if (mode === "cdi") {
    const ctk = toolArgv("xpu-ctk");
    await sh(ctk[0], [
      ...ctk.slice(1),
      "cdi",
      "generate",
      "--driver-root",
      driverRoot,
      "--output",
      `${dir}/cdi/xpu.${cdiFormat}`,
    ], env);
  }
  // runc's default spec, as `runc spec` writes it (tab-indented); no rootfs: the runtime is
  // /bin/true.
  const spec = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/fixtures/oci/runc-spec.json`));
  spec.process.terminal = false;
  spec.root.readonly = false;
  spec.process.args = ["true"];
  spec.process.env = [
    ...spec.process.env,
    `XPU_VISIBLE_DEVICES=${mode === "cdi" ? "xpu.dev/xpu=0" : "0"}`,
  ];
  Deno.mkdirSync(`${dir}/bundle/rootfs`, { recursive: true });
  const specPath = `${dir}/bundle/config.json`;
  const pristine = new TextEncoder().encode(JSON.stringify(spec, null, "\t"));
  Deno.writeFileSync(specPath, pristine);
  return { env, specPath, pristine, bundle: `${dir}/bundle` };
}

/** The variants of one kind (sources or bundled), stage by stage. */
function kindVariants(
  kind: "sources" | "bundled",
  probe: (stage: StageId) => string,
  runner: string[],
  env: Record<string, string>,
  entry: { direct: string[]; launcher?: string[]; serverSocket: string },
): Variant[] {
  const variants: Variant[] = STAGES.filter((s) => !SHIM_STAGES.includes(s.id)).map((s) => ({
    name: `${kind} ${s.id}`,
    argv: [...runner, probe(s.id)],
    env,
    edits: s.id === "g",
  }));
  variants.push({ name: `${kind} h`, argv: entry.direct, env, edits: true });
  if (entry.launcher) {
    variants.push({ name: `${kind} i`, argv: entry.launcher, env, edits: true });
  }
  variants.push({
    name: `${kind} j`,
    argv: entry.launcher ?? entry.direct,
    env: { ...env, [RUNTIME_SERVER_SOCKET_ENV]: entry.serverSocket },
    edits: true,
  });
  return variants;
}

async function main(args: string[]): Promise<number> {
  const iterations = Number(option(args, "--iterations", "30"));
  const mode = option(args, "--mode", "csv") as Mode;
  const cdiFormat = option(args, "--cdi-format", "yaml") as CdiFormat;
  if (
    !Number.isInteger(iterations) || iterations < 1 || !MODES.includes(mode) ||
    !CDI_FORMATS.includes(cdiFormat)
  ) {
    console.error(
      "Cannot run the profile: give --iterations a whole number ≥ 1, --mode one of " +
        `${MODES.join(", ")} and --cdi-format one of ${CDI_FORMATS.join(", ")}`,
    );
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error("The profile makes device nodes for its simulated host: run it as root.");
    return 1;
  }
  const baselineSources = options(args, "--baseline-sources");
  const baselineArtefacts = options(args, "--baseline-artefact");
  const dir = Deno.makeTempDirSync({ prefix: "xpu-startup-" });
  const servers: Deno.ChildProcess[] = [];
  try {
    const lab = await makeProfileLab(`${dir}/lab`, mode, cdiFormat);
    const target = `${Deno.build.arch}-unknown-linux-gnu`;
    await sh(Deno.execPath(), [
      "run",
      "-A",
      `${REPO_ROOT}/build.ts`,
      "--kind",
      "bundled",
      "--target",
      target,
      "--out-dir",
      `${dir}/dist`,
    ]);
    const artefact = `${dir}/dist/${target}`;

    // The stage programs: as sources, and bundled the way the artefact is.
    Deno.mkdirSync(`${dir}/probes`);
    const src = new URL("../src", import.meta.url).href;
    const probeFiles = STAGES.filter((s) => !SHIM_STAGES.includes(s.id)).map((s) => {
      const path = `${dir}/probes/stage_${s.id}.ts`;
      Deno.writeTextFileSync(path, probeSource(s.id, src));
      return path;
    });
    // Each on its own and for the shim's platform, as the build bundles the shim.
    const shimGroup = bundleGroups(["bin/xpu-container-runtime.ts"])[0];
    for (const [i, file] of probeFiles.entries()) {
      await bundleTools(REPO_ROOT, {
        entries: [file],
        outDir: `${dir}/probes-js/${i}`,
        groups: [{ entries: [file], platform: shimGroup.platform }],
      });
    }

    const create = ["--root", `${dir}/state`, "create", "--bundle", lab.bundle, "profiled"];
    const sourcesRunner = toolArgv("xpu-ctk").slice(0, -1);
    const bundledRunner = [`${artefact}/lib/deno`, "run", ...SHORT_LIVED_RUN_FLAGS];
    // No variant but `j` asks a runtime server, whatever listens on this host.
    const labEnv = { ...lab.env, [RUNTIME_SERVER_SOCKET_ENV]: "" };
    const bundledEnv = {
      ...labEnv,
      // The launcher's cache dir, as the launchers (stages i and j) use it.
      DENO_DIR: `${artefact}/${CACHE_DIR}`,
      ...DENO_SETTINGS,
    };
    Deno.mkdirSync(`${dir}/servers`, { mode: 0o700 });
    const sockets = {
      sources: `${dir}/servers/sources.sock`,
      bundled: `${dir}/servers/bundled.sock`,
    };
    servers.push(await startRuntimeServer(toolArgv("xpu-ctk"), sockets.sources, labEnv));
    servers.push(await startRuntimeServer([`${artefact}/xpu-ctk`], sockets.bundled, labEnv));
    const variants = [
      ...kindVariants(
        "sources",
        (id) => id === "a" ? `${REPO_ROOT}/bench/hello.ts` : `${dir}/probes/stage_${id}.ts`,
        sourcesRunner,
        labEnv,
        { direct: toolArgv("xpu-container-runtime"), serverSocket: sockets.sources },
      ),
      ...kindVariants(
        "bundled",
        (id) => `${dir}/probes-js/${STAGES.findIndex((s) => s.id === id)}/stage_${id}.js`,
        bundledRunner,
        bundledEnv,
        {
          direct: [...bundledRunner, `${artefact}/lib/js/xpu-container-runtime.js`],
          launcher: [`${artefact}/xpu-container-runtime`],
          serverSocket: sockets.bundled,
        },
      ),
    ];
    for (const { label, base } of baselineSources.map(baseline)) {
      variants.push({
        name: `sources h (${label})`,
        argv: [
          ...sourcesRunner.slice(0, -1),
          `${base}/deno.json`,
          `${base}/bin/xpu-container-runtime.ts`,
        ],
        env: labEnv,
        edits: true,
      });
    }
    for (const { label, base } of baselineArtefacts.map(baseline)) {
      variants.push({
        name: `bundled h (${label})`,
        argv: [
          `${base}/lib/deno`,
          "run",
          ...SHORT_LIVED_RUN_FLAGS,
          `${base}/lib/js/xpu-container-runtime.js`,
        ],
        env: bundledEnv,
        edits: true,
      });
      variants.push({
        name: `bundled i (${label})`,
        argv: [`${base}/xpu-container-runtime`],
        env: labEnv,
        edits: true,
      });
    }
    // Warm-up (Deno's caches, the page cache), and the spec every editing variant must write.
    let edited: string | undefined;
    for (const variant of [...variants, ...variants]) {
      Deno.writeFileSync(lab.specPath, lab.pristine);
      const result = await run(variant, create);
      if (result.code !== 0) {
        throw new Error(`${variant.name} exited ${result.code}: ${result.stderr.trim()}`);
      }
      const after = Deno.readTextFileSync(lab.specPath);
      if (variant.edits) {
        edited ??= after;
        if (after !== edited) throw new Error(`${variant.name} wrote another spec than the shim`);
      } else if (after !== new TextDecoder().decode(lab.pristine)) {
        throw new Error(`${variant.name} changed the spec`);
      }
    }
    if (edited === new TextDecoder().decode(lab.pristine)) {
      throw new Error("the shim did not edit the spec: the profile would not measure create");
    }

    const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let i = 0; i < iterations; i++) {
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(i + k) % variants.length];
        if (variant.edits) Deno.writeFileSync(lab.specPath, lab.pristine);
        const result = await run(variant, create);
        if (result.code !== 0) {
          throw new Error(`${variant.name} exited ${result.code}: ${result.stderr.trim()}`);
        }
        if (variant.edits && Deno.readTextFileSync(lab.specPath) !== edited) {
          throw new Error(`${variant.name} did not edit the spec`);
        }
        samples.get(variant.name)!.push(result.ms);
      }
    }
    printTable(samples, iterations, mode === "cdi" ? `cdi (${cdiFormat} spec)` : mode);
    return 0;
  } finally {
    for (const server of servers) await stopRuntimeServer(server);
    Deno.removeSync(dir, { recursive: true });
  }
}

/** A baseline option's label and directory: `LABEL=DIR`, or `DIR` labelled by its last name. */
function baseline(arg: string): { label: string; base: string } {
  const at = arg.indexOf("=");
  const labelled = at > 0 && !arg.slice(0, at).includes("/");
  const base = (labelled ? arg.slice(at + 1) : arg).replace(/\/+$/, "");
  return { label: labelled ? arg.slice(0, at) : base.slice(base.lastIndexOf("/") + 1), base };
}

/** The median of the paired differences `a[i] − b[i]`. */
function pairedMedian(a: readonly number[], b: readonly number[]): number {
  return quantile(a.map((value, i) => value - b[i]), 0.5);
}

function printTable(samples: Map<string, number[]>, iterations: number, mode: string): void {
  const f = (ms: number) => ms.toFixed(1).padStart(7);
  const width = Math.max(...[...samples.keys()].map((name) => name.length));
  console.log(
    `${iterations} interleaved iterations, mode ${mode}, Deno ${Deno.version.deno}; ` +
      "Δ are medians of paired differences (same iteration), in ms",
  );
  console.log(
    `${"variant".padEnd(width)} ${"what".padEnd(26)}  median     p90  Δhello   Δprev`,
  );
  const verdicts: string[] = [];
  for (const kind of ["sources", "bundled"]) {
    const hello = samples.get(`${kind} a`)!;
    let previous: number[] | undefined;
    for (const [name, values] of samples) {
      if (!name.startsWith(`${kind} `)) continue;
      const id = name.split(" ")[1];
      const what = id === "i"
        ? "h through the launcher"
        : STAGES.find((s) => s.id === id)?.what ?? "";
      const baseline = name.includes("(");
      const prev = baseline ? undefined : previous;
      console.log(
        `${name.padEnd(width)} ${what.padEnd(26)} ${f(quantile(values, 0.5))} ${
          f(quantile(values, 0.9))
        } ${f(pairedMedian(values, hello))} ${prev ? f(pairedMedian(values, prev)) : "      -"}`,
      );
      if (!baseline) previous = values;
      if (id === "h" || id === "i" || id === "j") {
        const own = pairedMedian(values, hello);
        const how = id === "i"
          ? "launcher + "
          : id === "j"
          ? `${kind === "bundled" ? "launcher + " : ""}runtime server + `
          : "";
        verdicts.push(
          `${name}: ${how}shim create − hello world = ` +
            `${own.toFixed(1)} ms ` +
            `(target ≤ 10 ms: ${own <= 10 ? "met" : "missed"})`,
        );
      }
    }
  }
  for (const verdict of verdicts) console.log(verdict);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
