/**
 * Labs for end-to-end tests: a temp dir with a simulated XPU host, a CSV mount spec, wrappers for
 * the toolkit's executables, a config file pointing at all of them, and helpers to start
 * containers through the shim and read its log.
 *
 * @module
 */

export { presentKernelModule } from "./container_lab.ts";
import { strictEqual } from "node:assert/strict";
import {
  makeSimulatedDriverRoot,
  presentKernelModule,
  REPO_ROOT,
  runContainer,
  sh,
  SIMULATED_LIB_DIR,
} from "./container_lab.ts";
import { BIN_DIR, runTool, toolArgv, writeToolWrapper } from "./toolkit_commands.ts";
import { TOOLKIT_EXECUTABLES } from "../../src/installer/toolkit_layout.ts";
import { type E2eOptions, e2eTest, type Need } from "./e2e.ts";

/** Probes the simulated devices and library from inside a container. */
export const PROBE = [
  "for d in /dev/xpu0 /dev/xpu1 /dev/xpuctl; do",
  '  if [ -e $d ]; then (exec 3>$d) 2>&1 && echo "$d: open ok"; else echo "$d: absent"; fi',
  "done",
  `cat ${SIMULATED_LIB_DIR}/libxpu.so 2>&1`,
  `echo "link: $(readlink ${SIMULATED_LIB_DIR}/libxpu.so)"`,
].join("\n");

/** One lab. */
export interface Lab {
  dir: string;
  driverRoot: string;
  configPath: string;
  /** The CDI spec dir the config names. */
  cdiDir: string;
  stateRoot: string;
  logFile: string;
  /** Environment of the shim and the tools: the config file. */
  env: Record<string, string>;
  /** Wrappers of the toolkit's executables. */
  tools: { hook: string; cli: string; ctk: string };
}

let labCount = 0;

/** What a lab's config says. */
export interface LabConfig {
  mode: string;
  runtimes?: string[];
  /** The legacy hook program (default: the real hook's wrapper). */
  hookPath?: string;
  /** More TOML, appended. */
  extra?: string;
}

/** A temp dir with a simulated host, a mount-spec dir, tool wrappers and a config file. */
export async function makeLab(config: LabConfig): Promise<Lab> {
  const dir = Deno.makeTempDirSync({ prefix: "xpu-e2e-" });
  const driverRoot = await makeSimulatedDriverRoot(`${dir}/driver`);
  Deno.mkdirSync(`${dir}/csv`);
  Deno.copyFileSync(`${REPO_ROOT}/fixtures/csv/xpu.csv`, `${dir}/csv/xpu.csv`);
  Deno.mkdirSync(`${dir}/tools`);
  Deno.mkdirSync(`${dir}/cdi`);
  const tools = {
    hook: writeToolWrapper("xpu-container-runtime-hook", `${dir}/tools`),
    cli: writeToolWrapper("xpu-container-cli", `${dir}/tools`),
    ctk: writeToolWrapper("xpu-ctk", `${dir}/tools`),
  };
  const configPath = `${dir}/config.toml`;
  Deno.writeTextFileSync(
    configPath,
    [
      `[xpu-container-cli]`,
      `root = ${JSON.stringify(driverRoot)}`,
      `path = ${JSON.stringify(tools.cli)}`,
      `[xpu-container-runtime]`,
      `mode = ${JSON.stringify(config.mode)}`,
      `runtimes = ${JSON.stringify(config.runtimes ?? ["runc"])}`,
      `[xpu-container-runtime.modes.csv]`,
      `mount-spec-path = ${JSON.stringify(`${dir}/csv`)}`,
      `[xpu-container-runtime.modes.cdi]`,
      `spec-dirs = [${JSON.stringify(`${dir}/cdi`)}]`,
      `[xpu-container-runtime-hook]`,
      `path = ${JSON.stringify(config.hookPath ?? tools.hook)}`,
      `[xpu-ctk]`,
      `path = ${JSON.stringify(tools.ctk)}`,
      config.extra ?? "",
    ].join("\n"),
  );
  return {
    dir,
    driverRoot,
    configPath,
    cdiDir: `${dir}/cdi`,
    stateRoot: `${dir}/state`,
    logFile: `${dir}/log.json`,
    env: { XPU_CTK_CONFIG_FILE_PATH: configPath },
    tools,
  };
}

