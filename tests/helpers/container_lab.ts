/**
 * A container lab for the demo, the benchmark and the end-to-end tests: a simulated XPU host (a
 * driver root with device nodes and a driver library), a tiny busybox image, OCI bundles, and
 * containers started through a runtime command the way engines do (`create`, then `start`).
 *
 * Device numbers follow the harness notes: `/dev/xpu0` is 1:11 (kmsg, a real driver: a write-open
 * succeeds once allowed), `/dev/xpu1` and `/dev/xpuctl` are 240:0 and 240:1 (no driver: an allowed
 * open fails with ENXIO, a disallowed one with EPERM). None is in runc's default allow list.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root (this file is `tests/helpers/container_lab.ts`). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** A device node of a fixture driver root (`fixtures/driver-root/<profile>.nodes.json`). */
export interface FixtureNode {
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

/** The device nodes of a fixture driver root, which git cannot hold. */
export function fixtureNodes(profile: string): FixtureNode[] {
  return JSON.parse(
    Deno.readTextFileSync(`${REPO_ROOT}/fixtures/driver-root/${profile}.nodes.json`),
  );
}

/** Device nodes of the simulated XPU host. */
export const SIMULATED_NODES: readonly FixtureNode[] = fixtureNodes("xpu");

/** The driver library's in-root directory on the simulated host. */
export const SIMULATED_LIB_DIR = "/usr/lib/x86_64-linux-gnu";

/** Runs a program, failing with its stderr when it fails. */
export async function sh(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options })
    .output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${stderr}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Whether a program can be found in PATH. */
export async function hasProgram(name: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v "$1"`, "sh", name],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/**
 * Builds a simulated driver root in `dir` from a fixture: the file tree (libraries, identity
 * files, utilities) plus real device nodes. Needs root for `mknod`.
 */
export async function makeSimulatedDriverRoot(dir: string, profile = "xpu"): Promise<string> {
  await sh("cp", ["-a", `${REPO_ROOT}/fixtures/driver-root/${profile}/.`, dir]);
  for (const node of fixtureNodes(profile)) {
    const path = `${dir}${node.path}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const mode = node.mode.toString(8);
    await sh("mknod", ["-m", mode, path, node.type, `${node.major}`, `${node.minor}`]);
    Deno.chownSync(path, node.uid, node.gid);
  }
  return dir;
}

const BUSYBOX_APPLETS = [
  "sh",
  "true",
  "cat",
  "env",
  "ls",
  "id",
  "echo",
  "sleep",
  "grep",
  "head",
  "dd",
  "stat",
  "test",
  "mount",
  "readlink",
];

/** Builds a ~20-entry busybox rootfs in `dir` (needs a static `/bin/busybox` on the host). */
export function makeBusyboxRootfs(dir: string): string {
  for (const sub of ["bin", "etc", "proc", "sys", "dev", "tmp"]) {
    Deno.mkdirSync(`${dir}/${sub}`, { recursive: true });
  }
  Deno.copyFileSync("/bin/busybox", `${dir}/bin/busybox`);
  Deno.chmodSync(`${dir}/bin/busybox`, 0o755);
  for (const applet of BUSYBOX_APPLETS) Deno.symlinkSync("busybox", `${dir}/bin/${applet}`);
  Deno.writeTextFileSync(`${dir}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
  Deno.writeTextFileSync(`${dir}/etc/group`, "root:x:0:\n");
  return dir;
}

/** Options of {@link makeBundle}. */
export interface BundleOptions {
  /** The container's command. */
  args: string[];
  /** Extra `NAME=value` entries for the container's environment. */
  env?: string[];
  /** Further edits of the spec object. */
  edit?: (spec: Record<string, unknown>) => void;
}

/**
 * Makes an OCI bundle in `dir`: a busybox rootfs and a `config.json` from runc's default spec
 * (tab-indented, as `runc spec` writes it) with no terminal and a writable root.
 *
 * @returns the path of `config.json`
 */
export function makeBundle(dir: string, options: BundleOptions): string {
  Deno.mkdirSync(dir, { recursive: true });
  makeBusyboxRootfs(`${dir}/rootfs`);
  const spec = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/fixtures/oci/runc-spec.json`));
  spec.process.terminal = false;
  // Engines (docker, podman, containerd) start containers with a writable root unless asked.
  spec.root.readonly = false;
  spec.process.args = options.args;
  spec.process.env = [...spec.process.env, ...(options.env ?? [])];
  options.edit?.(spec);
  const path = `${dir}/config.json`;
  Deno.writeTextFileSync(path, JSON.stringify(spec, null, "\t"));
  return path;
}

/** A command line that starts a program: `[program, ...leading args]`. */
export type Argv = readonly string[];

/** What a container run produced. */
export interface ContainerRun {
  /** Exit status of `create` through the runtime under test. */
  createCode: number;
  createStderr: string;
  /** The container's own output (empty when `create` failed). */
  stdout: string;
  stderr: string;
}

/** Options of {@link runContainer}. */
export interface RunContainerOptions {
  /** The runtime under test (the shim), e.g. `["deno", "run", "-A", "bin/xpu-container-runtime.ts"]`. */
  runtime: Argv;
  /** The runtime used for `start` and `delete` (plain runc or a wrapper). */
  lowLevel: Argv;
  /** runc's `--root` state dir. */
  stateRoot: string;
  bundle: string;
  id: string;
  /** Environment of the runtime under test. */
  env?: Record<string, string>;
  /** runc-style `--log` file (json format). */
  logFile?: string;
  /** How the bundle is passed to `create` (`--bundle`, `-b`, `-bundle`). */
  bundleFlag?: string;
  timeoutMs?: number;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/**
 * Runs a container the way engines do: `create` through the runtime under test (stdio inherited by
 * the container, as runc's detached mode does), `start` and `delete` with the low-level runtime.
 */
export async function runContainer(options: RunContainerOptions): Promise<ContainerRun> {
  const [program, ...lead] = options.runtime;
  const global = ["--root", options.stateRoot];
  if (options.logFile) global.push("--log", options.logFile, "--log-format", "json");
  const create = new Deno.Command(program, {
    args: [
      ...lead,
      ...global,
      "create",
      options.bundleFlag ?? "--bundle",
      options.bundle,
      options.id,
    ],
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = readAll(create.stdout);
  const stderr = readAll(create.stderr);
  const status = await create.status;
  const [low, ...lowLead] = options.lowLevel;
  if (!status.success) {
    return {
      createCode: status.code,
      createStderr: await stderr,
      stdout: await stdout,
      stderr: "",
    };
  }
  try {
    await sh(low, [...lowLead, ...global, "start", options.id]);
    const timeout = options.timeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const output = await Promise.race([
      Promise.all([stdout, stderr]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`container "${options.id}" still runs`)),
          timeout,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { createCode: 0, createStderr: "", stdout: output[0], stderr: output[1] };
  } finally {
    await new Deno.Command(low, {
      args: [...lowLead, ...global, "delete", "--force", options.id],
      stdout: "null",
      stderr: "null",
    }).output();
  }
}

/**
 * A kernel module this machine has (built in or loaded), so an installed runtime wrapper's module
 * check passes: `kernel` when `/sys/module/kernel` exists, else the first entry.
 */
export function presentKernelModule(): string {
  const names = [...Deno.readDirSync("/sys/module")].map((e) => e.name).sort();
  return names.includes("kernel") ? "kernel" : names[0];
}
