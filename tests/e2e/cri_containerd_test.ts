/**
 * The Kubernetes path through a real CRI client: a private containerd (1.7 or 2.x) driven over
 * gRPC as the kubelet drives it (RunPodSandbox with a runtime handler, CreateContainer,
 * StartContainer, the container's CRI log, ExecSync).
 *
 * - containerd's own CDI (`enable_cdi`), plain runc, none of our runtimes: a container that asks by
 *   `cdi.k8s.io/*` annotation or by the CDI devices field gets /dev/xpu0 from the spec
 *   `xpu-ctk cdi generate` wrote; one that only sets `XPU_VISIBLE_DEVICES` gets nothing.
 * - `xpu-ctk runtime setup` of the installed toolkit (drop-in, then in place): pods on the `xpu`,
 *   `xpu-cdi` and `xpu-legacy` handlers get /dev/xpu0, and not /dev/xpu1, when a container asks by
 *   env or by annotation, in the mode the handler pins; a container that does not ask gets none.
 *   An annotation reaches the shim only if the handler's `container_annotations` pass it.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { makeBusyboxRootfs, makeSimulatedDriverRoot } from "../helpers/container_lab.ts";
import { BIN_DIR, runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { atLeast, e2eTest, engineSet } from "../helpers/e2e.ts";
import {
  type ContainerConfig,
  ContainerState,
  CRI_API_PROTO,
  type CriClient,
  mountsUnder,
  NamespaceMode,
  type PodSandboxConfig,
  type PrivateContainerd,
  readCriLog,
  removeCgroup,
  startContainerd,
  unmountUnder,
  writeImageArchive,
} from "../helpers/cri.ts";
import { presentKernelModule, PROBE, writeToolkitSources } from "../helpers/lab.ts";
import { pathExists } from "../helpers/temp_dir.ts";

type Table = Record<string, unknown>;

/** The only image there is (no registry): pods' sandboxes and containers run it. */
const IMAGE = "docker.io/xpu-test/busybox:min";
/** What the shim and the hooks get from containerd: no toolkit config in the environment. */
const ENGINE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
/** The pods' cgroup parent (cgroupfs), ours alone, removed afterwards. */
const CGROUP_PARENT = `/xpu-cri-${Deno.pid}`;
const HANDLERS = ["xpu", "xpu-cdi", "xpu-legacy"] as const;
const BINARY = {
  "xpu": "xpu-container-runtime",
  "xpu-cdi": "xpu-container-runtime.cdi",
  "xpu-legacy": "xpu-container-runtime.legacy",
} as const;
const DONE = "probe done";

