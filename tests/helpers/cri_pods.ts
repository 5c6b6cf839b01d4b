/**
 * Pods and containers through a private containerd's CRI, as the CRI end-to-end tests run them:
 * the site's containerd config (CRI, CDI and NRI settings these machines need), the installed
 * toolkit for a simulated XPU host, and containers that probe the devices from inside and are
 * checked against what their request must give. Used by `tests/e2e/cri_containerd_test.ts` (the
 * runtime handlers, containerd's own CDI) and `tests/e2e/nri_plugin_test.ts` (the NRI plugin).
 *
 * @module
 */

import { ok, strictEqual } from "node:assert/strict";
import { makeBusyboxRootfs, makeSimulatedDriverRoot } from "./container_lab.ts";
import {
  type ContainerConfig,
  ContainerState,
  type CriClient,
  NamespaceMode,
  type PodSandboxConfig,
  type PrivateContainerd,
  readCriLog,
  startContainerd,
  writeImageArchive,
} from "./cri.ts";
import { installToolkit, PROBE, writeToolkitSources } from "./lab.ts";
import { runTool } from "./toolkit_commands.ts";

/** The only image there is (no registry): pods' sandboxes and containers run it. */
export const IMAGE = "docker.io/xpu-test/busybox:min";
/** What the shim and the hooks get from containerd: no toolkit config in the environment. */
export const ENGINE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
/** The pods' cgroup parent (cgroupfs), ours alone, removed afterwards. */
export const CGROUP_PARENT = `/xpu-cri-${Deno.pid}`;

/** What a probe container prints once it has probed. */
export const DONE = "probe done";

/** NRI as the site enables it: the socket external plugins connect to. */
export interface NriSettings {
  socket: string;
}

/** The site's containerd config: CRI with what these machines need, and a realistic runc table. */
export function siteConfig(
  dir: string,
  v3: boolean,
  cdi: { enabled: boolean; dirs: string[] },
  options: { nri?: NriSettings } = {},
): string {
  const cdiLines = [
    `enable_cdi = ${cdi.enabled}`,
    `cdi_spec_dirs = ${JSON.stringify(cdi.dirs)}`,
  ];
  // As `containerd config default` writes them: a runc table passing no annotations, which a
  // handler copying runc's settings inherits.
  const runc = [
    `runtime_type = "io.containerd.runc.v2"`,
    "container_annotations = []",
    "pod_annotations = []",
  ];
  // Root lacks CAP_SYS_RESOURCE here: a sandbox's oom_score_adj of -998 cannot be set.
  const restrict = "restrict_oom_score_adj = true";
  const head = [
    `# Site config, written by hand from "containerd config default".`,
    `version = ${v3 ? 3 : 2}`,
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    "",
    "[grpc]",
    `  address = "${dir}/c.sock"  # short: socket paths live under 108 bytes`,
    "",
    "[ttrpc]",
    `  address = "${dir}/c.sock.ttrpc"`,
    "",
    "[plugins]",
    "",
    `  [plugins."io.containerd.internal.v1.opt"]`,
    `    path = "${dir}/opt"`,
    "",
    `  [plugins."io.containerd.nri.v1.nri"]`,
    ...(options.nri
      ? [
        // Off by default in 1.7, on in 2.x: said either way. The plugin dirs are ours, so no
        // plugin of the machine's is started.
        "    disable = false",
        "    disable_connections = false",
        `    socket_path = "${options.nri.socket}"`,
        `    plugin_path = "${dir}/nri/plugins"`,
        `    plugin_config_path = "${dir}/nri/conf.d"`,
      ]
      : ["    disable = true"]),
    "",
  ];
  const indent = (n: number, lines: string[]) => lines.map((l) => " ".repeat(n) + l);
  if (!v3) {
    const cri = `plugins."io.containerd.grpc.v1.cri"`;
    return [
      ...head,
      `  [${cri}]`,
      `    sandbox_image = "${IMAGE}"`,
      ...indent(4, [restrict, ...cdiLines]),
      "",
      `    [${cri}.cni]`,
      `      bin_dir = "${dir}/cni/bin"`,
      `      conf_dir = "${dir}/cni/net.d"`,
      "",
      `    [${cri}.containerd]`,
      `      snapshotter = "overlayfs"`,
      `      default_runtime_name = "runc"`,
      "",
      `      [${cri}.containerd.runtimes.runc]`,
      ...indent(8, runc),
      "",
      `        [${cri}.containerd.runtimes.runc.options]`,
      "          SystemdCgroup = false",
      "",
    ].join("\n");
  }
  const runtime = `plugins."io.containerd.cri.v1.runtime"`;
  const images = `plugins."io.containerd.cri.v1.images"`;
  return [
    ...head,
    `  [${images}]`,
    `    snapshotter = "overlayfs"`,
    "",
    `    [${images}.pinned_images]`,
    `      sandbox = "${IMAGE}"`,
    "",
    `  [${runtime}]`,
    ...indent(4, [restrict, ...cdiLines]),
    "",
    `    [${runtime}.cni]`,
    `      bin_dirs = ["${dir}/cni/bin"]`,
    `      conf_dir = "${dir}/cni/net.d"`,
    "",
    `    [${runtime}.containerd]`,
    `      default_runtime_name = "runc"`,
    "",
    `      [${runtime}.containerd.runtimes.runc]`,
    ...indent(8, runc),
    "",
    `        [${runtime}.containerd.runtimes.runc.options]`,
    "          SystemdCgroup = false",
    "",
    `  [plugins."io.containerd.grpc.v1.cri"]`,
    `    stream_server_address = "127.0.0.1"`,
    "",
  ].join("\n");
}

