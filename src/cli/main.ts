/**
 * `xpu-container-cli`, the device-level worker: `info` and `list` report the host's XPUs and
 * driver files; `configure` puts the requested devices, the control nodes and the driver files
 * into a container that is being created (called by the legacy prestart hook). It grants device
 * access itself on cgroup v1; on cgroup v2 it refuses, before touching the container, nodes the
 * spec of `--bundle` does not allow (a hook cannot add to the runtime's eBPF program).
 *
 * @module
 */

import { Command, Option } from "commander";
import { CAPABILITIES, type Capability } from "../core/device/capabilities.ts";
import { attachIo, pathValue, runProgram } from "../core/command/command_line.ts";
import type { ToolIo } from "../core/io/tool_io.ts";
import { type Config, defaultConfig } from "../core/config/config.ts";
import { loadConfig } from "../core/config/config_file.ts";
import {
  describeDevices,
  discoverDevices,
  discoverDriverFiles,
  readDriverVersion,
  selectDevices,
  type XpuDevice,
} from "../core/device/device_discovery.ts";
import {
  BUILTIN_PROFILES,
  type DeviceProfile,
  findProfile,
} from "../core/device/device_profile.ts";
import {
  ConfigError,
  ExecError,
  osErrorReason,
  quoted,
  RequestError,
  UsageError,
} from "../core/errors.ts";
import { type HostFs, realHostFs } from "../core/io/host_fs.ts";
import { createLogger, type Logger, silentLogger } from "../core/io/log.ts";
import { hostArch } from "../core/io/process.ts";
import { readBundleSpec } from "../core/oci/oci_state.ts";
import { firstUnmetRequirement } from "../core/request/requirements.ts";
import { versionLine } from "../core/version.ts";
import { containerRootIds } from "../core/io/mount_namespace.ts";
import { updateLdcache } from "../core/rootfs/ld_cache.ts";
import { applyInContainer, inMountNamespace } from "./container_namespace.ts";
import { type ConfigureOp, parseOwner, planConfigure } from "./configure_plan.ts";
import { allowDevices, type DeviceCgroup, readDeviceCgroup } from "../core/device/device_cgroup.ts";
import { devicesNotAllowed, specDeviceRules } from "./device_rules.ts";
import { infoJson, renderInfo, renderList } from "./host_report.ts";
import { loadKernelModule } from "./kernel_module.ts";

/** The outside world as the cli sees it; `fs` replaces the host's file system in tests. */
export interface CliIo extends ToolIo {
  fs?: HostFs;
}

interface GlobalOptions {
  root?: string;
  debug?: string;
  loadKmods?: boolean;
  user?: string;
  ldcache?: string;
  profile?: string;
}

interface Context {
  config: Config;
  profile: DeviceProfile;
  root: string;
  logger: Logger;
  fs: HostFs;
  owner?: { uid: number; gid: number };
}

function context(options: GlobalOptions, io: CliIo): Context {
  const { config, path: configPath } = loadConfig(io.env);
  const name = options.profile ?? config.cli.profile;
  const profile = findProfile(config.profiles, name);
  if (profile === undefined) {
    throw new UsageError(
      `Cannot use profile ${quoted(name)}: no such device profile: use one of ` +
        [...Object.keys(BUILTIN_PROFILES), ...Object.keys(config.profiles)].map(quoted)
          .join(", "),
    );
  }
  const root = options.root ?? config.cli.root;
  if (!root.startsWith("/")) {
    throw new UsageError(
      `Cannot use --root ${quoted(root)}: the driver root must be an absolute path`,
    );
  }
  const fs = io.fs ?? realHostFs;
  assertDriverRoot(fs, root, options.root === undefined ? configPath : undefined);
  const logger = options.debug
    ? createLogger({ level: "debug", sinks: [{ path: options.debug, format: "text" }] })
    : silentLogger;
  let owner: { uid: number; gid: number } | undefined;
  if (options.user !== undefined) {
    owner = parseOwner(options.user);
    if (owner === undefined) {
      throw new UsageError(
        `Cannot use --user ${quoted(options.user)}: expected UID or UID:GID (numbers)`,
      );
    }
  }
  if (options.ldcache) {
    logger.debug(
      `--ldcache ${quoted(options.ldcache)} is not needed: driver files come from the profile`,
    );
  }
  return { config, profile, root, logger, fs, owner };
}

