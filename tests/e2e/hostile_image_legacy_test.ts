/**
 * Hostile images against legacy mode: the prestart hook and `xpu-container-cli configure`, which
 * create nodes, files, mounts and links in a container that has not pivoted yet (its `/proc` is a
 * procfs whose pid 1 still has the host's root) and refresh its ld cache — through the shim in
 * front of runc and crun, and from a hooks.d file under podman. Each test checks that nothing
 * reached the lab's "host" dir and that the same (or the honest) container still gets its XPU.
 */

import { strictEqual } from "node:assert/strict";
import { SIMULATED_LIB_DIR } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import type { Need } from "../helpers/e2e.ts";
import { type Lab, labTest, runInLab } from "../helpers/lab.ts";
import { CGROUP_PARENT, withPodman } from "../helpers/podman.ts";
import {
  addConfig,
  addEvilSo,
  addHostileLdconfig,
  addPathShadows,
  addRealLdconfig,
  assertContainerWorks,
  assertHooksPinned,
  assertHostUntouched,
  assertUnreachableHandled,
  bundleHooks,
  clearLog,
  errorLines,
  EVIL_PATH,
  HOSTILE_NEEDS,
  HOSTILE_PROBE,
  hostileBundle,
  type HostileBundleOptions,
  linkInImage,
  loaderEnv,
  prepareHostileLab,
  type ProbeRun,
  useCrun,
} from "../helpers/hostile.ts";

type Runtime = "runc" | "crun";
/** What a refusal of a hostile lib dir names. */
const LIB_DIR_NAMED = /x86_64-linux-gnu|libxpu/;
const RUNTIMES: Runtime[] = ["runc", "crun"];

function needsOf(runtime: Runtime): Need[] {
  const base: Need[] = [...HOSTILE_NEEDS, "nsenter"];
  return runtime === "crun" ? [...base, "crun", "unshare"] : base;
}

/** A legacy lab under `runtime`; `imageLdconfig` makes the cli run the image's ldconfig. */
async function setUp(lab: Lab, runtime: Runtime, options: { imageLdconfig?: boolean } = {}) {
  const h = await prepareHostileLab(lab);
  const lowLevel = runtime === "crun" ? [useCrun(lab)] : ["runc"];
  if (options.imageLdconfig) addConfig(lab, "xpu-container-cli", ['ldconfig = "/sbin/ldconfig"']);
  const start = async (name: string, options: HostileBundleOptions = {}) => {
    const env = ["XPU_VISIBLE_DEVICES=0", ...(options.env ?? [])];
    const { specPath } = hostileBundle(h, name, { ...options, env });
    clearLog(lab);
    return { ...await runInLab(lab, name, { lowLevel }), specPath };
  };
  return { h, start };
}

