/**
 * `xpu-ctk device attach|detach|list`: XPUs into and out of a running container, without a
 * restart. A device is named as at create time (index or UUID of the profile's devices, or a CDI
 * name from the spec dirs, whose device nodes, and its spec's, are what it gets); its
 * nodes are created in the container's mount namespace through the rootfs fd (after `setns` the
 * container's root is "/", so nothing on the host can be reached by a path), and its permission
 * is changed in the container's device cgroup: v1 `devices.allow`/`devices.deny`, v2 by
 * replacing the runtime's eBPF program with one that decides our devices first.
 *
 * Both are idempotent and all-or-nothing: what is already so is reported, and a failure undoes
 * every change made before it. Open file descriptors in the container are its own: detach takes
 * the node and the permission away, and the kernel checks the permission at `open()` only.
 *
 * @module
 */

import { type Config } from "../core/config/config.ts";
import { loadConfig } from "../core/config/config_file.ts";
import {
  BUILTIN_PROFILES,
  type DeviceProfile,
  findProfile,
} from "../core/device/device_profile.ts";
import {
  describeDevices,
  type DeviceNode,
  discoverDevices,
  discoverDriverFiles,
  selectDevices,
  type XpuDevice,
} from "../core/device/device_discovery.ts";
import {
  type DevicePermission,
  devicePermission,
  type LiveCgroup,
  readLiveCgroup,
} from "../core/device/live_cgroup.ts";
import type { DeviceRule } from "../core/device/device_cgroup.ts";
import { ExecError, osErrorReason, quoted, RequestError, UsageError } from "../core/errors.ts";
import { realHostFs } from "../core/io/host_fs.ts";
import { isQualifiedName } from "../core/cdi/cdi_name.ts";
import { loadCdiRegistry } from "../core/cdi/cdi_registry.ts";
import { fillDeviceNode } from "../core/cdi/cdi_inject.ts";
import type { CdiEdits } from "../core/cdi/cdi_spec.ts";
import { closeProcessDir, openProcessDir, type ProcessDir } from "../core/io/process_dir.ts";
import {
  containerRootIds,
  enterHeldMountNamespace,
  holdMountNamespace,
  isOwnMountNamespace,
} from "../core/io/mount_namespace.ts";
import { findFirstExecutable } from "../core/io/executable_lookup.ts";
import { runProcess } from "../core/io/process.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { ContainerRootfs, RootfsError } from "../core/rootfs/container_rootfs.ts";
import { cloneHostPath, openOwnFdDir } from "../core/io/mount_tree.ts";
import { AT, statAt } from "../core/io/libc.ts";
import { closeFd, realPathSync } from "../core/io/fs.ts";
import { runEach, withUndoProblems } from "./undo_steps.ts";
import { DEFAULT_CAPABILITIES } from "../core/device/capabilities.ts";
import { layoutDriverFiles } from "../core/device/driver_file_layout.ts";
import {
  describeTarget,
  parseTarget,
  pidFromAnswer,
  pidQuery,
  type TargetFlags,
  type TargetName,
} from "./device_target.ts";

/** The command-line flags of the `device` commands. */
export interface DeviceFlags extends TargetFlags {
  runtime?: string;
  profile?: string;
}

/** What the commands need of the host, replaceable in tests. */
interface Host {
  config: Config;
  profile: DeviceProfile;
  devices: XpuDevice[];
  controlNodes: DeviceNode[];
}

function loadHost(flags: DeviceFlags, io: ToolIo): Host {
  const { config } = loadConfig(io.env);
  const name = flags.profile ?? config.cli.profile;
  const profile = findProfile(config.profiles, name);
  if (profile === undefined) {
    throw new UsageError(
      `Cannot use --profile ${quoted(name)}: no such device profile: use one of ${
        [...Object.keys(BUILTIN_PROFILES), ...Object.keys(config.profiles)].map(quoted).join(", ")
      }`,
    );
  }
  const host = discoverDevices(realHostFs, profile, { driverRoot: config.cli.root });
  return { config, profile, devices: host.devices, controlNodes: host.controlNodes };
}

async function targetPid(target: TargetName, flags: DeviceFlags, config: Config): Promise<number> {
  if (target.by === "pid") return target.pid;
  let runtime = flags.runtime ?? "";
  if (target.by === "runtime" && flags.runtime === undefined) {
    runtime = findFirstExecutable(config.runtime.runtimes, {}) ?? "runc";
  }
  const query = pidQuery(target, runtime);
  let answer;
  try {
    answer = await runProcess(query.program, { args: query.args });
  } catch (error) {
    throw new ExecError(
      `Cannot ask ${quoted(query.program)} for ${describeTarget(target)}: ${
        osErrorReason(error)
      }: install it, or name the container with --pid`,
      { cause: error },
    );
  }
  return pidFromAnswer(target, answer);
}