/**
 * The driver root must be a directory: under a missing one every lookup finds nothing, and
 * `info` would report "Devices: 0" as if the host had none.
 *
 * @param configPath the config file, when the root comes from `[xpu-container-cli] root`
 * @throws {RequestError} for a `--root` that is no directory; {ConfigError} for such a
 *   configured root
 */
function assertDriverRoot(fs: HostFs, root: string, configPath: string | undefined): void {
  const kind = fs.stat(root)?.kind;
  if (kind === "dir") return;
  const problem = kind === undefined ? "no such directory" : "not a directory";
  if (configPath === undefined) {
    throw new RequestError(
      `Cannot use --root ${quoted(root)}: ${problem}: pass the directory the driver is ` +
        `installed under (the host's "/" unless it lives elsewhere)`,
    );
  }
  throw new ConfigError(
    `Cannot use the driver root ${quoted(root)} ([xpu-container-cli] root in ` +
      `${quoted(configPath)}): ${problem}: set it to the directory the driver is installed ` +
      `under, or remove the key to use "/"`,
    { path: configPath },
  );
}

function chosenCapabilities(options: Record<string, unknown>): Capability[] {
  return CAPABILITIES.filter((c) => options[c] === true);
}

function chooseDevices(
  ctx: Context,
  all: readonly XpuDevice[],
  ids: string | undefined,
): XpuDevice[] {
  if (ids === undefined || ids.trim() === "") return [];
  const requested = ids.trim() === "all"
    ? "all"
    : ids.split(",").map((s) => s.trim()).filter((s) => s);
  const selection = selectDevices(all, requested);
  if (!selection.ok) {
    throw new RequestError(
      `Cannot give the container XPU ${selection.unknown.map(quoted).join(", ")}: ` +
        `no such device under ${quoted(ctx.root)} (devices: ${describeDevices(all)}): ` +
        `request an existing index or UUID, or "all"`,
    );
  }
  return selection.devices;
}

