/**
 * `deno task bench` — what the runtime shim costs on top of bare runc, measured paired in one run:
 * a pass-through command (`state` of a missing container) and `create` of a container that asks
 * for an XPU (csv mode: spec read, devices found, spec rewritten), next to Deno's own hello-world
 * start-up; and what the installer's wrapper script adds in front of the shim (module present)
 * or of runc (module absent). Each iteration runs every variant once, interleaved, so machine load
 * hits all alike.
 *
 * ```sh
 * deno task bench                     # 30 iterations
 * deno task bench --iterations 100
 * ```
 *
 * Overheads are medians of (shim − bare runc); ratios divide them by the hello-world median.
 * The last lines hold each ratio to its target (`TARGETS` below), one line each:
 * `target create overhead ≤ 1.6× hello world: 0.84× — met` (or `missed`); the exit status stays
 * 0 either way, as timings on a loaded machine are evidence, not a test.
 * Needs root, runc and busybox-static.
 *
 * @module
 */

import {
  makeBundle,
  makeSimulatedDriverRoot,
  presentKernelModule,
  REPO_ROOT,
  sh,
} from "../tests/helpers/container_lab.ts";
import { toolArgv, writeToolWrapper } from "../tests/helpers/toolkit_commands.ts";
import { XPU_PROFILE } from "../src/core/device/device_profile.ts";
import { installToolkit } from "../src/installer/install.ts";
import { INSTALLED_CONFIG, TOOLKIT_EXECUTABLES } from "../src/installer/toolkit_layout.ts";
import { type BenchTarget, judgeTargets, verdictLine } from "./bench_verdict.ts";

/** What the shim may cost, as ratios of its overhead over bare runc to Deno's hello world. */
const TARGETS = [
  {
    figure: "passThrough",
    what: "pass-through overhead",
    limit: 1.3,
    unit: "×",
    baseline: "hello world",
  },
  { figure: "create", what: "create overhead", limit: 1.6, unit: "×", baseline: "hello world" },
] as const satisfies readonly BenchTarget[];

/** The target of one figure (the table above is the only place a limit is written). */
function targetOf(figure: typeof TARGETS[number]["figure"]): BenchTarget {
  return TARGETS.find((t) => t.figure === figure)!;
}