/** One container of a case: how it asks for the XPU, and what it must then see. */
export interface Request {
  name: string;
  envs?: Record<string, string>;
  annotations?: Record<string, string>;
  cdiDevices?: string[];
  /** Whether /dev/xpu0 opens (and the driver library is there). */
  device: boolean;
  /** A line the shim must have logged (its mode), when a shim runs. */
  shimSays?: string;
}

/** A request by env: device 0. */
export const ENV_REQUEST = { XPU_VISIBLE_DEVICES: "0" };
/** A request by CDI annotation: the spec's device 0. */
export const ANNOTATION_REQUEST = { "cdi.k8s.io/xpu-e2e": "xpu.dev/xpu=0" };

/** What a container printed, what the probe run in it later by ExecSync printed, what the shim logged. */
export interface Probe {
  output: string;
  exec: string;
  shimLog: string;
}

/** Everything a test run shares. */
export interface World {
  dir: string;
  containerd: PrivateContainerd;
  cri: CriClient;
  /** Another log worth showing when a container fails (an NRI plugin's), with its title. */
  extraLog?: { title: string; read: () => string };
}

let podCount = 0;

/** A host-network pod named `name`, its logs under `dir/pods/`, in our cgroup parent. */
export function podConfig(dir: string, name: string): PodSandboxConfig {
  const logs = `${dir}/pods/${name}`;
  Deno.mkdirSync(logs, { recursive: true });
  return {
    metadata: { name, uid: `${name}-${Deno.pid}`, namespace: `xpu-e2e-${Deno.pid}`, attempt: 0 },
    log_directory: logs,
    linux: {
      cgroup_parent: CGROUP_PARENT,
      // No CNI plugins here: host networking, as a hostNetwork pod.
      security_context: {
        namespace_options: {
          network: NamespaceMode.NODE,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
      },
    },
  };
}

/** What to show when a container fails: its log, the probe, the shim's and the engine's logs. */
export function diagnostics(world: World, probe: Partial<Probe>, context: string): string {
  return [
    context,
    `--- container log:\n${probe.output ?? "(none)"}`,
    `--- ExecSync of the probe:\n${probe.exec ?? "(none)"}`,
    `--- shim log (bundle log.json):\n${probe.shimLog || "(none)"}`,
    ...(world.extraLog ? [`--- ${world.extraLog.title}:\n${world.extraLog.read()}`] : []),
    `--- containerd log, last lines:\n${world.containerd.logTail(30)}`,
  ].join("\n");
}

/** The CRI config of a container that runs the probe for `request`, then stays up. */
export function probeContainerConfig(request: Request): ContainerConfig {
  return {
    metadata: { name: request.name, attempt: 0 },
    image: { image: IMAGE },
    command: ["/bin/sh", "-c", `${PROBE}\necho "${DONE}"\nexec sleep 600`],
    envs: Object.entries(request.envs ?? {}).map(([key, value]) => ({ key, value })),
    annotations: request.annotations ?? {},
    log_path: `${request.name}.log`,
    CDI_devices: (request.cdiDevices ?? []).map((name) => ({ name })),
  };
}

/**
 * Runs one container in `pod`: it probes the devices and stays up, so the shim's log in the
 * bundle can be read before the container is stopped and removed.
 */
export async function probeContainer(
  world: World,
  pod: { id: string; config: PodSandboxConfig; handler: string },
  request: Request,
): Promise<Probe> {
  const config = probeContainerConfig(request);
  const logPath = `${pod.config.log_directory}/${request.name}.log`;
  const context = `${pod.handler} × ${request.name}`;
  let id: string;
  try {
    id = await world.cri.createContainer(pod.id, { config, podConfig: pod.config });
    await world.cri.startContainer(id);
  } catch (error) {
    throw new Error(diagnostics(world, {}, `${context}: ${error}`), { cause: error });
  }
  const bundleLog = `${world.dir}/state/io.containerd.runtime.v2.task/k8s.io/${id}/log.json`;
  const shimLog = () => {
    try {
      return Deno.readTextFileSync(bundleLog);
    } catch {
      return "";
    }
  };
  try {
    const status = await world.cri.waitForContainer(id, {
      until: (s) => s.state === ContainerState.EXITED || readCriLog(logPath).includes(DONE),
      what: `print "${DONE}"`,
    }).catch((error) => {
      throw new Error(
        diagnostics(
          world,
          { output: readCriLog(logPath), shimLog: shimLog() },
          `${context}: ${error}`,
        ),
      );
    });
    const probe = { output: readCriLog(logPath), exec: "", shimLog: shimLog() };
    if (status.state === ContainerState.EXITED) {
      throw new Error(
        diagnostics(
          world,
          probe,
          `${context}: exited (${status.exit_code}) before the probe ended`,
        ),
      );
    }
    // What `kubectl exec` gets: a process started later, through the runtime's `exec`.
    const exec = await world.cri.execSync(id, { cmd: ["/bin/sh", "-c", PROBE] });
    probe.exec = `${exec.stdout}${exec.stderr}(exit ${exec.exit_code})\n`;
    await world.cri.stopContainer(id, 0);
    const stopped = await world.cri.waitForExit(id, 30_000);
    strictEqual(stopped.state, ContainerState.EXITED);
    return probe;
  } finally {
    await world.cri.removeContainer(id).catch(() => {});
  }
}

/** Checks what a probe saw against what the request must give. */
export function checkProbe(world: World, probe: Probe, request: Request, context: string) {
  const why = (what: string) => diagnostics(world, probe, `${context}: ${what}`);
  for (const [who, output] of [["the container", probe.output], ["ExecSync", probe.exec]]) {
    const lines = output.split("\n");
    if (request.device) {
      ok(lines.includes("/dev/xpu0: open ok"), why(`${who}: /dev/xpu0 does not open`));
      ok(lines.includes("/dev/xpu1: absent"), why(`${who}: /dev/xpu1 is there, not asked for`));
      ok(lines.includes("fake libxpu 1.0.0"), why(`${who}: the driver library is not there`));
    } else {
      ok(lines.includes("/dev/xpu0: absent"), why(`${who}: /dev/xpu0 is there, not asked for`));
      ok(lines.includes("/dev/xpu1: absent"), why(`${who}: /dev/xpu1 is there, not asked for`));
      ok(!lines.includes("fake libxpu 1.0.0"), why(`${who}: the driver library is there`));
    }
  }
  if (request.shimSays) {
    const said = probe.shimLog.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).msg);
    ok(said.includes(request.shimSays), why(`the shim did not log "${request.shimSays}"`));
  }
}

