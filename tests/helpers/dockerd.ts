/**
 * A private dockerd for end-to-end tests (HARNESS.md): its own data and exec roots, socket and
 * cgroup parent; a busybox image imported from a tiny rootfs; everything removed afterwards.
 *
 * @module
 */

import { makeBusyboxRootfs } from "./container_lab.ts";
import { runTool, toolArgv, type ToolRun, writeToolWrapper } from "./toolkit_commands.ts";
import { PROBE } from "./lab.ts";

/** A running private dockerd. */
export interface Dockerd {
  socket: string;
  pid: number;
  /** Runs the docker CLI against it. */
  docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  alive(): boolean;
  /** Waits (10 s at most) until `docker info` reports `want` as the default runtime. */
  waitForDefaultRuntime(want: string): Promise<void>;
  /** Waits (10 s at most) until `docker info`'s runtime names satisfy `ok`; throws with them. */
  waitForRuntimes(ok: (names: string[]) => boolean): Promise<string[]>;
  /** `docker run --rm --network none FLAGS busybox:min sh -c PROBE`. */
  runProbe(flags?: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** A private dockerd's flags: no networking, its own roots, socket, pid file and cgroup parent. */
export function dockerdArgs(o: {
  dir: string;
  daemonJson: string;
  socket: string;
  cgroupParent: string;
  storageDriver: string;
}): string[] {
  return [
    "--config-file",
    o.daemonJson,
    "--iptables=false",
    "--ip6tables=false",
    "--bridge=none",
    `--storage-driver=${o.storageDriver}`,
    "--data-root",
    `${o.dir}/data`,
    "--exec-root",
    `${o.dir}/exec`,
    "-H",
    `unix://${o.socket}`,
    "--pidfile",
    `${o.dir}/dockerd.pid`,
    "--cgroup-parent",
    o.cgroupParent,
  ];
}

/** Starts dockerd with `daemonJson` as its config, runs `fn`, tears everything down. */
export async function withDockerd(
  dir: string,
  daemonJson: string,
  env: Record<string, string>,
  fn: (d: Dockerd) => Promise<void>,
): Promise<void> {
  Deno.mkdirSync(`${dir}/data`, { recursive: true });
  Deno.mkdirSync(`${dir}/exec`, { recursive: true });
  const cgroupParent = `/xpu-test-docker-${Deno.pid}`;
  const socket = `${dir}/docker.sock`;
  const log = Deno.openSync(`${dir}/dockerd.log`, { write: true, create: true, append: true });
  const child = new Deno.Command("dockerd", {
    args: dockerdArgs({ dir, daemonJson, socket, cgroupParent, storageDriver: "overlay2" }),
    env,
    stdin: "null",
    stdout: log.writable ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  // Keep the daemon's output for troubleshooting without blocking it.
  const drain = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeTo(new WritableStream({ write: (chunk) => void log.writeSync(chunk) })).catch(
      () => {},
    );
  const drained = [drain(child.stdout), drain(child.stderr)];
  const docker = async (args: string[]) => {
    const out = await new Deno.Command("docker", {
      args,
      env: { DOCKER_HOST: `unix://${socket}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  const alive = () => {
    try {
      Deno.kill(child.pid, "SIGCONT");
      return true;
    } catch {
      return false;
    }
  };
  try {
    const deadline = Date.now() + 30_000;
    while ((await docker(["version"])).code !== 0) {
      if (Date.now() > deadline || !alive()) {
        throw new Error(
          `dockerd did not start: ${Deno.readTextFileSync(`${dir}/dockerd.log`).slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // A dockerd started again on the same dir (a restart) imports the image again.
    try {
      Deno.removeSync(`${dir}/image`, { recursive: true });
    } catch {
      // Not there: the first start.
    }
    const rootfs = makeBusyboxRootfs(`${dir}/image`);
    const tar = await new Deno.Command("tar", { args: ["-C", rootfs, "-c", "."], stdout: "piped" })
      .output();
    const imported = new Deno.Command("docker", {
      args: ["import", "-c", "ENV PATH=/bin", "-", "busybox:min"],
      env: { DOCKER_HOST: `unix://${socket}` },
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writer = imported.stdin.getWriter();
    await writer.write(tar.stdout);
    await writer.close();
    const result = await imported.output();
    if (!result.success) throw new Error(`docker import failed: ${decode(result.stderr)}`);
    const waitForDefaultRuntime = async (want: string) => {
      const current = async () =>
        (await docker(["info", "--format", "{{.DefaultRuntime}}"])).stdout.trim();
      const deadline = Date.now() + 10_000;
      while ((await current()) !== want) {
        if (Date.now() > deadline) throw new Error(`dockerd's default runtime is not "${want}"`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const waitForRuntimes = async (ok: (names: string[]) => boolean) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const info = await docker(["info", "--format", "{{json .}}"]);
        // Only a daemon's answer counts (a CLI that reached none may still exit 0).
        const parsed = info.code === 0 ? JSON.parse(info.stdout) : {};
        const names = Object.keys(parsed.Runtimes ?? {}).sort();
        if (parsed.ServerVersion && ok(names)) return names;
        if (Date.now() > deadline) {
          throw new Error(`dockerd's runtimes stay ${JSON.stringify(names)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const runProbe = (flags: string[] = []) =>
      docker(["run", "--rm", "--network", "none", ...flags, "busybox:min", "sh", "-c", PROBE]);
    await fn({
      socket,
      pid: child.pid,
      docker,
      alive,
      waitForDefaultRuntime,
      waitForRuntimes,
      runProbe,
    });
  } finally {
    const ids = (await docker(["ps", "-aq"])).stdout.trim().split("\n").filter((id) => id);
    if (ids.length > 0) await docker(["rm", "-f", ...ids]);
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await Promise.all(drained);
    log.close();
    // Mounts and cgroups a daemon can leave behind.
    await new Deno.Command("sh", {
      args: [
        "-c",
        `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null; ` +
        `for c in /sys/fs/cgroup/*${cgroupParent}; do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`,
      ],
    }).output();
  }
}

/**
 * `xpu-ctk runtime ACTION --runtime docker` against a private dockerd: its daemon.json, its
 * socket, restart mode `signal`, revert memories in `stateDir`; `extra` flags last.
 */
export function dockerRuntimeCommand(
  d: Dockerd,
  daemonJson: string,
  stateDir: string,
): (action: string, extra?: string[]) => Promise<ToolRun> {
  return (action, extra = []) =>
    runTool(toolArgv("xpu-ctk"), {
      args: [
        "runtime",
        action,
        "--runtime",
        "docker",
        "--config",
        daemonJson,
        "--socket",
        d.socket,
        "--restart-mode",
        "signal",
        "--state-dir",
        stateDir,
        ...extra,
      ],
    });
}

/**
 * A private dockerd, under `dir`, with the runtime shim's wrapper (in `toolsDir`) configured as
 * its `xpu` runtime by `xpu-ctk runtime configure`; `env` is dockerd's, which is what a runtime
 * sees (the lab's config path, say). Runs `fn` once docker lists the runtime.
 */
export async function withXpuRuntimeDockerd(
  dir: string,
  toolsDir: string,
  env: Record<string, string>,
  fn: (d: Dockerd) => Promise<void>,
): Promise<void> {
  Deno.mkdirSync(dir);
  const daemonJson = `${dir}/daemon.json`;
  Deno.writeTextFileSync(daemonJson, "{}\n");
  const shim = writeToolWrapper("xpu-container-runtime", toolsDir);
  const dockerdEnv = { ...env, PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
  await withDockerd(dir, daemonJson, dockerdEnv, async (d) => {
    const configured = await dockerRuntimeCommand(d, daemonJson, `${dir}/revert`)("configure", [
      "--runtime-path",
      shim,
    ]);
    if (configured.code !== 0) {
      throw new Error(`xpu-ctk runtime configure failed: ${configured.stderr}`);
    }
    await d.waitForRuntimes((names) => names.includes("xpu"));
    await fn(d);
  });
}