function addCapabilityOptions(command: Command): Command {
  for (const capability of CAPABILITIES) {
    command.option(`--${capability}`, `driver files for the ${capability} capability`);
  }
  return command;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Builds the command tree; actions run against `io`. */
export function buildCliProgram(io: CliIo): Command {
  const defaults = defaultConfig().cli;
  const program = new Command("xpu-container-cli")
    .description("XPU device worker: report the host's XPUs, configure containers")
    .version(versionLine("xpu-container-cli"), "-V, --version", "print the version")
    .option(
      "-r, --root <dir>",
      `driver root, an existing directory (default: [xpu-container-cli] root, else ${
        quoted(defaults.root)
      })`,
    )
    .option("-d, --debug <file>", "append debug lines to this file (default: none)", pathValue)
    .option("-k, --load-kmods", "load the profile's kernel module first (default: off)")
    .option(
      "-u, --user <uid[:gid]>",
      "owner of the device nodes created in containers (default: the host node's owner)",
    )
    .option(
      "-l, --ldcache <file>",
      "accepted for compatibility; driver files come from the profile",
    )
    .option(
      "-p, --profile <name>",
      `device profile (default: [xpu-container-cli] profile, else ${quoted(defaults.profile)})`,
    );
  attachIo(program, io);

  program
    .command("info")
    .description("the host's devices, control nodes, driver version and driver files")
    .option("--json", "print JSON")
    .exitOverride()
    .action((options: { json?: boolean }, command: Command) => {
      const ctx = context(command.optsWithGlobals(), io);
      const host = discoverDevices(ctx.fs, ctx.profile, { driverRoot: ctx.root });
      const report = {
        profile: ctx.profile.name,
        ...host,
        driverVersion: readDriverVersion(ctx.fs, ctx.profile, ctx.root),
        driverFiles: discoverDriverFiles(ctx.fs, ctx.profile, {
          driverRoot: ctx.root,
          capabilities: CAPABILITIES,
        }),
      };
      io.stdout(
        options.json ? JSON.stringify(infoJson(report), null, 2) + "\n" : renderInfo(report),
      );
    });

  addCapabilityOptions(
    program
      .command("list")
      .description("the paths configure would inject (default: every device and capability)")
      .option("--json", "print JSON")
      .option("--device <ids>", "device indexes or UUIDs, or all", "all"),
  )
    .exitOverride()
    .action((options: Record<string, unknown>, command: Command) => {
      const ctx = context(command.optsWithGlobals(), io);
      const host = discoverDevices(ctx.fs, ctx.profile, { driverRoot: ctx.root });
      const devices = chooseDevices(ctx, host.devices, options.device as string);
      const chosen = chosenCapabilities(options);
      const files = discoverDriverFiles(ctx.fs, ctx.profile, {
        driverRoot: ctx.root,
        capabilities: chosen.length > 0 ? chosen : CAPABILITIES,
      });
      const nodes = devices.flatMap((d) => d.nodes);
      if (nodes.length > 0) nodes.push(...host.controlNodes);
      io.stdout(
        options.json
          ? JSON.stringify(
            {
              deviceNodes: nodes.map((n) => n.path),
              driverFiles: files.map((f) => f.path),
            },
            null,
            2,
          ) +
            "\n"
          : renderList(nodes, files),
      );
    });

  addCapabilityOptions(
    program
      .command("configure")
      .description("set up XPUs in a container being created (run by the prestart hook)")
      .argument("<rootfs>", "the container's rootfs on the host")
      .requiredOption("--pid <pid>", "the container's init process")
      .option(
        "--device <ids>",
        "device indexes or UUIDs, or all (default: none, driver files only)",
      )
      .addOption(
        new Option("--require <expr>", "a requirement the host must meet (repeatable)")
          .argParser(collect)
          .default([] as string[], "none"),
      )
      .option("--no-cgroups", "do not touch the device cgroup (default: add allow rules)")
      .option(
        "--bundle <dir>",
        "the container's OCI bundle: on cgroup v2 its spec's device rules must allow the " +
          "nodes (default: none)",
      )
      .option(
        "--ldconfig <path>",
        "ldconfig to run: @host-path, or a path in the image",
        "@/sbin/ldconfig",
      ),
  )
    .exitOverride()
    .action(async (rootfs: string, options: Record<string, unknown>, command: Command) => {
      const ctx = context(command.optsWithGlobals(), io);
      // Decimal digits only: Number() would also take " 12\r", "0x10" and "1e3".
      const pid = /^[1-9][0-9]{0,9}$/.test(String(options.pid)) ? Number(options.pid) : NaN;
      if (!Number.isSafeInteger(pid) || pid > 0x3fffffff) {
        throw new UsageError(
          `Cannot use --pid ${quoted(String(options.pid))}: expected a process id`,
        );
      }
      if (!rootfs.startsWith("/")) {
        throw new UsageError(`Cannot use rootfs ${quoted(rootfs)}: expected an absolute path`);
      }
      const bundle = options.bundle as string | undefined;
      if (bundle !== undefined && !bundle.startsWith("/")) {
        throw new UsageError(`Cannot use --bundle ${quoted(bundle)}: expected an absolute path`);
      }
      await configure(ctx, {
        pid,
        rootfs,
        bundle,
        deviceIds: options.device as string | undefined,
        capabilities: chosenCapabilities(options),
        requirements: options.require as string[],
        cgroups: options.cgroups !== false,
        ldconfig: options.ldconfig as string,
        loadKmods: command.optsWithGlobals().loadKmods === true,
      });
    });

  return program;
}

interface ConfigureRequest {
  pid: number;
  rootfs: string;
  /** The OCI bundle, whose spec's device rules are all the access a cgroup v2 container has. */
  bundle?: string;
  deviceIds?: string;
  capabilities: Capability[];
  requirements: string[];
  cgroups: boolean;
  ldconfig: string;
  loadKmods: boolean;
}

async function configure(ctx: Context, request: ConfigureRequest): Promise<void> {
  const { fs, logger, profile, root } = ctx;
  if (request.loadKmods) {
    const outcome = await loadKernelModule(profile.kernelModule);
    logger.debug(`Kernel module "${profile.kernelModule}": ${JSON.stringify(outcome)}`);
  }
  const host = discoverDevices(fs, profile, { driverRoot: root });
  const devices = chooseDevices(ctx, host.devices, request.deviceIds);
  const driverVersion = readDriverVersion(fs, profile, root);
  const unmet = firstUnmetRequirement(request.requirements, {
    driver: driverVersion,
    arch: hostArch(),
  });
  if (unmet !== undefined) {
    throw new RequestError(
      `Cannot start the container: requirement ${quoted(unmet)} is not met: this host has driver ` +
        `${driverVersion ?? "(unknown version)"} on ${hostArch()}: run an image made for ` +
        `this host, or set XPU_DISABLE_REQUIRE=true in the container`,
    );
  }
  const driverFiles = discoverDriverFiles(fs, profile, {
    driverRoot: root,
    capabilities: request.capabilities,
  });
  const plan = planConfigure({
    devices,
    controlNodes: host.controlNodes,
    driverFiles,
    fs,
    owner: ctx.owner,
  });
  logger.debug(
    `Configuring pid ${request.pid} rootfs ${quoted(request.rootfs)}: ${JSON.stringify(plan)}`,
  );
  // Decided before the container is touched: on cgroup v2 a node the spec does not allow is
  // refused here, not created for an open() that would fail with EPERM.
  const cgroup = request.cgroups && plan.cgroupRules.length > 0
    ? containerDeviceCgroup(request.pid)
    : undefined;
  if (cgroup?.version === 2) {
    assertSpecAllowsNodes(plan.ops, request.bundle);
    logger.debug(
      `cgroup v2 (${quoted(cgroup.path)}): the spec's device rules allow every node`,
    );
  }
  applyInContainer(request.pid, request.rootfs, plan.ops);

  if (cgroup?.version === 1) {
    allowDevices(cgroup.allowFile, plan.cgroupRules);
    logger.debug(`Allowed ${plan.cgroupRules.length} device(s) in ${quoted(cgroup.allowFile)}`);
  } else if (cgroup?.version === "none") {
    logger.debug("No device cgroup found for the container: not restricting its devices");
  }

  if (plan.libraryDirs.length === 0) return;
  // The last step: this process becomes the isolated ldconfig, in the container's mount
  // namespace, where the driver files were just mounted.
  const user = containerRootIds(request.pid);
  inMountNamespace(request.pid, () => {
    const outcome = updateLdcache(request.rootfs, plan.libraryDirs, {
      ldconfig: request.ldconfig,
      user,
      warn: (message) => logger.warn(message),
    });
    logger.debug(`Not refreshing the container's ld cache: ${outcome.reason}`);
  }, { stay: true });
}

function containerDeviceCgroup(pid: number): DeviceCgroup {
  try {
    return readDeviceCgroup(pid);
  } catch (error) {
    throw new ExecError(
      `Cannot find the device cgroup of the container (pid ${pid}): ${osErrorReason(error)}: ` +
        `check that the container is still being created and the hook runs as root`,
      { cause: error },
    );
  }
}

type NodeOp = Extract<ConfigureOp, { op: "node" }>;

function describeNodes(nodes: readonly NodeOp[]): string {
  const shown = nodes.map((n) => `${quoted(n.path)} (${n.type} ${n.major}:${n.minor})`);
  return shown.length === 1
    ? shown[0]
    : `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

/** The one-line refusal for device nodes a cgroup v2 container could not open. */
export function cgroupV2Refusal(
  nodes: readonly NodeOp[],
  options: { specPath?: string },
): string {
  if (options.specPath === undefined) {
    return `Cannot give the container ${describeNodes(nodes)}: on a cgroup v2 host only the ` +
      `spec's device rules grant access, and without --bundle they cannot be checked: pass ` +
      `--bundle with the container's bundle (the hook does), or --no-cgroups to skip the check`;
  }
  return `Cannot give the container ${describeNodes(nodes)}: "linux.resources.devices" in ` +
    `${quoted(options.specPath)} does not allow ${nodes.length === 1 ? "it" : "them"}, and on a ` +
    `cgroup v2 host a prestart hook cannot grant device access: run the container through ` +
    `xpu-container-runtime (the shim adds the rules) or use CDI`;
}

/**
 * On cgroup v2: every node of the plan must be allowed by the spec's device rules.
 *
 * @throws {RequestError} naming the nodes that are not, or every node without a bundle
 * @throws {SpecError} when the bundle's spec cannot be read
 */
function assertSpecAllowsNodes(ops: readonly ConfigureOp[], bundle: string | undefined): void {
  const nodes = ops.filter((op): op is NodeOp => op.op === "node");
  if (bundle === undefined) throw new RequestError(cgroupV2Refusal(nodes, {}));
  const { spec, path } = readBundleSpec(bundle);
  const missing = devicesNotAllowed(specDeviceRules(spec), nodes);
  if (missing.length > 0) throw new RequestError(cgroupV2Refusal(missing, { specPath: path }));
}

/**
 * Runs `xpu-container-cli` with `args` (without argv[0]).
 *
 * @returns 0 on success, help and version
 * @throws {UsageError} for command-line mistakes; tool errors from the commands
 */
export async function cliMain(args: readonly string[], io: CliIo): Promise<number> {
  return await runProgram(buildCliProgram(io), args);
}
