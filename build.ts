/**
 * The release build, per target (x86_64 and aarch64 Linux) into `dist/<target>/`, of one of two
 * kinds:
 *
 * - **compiled**: `deno compile` of every `bin/*.ts` entry module, one self-contained executable
 *   each. `deno compile` needs Deno's runtime for compiling (`denort`), which it downloads from
 *   dl.deno.land; offline hosts point `DENORT_BIN` (the host's target) or `DENORT_BIN_X86_64` /
 *   `DENORT_BIN_AARCH64` (per target) at an unzipped `denort` of the same Deno version.
 * - **bundled**, where no `denort` can be had: Deno's own runtime binary for the target from its
 *   npm package (`lib/deno`, see `scripts/build/deno_runtime.ts`), the tools bundled with their
 *   npm dependencies (`lib/js/`, see `scripts/build/bundle.ts`), and the five executables as
 *   small launchers sharing that runtime (`scripts/build/launcher.ts`). Nothing is resolved,
 *   fetched or written when they run.
 *
 * ```sh
 * deno task build                                   # both targets; compiled, else bundled
 * deno task build --kind bundled                    # bundled, without trying deno compile
 * deno task build --target x86_64-unknown-linux-gnu --out-dir /tmp/xpu-dist
 * DENORT_BIN=/opt/denort deno task build --target x86_64-unknown-linux-gnu   # compiled, offline
 * DENO_RUNTIME_AARCH64=/tmp/linux-arm64-glibc-2.9.6.tgz deno task build --kind bundled
 * ```
 *
 * Each target is built beside its output and moved into place when done, so a failed build
 * leaves the previous `dist/<target>/` as it was (or none), never a half-filled one.
 *
 * @module
 */

import { VERSION } from "./src/core/version.ts";

/** The targets built by default. */
export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;
/** One build target. */
export type Target = typeof TARGETS[number];

/** One `deno compile` run. */
export interface BuildStep {
  target: Target;
  /** Entry module, relative to the repository root (`bin/xpu-ctk.ts`). */
  entry: string;
  /** Output file (`<outDir>/<target>/xpu-ctk`). */
  output: string;
  /** The `denort` binary to use, when the environment names one for this target. */
  denort?: string;
}

/** Inputs of {@link planBuild}. */
export interface BuildInput {
  /** Entry module file names in `bin/`. */
  entries: readonly string[];
  targets: readonly Target[];
  env: Readonly<Record<string, string | undefined>>;
  /** The target this machine runs (the one `DENORT_BIN` is for). */
  hostTarget: string;
  outDir?: string;
}

/** The `denort` override for a target: `DENORT_BIN_<ARCH>`, else `DENORT_BIN` for the host's. */
export function denortFor(
  target: Target,
  env: Readonly<Record<string, string | undefined>>,
  hostTarget: string,
): string | undefined {
  const arch = target.split("-")[0].toUpperCase();
  return env[`DENORT_BIN_${arch}`] ||
    (target === hostTarget ? env.DENORT_BIN || undefined : undefined);
}

/** Plans every compile step: each entry for each target, sorted by target then name. */
export function planBuild(input: BuildInput): BuildStep[] {
  const outDir = input.outDir ?? "dist";
  const names = input.entries.filter((e) => e.endsWith(".ts")).sort();
  return input.targets.flatMap((target) =>
    names.map((file) => {
      const step: BuildStep = {
        target,
        entry: `bin/${file}`,
        output: `${outDir}/${target}/${file.slice(0, -3)}`,
      };
      const denort = denortFor(target, input.env, input.hostTarget);
      if (denort) step.denort = denort;
      return step;
    })
  );
}

/** The message for a compile that failed, with the fix. */
export function explainCompileFailure(
  step: BuildStep,
  stderr: string,
  denoVersion: string,
): string {
  const zip = `https://dl.deno.land/release/v${denoVersion}/denort-${step.target}.zip`;
  const variable = `DENORT_BIN_${step.target.split("-")[0].toUpperCase()}`;
  if (step.denort !== undefined && /Could not find denort/i.test(stderr)) {
    return `Cannot compile "${step.entry}" for ${step.target}: no denort at "${step.denort}": ` +
      `point ${variable} (or DENORT_BIN) at the unzipped denort of ${zip}`;
  }
  if (/dl\.deno\.land|error sending request|dns error/i.test(stderr)) {
    return `Cannot compile "${step.entry}" for ${step.target}: the Deno runtime for compiling ` +
      `(denort) cannot be downloaded from this machine: on a connected machine fetch ${zip}, ` +
      `unzip it here and set ${variable}=<path to denort> (DENORT_BIN for this machine's target)`;
  }
  const last = stderr.trim().split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ?? "";
  return `Cannot compile "${step.entry}" for ${step.target}: ${last.trim()}: fix the error above`;
}