/** An end-to-end test with its own lab, removed afterwards. */
export function labTest(
  name: string,
  needs: Need[],
  config: LabConfig,
  fn: (lab: Lab) => Promise<void>,
  options: E2eOptions = {},
): Promise<void> {
  return e2eTest(name, needs, async () => {
    const lab = await makeLab(config);
    try {
      await fn(lab);
    } finally {
      Deno.removeSync(lab.dir, { recursive: true });
    }
  }, options);
}

/**
 * The entries of the lab's `--log` file: the shim's JSON lines and the low-level runtime's (crun
 * 1.2x writes each entry as pretty-printed JSON over several lines).
 */
export function readLog(lab: Lab): { level: string; msg: string; time: string }[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(lab.logFile);
  } catch {
    return [];
  }
  const entries = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (pending === "" && line.trim() === "") continue;
    pending += pending === "" ? line : `\n${line}`;
    try {
      entries.push(JSON.parse(pending));
      pending = "";
    } catch {
      // An entry over several lines: read on.
    }
  }
  if (pending !== "") throw new Error(`${lab.logFile}: not JSON: ${JSON.stringify(pending)}`);
  return entries;
}

/** A container id unique to this test run. */
export function nextId(name: string) {
  return `xpu-${name}-${Deno.pid}-${++labCount}`;
}

/** Starts the container of `lab.dir/<bundle>` through the shim (or `runtime`), as an engine would. */
export async function runInLab(
  lab: Lab,
  bundle: string,
  options: { runtime?: string[]; lowLevel?: string[]; bundleFlag?: string } = {},
) {
  const id = nextId(bundle);
  const run = await runContainer({
    runtime: options.runtime ?? toolArgv("xpu-container-runtime"),
    lowLevel: options.lowLevel ?? ["runc"],
    stateRoot: lab.stateRoot,
    bundle: `${lab.dir}/${bundle}`,
    bundleFlag: options.bundleFlag,
    id,
    env: lab.env,
    logFile: lab.logFile,
  });
  return { ...run, id };
}

/** Writes a wrapper of each executable the installer installs into `dir` (its `--source-dir`). */
export function writeToolkitSources(dir: string): string {
  Deno.mkdirSync(dir, { recursive: true });
  for (const tool of TOOLKIT_EXECUTABLES) writeToolWrapper(tool, dir);
  return dir;
}

/**
 * `xpu-ctk-installer install` of the executables in `source` into `toolkit`, for the simulated
 * host at `driverRoot`, with a kernel module this machine has; fails the test if it fails.
 */
