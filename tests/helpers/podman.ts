/**
 * A private podman for end-to-end tests: its own storage, state, hooks dir and config, a busybox
 * image, containers under our own cgroup parent — all removed afterwards.
 *
 * @module
 */

import { strictEqual } from "node:assert/strict";
import { makeBusyboxRootfs } from "./container_lab.ts";
import type { Lab } from "./lab.ts";
import { pathExists } from "./temp_dir.ts";
import { writeToolWrapper } from "./toolkit_commands.ts";

/**
 * Writes `<lab>/tools/podman-runtime`, the shim for `podman run --runtime`: podman hands the
 * runtime its own environment, so the wrapper names the lab's config.
 */
export function writePodmanRuntime(lab: Lab): string {
  const inner = writeToolWrapper("xpu-container-runtime", `${lab.dir}/tools`);
  const shim = `${lab.dir}/tools/podman-runtime`;
  Deno.writeTextFileSync(
    shim,
    `#!/bin/sh\nexport XPU_CTK_CONFIG_FILE_PATH='${lab.configPath}'\nexec '${inner}' "$@"\n`,
  );
  Deno.chmodSync(shim, 0o755);
  return shim;
}

/** The containers' cgroup parent, ours alone, removed afterwards. */
export const CGROUP_PARENT = `/xpu-test-podman-${Deno.pid}`;

/** Removes a cgroup and its children (deepest first) from every v1 hierarchy. */
function removeCgroups(path: string) {
  const remove = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) remove(`${dir}/${entry.name}`);
    }
    Deno.removeSync(dir);
  };
  for (const controller of Deno.readDirSync("/sys/fs/cgroup")) {
    const dir = `/sys/fs/cgroup/${controller.name}${path}`;
    if (!pathExists(dir)) continue;
    try {
      remove(dir);
    } catch (error) {
      console.error(`could not remove cgroup "${dir}": ${error}`);
    }
  }
}

/** How {@link withPodman} runs podman. */
export interface PodmanOptions {
  /** The program to run instead of `podman` (a wrapper that runs it in another mount view). */
  program?: string;
  /** More lines for containers.conf's `[containers]` table. */
  containers?: string[];
}

/**
 * Runs `fn` with a private podman: its own storage, state, config and hooks dir
 * (`<lab>/podman/hooks.d`, empty: tests put hook files there), torn down afterwards.
 */
export async function withPodman(
  lab: Lab,
  fn: (
    podman: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  ) => Promise<void>,
  options: PodmanOptions = {},
) {
  const dir = `${lab.dir}/podman`;
  Deno.mkdirSync(`${dir}/tmp`, { recursive: true });
  Deno.mkdirSync(`${dir}/hooks.d`);
  Deno.writeTextFileSync(
    `${dir}/containers.conf`,
    [
      "[containers]",
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      'netns = "none"',
      ...(options.containers ?? []),
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      'lock_type = "file"',
      `tmp_dir = "${dir}/tmp"`,
      `hooks_dir = ["${dir}/hooks.d"]`,
    ].join("\n") + "\n",
  );
  Deno.writeTextFileSync(
    `${dir}/storage.conf`,
    `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
  );
  const env = {
    CONTAINERS_CONF: `${dir}/containers.conf`,
    CONTAINERS_STORAGE_CONF: `${dir}/storage.conf`,
  };
  const podman = async (args: string[], stdin?: Uint8Array) => {
    const child = new Deno.Command(options.program ?? "podman", {
      args,
      env,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin) {
      const writer = child.stdin.getWriter();
      await writer.write(stdin);
      await writer.close();
    }
    const out = await child.output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  const hadLibpodParent = pathExists("/sys/fs/cgroup/devices/libpod_parent");
  try {
    const rootfs = makeBusyboxRootfs(`${dir}/image`);
    const tar = await new Deno.Command("tar", { args: ["-C", rootfs, "-c", "."], stdout: "piped" })
      .output();
    const imported = await podman(
      ["import", "--change", "ENV PATH=/bin", "-", "busybox:min"],
      tar.stdout,
    );
    strictEqual(imported.code, 0, imported.stderr);
    await fn((args) => podman(args));
  } finally {
    await podman(["rm", "--all", "--force", "--time", "0"]);
    await podman(["system", "reset", "--force"]);
    removeCgroups(CGROUP_PARENT);
    if (!hadLibpodParent) removeCgroups("/libpod_parent");
  }
}