/** One pod on `handler`, one container per request, each checked; the pod is removed after. */
export async function runPod(
  world: World,
  t: Deno.TestContext,
  options: { phase: string; handler: string; requests: Request[]; results: string[] },
) {
  const name = `${options.handler}-${++podCount}`;
  const config = podConfig(world.dir, name);
  let id: string;
  try {
    id = await world.cri.runPodSandbox(config, options.handler);
  } catch (error) {
    throw new Error(diagnostics(world, {}, `pod on "${options.handler}": ${error}`));
  }
  try {
    for (const request of options.requests) {
      const context = `${options.phase}: ${options.handler} × ${request.name}`;
      await t.step(context, async () => {
        let verdict = "FAIL";
        try {
          const probe = await probeContainer(
            world,
            { id, config, handler: options.handler },
            request,
          );
          checkProbe(world, probe, request, context);
          verdict = request.device ? "device" : "no device";
        } finally {
          options.results.push(`${context}: ${verdict}`);
        }
      });
    }
  } finally {
    await world.cri.stopPodSandbox(id).catch(() => {});
    await world.cri.removePodSandbox(id).catch(() => {});
  }
}

/** Starts containerd on `dir/config.toml`, runs `fn` against it, and stops it (pods removed). */
export async function withContainerd(
  dir: string,
  fn: (world: World) => Promise<void>,
  options: { extraLog?: World["extraLog"] } = {},
) {
  const containerd = await startContainerd(`${dir}/c.sock`, {
    config: `${dir}/config.toml`,
    logPath: `${dir}/containerd.log`,
    env: ENGINE_ENV,
  });
  try {
    await fn({ dir, containerd, cri: await containerd.cri(), extraLog: options.extraLog });
  } finally {
    await containerd.stop();
  }
}