/** The target this machine runs. */
export function currentTarget(): string {
  return `${Deno.build.arch}-unknown-linux-gnu`;
}

/** What to build: compiled executables, the bundled artefact, or the first that can be had. */
export const KINDS = ["auto", "compiled", "bundled"] as const;
/** One of {@link KINDS}. */
export type Kind = typeof KINDS[number];

/** Reads `--target T` (repeatable), `--out-dir DIR` and `--kind K`. */
export function parseBuildArgs(
  args: readonly string[],
): { targets: Target[]; outDir: string; kind: Kind } {
  const targets: Target[] = [];
  let outDir = "dist";
  let kind: Kind = "auto";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const value = inline ?? args[++i];
    if (flag === "--out-dir" && value) outDir = value;
    else if (flag === "--kind" && (KINDS as readonly string[]).includes(value ?? "")) {
      kind = value as Kind;
    } else if (flag === "--kind") {
      throw new Error(`Cannot build: unknown kind "${value}": use one of ${KINDS.join(", ")}`);
    } else if (flag === "--target" && (TARGETS as readonly string[]).includes(value ?? "")) {
      targets.push(value as Target);
    } else if (flag === "--target") {
      throw new Error(`Cannot build: unknown target "${value}": use one of ${TARGETS.join(", ")}`);
    } else {
      throw new Error(
        `Cannot build: unknown argument "${arg}": use --target T, --out-dir DIR or --kind K`,
      );
    }
  }
  return { targets: targets.length > 0 ? targets : [...TARGETS], outDir, kind };
}

/** Whether a failed `deno compile` failed only because `denort` could not be downloaded. */
export function denortUnavailable(step: BuildStep, stderr: string): boolean {
  return step.denort === undefined &&
    /dl\.deno\.land|error sending request|dns error/i.test(stderr);
}

const decoder = new TextDecoder();

/** A failure the build reports in one line and exits 1 with. */
class BuildError extends Error {}

/** `deno compile` could not download `denort` (and no `DENORT_BIN…` names one). */
class DenortUnavailable extends BuildError {}

/** Removes `path` and all below it; a missing one is fine. */
function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Replaces `dir` with the finished `staging` dir (the old one removed only once it is there). */
function moveIntoPlace(staging: string, dir: string): void {
  const retired = `${dir}.old-${Deno.pid}`;
  let replacing = true;
  try {
    Deno.renameSync(dir, retired);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    replacing = false;
  }
  Deno.renameSync(staging, dir);
  if (replacing) Deno.removeSync(retired, { recursive: true });
}

