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
 *   An annotation reaches the shim only if the handler's `container_annotations` pass it. Of the
 *   calls containerd's shim makes per container, only `create` reaches our shim: the installed
 *   wrappers' fast path hands the others to runc.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { BIN_DIR, runTool } from "../helpers/toolkit_commands.ts";
import { atLeast, e2eTest, engineSet } from "../helpers/e2e.ts";
import { CRI_API_PROTO, mountsUnder, removeCgroup, unmountUnder } from "../helpers/cri.ts";
import {
  ANNOTATION_REQUEST,
  CGROUP_PARENT,
  ENV_REQUEST,
  importImage,
  installToolkitForCri,
  type Request,
  runPod,
  siteConfig,
  withContainerd,
} from "../helpers/cri_pods.ts";
import { pathExists } from "../helpers/temp_dir.ts";
import { isCreate, loggedCalls, logShimCalls } from "../helpers/fast_path.ts";

type Table = Record<string, unknown>;

const HANDLERS = ["xpu", "xpu-cdi", "xpu-legacy"] as const;
const BINARY = {
  "xpu": "xpu-container-runtime",
  "xpu-cdi": "xpu-container-runtime.cdi",
  "xpu-legacy": "xpu-container-runtime.legacy",
} as const;
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
    const results: string[] = [];
    let finished = false;
    try {
      // The installed toolkit, as the installer's daemon puts it on a node, for a simulated host.
      // The shim logs each call it gets: with the fast path, only the creates.
      const shimLog = `${dir}/shim-calls.log`;
      const { toolkit, cdiDir, archive, ctk } = await installToolkitForCri(dir, {
        prepareSource: (source) => {
          logShimCalls(source, shimLog);
          pinnableRuntimeSource(source);
        },
      });

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
        await importImage(world, archive);
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
        const shimCallsBefore = loggedCalls(shimLog).length;
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
        await t.step(
          `setup ${how}: only create reached the shim (the fast path took the rest)`,
          () => {
            const calls = loggedCalls(shimLog).slice(shimCallsBefore);
            ok(calls.length > 0, "no call reached the shim");
            deepStrictEqual(
              calls.filter((call) => !isCreate(call)),
              [],
              "calls that were no create",
            );
            results.push(`setup ${how}: ${calls.length} creates in the shim, nothing else`);
          },
        );
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
