/**
 * Containers with their own user namespace, as the OCI runtime-tools' `linux_uid_mappings` test
 * builds them (`linux.namespaces` user, uidMappings 0→1000 ×2000, gidMappings 0→1000 ×3000),
 * started through the shim with real runc and crun in legacy, csv and cdi modes: each gets
 * `/dev/xpu0` (open), `/dev/xpuctl` (allowed: no driver behind it), the driver library and its
 * link. Both rootfs ownerships are run: the container's root's (what docker's userns-remap and
 * podman give) and the host root's (a bundle unpacked by root, runtime-tools' own). A hostile
 * image gets nothing onto the host, and podman with a user namespace gets its device too.
 */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { makeBundle } from "../helpers/container_lab.ts";
import {
  generateCdiSpec,
  type Lab,
  labTest,
  PROBE,
  runInLab,
  useCrun,
  useReadableToolkit,
} from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman, writePodmanRuntime } from "../helpers/podman.ts";

const ROOT_UID = 1000;
const ROOT_GID = 1000;

/** runtime-tools' `linux_uid_mappings`: a user namespace with container root at host 1000. */
function withUserNamespace(spec: Record<string, unknown>) {
  const linux = spec.linux as Record<string, unknown>;
  (linux.namespaces as { type: string }[]).push({ type: "user" });
  linux.uidMappings = [{ containerID: 0, hostID: ROOT_UID, size: 2000 }];
  linux.gidMappings = [{ containerID: 0, hostID: ROOT_GID, size: 3000 }];
}

const PROBE_USERNS = `${PROBE}
echo uid_map: $(cat /proc/self/uid_map)
echo "id: $(id -u):$(id -g)"`;

function request(mode: string) {
  return mode === "cdi" ? "XPU_VISIBLE_DEVICES=xpu.dev/xpu=0" : "XPU_VISIBLE_DEVICES=0";
}

function assertDevice(stdout: string) {
  match(stdout, /^\/dev\/xpu0: open ok$/m);
  match(stdout, /^\/dev\/xpu1: absent$/m);
  // ENXIO, not EPERM: the cgroup allows it and no driver is behind 240:1.
  match(stdout, /^sh: (?:line \d+: )?can't create \/dev\/xpuctl: No such device or address$/m);
  match(stdout, /^fake libxpu 1\.0\.0$/m);
  match(stdout, /^link: libxpu\.so\.1$/m);
}

async function userNamespaceLab(lab: Lab, mode: string) {
  await useReadableToolkit(lab);
  if (mode === "cdi") await generateCdiSpec(lab);
}

for (const runtime of ["runc", "crun"]) {
  for (const mode of ["legacy", "csv", "cdi"]) {
    for (const owner of ["the container's root", "the host's root"]) {
      await labTest(
        `user namespace, ${runtime}, ${mode} mode, a rootfs owned by ${owner}: the XPU arrives`,
        ["root", runtime as "runc" | "crun", "busybox"],
        { mode },
        async (lab) => {
          await userNamespaceLab(lab, mode);
          const lowLevel = runtime === "crun" ? [useCrun(lab)] : ["runc"];
          makeBundle(`${lab.dir}/bundle`, {
            args: ["sh", "-c", PROBE_USERNS],
            env: [request(mode)],
            edit: withUserNamespace,
          });
          if (owner === "the container's root") {
            await new Deno.Command("chown", {
              args: ["-R", `${ROOT_UID}:${ROOT_GID}`, `${lab.dir}/bundle/rootfs`],
            }).output();
          }
          const run = await runInLab(lab, "bundle", { lowLevel });
          strictEqual(run.createCode, 0, run.createStderr);
          assertDevice(run.stdout);
          match(run.stdout, /^uid_map: 0 1000 2000$/m);
          match(run.stdout, /^id: 0:0$/m);
        },
      );
    }
  }
}

for (const mode of ["legacy", "csv", "cdi"]) {
  await labTest(
    `user namespace, ${mode} mode: an image whose /usr links to a host dir writes nothing there`,
    ["root", "runc", "busybox"],
    { mode },
    async (lab) => {
      await userNamespaceLab(lab, mode);
      const outside = `${lab.dir}/outside`;
      Deno.mkdirSync(outside);
      Deno.writeTextFileSync(`${outside}/keep`, "host\n");
      makeBundle(`${lab.dir}/bundle`, {
        args: ["sh", "-c", PROBE_USERNS],
        env: [request(mode)],
        edit: withUserNamespace,
      });
      Deno.symlinkSync(outside, `${lab.dir}/bundle/rootfs/usr`);
      const run = await runInLab(lab, "bundle");
      // The link is followed inside the rootfs: the driver files land at <rootfs><outside>.
      strictEqual(run.createCode, 0, run.createStderr);
      assertDevice(run.stdout);
      deepStrictEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["keep"]);
      strictEqual(Deno.readTextFileSync(`${outside}/keep`), "host\n");
    },
  );
}

for (const mode of ["legacy", "csv", "cdi"]) {
  await labTest(
    `podman --uidmap (a user namespace) through the shim in ${mode} mode: the XPU arrives`,
    ["root", "podman", "runc", "busybox"],
    { mode },
    async (lab) => {
      await userNamespaceLab(lab, mode);
      const shim = writePodmanRuntime(lab);
      await withPodman(lab, async (podman) => {
        const run = await podman([
          "run",
          "--rm",
          "--runtime",
          shim,
          "--cgroup-parent",
          CGROUP_PARENT,
          "--uidmap",
          "0:200000:65536",
          "--gidmap",
          "0:200000:65536",
          "-e",
          request(mode),
          "busybox:min",
          "sh",
          "-c",
          PROBE_USERNS,
        ]);
        strictEqual(run.code, 0, run.stderr);
        assertDevice(run.stdout);
        match(run.stdout, /^uid_map: 0 200000 65536$/m);
      });
    },
  );
}
