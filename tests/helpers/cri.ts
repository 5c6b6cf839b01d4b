/**
 * The Kubernetes path for end-to-end tests: a CRI client (gRPC over containerd's unix socket, from
 * the CRI `api.proto` with `@grpc/grpc-js` and `@grpc/proto-loader`), a private containerd that
 * serves it, and a busybox image archive `ctr image import` reads — there is no registry to pull
 * from. Everything a test starts is ended by PID, and its mounts and cgroups are removed.
 *
 * ```ts
 * const containerd = await startContainerd(dir, { config: `${dir}/config.toml` });
 * const cri = await containerd.cri();
 * const pod = await cri.runPodSandbox(podConfig, "xpu");
 * ```
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { sh } from "./container_lab.ts";
import { pathExists } from "./temp_dir.ts";

/** Where Debian's `golang-github-kubernetes-cri-api-dev` puts the Go sources and their protos. */
export const GOCODE_ROOT = "/usr/share/gocode/src";

/** The CRI v1 API definition (it imports gogo.proto from the same tree). */
export const CRI_API_PROTO = `${GOCODE_ROOT}/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto`;

/** The containerd namespace CRI works in: images must be imported there. */
export const CRI_NAMESPACE = "k8s.io";

/** `NamespaceMode` of the CRI API. */
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;

/** `ContainerState` of the CRI API. */
export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;

/** `PodSandboxConfig`, the fields the tests use (proto field names). */
export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  /** Absolute dir the containers' `log_path`s are relative to. */
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroup_parent?: string;
    security_context?: {
      namespace_options?: { network?: number; pid?: number; ipc?: number };
    };
  };
}

/** `ContainerConfig`, the fields the tests use (proto field names). */
export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  envs?: { key: string; value: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Relative to the pod's `log_directory`. */
  log_path?: string;
  /** Fully-qualified CDI device names (CRI ≥ 1.28, containerd ≥ 1.7 with `enable_cdi`). */
  CDI_devices?: { name: string }[];
}

/** `ContainerStatus`, the fields the tests read. */
export interface ContainerStatus {
  id: string;
  state: number;
  exit_code: number;
  reason: string;
  message: string;
  log_path: string;
  annotations: Record<string, string>;
}

/** What `Version` answers. */
export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

/** What `ExecSync` answers (output decoded as UTF-8). */
export interface ExecSyncResult {
  stdout: string;
  stderr: string;
  exit_code: number;
}

// deno-lint-ignore no-explicit-any
type GrpcClient = grpc.Client & Record<string, any>;

const loaded = new Map<string, Promise<grpc.GrpcObject>>();

/** The CRI package, loaded once per Go source tree. */
function criPackage(gocodeRoot: string): Promise<grpc.GrpcObject> {
  let pkg = loaded.get(gocodeRoot);
  if (!pkg) {
    // api.proto imports "github.com/gogo/protobuf/gogoproto/gogo.proto" from the same tree.
    pkg = protoLoader.load(CRI_API_PROTO.slice(GOCODE_ROOT.length + 1), {
      includeDirs: [gocodeRoot],
      keepCase: true,
      longs: Number,
      enums: Number,
      defaults: true,
      oneofs: true,
    }).then((definition) => grpc.loadPackageDefinition(definition));
    loaded.set(gocodeRoot, pkg);
  }
  return pkg;
}

/** A CRI client on one runtime endpoint: the RuntimeService and ImageService calls tests need. */
export class CriClient {
  readonly #runtime: GrpcClient;
  readonly #images: GrpcClient;
  readonly #deadlineMs: number;

  /** Use {@link connectCri}. */
  constructor(runtime: GrpcClient, images: GrpcClient, deadlineMs: number) {
    this.#runtime = runtime;
    this.#images = images;
    this.#deadlineMs = deadlineMs;
  }