export async function installToolkit(
  source: string,
  toolkit: string,
  driverRoot: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<void> {
  const installed = await runTool(toolArgv("xpu-ctk-installer"), {
    args: [
      "install",
      "--toolkit-root",
      toolkit,
      "--source-dir",
      source,
      "--driver-root",
      driverRoot,
      "--kernel-module",
      presentKernelModule(),
      ...(options.args ?? []),
    ],
    env: options.env,
  });
  strictEqual(installed.code, 0, installed.stderr);
}

/**
 * A crun wrapper for this hybrid-cgroup host (crun 1.8 refuses it): a private mount namespace
 * without the unified mount. Makes it the lab's low-level runtime and returns its path.
 */
export function useCrun(lab: Lab): string {
  const wrapper = `${lab.dir}/tools/crun-wrapper`;
  Deno.writeTextFileSync(
    wrapper,
    "#!/bin/sh\nexec unshare -m --propagation private sh -c " +
      `'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"' crun "$@"\n`,
  );
  Deno.chmodSync(wrapper, 0o755);
  Deno.writeTextFileSync(
    lab.configPath,
    Deno.readTextFileSync(lab.configPath).replace(
      'runtimes = ["runc"]',
      `runtimes = [${JSON.stringify(wrapper)}]`,
    ),
  );
  return wrapper;
}

/** Writes the lab's CDI spec (`<cdi>/xpu.yaml`) with the real `xpu-ctk cdi generate`. */
export async function generateCdiSpec(
  lab: Lab,
  options: { kind?: string; file?: string } = {},
): Promise<string> {
  const output = `${lab.cdiDir}/${options.file ?? "xpu.yaml"}`;
  const run = await runTool(["timeout", "60", ...toolArgv("xpu-ctk")], {
    args: [
      "cdi",
      "generate",
      "--driver-root",
      lab.driverRoot,
      ...(options.kind ? ["--kind", options.kind] : []),
      "--output",
      output,
    ],
    env: lab.env,
  });
  strictEqual(run.code, 0, run.stderr);
  return output;
}

let readableToolkit: string | undefined;

/**
 * Points the lab's config at a toolkit anyone may run, and opens the lab dir to everyone: in a
 * container with its own user namespace the runtime runs createContainer hooks (and the image's
 * ldconfig) as the container's root, an unprivileged host id, which can read neither a 0700 temp
 * dir nor root's Deno cache. The toolkit is the bundled artefact under test (`XPU_BIN_DIR`),
 * copied, or one built from the sources; either way into a world-readable dir, once per run.
 */
export async function useReadableToolkit(lab: Lab): Promise<void> {
  if (readableToolkit === undefined) {
    const dir = Deno.makeTempDirSync({ prefix: "xpu-e2e-toolkit-" });
    Deno.chmodSync(dir, 0o755);
    const target = `${Deno.build.arch}-unknown-linux-gnu`;
    if (BIN_DIR) {
      await sh("cp", [
        "-a",
        `${BIN_DIR.startsWith("/") ? BIN_DIR : `${REPO_ROOT}/${BIN_DIR}`}/.`,
        dir,
      ]);
    } else {
      await sh(Deno.execPath(), [
        "run",
        "-A",
        `${REPO_ROOT}/build.ts`,
        "--kind",
        "bundled",
        "--target",
        target,
        "--out-dir",
        `${dir}/build`,
      ], { cwd: REPO_ROOT });
      await sh("sh", ["-c", `mv "$1"/build/${target}/* "$1"/ && rm -rf "$1"/build`, "sh", dir]);
    }
    readableToolkit = dir;
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  }
  Deno.chmodSync(lab.dir, 0o755);
  let config = Deno.readTextFileSync(lab.configPath);
  for (const tool of ["xpu-container-cli", "xpu-container-runtime-hook", "xpu-ctk"]) {
    config = config.replaceAll(
      JSON.stringify(`${lab.dir}/tools/${tool}`),
      JSON.stringify(`${readableToolkit}/${tool}`),
    );
  }
  Deno.writeTextFileSync(lab.configPath, config);
}

/**
 * Writes `<lab>/tools/<program>-cgroup2`, which runs `program` on a cgroup v2-only view of the
 * host: a private mount namespace whose /sys/fs/cgroup is a cgroup2 mount. Exit 97 when that
 * cannot be had, so nothing runs on the hybrid layout by mistake.
 */
export function writeCgroup2Wrapper(lab: Lab, program: string): string {
  const wrapper = `${lab.dir}/tools/${program}-cgroup2`;
  const inner = "umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup || exit 97; " +
    "mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 97; " +
    `exec ${program} "$@"`;
  Deno.writeTextFileSync(
    wrapper,
    `#!/bin/sh\nexec unshare -m --propagation private sh -c '${inner}' ${program} "$@"\n`,
  );
  Deno.chmodSync(wrapper, 0o755);
  return wrapper;
}
