/**
 * `deno task demo` — see the toolkit work: a simulated XPU host (a driver root in a temp dir with
 * device nodes and a driver library), a busybox container started through `xpu-container-runtime`
 * in front of real runc, and what the container sees. Needs root, runc and busybox-static.
 *
 * @module
 */

import {
  hasProgram,
  makeBundle,
  makeSimulatedDriverRoot,
  REPO_ROOT,
  runContainer,
  SIMULATED_LIB_DIR,
  SIMULATED_NODES,
} from "../tests/helpers/container_lab.ts";
import { toolArgv, writeToolWrapper } from "../tests/helpers/toolkit_commands.ts";

const PROBE = `
echo "  XPU_VISIBLE_DEVICES=$XPU_VISIBLE_DEVICES"
for d in /dev/xpu0 /dev/xpu1 /dev/xpuctl; do
  if [ ! -e $d ]; then echo "  $d: not in this container"; continue; fi
  if msg=$( (exec 3>$d) 2>&1 ); then echo "  $d: opened for writing"
  else echo "  $d: present, open says: \${msg##*: }"; fi
done
echo "  ${SIMULATED_LIB_DIR}/libxpu.so -> $(readlink ${SIMULATED_LIB_DIR}/libxpu.so)"
echo "  reading the driver library: $(cat ${SIMULATED_LIB_DIR}/libxpu.so 2>&1)"
`;

async function prerequisites(): Promise<string[]> {
  const problems: string[] = [];
  if (Deno.uid() !== 0) problems.push("run it as root (it creates device nodes and containers)");
  if (!(await hasProgram("runc"))) problems.push("install runc: apt-get install -y runc");
  if (!(await Deno.stat("/bin/busybox").then(() => true, () => false))) {
    problems.push("install a static busybox: apt-get install -y busybox-static");
  }
  return problems;
}

async function main(): Promise<number> {
  const problems = await prerequisites();
  if (problems.length > 0) {
    console.error(`The demo cannot run here:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  const dir = Deno.makeTempDirSync({ prefix: "xpu-demo-" });
  try {
    const driverRoot = await makeSimulatedDriverRoot(`${dir}/host`);
    Deno.mkdirSync(`${dir}/mount-specs`);
    Deno.copyFileSync(`${REPO_ROOT}/fixtures/csv/xpu.csv`, `${dir}/mount-specs/xpu.csv`);
    Deno.mkdirSync(`${dir}/bin`);
    const ctk = writeToolWrapper("xpu-ctk", `${dir}/bin`);
    const config = `${dir}/config.toml`;
    Deno.writeTextFileSync(
      config,
      `[xpu-container-cli]\nroot = "${driverRoot}"\n\n[xpu-container-runtime]\nmode = "csv"\n` +
        `runtimes = ["runc"]\n\n[xpu-container-runtime.modes.csv]\n` +
        `mount-spec-path = "${dir}/mount-specs"\n\n[xpu-ctk]\npath = "${ctk}"\n`,
    );
    console.log(`Simulated XPU host under ${driverRoot}:`);
    for (const node of SIMULATED_NODES) {
      console.log(`  ${node.path}  (character device ${node.major}:${node.minor})`);
    }
    console.log(`  ${SIMULATED_LIB_DIR}/libxpu.so -> libxpu.so.1 -> libxpu.so.1.0.0`);
    console.log(`Mount spec (csv mode): ${dir}/mount-specs/xpu.csv\n`);

    for (const [name, request] of [["with-xpu", "0"], ["without-xpu", undefined]] as const) {
      const bundle = `${dir}/${name}`;
      const specPath = makeBundle(bundle, {
        args: ["sh", "-c", PROBE],
        env: request === undefined ? [] : [`XPU_VISIBLE_DEVICES=${request}`],
      });
      const before = Deno.readTextFileSync(specPath);
      console.log(
        `Container "${name}" (busybox, runc through xpu-container-runtime), ` +
          (request === undefined ? "asking for no XPU:" : `asking for XPU ${request}:`),
      );
      const run = await runContainer({
        runtime: toolArgv("xpu-container-runtime"),
        lowLevel: ["runc"],
        stateRoot: `${dir}/runc`,
        bundle,
        id: `xpu-demo-${name}-${Deno.pid}`,
        env: { XPU_CTK_CONFIG_FILE_PATH: config },
        logFile: `${dir}/${name}.log.json`,
      });
      if (run.createCode !== 0) {
        console.error(`The container did not start:\n${run.createStderr}`);
        return 1;
      }
      console.log(run.stdout.trimEnd());
      const spec = JSON.parse(Deno.readTextFileSync(specPath));
      if (Deno.readTextFileSync(specPath) === before) {
        console.log("  config.json: unchanged, byte for byte\n");
      } else {
        const devices = spec.linux?.devices?.length ?? 0;
        const mounts = spec.mounts.filter((m: { source?: string }) =>
          m.source?.startsWith(driverRoot)
        );
        const hooks = spec.hooks?.createContainer?.length ?? 0;
        console.log(
          `  config.json: ${devices} device nodes, ${mounts.length} driver mounts, ${hooks} ` +
            `createContainer hooks added\n`,
        );
      }
    }
    console.log("/dev/xpu0 is a real driver (1:11) and opens; /dev/xpuctl (240:1) has no driver");
    console.log(
      "behind it in this simulation, so the device cgroup allows it and the kernel answers",
    );
    console.log("ENXIO. A node the cgroup forbade would answer EPERM instead.");
    return 0;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.exit(await main());