for (const runtime of RUNTIMES) {
  await labTest(
    `hostile legacy/${runtime}: the image's ldconfig (--ldconfig in the image) cannot leave through /proc/1/root`,
    needsOf(runtime),
    { mode: "legacy" },
    async (lab) => {
      const { h, start } = await setUp(lab, runtime, { imageLdconfig: true });
      const run = await start("ldconfig", { image: (r) => addHostileLdconfig(r, h.host) });
      assertHostUntouched(h, "hostile ldconfig");
      assertContainerWorks(run, "hostile ldconfig", { ldcache: true });
    },
  );

  await labTest(
    `hostile legacy/${runtime}: ${SIMULATED_LIB_DIR} as a symlink to /proc/1/root/<host> or <host>`,
    needsOf(runtime),
    { mode: "legacy" },
    async (lab) => {
      const { h, start } = await setUp(lab, runtime);
      const magic = await start("libdir-magic", {
        image: (r) => {
          addRealLdconfig(r);
          linkInImage(r, SIMULATED_LIB_DIR, `/proc/1/root${h.host}/lib`);
        },
      });
      assertUnreachableHandled(h, magic, "lib dir -> /proc/1/root/host", { path: LIB_DIR_NAMED });

      // A plain absolute link names a dir inside the rootfs once resolved there.
      const plain = await start("libdir-plain", {
        image: (r) => {
          addRealLdconfig(r);
          linkInImage(r, SIMULATED_LIB_DIR, `${h.host}/lib`);
        },
      });
      assertHostUntouched(h, "lib dir -> host dir");
      assertContainerWorks(plain, "lib dir -> host dir", { ldcache: true });

      const honest = await start("libdir-honest", { image: (r) => addRealLdconfig(r) });
      assertHostUntouched(h, "honest image");
      assertContainerWorks(honest, "honest image", { ldcache: true });
    },
  );

  await labTest(
    `hostile legacy/${runtime}: an image ld.so.conf naming /proc/1/root/<host> dirs is not followed by the host ldconfig`,
    needsOf(runtime),
    { mode: "legacy" },
    async (lab) => {
      const { h, start } = await setUp(lab, runtime);
      const run = await start("ldconf", {
        image: (r) => {
          addRealLdconfig(r);
          Deno.writeTextFileSync(
            `${r}/etc/ld.so.conf`,
            [
              "include /etc/ld.so.conf.d/*.conf",
              `include /proc/1/root${h.host}/conf.d/*.conf`,
              `/proc/1/root${h.host}/libdir`,
            ].join("\n") + "\n",
          );
        },
      });
      assertHostUntouched(h, "ld.so.conf -> /proc/1/root/host");
      assertContainerWorks(run, "ld.so.conf -> /proc/1/root/host", { ldcache: true });
    },
  );

  await labTest(
    `hostile legacy/${runtime}: an image /etc or /var/cache/ldconfig linked to /proc/1/root/<host> gets no host ldconfig output`,
    needsOf(runtime),
    { mode: "legacy" },
    async (lab) => {
      const { h, start } = await setUp(lab, runtime);
      const etc = await start("etc-magic", {
        image: (r) => {
          addRealLdconfig(r);
          linkInImage(r, "/etc", `/proc/1/root${h.host}/etc`);
        },
      });
      assertUnreachableHandled(h, etc, "/etc -> /proc/1/root/host", { path: /etc|ld\.so/ });
      const aux = await start("auxcache-magic", {
        image: (r) => {
          addRealLdconfig(r);
          linkInImage(r, "/var/cache/ldconfig", `/proc/1/root${h.host}/auxcache`);
        },
      });
      assertUnreachableHandled(h, aux, "/var/cache/ldconfig -> /proc/1/root/host", {
        path: /ldconfig|aux-cache/,
        ldcache: true,
      });
      const honest = await start("honest", { image: (r) => addRealLdconfig(r) });
      assertHostUntouched(h, "honest image");
      assertContainerWorks(honest, "honest image", { ldcache: true });
    },
  );

  await labTest(
    `hostile legacy/${runtime}: loader variables and PATH in the container env reach no host program`,
    needsOf(runtime),
    { mode: "legacy" },
    async (lab) => {
      const { h, start } = await setUp(lab, runtime);
      for (const variable of ["LD_PRELOAD", "LD_AUDIT"] as const) {
        const run = await start(variable.toLowerCase(), {
          env: loaderEnv(h, variable),
          image: (r) => {
            addEvilSo(h, r);
            addRealLdconfig(r);
          },
        });
        assertHostUntouched(h, variable);
        assertContainerWorks(run, variable, { ldcache: true });
        assertHooksPinned(bundleHooks(run.specPath), `${variable}: config.json`);
      }
      const path = await start("path", {
        env: [EVIL_PATH],
        image: (r) => {
          addPathShadows(r, h.host);
          addRealLdconfig(r);
        },
      });
      assertHostUntouched(h, "image PATH");
      assertContainerWorks(path, "image PATH", { ldcache: true });
    },
  );
}

await labTest(
  "hostile legacy/runc: the cli's debug file planted as a symlink to a host file leaves it byte-identical",
  needsOf("runc"),
  { mode: "legacy" },
  async (lab) => {
    const { h, start } = await setUp(lab, "runc");
    const debugLink = `${lab.dir}/planted-cli-debug.log`;
    Deno.symlinkSync(`${h.host}/precious`, debugLink);
    addConfig(lab, "xpu-container-cli", [`debug = ${JSON.stringify(debugLink)}`]);
    const run = await start("debug", { image: (r) => addRealLdconfig(r) });
    assertHostUntouched(h, "cli debug symlink");
    assertContainerWorks(run, "cli debug symlink", { ldcache: true });
  },
);

