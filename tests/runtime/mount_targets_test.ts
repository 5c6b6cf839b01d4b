/**
 * The mount targets the shim makes for a user-namespaced container: the added bind mounts only,
 * none under another mount, owned by the container's root; and, as root, that they land inside
 * the rootfs whatever its symlinks say.
 */

import { deepStrictEqual } from "node:assert/strict";
import type { OciSpec } from "../../src/core/oci/oci_spec.ts";
import {
  type MountTargetPlan,
  mountTargetsToPrepare,
  prepareMountTargets,
} from "../../src/runtime/mount_targets.ts";
import { e2eTest } from "../helpers/e2e.ts";
import { withTempDir, writeTree } from "../helpers/temp_dir.ts";

const USERNS = {
  namespaces: [{ type: "user" }],
  uidMappings: [{ containerID: 0, hostID: 1000, size: 2000 }],
  gidMappings: [{ containerID: 0, hostID: 1000, size: 3000 }],
};
const PROC = { destination: "/proc", type: "proc", source: "proc" };
const DEV = { destination: "/dev", type: "tmpfs", source: "tmpfs" };
const LIB = {
  destination: "/usr/lib/libxpu.so.1",
  type: "bind",
  source: "/drv/usr/lib/libxpu.so.1",
  options: ["ro", "nosuid", "nodev", "bind"],
};
const NODE = {
  destination: "/dev/xpu0",
  type: "bind",
  source: "/drv/dev/xpu0",
  options: ["bind", "nosuid", "noexec"],
};
const keys = (...mounts: unknown[]) => new Set(mounts.map((m) => JSON.stringify(m)));

Deno.test("mountTargetsToPrepare", async (t) => {
  const cases: {
    name: string;
    input: { spec: OciSpec; before: Set<string> };
    expected: MountTargetPlan | undefined;
  }[] = [
    {
      name: "no user namespace: the runtime makes its targets itself",
      input: { spec: { mounts: [PROC, DEV, LIB] }, before: keys(PROC, DEV) },
      expected: undefined,
    },
    {
      name: "an added driver file, owned by the container's root; a node under /dev is not",
      input: { spec: { linux: USERNS, mounts: [PROC, DEV, LIB, NODE] }, before: keys(PROC, DEV) },
      expected: {
        owner: { uid: 1000, gid: 1000 },
        targets: [{ path: "/usr/lib/libxpu.so.1", source: "/drv/usr/lib/libxpu.so.1" }],
      },
    },
    {
      name: "the engine's own mounts are left to the runtime",
      input: { spec: { linux: USERNS, mounts: [PROC, LIB] }, before: keys(PROC, LIB) },
      expected: undefined,
    },
    {
      name: "a mount that is no bind, or has a relative source, is not planned",
      input: {
        spec: {
          linux: USERNS,
          mounts: [
            { destination: "/run/x", type: "tmpfs", source: "tmpfs" },
            { destination: "/opt/x", type: "bind", source: "rel/x", options: ["rbind"] },
          ],
        },
        before: keys(),
      },
      expected: undefined,
    },
    {
      name: "the destination is normalised",
      input: {
        spec: { linux: USERNS, mounts: [{ ...LIB, destination: "/usr//lib/./libxpu.so.1" }] },
        before: keys(),
      },
      expected: {
        owner: { uid: 1000, gid: 1000 },
        targets: [{ path: "/usr/lib/libxpu.so.1", source: "/drv/usr/lib/libxpu.so.1" }],
      },
    },
    {
      name: "a user namespace joined by path: no ids to own them, nothing planned",
      input: {
        spec: { linux: { namespaces: [{ type: "user", path: "/proc/1/ns/user" }] }, mounts: [LIB] },
        before: keys(),
      },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(mountTargetsToPrepare(c.input.spec, c.input.before), c.expected);
    });
  }
});

await e2eTest("prepareMountTargets: owned by the container's root, inside the rootfs", [
  "root",
], async () => {
  await withTempDir(async (dir) => {
    const rootfs = `${dir}/rootfs`;
    const host = `${dir}/host`;
    Deno.mkdirSync(`${host}/libdir`, { recursive: true });
    Deno.writeTextFileSync(`${host}/lib.so`, "ELF");
    Deno.mkdirSync(rootfs);
    writeTree(rootfs, { "/etc/keep": "x", "/opt": { link: host } });
    const problems = await prepareMountTargets(rootfs, {
      owner: { uid: 1234, gid: 5678 },
      targets: [
        { path: "/usr/lib/libxpu.so.1", source: `${host}/lib.so` },
        { path: "/usr/share/xpu", source: `${host}/libdir` },
        { path: "/etc/keep", source: `${host}/lib.so` },
        // An absolute link to a host dir is followed inside the rootfs only.
        { path: "/opt/evil.so", source: `${host}/lib.so` },
      ],
    });
    deepStrictEqual(problems, []);
    const owner = (path: string) => {
      const info = Deno.lstatSync(`${rootfs}${path}`);
      return [info.isFile ? "file" : info.isDirectory ? "dir" : "other", info.uid, info.gid];
    };
    deepStrictEqual(owner("/usr"), ["dir", 1234, 5678]);
    deepStrictEqual(owner("/usr/lib"), ["dir", 1234, 5678]);
    deepStrictEqual(owner("/usr/lib/libxpu.so.1"), ["file", 1234, 5678]);
    deepStrictEqual(owner("/usr/share/xpu"), ["dir", 1234, 5678]);
    deepStrictEqual(owner("/etc/keep"), ["file", 0, 0]);
    deepStrictEqual(Deno.statSync(`${rootfs}/usr/lib/libxpu.so.1`).size, 0);
    deepStrictEqual([...Deno.readDirSync(host)].map((e) => e.name).sort(), ["lib.so", "libdir"]);
    deepStrictEqual(owner(`${host}/evil.so`), ["file", 1234, 5678]);
  });
});
