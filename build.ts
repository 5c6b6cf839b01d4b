/**
 * The release build: `deno compile` of every `bin/*.ts` entry module for x86_64 and aarch64 Linux
 * into `dist/<target>/<name>`.
 *
 * ```sh
 * deno task build                                   # both targets
 * deno task build --target x86_64-unknown-linux-gnu --out-dir /tmp/xpu-dist
 * DENORT_BIN=/opt/denort deno task build --target x86_64-unknown-linux-gnu   # offline host
 * ```
 *
 * `deno compile` needs Deno's runtime for compiling (`denort`), which it downloads from
 * dl.deno.land. Offline hosts point `DENORT_BIN` (the host's target) or `DENORT_BIN_X86_64` /
 * `DENORT_BIN_AARCH64` (per target) at an unzipped `denort` of the same Deno version.
 *
 * @module
 */

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

/** Reads `--target T` (repeatable) and `--out-dir DIR`. */
export function parseBuildArgs(args: readonly string[]): { targets: Target[]; outDir: string } {
  const targets: Target[] = [];
  let outDir = "dist";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const value = inline ?? args[++i];
    if (flag === "--out-dir" && value) outDir = value;
    else if (flag === "--target" && (TARGETS as readonly string[]).includes(value ?? "")) {
      targets.push(value as Target);
    } else if (flag === "--target") {
      throw new Error(`Cannot build: unknown target "${value}": use one of ${TARGETS.join(", ")}`);
    } else {
      throw new Error(
        `Cannot build: unknown argument "${arg}": use --target T or --out-dir DIR`,
      );
    }
  }
  return { targets: targets.length > 0 ? targets : [...TARGETS], outDir };
}

const decoder = new TextDecoder();

/** Runs the build; returns the exit status. */
async function main(args: readonly string[]): Promise<number> {
  const root = decodeURIComponent(new URL(".", import.meta.url).pathname);
  const entries = [...Deno.readDirSync(`${root}bin`)].filter((e) => e.isFile).map((e) => e.name);
  const { targets, outDir } = parseBuildArgs(args);
  const steps = planBuild({
    entries,
    targets,
    env: Deno.env.toObject(),
    hostTarget: currentTarget(),
    outDir: outDir.startsWith("/") ? outDir : `${root}${outDir}`,
  });
  for (const step of steps) {
    Deno.mkdirSync(step.output.slice(0, step.output.lastIndexOf("/")), { recursive: true });
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
      console.error(explainCompileFailure(step, decoder.decode(out.stderr), Deno.version.deno));
      return 1;
    }
    if (step.target === currentTarget()) {
      // A denort that is really a plain deno binary compiles fine but runs as deno itself.
      const probe = await new Deno.Command(step.output, {
        args: ["--version"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (decoder.decode(probe.stdout).startsWith("deno ")) {
        console.error(
          `Cannot use "${step.denort}" as the Deno runtime for compiling: it is a deno binary, ` +
            `not denort: point DENORT_BIN at the unzipped denort-${step.target}.zip`,
        );
        Deno.removeSync(step.output);
        return 1;
      }
    }
    console.error(`built ${step.output}`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(2);
  }
}