/** Compiles `steps` (one target) into their staging outputs. */
async function compileTarget(root: string, steps: readonly BuildStep[]): Promise<void> {
  for (const step of steps) {
    const env: Record<string, string> = {};
    if (step.denort) env.DENORT_BIN = step.denort;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--allow-all",
        "--no-prompt",
        "--config",
        `${root}deno.json`,
        "--target",
        step.target,
        "--output",
        step.output,
        `${root}${step.entry}`,
      ],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const stderr = decoder.decode(out.stderr);
      const message = explainCompileFailure(step, stderr, Deno.version.deno);
      throw denortUnavailable(step, stderr)
        ? new DenortUnavailable(message)
        : new BuildError(message);
    }
    if (step.target === currentTarget()) {
      // A denort that is really a plain deno binary compiles fine but runs as deno itself.
      const probe = await new Deno.Command(step.output, {
        args: ["--version"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (decoder.decode(probe.stdout).startsWith("deno ")) {
        throw new BuildError(
          `Cannot use "${step.denort}" as the Deno runtime for compiling: it is a deno binary, ` +
            `not denort: point DENORT_BIN at the unzipped denort-${step.target}.zip`,
        );
      }
    }
  }
}

/**
 * Compiles one target's `steps`; `false` when `deno compile` cannot get `denort` and `kind` lets
 * the bundled artefact stand in (said in one line).
 */
async function compiles(root: string, steps: readonly BuildStep[], kind: Kind): Promise<boolean> {
  Deno.mkdirSync(steps[0].output.slice(0, steps[0].output.lastIndexOf("/")), { recursive: true });
  try {
    await compileTarget(root, steps);
    return true;
  } catch (error) {
    if (kind === "compiled" || !(error instanceof DenortUnavailable)) throw error;
    console.error(
      `${error.message.split(": on a connected machine")[0]}: building the bundled artefact ` +
        `instead (--kind compiled stops here)`,
    );
    return false;
  }
}

/**
 * Fills `dir` with the bundled artefact of `target`: launchers, `lib/deno`, `lib/js/`, and the
 * launchers' cache dir `lib/cache` (0700, empty).
 */
async function bundleTarget(
  options: { target: Target; dir: string; bundle: string; tools: readonly string[] },
): Promise<string> {
  const { installRuntime } = await import("./scripts/build/deno_runtime.ts");
  const { BUNDLE_DIR, CACHE_DIR, renderLauncher, RUNTIME_PATH } = await import(
    "./scripts/build/launcher.ts"
  );
  Deno.mkdirSync(`${options.dir}/${BUNDLE_DIR}`, { recursive: true });
  for (const entry of Deno.readDirSync(options.bundle)) {
    Deno.copyFileSync(
      `${options.bundle}/${entry.name}`,
      `${options.dir}/${BUNDLE_DIR}/${entry.name}`,
    );
  }
  const from = await installRuntime(
    {
      target: options.target,
      hostTarget: currentTarget(),
      denoVersion: Deno.version.deno,
      denoPath: Deno.execPath(),
      env: Deno.env.toObject(),
    },
    {
      dest: `${options.dir}/${RUNTIME_PATH}`,
      cacheDir: `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`}` +
        "/xpu-container-toolkit/deno-runtime",
    },
  );
  for (const tool of options.tools) {
    Deno.writeTextFileSync(`${options.dir}/${tool}`, renderLauncher(tool), { mode: 0o755 });
    Deno.chmodSync(`${options.dir}/${tool}`, 0o755);
  }
  if (options.target === currentTarget()) {
    // The artefact must run here as it will on a host: a version line from every launcher.
    for (const tool of options.tools) {
      const probe = await new Deno.Command(`${options.dir}/${tool}`, {
        args: ["--version"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = decoder.decode(probe.stdout) + decoder.decode(probe.stderr);
      if (probe.code !== 0 || !text.includes(VERSION)) {
        throw new BuildError(
          `Cannot build the bundled ${tool} for ${options.target}: it does not run: ` +
            `${text.trim().split("\n").slice(-1)[0] || `exit ${probe.code}`}: fix the error above`,
        );
      }
    }
  }
  // Made last: the probes above run without it, so the artefact ships it empty (what Deno keeps
  // there names modules by their path, which is the host's to fill).
  Deno.mkdirSync(`${options.dir}/${CACHE_DIR}`);
  Deno.chmodSync(`${options.dir}/${CACHE_DIR}`, 0o700);
  return from;
}

/** Runs the build; returns the exit status. */
async function main(args: readonly string[]): Promise<number> {
  const root = decodeURIComponent(new URL(".", import.meta.url).pathname);
  const entries = [...Deno.readDirSync(`${root}bin`)].filter((e) => e.isFile).map((e) => e.name);
  const { targets, outDir: out, kind } = parseBuildArgs(args);
  const outDir = out.startsWith("/") ? out : `${root}${out}`;
  const staging = `${outDir}/.build-${Deno.pid}`;
  const steps = planBuild({
    entries,
    targets,
    env: Deno.env.toObject(),
    hostTarget: currentTarget(),
    outDir: staging,
  });
  const tools = entries.filter((e) => e.endsWith(".ts")).map((e) => e.slice(0, -3)).sort();
  try {
    let bundle: string | undefined;
    for (const target of targets) {
      const dir = `${staging}/${target}`;
      let built = "compiled executables (deno compile)";
      if (
        kind === "bundled" || !await compiles(root, steps.filter((s) => s.target === target), kind)
      ) {
        removeIfPresent(dir);
        if (bundle === undefined) {
          bundle = `${staging}/.bundle`;
          const { bundleTools } = await import("./scripts/build/bundle.ts");
          await bundleTools(root, { entries: entries.map((e) => `bin/${e}`), outDir: bundle });
        }
        const from = await bundleTarget({ target, dir, bundle, tools });
        built = `the bundled artefact (launchers and lib/js/ on lib/deno, Deno ` +
          `${Deno.version.deno} from ${from})`;
      }
      moveIntoPlace(dir, `${outDir}/${target}`);
      console.error(`built ${outDir}/${target}: ${built}`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    console.error(error.message);
    return 1;
  } finally {
    removeIfPresent(staging);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(2);
  }
}
