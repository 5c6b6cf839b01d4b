/**
 * Applying a configure plan inside a running container: every change is made in the container's
 * mount namespace (entered with `nsenter`), at paths resolved inside its rootfs so an image's
 * symlinks cannot redirect a node, a mount or a link onto the host.
 *
 * A prestart hook runs before the container pivots into its rootfs, so the host's tools and
 * files are still visible in that namespace; the rootfs is at the same path as on the host.
 *
 * @module
 */

import { ExecError } from "../core/errors.ts";
import type { HostFs } from "../core/host_fs.ts";
import { runProcess } from "../core/process.ts";
import { hostPath, resolveInRoot } from "../core/root_path.ts";
import type { ConfigureOp } from "./configure_plan.ts";

/**
 * The script run in the container's namespace: one op per group of positional arguments.
 * A symlink at a target is removed first, so nothing is written through it.
 */
const APPLY_SCRIPT = `set -e
while [ "$#" -gt 0 ]; do
  case "$1" in
    node)
      mkdir -p "$(dirname "$2")"; rm -f "$2"
      mknod -m "$3" "$2" "$4" "$5" "$6"; chown "$7:$8" "$2"; shift 8 ;;
    bind)
      mkdir -p "$(dirname "$3")"
      if [ -L "$3" ]; then rm -f "$3"; fi
      if [ ! -e "$3" ]; then : > "$3"; fi
      mount --bind -o ro,nosuid,nodev "$2" "$3"; shift 3 ;;
    link)
      mkdir -p "$(dirname "$3")"; ln -sfn "$2" "$3"; shift 3 ;;
    *) echo "unknown op $1" >&2; exit 2 ;;
  esac
done`;

/** The script's arguments for the ops, with in-container paths resolved under `rootfs`. */
export function applyScriptArgs(fs: HostFs, rootfs: string, ops: readonly ConfigureOp[]): string[] {
  const at = (path: string) =>
    hostPath(rootfs, resolveInRoot(fs, rootfs, path, { followFinal: false }));
  return ops.flatMap((op): string[] => {
    switch (op.op) {
      case "node":
        return [
          "node",
          at(op.path),
          op.mode.toString(8).padStart(4, "0"),
          op.type,
          String(op.major),
          String(op.minor),
          String(op.uid),
          String(op.gid),
        ];
      case "bind":
        return ["bind", op.source, at(op.path)];
      case "link":
        return ["link", op.target, at(op.path)];
    }
  });
}

/** Runs a program inside the mount namespace of `pid`. */
export async function runInMountNamespace(
  pid: number,
  argv: readonly string[],
): Promise<{ code: number; stderr: string }> {
  try {
    return await runProcess("nsenter", { args: ["-t", String(pid), "-m", "--", ...argv] });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new ExecError(
      `Cannot enter the container's mount namespace: "nsenter" is not in PATH: install util-linux`,
      { cause: error },
    );
  }
}

/**
 * Applies the ops in the container of `pid`.
 *
 * @throws {ExecError} naming the failing step
 */
export async function applyInContainer(
  pid: number,
  rootfs: string,
  ops: readonly ConfigureOp[],
  fs: HostFs,
): Promise<void> {
  if (ops.length === 0) return;
  const args = applyScriptArgs(fs, rootfs, ops);
  const result = await runInMountNamespace(pid, ["/bin/sh", "-c", APPLY_SCRIPT, "sh", ...args]);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").pop() || `exit status ${result.code}`;
    throw new ExecError(
      `Cannot set up the XPU devices in the container (pid ${pid}, rootfs "${rootfs}"): ` +
        `${detail}: check that the container is still being created and the host has ` +
        `util-linux and coreutils`,
    );
  }
}
