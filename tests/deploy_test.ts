/**
 * The Kubernetes manifests under `deploy/`: they parse as YAML; the DaemonSet runs the image's
 * entrypoint (deploy/Dockerfile) with a DESTINATION it mounts at the host's own path; every
 * environment variable it sets is one the installer or `xpu-ctk runtime` reads, and every path
 * those name is mounted where the host has it (the host's / at HOST_ROOT_MOUNT); the
 * RuntimeClasses name the handlers that `setup` adds.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./helpers/container_lab.ts";
import { operatorHandlers } from "../src/engines/engine_edit.ts";
import { RUNTIME_ENV } from "../src/engines/runtime_command.ts";
import { INSTALLER_ENV, NRI_RUNTIME, splitArgs } from "../src/installer/installer_args.ts";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

function load(file: string): Manifest[] {
  const text = Deno.readTextFileSync(`${REPO_ROOT}/deploy/${file}`);
  return parseAllDocuments(text).map((doc) => {
    deepStrictEqual(doc.errors, [], `${file}: ${doc.errors.join("; ")}`);
    return doc.toJS() as Manifest;
  });
}

const manifests = ["namespace.yaml", "daemonset.yaml", "runtimeclasses.yaml"].flatMap(load);
const daemonSet = manifests.find((m) => m.kind === "DaemonSet")!;
// deno-lint-ignore no-explicit-any
const pod = (daemonSet as any).spec.template.spec;
const container = pod.containers[0];
const env: Record<string, string> = Object.fromEntries(
  container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
);
const mounts: { name: string; mountPath: string }[] = container.volumeMounts;
const volumes: { name: string; hostPath: { path: string } }[] = pod.volumes;
const hostPathOf = (mountName: string) => volumes.find((v) => v.name === mountName)?.hostPath.path;

/** The mount a path inside the pod is under, and the host path it is. */
function onHost(path: string): string | undefined {
  const mount = mounts
    .filter((m) => path === m.mountPath || path.startsWith(m.mountPath + "/"))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (mount === undefined) return undefined;
  const host = hostPathOf(mount.name)!;
  return (host === "/" ? "" : host) + path.slice(mount.mountPath.length) || "/";
}

Deno.test("deploy: every manifest parses; namespace, service account, DaemonSet, RuntimeClasses", () => {
  deepStrictEqual(manifests.map((m) => `${m.kind}/${m.metadata.name}`), [
    "Namespace/xpu-container-toolkit",
    "ServiceAccount/xpu-container-toolkit",
    "DaemonSet/xpu-container-toolkit",
    "RuntimeClass/xpu",
    "RuntimeClass/xpu-cdi",
    "RuntimeClass/xpu-legacy",
  ]);
  strictEqual(daemonSet.metadata.namespace, "xpu-container-toolkit");
  strictEqual(pod.serviceAccountName, "xpu-container-toolkit");
  strictEqual(container.securityContext.privileged, true);
});

Deno.test("deploy: the DaemonSet runs the image's entrypoint, the installer", () => {
  const dockerfile = Deno.readTextFileSync(`${REPO_ROOT}/deploy/Dockerfile`);
  const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]);
  deepStrictEqual(container.command, entrypoint);
  ok(entrypoint[0].endsWith("/xpu-ctk-installer"));
  // The executables are copied next to it: the installer's default --source-dir.
  const copyTo = /^COPY \S+ (\S+)$/m.exec(dockerfile)![1].replace(/\/$/, "");
  strictEqual(entrypoint[0], `${copyTo}/xpu-ctk-installer`);
  ok(Deno.statSync(`${REPO_ROOT}/bin/xpu-ctk-installer.ts`).isFile);
});

Deno.test("deploy: the environment is what the installer and the engine setup read", () => {
  const read = new Set<string>([
    ...Object.values(INSTALLER_ENV),
    ...Object.values(RUNTIME_ENV).flatMap((names) => names(env.RUNTIME as "containerd")),
  ]);
  for (const name of Object.keys(env)) ok(read.has(name), `${name} is read by nothing`);
  strictEqual(env.RUNTIME, "containerd");
});

Deno.test("deploy: host paths are mounted at the host's own paths", () => {
  const destination = container.args[0];
  strictEqual(onHost(destination), destination, "DESTINATION (the toolkit dir's parent)");
  for (
    const name of [
      "RUNTIME_CONFIG",
      "RUNTIME_DROP_IN_CONFIG",
      "RUNTIME_SOCKET",
      "TOOLKIT_PID_FILE",
      "XPU_CTK_STATE_DIR",
      "CDI_OUTPUT_DIR",
    ]
  ) {
    ok(env[name], `${name} is set`);
    strictEqual(onHost(env[name]), env[name], `${name} (${env[name]})`);
  }
  // The host's / is where HOST_ROOT_MOUNT says (systemctl and the management CDI spec use it).
  strictEqual(onHost(env.HOST_ROOT_MOUNT), "/");
  // The toolkit's own state is not under the toolkit dir, which every install replaces.
  ok(!env.XPU_CTK_STATE_DIR.startsWith(`${destination}/toolkit`));
});

Deno.test("deploy: the RuntimeClasses name the handlers setup adds", () => {
  const classes = manifests.filter((m) => m.kind === "RuntimeClass");
  deepStrictEqual(
    classes.map((c) => [c.metadata.name, c.handler]),
    operatorHandlers("/usr/local/xpu/toolkit").map((h) => [h.name, h.name]),
  );
});

Deno.test("deploy: the NRI DaemonSet runs the plugin through the installer, no engine mounts", () => {
  const [nri] = load("daemonset-nri.yaml");
  strictEqual(`${nri.kind}/${nri.metadata.name}`, `DaemonSet/${daemonSet.metadata.name}`);
  // deno-lint-ignore no-explicit-any
  const nriPod = (nri as any).spec.template.spec;
  const [nriContainer] = nriPod.containers;
  deepStrictEqual([nriContainer.command, nriContainer.args], [container.command, container.args]);
  const nriEnv: Record<string, string> = Object.fromEntries(
    nriContainer.env.map((e: { name: string; value: string }) => [e.name, e.value]),
  );
  const read = new Set<string>(Object.values(INSTALLER_ENV));
  for (const name of Object.keys(nriEnv)) ok(read.has(name), `${name} is read by nothing`);
  strictEqual(nriEnv.RUNTIME, NRI_RUNTIME);
  deepStrictEqual(splitArgs(nriEnv.RUNTIME_ARGS, "RUNTIME_ARGS"), [
    "--socket",
    "/var/run/nri/nri.sock",
  ]);
  const nriMounts: { name: string; mountPath: string; readOnly?: boolean }[] =
    nriContainer.volumeMounts;
  const nriVolumes: { name: string; hostPath: { path: string } }[] = nriPod.volumes;
  const hostOf = (mountPath: string) =>
    nriVolumes.find((v) => v.name === nriMounts.find((m) => m.mountPath === mountPath)?.name)
      ?.hostPath.path;
  // The plugin runs chrooted in the host's / (read-only is enough: it reads and connects).
  strictEqual(hostOf(nriEnv.HOST_ROOT_MOUNT), "/");
  // The toolkit dir is at the host's own path, so the chrooted plugin finds it there too.
  strictEqual(hostOf(nriContainer.args[0]), nriContainer.args[0]);
  strictEqual(hostOf(nriEnv.CDI_OUTPUT_DIR), nriEnv.CDI_OUTPUT_DIR);
  ok(
    !nriMounts.some((m) => /containerd|crio|docker/.test(m.mountPath)),
    "no engine config or socket is mounted: nothing of the engine is changed",
  );
});