/**
 * The process must be in a container: not in this process's mount namespace (its `/dev` would
 * be the host's), and alive.
 */
function holdContainerNamespace(process: ProcessDir, what: string): number {
  let held: number;
  try {
    held = holdMountNamespace(process);
  } catch (error) {
    throw new RequestError(
      `Cannot use ${what}: ${osErrorReason(error)}: the process is gone or not visible here`,
    );
  }
  let own: boolean;
  try {
    own = isOwnMountNamespace(held);
  } catch (error) {
    closeFd(held);
    throw error;
  }
  if (own) {
    closeFd(held);
    throw new RequestError(
      `Cannot use ${what}: it shares the host's mount namespace, so it is no container: ` +
        `name a container's process`,
    );
  }
  return held;
}

/** A device as attach and detach handle it: its name for the report and its nodes. */
interface Unit {
  name: string;
  nodes: DeviceNode[];
}

/** The requested devices, and the nodes they need besides their own (control nodes). */
interface Chosen {
  units: Unit[];
  shared: DeviceNode[];
  /** The bind mounts of the CDI devices' edits (and their specs'). */
  mounts: FileMount[];
}

async function chooseDevices(host: Host, requested: readonly string[]): Promise<Chosen> {
  const cdiNames = requested.filter(isQualifiedName);
  const ids = requested.filter((r) => !isQualifiedName(r));
  const units: Unit[] = [];
  const shared: DeviceNode[] = [];
  const mounts: FileMount[] = [];
  if (ids.length > 0) {
    const selection = selectDevices(host.devices, ids);
    if (!selection.ok) {
      throw new RequestError(
        `Cannot use XPU ${selection.unknown.map(quoted).join(", ")}: no such device under ` +
          `${quoted(host.config.cli.root)} (devices: ${describeDevices(host.devices)}): ` +
          `name an existing index or UUID, or a CDI name`,
      );
    }
    units.push(...selection.devices.map((d) => ({ name: deviceName(d), nodes: d.nodes })));
    shared.push(...host.controlNodes);
  }
  if (cdiNames.length > 0) {
    const dirs = host.config.runtime.modes.cdi.specDirs;
    const registry = await loadCdiRegistry(dirs);
    for (const name of cdiNames) {
      const entry = registry.devices.get(name);
      if (entry === undefined) {
        throw new RequestError(
          `Cannot use CDI device ${quoted(name)}: no spec in ${
            dirs.map(quoted).join(", ")
          } defines it: name a device \`xpu-ctk cdi list\` shows`,
        );
      }
      units.push({
        name: `CDI device ${quoted(name)}`,
        nodes: cdiNodes(entry.device.containerEdits),
      });
      shared.push(...cdiNodes(entry.source.spec.containerEdits));
      mounts.push(...cdiBindMounts(entry.source.spec.containerEdits));
      mounts.push(...cdiBindMounts(entry.device.containerEdits));
    }
  }
  return { units, shared: uniqueNodes(shared), mounts };
}

/**
 * The bind mounts of CDI edits, files and directories (`rbind`: with the mounts under it). A
 * host path that is a link is followed on the host, as the runtime's mount would follow it.
 */
function cdiBindMounts(edits: CdiEdits | null | undefined): FileMount[] {
  return (edits?.mounts ?? []).flatMap((m) => {
    const options = m.options ?? [];
    if (!options.some((o) => o === "bind" || o === "rbind")) return [];
    const kind = realHostFs.stat(m.hostPath)?.kind;
    if (kind !== "file" && kind !== "dir") return [];
    return [{
      hostPath: realPathSync(m.hostPath),
      path: m.containerPath,
      kind,
      recursive: kind === "dir" && options.includes("rbind"),
    }];
  });
}

/** The device nodes of CDI edits, completed from the host; FIFOs are no devices to attach. */
function cdiNodes(edits: CdiEdits | null | undefined): DeviceNode[] {
  return (edits?.deviceNodes ?? []).map((node) => fillDeviceNode(node, realHostFs))
    .filter((n) => n.type === "c" || n.type === "b")
    .map((n) => ({
      path: n.path,
      hostPath: n.hostPath ?? n.path,
      type: n.type as "c" | "b",
      major: n.major,
      minor: n.minor,
      fileMode: n.fileMode ?? 0o600,
      uid: n.uid ?? 0,
      gid: n.gid ?? 0,
    }));
}