/** A rootfs as a podman image (`podman import` of its tar). */
async function importImage(
  podman: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  rootfs: string,
  name: string,
) {
  const tar = `${rootfs}.tar`;
  const packed = await runTool(["timeout", "60", "tar", "-C", rootfs, "-cf", tar, "."]);
  strictEqual(packed.code, 0, packed.stderr);
  const imported = await podman(["import", "--change", "ENV PATH=/bin", tar, name]);
  strictEqual(imported.code, 0, imported.stderr);
}

await labTest(
  "hostile podman hooks.d (legacy hook): image ldconfig, a /proc/1/root lib dir and ld.so.conf stay off the host",
  [...HOSTILE_NEEDS, "podman", "nsenter"],
  { mode: "auto" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    addConfig(lab, "xpu-container-cli", ['ldconfig = "/sbin/ldconfig"']);
    await withPodman(lab, async (podman) => {
      const hooksDir = `${lab.dir}/podman/hooks.d`;
      const hook = `${lab.dir}/tools/hook-with-config`;
      Deno.writeTextFileSync(
        hook,
        `#!/bin/sh\nexport XPU_CTK_CONFIG_FILE_PATH='${lab.configPath}'\nexec '${lab.tools.hook}' "$@"\n`,
      );
      Deno.chmodSync(hook, 0o755);
      const configured = await runTool(["timeout", "60", ...toolArgv("xpu-ctk")], {
        args: [
          "runtime",
          "configure",
          "--runtime",
          "crio",
          "--config-mode",
          "hook",
          "--hooks-dir",
          hooksDir,
          "--state-dir",
          `${lab.dir}/revert`,
          "--hook-path",
          hook,
        ],
      });
      strictEqual(configured.code, 0, configured.stderr);
      assertHooksPinned(
        [JSON.parse(Deno.readTextFileSync(`${hooksDir}/oci-xpu-hook.json`)).hook],
        "hooks.d file",
      );
      const run = async (name: string, image: (rootfs: string) => void): Promise<ProbeRun> => {
        const { rootfs } = hostileBundle(h, name, { image });
        await importImage(podman, rootfs, `hostile-${name}:test`);
        const out = await podman([
          "run",
          "--rm",
          "--timeout",
          "60",
          "--cgroup-parent",
          CGROUP_PARENT,
          "--hooks-dir",
          hooksDir,
          "-e",
          "XPU_VISIBLE_DEVICES=0",
          `hostile-${name}:test`,
          "/bin/sh",
          "-c",
          HOSTILE_PROBE,
        ]);
        return { createCode: out.code, createStderr: out.stderr, stdout: out.stdout };
      };

      const ldconfig = await run("ldconfig", (r) => addHostileLdconfig(r, h.host));
      assertHostUntouched(h, "podman: hostile ldconfig");
      assertContainerWorks(ldconfig, "podman: hostile ldconfig", { ldcache: true });

      const libdir = await run("libdir", (r) => {
        addRealLdconfig(r);
        linkInImage(r, SIMULATED_LIB_DIR, `/proc/1/root${h.host}/lib`);
      });
      assertUnreachableHandled(h, libdir, "podman: lib dir -> /proc/1/root/host", {
        path: LIB_DIR_NAMED,
        errorLines: () => errorLines([], libdir.createStderr),
      });

      const ldconf = await run("ldconf", (r) => {
        addRealLdconfig(r);
        Deno.writeTextFileSync(
          `${r}/etc/ld.so.conf`,
          `include /proc/1/root${h.host}/conf.d/*.conf\n/proc/1/root${h.host}/libdir\n`,
        );
      });
      assertHostUntouched(h, "podman: ld.so.conf -> /proc/1/root/host");
      assertContainerWorks(ldconf, "podman: ld.so.conf -> /proc/1/root/host", { ldcache: true });

      const honest = await run("honest", (r) => addRealLdconfig(r));
      assertHostUntouched(h, "podman: honest image");
      assertContainerWorks(honest, "podman: honest image", { ldcache: true });
    });
  },
);
