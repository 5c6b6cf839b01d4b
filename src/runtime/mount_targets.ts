/**
 * Mount targets for a container with its own user namespace. A runtime creates a bind mount's
 * missing target itself, but in a user namespace it does so as the container's root, which owns
 * nothing in a rootfs that belongs to the host's root (a bundle unpacked by root, as the OCI
 * runtime-tools build theirs): the start fails with "permission denied" on the first driver file.
 * The shim, still the host's root, creates the targets of the mounts it added beforehand, owned
 * by the container's root, as the runtime would have made them.
 *
 * Planning is pure ({@link mountTargetsToPrepare}); the rootfs is touched only through
 * `container_rootfs.ts`, so an image's symlinks cannot put a target outside it.
 *
 * @module
 */

import { isJsonObject, type OciSpec, specRootIds } from "../core/oci/oci_spec.ts";
import { normalizeInRoot } from "../core/path/root_path.ts";

/** A mount target to create: the in-container path and the host path mounted onto it. */
export interface MountTarget {
  path: string;
  source: string;
}

/** What {@link mountTargetsToPrepare} decided. */
export interface MountTargetPlan {
  /** The host ids of the container's root, who owns what is created. */
  owner: { uid: number; gid: number };
  targets: MountTarget[];
}

function isBind(mount: Record<string, unknown>): boolean {
  const options = Array.isArray(mount.options) ? mount.options : [];
  return mount.type === "bind" || options.includes("bind") || options.includes("rbind");
}

/**
 * The targets to create for the bind mounts that are not in `before` (each mount of the spec
 * before the edit, as JSON text), in a spec with a user namespace that maps its root. A target under
 * another mount of the spec (`/dev/xpu0` under runc's `/dev` tmpfs) is the runtime's to make
 * there, after that mount: none is planned.
 *
 * @returns `undefined` when there is nothing to prepare
 */
export function mountTargetsToPrepare(
  spec: OciSpec,
  before: ReadonlySet<string>,
): MountTargetPlan | undefined {
  const owner = specRootIds(spec);
  if (owner === undefined || !Array.isArray(spec.mounts)) return undefined;
  const mounts = spec.mounts.filter(isJsonObject).filter((m) =>
    typeof m.destination === "string" && m.destination.startsWith("/")
  );
  const destinations = mounts.map((m) => normalizeInRoot(m.destination as string));
  const targets: MountTarget[] = [];
  mounts.forEach((mount, i) => {
    if (before.has(JSON.stringify(mount)) || !isBind(mount)) return;
    if (typeof mount.source !== "string" || !mount.source.startsWith("/")) return;
    const path = destinations[i];
    const covered = destinations.some((d) => d !== path && (d === "/" || path.startsWith(`${d}/`)));
    if (!covered) targets.push({ path, source: mount.source });
  });
  return targets.length === 0 ? undefined : { owner, targets };
}

/**
 * Creates each missing target in the rootfs at `rootfs` (a host path): a directory for a
 * directory source, else an empty file, with missing parents, all owned by `owner`. What is
 * already there is left alone; a target that cannot be made is reported, not fatal: the
 * runtime then names the mount it cannot make.
 *
 * @returns one line per target that could not be made
 */
export async function prepareMountTargets(
  rootfs: string,
  plan: MountTargetPlan,
): Promise<string[]> {
  const { ContainerRootfs, RootfsError } = await import("../core/rootfs/container_rootfs.ts");
  const { AT, statAt } = await import("../core/io/libc.ts");
  const sourceIsDir = (path: string) => {
    try {
      return statAt(AT.FDCWD, path).kind === "dir";
    } catch {
      return false;
    }
  };
  const problems: string[] = [];
  try {
    ContainerRootfs.with(rootfs, (root) => {
      for (const target of plan.targets) {
        try {
          if (root.lstat(target.path) !== undefined) continue;
          if (sourceIsDir(target.source)) root.mkdirAll(target.path);
          else root.createEmptyFile(target.path);
        } catch (error) {
          if (!(error instanceof RootfsError)) throw error;
          problems.push(error.message);
        }
      }
    }, { owner: plan.owner });
  } catch (error) {
    if (!(error instanceof RootfsError)) throw error;
    problems.push(error.message);
  }
  return problems;
}