  #call<T>(client: GrpcClient, method: string, request: unknown, deadlineMs?: number): Promise<T> {
    const deadline = new Date(Date.now() + (deadlineMs ?? this.#deadlineMs));
    return new Promise((resolve, reject) => {
      client[method](request, { deadline }, (error: grpc.ServiceError | null, response: T) => {
        if (error) {
          reject(
            new Error(`CRI ${method} failed: ${error.details || error.message}`, { cause: error }),
          );
        } else resolve(response);
      });
    });
  }

  /** `Version`: the runtime's name and versions. */
  version(deadlineMs?: number): Promise<VersionResponse> {
    return this.#call(this.#runtime, "Version", { version: "v1" }, deadlineMs);
  }

  /** `RunPodSandbox` with `runtimeHandler` (a CRI runtimes table entry); returns the pod id. */
  async runPodSandbox(config: PodSandboxConfig, runtimeHandler: string): Promise<string> {
    const response = await this.#call<{ pod_sandbox_id: string }>(
      this.#runtime,
      "RunPodSandbox",
      { config, runtime_handler: runtimeHandler },
    );
    return response.pod_sandbox_id;
  }

  /** `StopPodSandbox`: stops the pod's containers and its sandbox. */
  async stopPodSandbox(podId: string): Promise<void> {
    await this.#call(this.#runtime, "StopPodSandbox", { pod_sandbox_id: podId });
  }

  /** `RemovePodSandbox`: removes the pod and its containers. */
  async removePodSandbox(podId: string): Promise<void> {
    await this.#call(this.#runtime, "RemovePodSandbox", { pod_sandbox_id: podId });
  }

  /** `ListPodSandbox`: the ids of every pod. */
  async listPodSandboxes(): Promise<string[]> {
    const response = await this.#call<{ items: { id: string }[] }>(
      this.#runtime,
      "ListPodSandbox",
      {},
    );
    return response.items.map((p) => p.id);
  }

  /** `CreateContainer` in pod `podId` (whose config is `podConfig`); returns the container id. */
  async createContainer(
    podId: string,
    options: { config: ContainerConfig; podConfig: PodSandboxConfig },
  ): Promise<string> {
    const response = await this.#call<{ container_id: string }>(
      this.#runtime,
      "CreateContainer",
      { pod_sandbox_id: podId, config: options.config, sandbox_config: options.podConfig },
    );
    return response.container_id;
  }

  /** `StartContainer`. */
  async startContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, "StartContainer", { container_id: id });
  }

  /** `StopContainer`: SIGTERM, then SIGKILL after `timeoutSeconds` (0: at once). */
  async stopContainer(id: string, timeoutSeconds = 0): Promise<void> {
    await this.#call(this.#runtime, "StopContainer", { container_id: id, timeout: timeoutSeconds });
  }

  /** `RemoveContainer`. */
  async removeContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, "RemoveContainer", { container_id: id });
  }

  /** `ContainerStatus`. */
  async containerStatus(id: string): Promise<ContainerStatus> {
    const response = await this.#call<{ status: ContainerStatus }>(
      this.#runtime,
      "ContainerStatus",
      { container_id: id },
    );
    return response.status;
  }

  /** `ExecSync`: runs `cmd` in the running container `id`. */
  async execSync(
    id: string,
    options: { cmd: string[]; timeoutSeconds?: number },
  ): Promise<ExecSyncResult> {
    const timeout = options.timeoutSeconds ?? 30;
    const response = await this.#call<
      { stdout: Uint8Array; stderr: Uint8Array; exit_code: number }
    >(
      this.#runtime,
      "ExecSync",
      { container_id: id, cmd: options.cmd, timeout },
      (timeout + 10) * 1000,
    );
    const decoder = new TextDecoder();
    return {
      stdout: decoder.decode(response.stdout),
      stderr: decoder.decode(response.stderr),
      exit_code: response.exit_code,
    };
  }

  /** `ImageStatus`: whether CRI sees the image `ref`. */
  async hasImage(ref: string): Promise<boolean> {
    const response = await this.#call<{ image: unknown }>(
      this.#images,
      "ImageStatus",
      { image: { image: ref } },
    );
    return response.image !== null && response.image !== undefined;
  }

  /**
   * Polls `ContainerStatus` until `until` holds (at most `timeoutMs`); returns the last status.
   *
   * @throws {Error} naming the last state when the time runs out
   */
  async waitForContainer(
    id: string,
    options: { until: (status: ContainerStatus) => boolean; timeoutMs?: number; what?: string },
  ): Promise<ContainerStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const status = await this.containerStatus(id);
      if (options.until(status)) return status;
      if (Date.now() > deadline) {
        throw new Error(
          `container "${id}" did not ${options.what ?? "reach the state asked"} in time: state ` +
            `${status.state}, reason "${status.reason}", message "${status.message}"`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until the container has exited; returns its status (exit code, reason). */
  waitForExit(id: string, timeoutMs?: number): Promise<ContainerStatus> {
    return this.waitForContainer(id, {
      until: (s) => s.state === ContainerState.EXITED,
      timeoutMs,
      what: "exit",
    });
  }

  /** Closes both channels. */
  close(): void {
    this.#runtime.close();
    this.#images.close();
  }
}

/** Connects to the CRI endpoint on the unix socket `socket`. */
export async function connectCri(
  socket: string,
  options: { gocodeRoot?: string; deadlineMs?: number } = {},
): Promise<CriClient> {
  const pkg = await criPackage(options.gocodeRoot ?? GOCODE_ROOT);
  const v1 = (pkg.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const RuntimeService = v1.RuntimeService as grpc.ServiceClientConstructor;
  const ImageService = v1.ImageService as grpc.ServiceClientConstructor;
  const target = `unix://${socket}`;
  const credentials = grpc.credentials.createInsecure();
  return new CriClient(
    new RuntimeService(target, credentials) as GrpcClient,
    new ImageService(target, credentials) as GrpcClient,
    options.deadlineMs ?? 120_000,
  );
}

/** One line of a CRI container log (`<time> <stream> <P|F> <text>`). */
export interface CriLogLine {
  stream: "stdout" | "stderr";
  text: string;
}

/** Parses a CRI container log, joining partial (`P`) lines with the line that ends them. */
export function parseCriLog(text: string): CriLogLine[] {
  const lines: CriLogLine[] = [];
  const pending: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const m = /^\S+ (stdout|stderr) ([PF]) ?(.*)$/.exec(raw);
    if (!m) continue;
    const stream = m[1] as CriLogLine["stream"];
    const joined = (pending[stream] ?? "") + m[3];
    if (m[2] === "P") {
      pending[stream] = joined;
    } else {
      delete pending[stream];
      lines.push({ stream, text: joined });
    }
  }
  return lines;
}

/** The text of a CRI container log (both streams, in order), or "" when there is none yet. */
export function readCriLog(path: string): string {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return "";
  }
  return parseCriLog(text).map((l) => l.text + "\n").join("");
}