/** The installed toolkit of a simulated XPU host, and the image, as a node has them. */
export interface CriToolkit {
  driverRoot: string;
  toolkit: string;
  /** Where the CDI spec `xpu-ctk cdi generate` wrote lives (also in the installed config). */
  cdiDir: string;
  /** The image archive to import into CRI's namespace. */
  archive: string;
  /** Runs the installed `xpu-ctk` with the engine's environment. */
  ctk: (args: string[]) => ReturnType<typeof runTool>;
}

/**
 * Installs the toolkit under `dir/toolkit` as the installer's daemon puts it on a node (its
 * config pointing at a simulated driver root under `dir/driver` and at `dir/cdi`), writes the CDI
 * spec there, and the busybox image archive. `prepareSource` may change the tools' sources first.
 */
export async function installToolkitForCri(
  dir: string,
  options: { prepareSource?: (source: string) => void } = {},
): Promise<CriToolkit> {
  const cdiDir = `${dir}/cdi`;
  const toolkit = `${dir}/toolkit`;
  const driverRoot = await makeSimulatedDriverRoot(`${dir}/driver`);
  const source = writeToolkitSources(`${dir}/source`);
  options.prepareSource?.(source);
  await installToolkit(source, toolkit, driverRoot, {
    args: ["--cdi-enabled"],
    env: { ...ENGINE_ENV, CDI_OUTPUT_DIR: cdiDir },
  });
  const ctk = (args: string[]) => runTool([`${toolkit}/xpu-ctk`], { args, env: ENGINE_ENV });
  const generated = await ctk([
    "cdi",
    "generate",
    "--driver-root",
    driverRoot,
    "--output",
    `${cdiDir}/xpu.yaml`,
  ]);
  strictEqual(generated.code, 0, generated.stderr);
  const archive = await writeImageArchive(
    makeBusyboxRootfs(`${dir}/rootfs`),
    `${dir}/busybox.tar`,
    // The pod sandbox runs the image's own command: it must last.
    { name: IMAGE, cmd: ["/bin/sleep", "2147483647"] },
  );
  return { driverRoot, toolkit, cdiDir, archive, ctk };
}

/** Imports the image into CRI's namespace (no registry) and checks CRI sees it. */
export async function importImage(world: World, archive: string): Promise<void> {
  const imported = await world.containerd.ctr(["images", "import", archive]);
  strictEqual(imported.code, 0, imported.stderr);
  ok(await world.cri.hasImage(IMAGE), `CRI does not see ${IMAGE}`);
}