/** The site's containerd config: CRI with what these machines need, and a realistic runc table. */
function siteConfig(dir: string, v3: boolean, cdi: { enabled: boolean; dirs: string[] }): string {
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
    "    disable = true",
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

/** The CRI runtimes table of an effective (`config dump`) config. */
function criRuntimes(doc: Table, v3: boolean): Record<string, Table> {
  const plugins = doc.plugins as Table;
  const cri = plugins[v3 ? "io.containerd.cri.v1.runtime" : "io.containerd.grpc.v1.cri"] as Table;
  return (cri.containerd as Table).runtimes as Record<string, Table>;
}

async function dump(config: string): Promise<Table> {
  const out = await runTool(["containerd"], { args: ["-c", config, "config", "dump"] });
  strictEqual(out.code, 0, out.stderr);
  return JSON.parse(JSON.stringify(parse(out.stdout))) as Table;
}

/**
 * The runtime's source for the installer, keeping the name it is started as. A compiled shim reads
 * its mode from that name (`xpu-container-runtime.cdi.real`); a `deno run` wrapper would lose it,
 * so it execs deno through a symlink of that name, as `toolArgvAs` does.
 */
function pinnableRuntimeSource(source: string) {
  if (BIN_DIR) return;
  const path = `${source}/xpu-container-runtime`;
  const wrapper = Deno.readTextFileSync(path);
  const quote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
  const deno = quote(Deno.execPath());
  const exec = wrapper.split("\n").find((l) => l.startsWith(`exec ${deno} `));
  ok(exec, `no "exec ${deno}" line in ${path}:\n${wrapper}`);
  const names = `${source}/.names`;
  Deno.mkdirSync(names);
  const cases = [".cdi", ".legacy"].map((suffix) => {
    const alias = `${names}/xpu-container-runtime${suffix}`;
    Deno.symlinkSync(Deno.execPath(), alias);
    return `  *${suffix}.real) ${exec.replace(deno, quote(alias))} ;;`;
  });
  Deno.writeTextFileSync(
    path,
    wrapper.replace(exec, ['case "$0" in', ...cases, "esac", exec].join("\n")),
  );
}

/** One container of a case: how it asks for the XPU, and what it must then see. */
interface Request {
  name: string;
  envs?: Record<string, string>;
  annotations?: Record<string, string>;
  cdiDevices?: string[];
  /** Whether /dev/xpu0 opens (and the driver library is there). */
  device: boolean;
  /** A line the shim must have logged (its mode), when a shim runs. */
  shimSays?: string;
}

const ENV_REQUEST = { XPU_VISIBLE_DEVICES: "0" };
const ANNOTATION_REQUEST = { "cdi.k8s.io/xpu-e2e": "xpu.dev/xpu=0" };

/** What a container printed, what the probe run in it later by ExecSync printed, what the shim logged. */
interface Probe {
  output: string;
  exec: string;
  shimLog: string;
}

/** Everything a test run shares. */
interface World {
  dir: string;
  containerd: PrivateContainerd;
  cri: CriClient;
}

let podCount = 0;

function podConfig(dir: string, name: string): PodSandboxConfig {
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

function diagnostics(world: World, probe: Partial<Probe>, context: string): string {
  return [
    context,
    `--- container log:\n${probe.output ?? "(none)"}`,
    `--- ExecSync of the probe:\n${probe.exec ?? "(none)"}`,
    `--- shim log (bundle log.json):\n${probe.shimLog || "(none)"}`,
    `--- containerd log, last lines:\n${world.containerd.logTail(30)}`,
  ].join("\n");
}

/**
 * Runs one container in `pod`: it probes the devices and stays up, so the shim's log in the
 * bundle can be read before the container is stopped and removed.
 */
async function probeContainer(
  world: World,
  pod: { id: string; config: PodSandboxConfig; handler: string },
  request: Request,
): Promise<Probe> {
  const config: ContainerConfig = {
    metadata: { name: request.name, attempt: 0 },
    image: { image: IMAGE },
    command: ["/bin/sh", "-c", `${PROBE}\necho "${DONE}"\nexec sleep 600`],
    envs: Object.entries(request.envs ?? {}).map(([key, value]) => ({ key, value })),
    annotations: request.annotations ?? {},
    log_path: `${request.name}.log`,
    CDI_devices: (request.cdiDevices ?? []).map((name) => ({ name })),
  };
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
function checkProbe(world: World, probe: Probe, request: Request, context: string) {
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
async function runPod(
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

/** The requests every handler of ours is tried with. */
function handlerRequests(handler: typeof HANDLERS[number]): Request[] {
  const mode = handler === "xpu" ? undefined : handler.slice("xpu-".length);
  const says = (auto: string) =>
    mode ? `Using mode '${mode}' pinned by the executable name` : `Auto-detected mode as '${auto}'`;
  const requests: Request[] = [
    { name: "env", envs: ENV_REQUEST, device: true, shimSays: says("legacy") },
  ];
  // A legacy hook reads no annotations.
  if (handler !== "xpu-legacy") {
    requests.push({
      name: "annotation",
      annotations: ANNOTATION_REQUEST,
      device: true,
      shimSays: says("cdi"),
    });
  }
  requests.push({ name: "no-request", device: false });
  return requests;
}

/** Starts containerd on `dir/config.toml`, runs `fn` against it, and stops it (pods removed). */
async function withContainerd(dir: string, fn: (world: World) => Promise<void>) {
  const containerd = await startContainerd(`${dir}/c.sock`, {
    config: `${dir}/config.toml`,
    logPath: `${dir}/containerd.log`,
    env: ENGINE_ENV,
  });
  try {
    await fn({ dir, containerd, cri: await containerd.cri() });
  } finally {
    await containerd.stop();
  }
}

await e2eTest(
  "cri: containerd's CRI runs pods on the xpu handlers setup adds, and with its own CDI",
  ["root", "runc", "nsenter", "busybox", "containerd"],
  async (t) => {
    const started = Date.now();
    const engine = (await engineSet()).versions.containerd!;
    const v3 = atLeast(engine, 2);
    // Short: socket paths live under 108 bytes.
    const dir = Deno.makeTempDirSync({ prefix: "xcri" });
    const config = `${dir}/config.toml`;
    const cdiDir = `${dir}/cdi`;
    const toolkit = `${dir}/toolkit`;
    const results: string[] = [];
    let finished = false;
    try {
      // The installed toolkit, as the installer's daemon puts it on a node, for a simulated host.
      const driverRoot = await makeSimulatedDriverRoot(`${dir}/driver`);
      const source = writeToolkitSources(`${dir}/source`);
      pinnableRuntimeSource(source);
      const install = await runTool(toolArgv("xpu-ctk-installer"), {
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
          "--cdi-enabled",
        ],
        env: { ...ENGINE_ENV, CDI_OUTPUT_DIR: cdiDir },
      });
      strictEqual(install.code, 0, install.stderr);
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

      // containerd's own CDI with plain runc: no runtime of ours.
      Deno.writeTextFileSync(config, siteConfig(dir, v3, { enabled: true, dirs: [cdiDir] }));
      await withContainerd(dir, async (world) => {
        const version = await world.cri.version();
        strictEqual(version.runtime_name, "containerd");
        ok(
          version.runtime_version.replace(/^v/, "").startsWith(`${engine.join(".")}.`),
          `CRI answers for containerd ${version.runtime_version}, expected ${engine.join(".")}`,
        );
        // No registry: the image is imported into CRI's namespace; the images stay for later runs.
        const imported = await world.containerd.ctr(["images", "import", archive]);
        strictEqual(imported.code, 0, imported.stderr);
        ok(await world.cri.hasImage(IMAGE), `CRI does not see ${IMAGE}`);
        await runPod(world, t, {
          phase: "containerd's CDI",
          handler: "runc",
          results,
          requests: [
            { name: "cdi-annotation", annotations: ANNOTATION_REQUEST, device: true },
            { name: "cdi-devices-field", cdiDevices: ["xpu.dev/xpu=0"], device: true },
            // runc alone does not read our env.
            { name: "env", envs: ENV_REQUEST, device: false },
          ],
        });
      });

      // Our handlers, containerd's CDI off (2.x has it on by default): a device that arrives
      // came through the shim.
      const original = siteConfig(dir, v3, { enabled: false, dirs: [cdiDir] });
      for (const dropIn of [`${dir}/conf.d/99-xpu.toml`, ""]) {
        const how = dropIn ? "drop-in" : "in place";
        Deno.writeTextFileSync(config, original);
        const flags = [
          "--runtime",
          "containerd",
          "--config",
          config,
          "--drop-in-config",
          dropIn,
          "--restart-mode",
          "none",
          "--state-dir",
          `${dir}/revert`,
        ];
        const setup = await ctk(["runtime", "setup", ...flags, toolkit]);
        strictEqual(setup.code, 0, `${how}: ${setup.stderr}`);
        const runtimes = criRuntimes(await dump(config), v3);
        for (const handler of HANDLERS) {
          const table = runtimes[handler];
          ok(table, `${how}: no "${handler}" runtime in the dump`);
          strictEqual(table.runtime_type, "io.containerd.runc.v2");
          strictEqual((table.options as Table).BinaryName, `${toolkit}/${BINARY[handler]}`);
        }
        // containerd reads its config only when it starts: the restart is ours (--restart-mode none).
        await withContainerd(dir, async (world) => {
          for (const handler of HANDLERS) {
            await runPod(world, t, {
              phase: `setup ${how}`,
              handler,
              results,
              requests: handlerRequests(handler),
            });
          }
        });
        const cleanup = await ctk(["runtime", "cleanup", ...flags, toolkit]);
        strictEqual(cleanup.code, 0, `${how}: ${cleanup.stderr}`);
        strictEqual(Deno.readTextFileSync(config), original, `${how}: cleanup restores the file`);
        if (dropIn) ok(!pathExists(dropIn), "cleanup removes the drop-in");
      }
      finished = true;
    } finally {
      const left = mountsUnder(dir);
      await unmountUnder(dir);
      removeCgroup(CGROUP_PARENT);
      Deno.removeSync(dir, { recursive: true });
      const took = Math.round((Date.now() - started) / 1000);
      console.error(`cri on containerd ${engine.join(".")} (${took} s):`);
      for (const line of results) console.error(`  ${line}`);
      // An earlier failure is the one to report; the mounts are gone either way.
      if (finished) deepStrictEqual(left, [], "mounts left behind once containerd stopped");
    }
  },
  {
    notApplicable: (engines) => {
      if (!atLeast(engines.versions.containerd, 1, 7)) {
        const found = engines.versions.containerd?.join(".") ?? "none";
        return `containerd ${found}: CRI's CDI and the CDI devices field need containerd 1.7 or later`;
      }
      if (!pathExists(CRI_API_PROTO)) {
        return `no CRI API definition "${CRI_API_PROTO}" (apt-get install golang-github-kubernetes-cri-api-dev)`;
      }
      return undefined;
    },
  },
);