/** Options of {@link writeImageArchive}. */
export interface ImageArchiveOptions {
  /** The image's name, fully qualified (`docker.io/library/busybox:min`). */
  name: string;
  /** The image's default command (a pod sandbox image runs it). */
  cmd?: string[];
  env?: string[];
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const OCI_ARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

/**
 * Writes a one-layer image of `rootfs` to `file` in `docker save` format (what `ctr image import`
 * and `podman load` read), without an engine: the layer, its config and `manifest.json`.
 */
export async function writeImageArchive(
  rootfs: string,
  file: string,
  options: ImageArchiveOptions,
): Promise<string> {
  const dir = Deno.makeTempDirSync({ dir: file.slice(0, file.lastIndexOf("/")) || "/" });
  try {
    await sh("tar", ["--numeric-owner", "-C", rootfs, "-cf", `${dir}/layer.tar`, "."]);
    const layer = await sha256Hex(Deno.readFileSync(`${dir}/layer.tar`));
    const config = JSON.stringify({
      architecture: OCI_ARCH[Deno.build.arch] ?? Deno.build.arch,
      os: "linux",
      config: { Env: options.env ?? ["PATH=/bin"], Cmd: options.cmd ?? ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: [`sha256:${layer}`] },
    });
    const configName = `${await sha256Hex(new TextEncoder().encode(config))}.json`;
    Deno.writeTextFileSync(`${dir}/${configName}`, config);
    Deno.writeTextFileSync(
      `${dir}/manifest.json`,
      JSON.stringify([{ Config: configName, RepoTags: [options.name], Layers: ["layer.tar"] }]),
    );
    await sh("tar", ["-C", dir, "-cf", file, "manifest.json", configName, "layer.tar"]);
    return file;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** A private containerd started by {@link startContainerd}. */
export interface PrivateContainerd {
  socket: string;
  pid: number;
  /** containerd's own stderr (its log). */
  logPath: string;
  /** Runs `ctr` against it in the CRI namespace. */
  ctr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** A CRI client on its socket (closed by `stop`). */
  cri(): Promise<CriClient>;
  /** The last `lines` lines of its log. */
  logTail(lines?: number): string;
  /**
   * Removes every pod (CRI), ends containerd (SIGTERM, then SIGKILL), and ends the shims it left
   * for its socket, by PID.
   */
  stop(): Promise<void>;
}

/** The pids of the processes whose argv holds `-address <socket>`: containerd's shims. */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let argv: string[];
    try {
      argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
    } catch {
      continue;
    }
    const at = argv.indexOf("-address");
    if (at >= 0 && argv[at + 1] === socket && /containerd-shim/.test(argv[0])) {
      pids.push(Number(entry.name));
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts containerd on `config` (whose `[grpc] address` is `socket`), waits until CRI answers
 * `Version`, and returns it. On a start that does not come up it is ended and the error quotes
 * its log.
 */
export async function startContainerd(
  socket: string,
  options: { config: string; logPath: string; env?: Record<string, string>; gocodeRoot?: string },
): Promise<PrivateContainerd> {
  const log = Deno.openSync(options.logPath, { write: true, create: true, append: true });
  const child = new Deno.Command("containerd", {
    args: ["--config", options.config],
    clearEnv: true,
    env: options.env ?? { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const drained = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void log.writeSync(chunk) }),
  ).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const logTail = (lines = 40) => {
    try {
      return Deno.readTextFileSync(options.logPath).trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  };
  let client: CriClient | undefined;
  const cri = async () => client ??= await connectCri(socket, { gocodeRoot: options.gocodeRoot });
  const stop = async () => {
    try {
      if (!exited && client) {
        for (const pod of await client.listPodSandboxes().catch(() => [])) {
          await client.stopPodSandbox(pod).catch(() => {});
          await client.removePodSandbox(pod).catch(() => {});
        }
      }
    } finally {
      client?.close();
      client = undefined;
      const shims = shimPids(socket);
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
        await status;
        clearTimeout(timer);
      }
      // A shim outlives containerd by design; its containers are gone with the pods above.
      for (const pid of shims) {
        if (alive(pid)) Deno.kill(pid, "SIGKILL");
      }
      await drained;
      log.close();
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`containerd exited while starting; its log ends:\n${logTail()}`);
    }
    if (pathExists(socket)) {
      try {
        await (await cri()).version(2_000);
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          await stop();
          throw new Error(
            `containerd's CRI does not answer on "${socket}": ${error}\n${logTail()}`,
          );
        }
      }
    } else if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not create "${socket}"; its log ends:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    socket,
    pid: child.pid,
    logPath: options.logPath,
    ctr: async (args) => {
      const out = await new Deno.Command("ctr", {
        args: ["-a", socket, "-n", CRI_NAMESPACE, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      return {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
    },
    cri,
    logTail,
    stop,
  };
}

/** The mount points under `dir` (deepest first), from `/proc/self/mountinfo`. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.replace(/\/+$/, "") + "/";
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((line) => unescape(line.split(" ")[4] ?? ""))
    .filter((point) => point.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts (lazily) everything under `dir`; returns what was mounted there. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const points = mountsUnder(dir);
  for (const point of points) {
    await new Deno.Command("umount", { args: ["-l", point], stdout: "null", stderr: "null" })
      .output();
  }
  return points;
}

/** Removes the cgroup `path` and its children (deepest first) from every hierarchy. */
export function removeCgroup(path: string): void {
  const remove = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) remove(`${dir}/${entry.name}`);
    }
    Deno.removeSync(dir);
  };
  const roots = ["/sys/fs/cgroup"];
  for (const entry of Deno.readDirSync("/sys/fs/cgroup")) {
    if (entry.isDirectory) roots.push(`/sys/fs/cgroup/${entry.name}`);
  }
  for (const root of roots) {
    const dir = `${root}${path}`;
    if (!pathExists(dir)) continue;
    try {
      remove(dir);
    } catch (error) {
      console.error(`could not remove cgroup "${dir}": ${error}`);
    }
  }
}