const ruleOf = (node: DeviceNode): DeviceRule => ({
  type: node.type,
  major: node.major,
  minor: node.minor,
});

function describeNode(node: DeviceNode): string {
  return `${node.path} ${node.type} ${node.major}:${node.minor}`;
}

function deviceName(device: XpuDevice): string {
  return `XPU ${device.index}${device.uuid ? ` (${device.uuid})` : ""}`;
}

/** Runs `fn` with the container's root open as its rootfs, in its mount namespace. */
function inContainer<T>(live: Live, fn: (root: ContainerRootfs) => T): T {
  const { what } = live;
  let leave: () => void;
  // Opened on the host: inside, /proc is the container's, or whatever it mounted there.
  const fdDir = openOwnFdDir();
  try {
    leave = enterHeldMountNamespace(live.namespace);
  } catch (error) {
    closeFd(fdDir);
    throw new ExecError(
      `Cannot enter the mount namespace of ${what}: ${osErrorReason(error)}: run as root`,
      { cause: error },
    );
  }
  try {
    return ContainerRootfs.with("/", fn, { owner: live.owner, fdDir });
  } catch (error) {
    if (error instanceof RootfsError) {
      throw new ExecError(`${error.message}: the container's layout does not allow it`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    leave();
    closeFd(fdDir);
  }
}

/** Makes a device node in the container with the host node's type, numbers, mode and owner. */
function makeNode(root: ContainerRootfs, node: DeviceNode): void {
  root.mknod(node.path, {
    type: node.type,
    major: node.major,
    minor: node.minor,
    mode: node.fileMode,
    uid: node.uid,
    gid: node.gid,
  });
}

/** Whether the node exists in the container with its type and numbers. */
function hasNode(root: ContainerRootfs, node: DeviceNode): boolean {
  const info = root.lstat(node.path);
  return info?.kind === (node.type === "c" ? "char" : "block") &&
    info.rdevMajor === node.major && info.rdevMinor === node.minor;
}

interface Live {
  pid: number;
  what: string;
  /**
   * The container's mount namespace, held open from the start for the command's life (it ends
   * with the process): every step enters this one, even if the pid is reused meanwhile.
   */
  namespace: number;
  cgroup: LiveCgroup;
  permission?: DevicePermission;
  /** The host ids of the container's root, when it has its own user namespace. */
  owner?: { uid: number; gid: number };
}

async function openLive(target: TargetName, flags: DeviceFlags, host: Host): Promise<Live> {
  const pid = await targetPid(target, flags, host.config);
  const what = target.by === "pid" ? `pid ${pid}` : `${describeTarget(target)} (pid ${pid})`;
  // Everything about the container is read through its one /proc directory: a pid reused
  // meanwhile cannot mix another process's namespace or cgroup in.
  let process: ProcessDir;
  try {
    process = openProcessDir(pid);
  } catch (error) {
    throw new RequestError(
      `Cannot use ${what}: ${osErrorReason(error)}: the process is gone or not visible here`,
    );
  }
  // The engine named the pid before it was opened: asked again now, it must name the same one,
  // or the process opened may be another that got the pid of an exited container.
  if (target.by !== "pid") {
    let again: number;
    try {
      again = await targetPid(target, flags, host.config);
    } catch (error) {
      closeProcessDir(process);
      throw error;
    }
    if (again !== pid) {
      closeProcessDir(process);
      throw new RequestError(
        `Cannot use ${what}: its process changed to ${again} while it was being opened (the ` +
          `container restarted, or exited): try again`,
      );
    }
  }
  try {
    const namespace = holdContainerNamespace(process, what);
    let owner: Live["owner"];
    let cgroup: LiveCgroup;
    try {
      owner = containerRootIds(process);
      cgroup = readLiveCgroup(process);
    } catch (error) {
      closeFd(namespace);
      throw new ExecError(
        `Cannot read the user namespace and device cgroup of ${what}: ${
          osErrorReason(error)
        }: the process is gone, or not visible here`,
        { cause: error },
      );
    }
    return { pid, what, namespace, cgroup, permission: devicePermission(cgroup), owner };
  } finally {
    closeProcessDir(process);
  }
}

function allowedNow(live: Live, rule: DeviceRule): boolean {
  try {
    return live.permission?.allows(rule) ?? true;
  } catch (error) {
    throw new ExecError(
      `Cannot read the device permission of ${live.what} (${live.permission?.describe()}): ${
        osErrorReason(error)
      }`,
      { cause: error },
    );
  }
}

function changePermission(live: Live, rules: DeviceRule[], allow: boolean): () => void {
  if (live.permission === undefined || rules.length === 0) return () => {};
  try {
    return live.permission.change(rules, allow);
  } catch (error) {
    throw new ExecError(
      `Cannot ${allow ? "allow" : "deny"} ${
        rules.map((r) => `${r.type} ${r.major}:${r.minor}`).join(", ")
      } in ${live.permission.describe()} of ${live.what}: ${osErrorReason(error)}: ` +
        `nothing was changed`,
      { cause: error },
    );
  }
}

/** Allows again what the cgroup says it allows but may deny unseen (see `confirm`). */
function confirmPermission(live: Live, rules: DeviceRule[]): void {
  if (live.permission?.confirm === undefined || rules.length === 0) return;
  try {
    live.permission.confirm(rules);
  } catch (error) {
    throw new ExecError(
      `Cannot allow ${
        rules.map((r) => `${r.type} ${r.major}:${r.minor}`).join(", ")
      } in ${live.permission.describe()} of ${live.what}: ${osErrorReason(error)}`,
      { cause: error },
    );
  }
}

/** A host file to mount read-only where the container has nothing. */
interface FileMount {
  hostPath: string;
  path: string;
  /** What is mounted: a file (driver files), or a CDI spec's directory too. */
  kind: "file" | "dir";
  /** A directory's mounts come along (`rbind`). */
  recursive?: boolean;
}

/** What attach puts into the container besides the nodes: driver files and their links. */
interface DriverFiles {
  files: FileMount[];
  links: { target: string; path: string }[];
}

/** The profile's driver files (default capabilities) for its devices, plus CDI bind mounts. */
function driverFilesFor(host: Host, chosen: Chosen): DriverFiles {
  const out: DriverFiles = { files: [], links: [] };
  if (chosen.units.some((u) => !u.name.startsWith("CDI"))) {
    const found = discoverDriverFiles(realHostFs, host.profile, {
      driverRoot: host.config.cli.root,
      capabilities: DEFAULT_CAPABILITIES,
    });
    const layout = layoutDriverFiles(realHostFs, found);
    out.files.push(
      ...layout.files.map((f) => ({ hostPath: f.hostPath, path: f.path, kind: "file" as const })),
    );
    out.links.push(...layout.links);
  }
  for (const mount of chosen.mounts) {
    if (!out.files.some((f) => f.path === mount.path)) out.files.push(mount);
  }
  return out;
}

/** What one attach made, to be undone when a later step fails. */
interface Made {
  nodes: DeviceNode[];
  /** Driver files mounted, and whether the file or directory mounted onto was made for it. */
  mounts: { path: string; placeholder: "made" | "kept" }[];
  links: string[];
  /** The container's own symlinks a node replaced, put back by an undo. */
  replaced: { path: string; target: string }[];
}

/** What attach and detach start from: the host, the requested devices, the container. */
async function openRequest(
  flags: DeviceFlags,
  operands: readonly string[],
  io: ToolIo,
): Promise<{ host: Host; chosen: Chosen; live: Live }> {
  const { target, devices: requested } = parseTarget(flags, operands, { devicesRequired: true });
  const host = loadHost(flags, io);
  const chosen = await chooseDevices(host, requested);
  return { host, chosen, live: await openLive(target, flags, host) };
}

/** `device attach`: nodes and permission for each device, the control nodes, driver files. */
export async function deviceAttach(
  flags: DeviceFlags,
  operands: readonly string[],
  io: ToolIo,
): Promise<void> {
  const { host, chosen, live } = await openRequest(flags, operands, io);
  const { units: devices, shared } = chosen;
  const drivers = driverFilesFor(host, chosen);
  const nodes = uniqueNodes([...devices.flatMap((d) => d.nodes), ...shared]);
  const found = inContainer(live, (root) => ({
    present: nodes.filter((n) => hasNode(root, n)),
    files: drivers.files.filter((f) => root.lstat(f.path) === undefined),
    links: drivers.links.filter((l) => root.lstat(l.path) === undefined),
  }));
  const toAllow = nodes.filter((n) => !allowedNow(live, ruleOf(n)));
  const toCreate = nodes.filter((n) => !found.present.includes(n));
  // Sources are opened here, on the host; inside the container no host path can be reached.
  const trees = new Map<string, number>();
  const made: Made = { nodes: [], mounts: [], links: [], replaced: [] };
  let undo: () => void = () => {};
  try {
    if (live.owner !== undefined) {
      for (const node of toCreate) {
        trees.set(node.path, cloneHostPath(node.hostPath, { nosuid: true, noexec: true }));
      }
    }
    for (const file of found.files) {
      trees.set(
        file.path,
        cloneHostPath(file.hostPath, {
          readOnly: true,
          nosuid: true,
          nodev: true,
          recursive: file.recursive,
        }),
      );
    }
    undo = changePermission(live, toAllow.map(ruleOf), true);
    inContainer(live, (root) => {
      for (const node of toCreate) {
        const tree = trees.get(node.path);
        const link = root.readLink(node.path);
        if (link !== undefined) made.replaced.push({ path: node.path, target: link });
        if (tree !== undefined) root.attachMount(tree, node.path, "file");
        else {
          makeNode(root, node);
        }
        made.nodes.push(node);
      }
      for (const file of found.files) {
        const placeholder = root.attachMount(trees.get(file.path)!, file.path, file.kind);
        made.mounts.push({ path: file.path, placeholder });
      }
      for (const link of found.links) {
        if (root.symlink(link.target, link.path) === "created") made.links.push(link.path);
      }
    });
    // Last: it has no undo (it only takes back a denial the list could not show).
    confirmPermission(live, nodes.filter((n) => !toAllow.includes(n)).map(ruleOf));
  } catch (error) {
    throw withUndoProblems(error, undoAttach(live, made, undo), live.what);
  } finally {
    for (const tree of trees.values()) closeFd(tree);
  }
  for (const device of devices) {
    const own = device.nodes;
    const changed = own.some((n) => toCreate.includes(n) || toAllow.includes(n));
    io.stdout(
      `${device.name}: ${changed ? "attached to" : "already attached to"} ${live.what} ` +
        `(${own.map(describeNode).join(", ")}${permissionNote(live)})\n`,
    );
  }
  const control = shared.filter((n) =>
    !devices.some((d) => d.nodes.includes(n)) && (toCreate.includes(n) || toAllow.includes(n))
  );
  if (control.length > 0) {
    io.stdout(`control nodes: attached (${control.map(describeNode).join(", ")})\n`);
  }
  if (made.mounts.length + made.links.length > 0) {
    io.stdout(
      `driver files: ${made.mounts.length} mounted read-only, ${made.links.length} link(s) made ` +
        `(${[...made.mounts.map((m) => m.path), ...made.links].join(", ")})\n`,
    );
  }
}

/**
 * The identity of a node's host inode; where the host has no such node, that of the nearest
 * directory above it the host has (its file system is what a bind of the host's /dev shows).
 */
function hostIdentity(
  node: DeviceNode,
): { ino: bigint; devMajor: number; devMinor: number } | undefined {
  for (let path = node.hostPath; path !== ""; path = path.slice(0, path.lastIndexOf("/"))) {
    try {
      const { ino, devMajor, devMinor } = statAt(AT.FDCWD, path);
      return { ino, devMajor, devMinor };
    } catch {
      // Not there: its directory, then.
    }
  }
  return undefined;
}

/** Puts nodes back (a failed detach): bound from the host in a user namespace, else made. */
function recreateNodes(live: Live, nodes: readonly DeviceNode[]): void {
  const trees = live.owner === undefined
    ? []
    : nodes.map((n) => cloneHostPath(n.hostPath, { nosuid: true, noexec: true }));
  try {
    inContainer(live, (root) => {
      nodes.forEach((node, i) => {
        if (trees[i] !== undefined) root.attachMount(trees[i], node.path, "file");
        else {
          makeNode(root, node);
        }
      });
    });
  } finally {
    trees.forEach(closeFd);
  }
}

/** Takes back what a failed attach made, every step tried; returns what could not be undone. */
function undoAttach(live: Live, made: Made, undo: () => void): string[] {
  // On the host, before entering the container, where the host path would mean another file.
  const hosts = made.nodes.map(hostIdentity);
  const inside: string[] = [];
  const entering = runEach([() =>
    inContainer(live, (root) => {
      inside.push(...runEach([
        ...made.links.map((path) => () => void root.removeLink(path)),
        ...made.mounts.map((m) => () => void root.detachFileMount(m.path, m.placeholder)),
        ...made.nodes.map((node, i) => () =>
          void root.detachNodeMount(node.path, { ...node, host: hosts[i] })
        ),
        // Last, once the nodes are gone: the links they had replaced.
        ...made.replaced.map(({ path, target }) => () => void root.symlink(target, path)),
      ]));
    })]);
  return [...entering, ...inside, ...runEach([undo])];
}

function permissionNote(live: Live): string {
  return live.permission === undefined
    ? `; no device cgroup: ${live.cgroup.version === "none" ? live.cgroup.reason : ""}`
    : `; ${live.permission.describe()}`;
}

function uniqueNodes(nodes: readonly DeviceNode[]): DeviceNode[] {
  return nodes.filter((n, i) => nodes.findIndex((m) => m.path === n.path) === i);
}

/**
 * `device detach`: each device's nodes and permission taken away; the control nodes too once no
 * XPU of the host is left in the container.
 */
export async function deviceDetach(
  flags: DeviceFlags,
  operands: readonly string[],
  io: ToolIo,
): Promise<void> {
  const { host, chosen: { units: devices, shared }, live } = await openRequest(flags, operands, io);
  const leaving = uniqueNodes(devices.flatMap((d) => d.nodes));
  const leavingPaths = new Set(leaving.map((n) => n.path));
  const staying = host.devices.flatMap((d) => d.nodes).filter((n) => !leavingPaths.has(n.path));
  const sharedOnly = shared.filter((n) => !leavingPaths.has(n.path));
  const state = inContainer(live, (root) => ({
    present: leaving.filter((n) => hasNode(root, n)),
    othersLeft: staying.some((n) => hasNode(root, n)),
    control: sharedOnly.filter((n) => hasNode(root, n)),
  }));
  const nodes = state.othersLeft ? leaving : uniqueNodes([...leaving, ...sharedOnly]);
  const toDeny = nodes.filter((n) => allowedNow(live, ruleOf(n)));
  const toRemove = [...state.present, ...(state.othersLeft ? [] : state.control)];
  // Taken on the host, before entering the container: the host's own nodes are never removed.
  const hosts = new Map(toRemove.map((n) => [n.path, hostIdentity(n)]));
  const undo = changePermission(live, toDeny.map(ruleOf), false);
  const removed: DeviceNode[] = [];
  try {
    inContainer(live, (root) => {
      for (const node of toRemove) {
        const host = hosts.get(node.path);
        if (root.detachNodeMount(node.path, { ...node, host }) === "removed") removed.push(node);
      }
    });
  } catch (error) {
    const problems = runEach([() => recreateNodes(live, removed), undo]);
    throw withUndoProblems(error, problems, live.what);
  }
  for (const device of devices) {
    const changed = device.nodes.some((n) => toRemove.includes(n) || toDeny.includes(n));
    io.stdout(
      `${device.name}: ${changed ? "detached from" : "not attached to"} ${live.what} ` +
        `(${device.nodes.map(describeNode).join(", ")}${permissionNote(live)})\n`,
    );
  }
  const control = sharedOnly.filter((n) => toRemove.includes(n) || toDeny.includes(n));
  if (control.length > 0) {
    io.stdout(`control nodes: detached (${control.map(describeNode).join(", ")})\n`);
  }
}

/** `device list`: each of the host's XPUs, whether the container has its node and access. */
export async function deviceList(
  flags: DeviceFlags,
  operands: readonly string[],
  io: ToolIo,
): Promise<void> {
  const { target } = parseTarget(flags, operands, { devicesRequired: false });
  const host = loadHost(flags, io);
  const live = await openLive(target, flags, host);
  const rows = inContainer(
    live,
    (root) =>
      [...host.devices.map((d) => ({ name: deviceName(d), nodes: d.nodes })), {
        name: "control nodes",
        nodes: host.controlNodes,
      }].map((row) => ({ ...row, present: row.nodes.map((n) => hasNode(root, n)) })),
  );
  io.stdout(`${live.what}${permissionNote(live).replace(/^; /, ": ")}\n`);
  for (const row of rows) {
    const parts = row.nodes.map((n, i) =>
      `${describeNode(n)} ${row.present[i] ? "present" : "absent"}, ${
        allowedNow(live, ruleOf(n)) ? "allowed" : "denied"
      }`
    );
    const has = row.present.length > 0 && row.present.every((p) => p) &&
      row.nodes.every((n) => allowedNow(live, ruleOf(n)));
    io.stdout(`${row.name}: ${has ? "attached" : "not attached"} (${parts.join("; ")})\n`);
  }
}