/** Runs a command with no stdio (a created container would hold a stdout pipe open). */
async function run(argv: readonly string[], env?: Record<string, string>) {
  const [program, ...args] = argv;
  const start = performance.now();
  const out = await new Deno.Command(program, {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return { ms: performance.now() - start, code: out.code };
}

async function timed(argv: readonly string[], env?: Record<string, string>): Promise<number> {
  return (await run(argv, env)).ms;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(args: string[]): Promise<number> {
  const at = args.indexOf("--iterations");
  const iterations = at >= 0 ? Number(args[at + 1]) : 30;
  if (!Number.isInteger(iterations) || iterations < 1) {
    console.error(
      `Cannot run the benchmark: --iterations "${args[at + 1]}": give a whole number ≥ 1`,
    );
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error("The benchmark creates containers: run it as root with runc and busybox-static.");
    return 1;
  }
  const dir = Deno.makeTempDirSync({ prefix: "xpu-bench-" });
  try {
    const driverRoot = await makeSimulatedDriverRoot(`${dir}/host`);
    Deno.mkdirSync(`${dir}/specs`);
    Deno.copyFileSync(`${REPO_ROOT}/fixtures/csv/xpu.csv`, `${dir}/specs/xpu.csv`);
    const config = `${dir}/config.toml`;
    // The hooks the edits add run inside runc for both variants alike; /bin/true keeps them cheap.
    Deno.writeTextFileSync(
      config,
      `[xpu-container-cli]\nroot = "${driverRoot}"\n[xpu-container-runtime]\nmode = "csv"\n` +
        `runtimes = ["runc"]\n[xpu-container-runtime.modes.csv]\nmount-spec-path = "${dir}/specs"\n` +
        `[xpu-ctk]\npath = "/bin/true"\n`,
    );
    const env = { XPU_CTK_CONFIG_FILE_PATH: config };
    // Installed toolkits in front of the same shim: one whose module check passes, one whose fails.
    Deno.mkdirSync(`${dir}/source`);
    for (const tool of TOOLKIT_EXECUTABLES) writeToolWrapper(tool, `${dir}/source`);
    const install = async (root: string, kernelModule: string) => {
      await installToolkit({
        toolkitRoot: root,
        sourceDir: `${dir}/source`,
        profile: XPU_PROFILE,
        kernelModule,
        driverRoot,
        hostRoot: "/",
        lowLevelRuntimes: ["runc"],
      }, () => {});
      Deno.copyFileSync(config, `${root}/${INSTALLED_CONFIG}`);
      return [`${root}/xpu-container-runtime`];
    };
    const wrapped = await install(`${dir}/toolkit`, presentKernelModule());
    const fallback = await install(`${dir}/toolkit-no-driver`, "xpu_not_loaded_here");
    const shim = toolArgv("xpu-container-runtime");
    const hello = [...toolArgv("xpu-ctk").slice(0, -1), `${REPO_ROOT}/bench/hello.ts`];
    const state = ["--root", `${dir}/runc`, "state", "no-such-container"];

    // Two bundles with the same final spec: the shim edits the pristine one on each create; bare
    // runc gets the already-edited one, so runc's own work is identical in both.
    const pristine = makeBundle(`${dir}/shim-bundle`, {
      args: ["true"],
      env: ["XPU_VISIBLE_DEVICES=0"],
    });
    const original = Deno.readTextFileSync(pristine);
    const warmup = ["--root", `${dir}/runc`, "create", "--bundle", `${dir}/shim-bundle`, "warmup"];
    if ((await run([...shim, ...warmup], env)).code !== 0) {
      throw new Error("the shim could not create the warm-up container");
    }
    await sh("runc", ["--root", `${dir}/runc`, "delete", "--force", "warmup"]);
    const edited = Deno.readTextFileSync(pristine);
    makeBundle(`${dir}/runc-bundle`, { args: ["true"] });
    Deno.writeTextFileSync(`${dir}/runc-bundle/config.json`, edited);

    const samples: Record<string, number[]> = {
      hello: [],
      "runc state": [],
      "shim state": [],
      "wrapped state": [],
      "fallback state": [],
      "runc create": [],
      "shim create": [],
    };
    for (let i = 0; i < iterations; i++) {
      samples.hello.push(await timed(hello));
      samples["runc state"].push(await timed(["runc", ...state]));
      samples["shim state"].push(await timed([...shim, ...state], env));
      samples["wrapped state"].push(await timed([...wrapped, ...state]));
      samples["fallback state"].push(await timed([...fallback, ...state]));
      const create = (
        bundle: string,
        id: string,
      ) => ["--root", `${dir}/runc`, "create", "--bundle", bundle, id];
      samples["runc create"].push(await timed(["runc", ...create(`${dir}/runc-bundle`, `r${i}`)]));
      Deno.writeTextFileSync(pristine, original);
      samples["shim create"].push(
        await timed([...shim, ...create(`${dir}/shim-bundle`, `s${i}`)], env),
      );
      if (Deno.readTextFileSync(pristine) !== edited) {
        throw new Error("the shim did not edit the spec");
      }
      await sh("runc", ["--root", `${dir}/runc`, "delete", "--force", `r${i}`]);
      await sh("runc", ["--root", `${dir}/runc`, "delete", "--force", `s${i}`]);
    }

    const median = (name: string) => quantile(samples[name], 0.5);
    console.log(
      `${iterations} paired iterations (${shim[0] === Deno.execPath() ? "deno run" : "compiled"})`,
    );
    console.log("variant          median ms   p90 ms");
    for (const [name, values] of Object.entries(samples)) {
      console.log(
        `${name.padEnd(16)} ${quantile(values, 0.5).toFixed(1).padStart(9)} ${
          quantile(values, 0.9).toFixed(1).padStart(8)
        }`,
      );
    }
    const helloMs = median("hello");
    const passThrough = median("shim state") - median("runc state");
    const create = median("shim create") - median("runc create");
    console.log(
      `pass-through overhead ${passThrough.toFixed(1)} ms = ${
        (passThrough / helloMs).toFixed(2)
      }× hello world (target ≤ ${targetOf("passThrough").limit}×)`,
    );
    console.log(
      `create overhead       ${create.toFixed(1)} ms = ${
        (create / helloMs).toFixed(2)
      }× hello world (target ≤ ${targetOf("create").limit}×)`,
    );
    const wrapper = median("wrapped state") - median("shim state");
    const fallbackCost = median("fallback state") - median("runc state");
    console.log(
      `installed wrapper     ${wrapper.toFixed(1)} ms over the shim; without the driver ` +
        `${fallbackCost.toFixed(1)} ms over runc`,
    );
    const figures = { passThrough: passThrough / helloMs, create: create / helloMs };
    for (const verdict of judgeTargets(TARGETS, figures)) console.log(verdictLine(verdict));
    return 0;
  } finally {
    await new Deno.Command("sh", {
      args: [
        "-c",
        `for id in $(runc --root ${dir}/runc list -q 2>/dev/null); do runc --root ${dir}/runc delete -f $id; done`,
      ],
    }).output();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.exit(await main(Deno.args));
