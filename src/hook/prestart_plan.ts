/**
 * What the legacy hook does at `prestart`, decided from data: whether the container asked for
 * XPUs, whether legacy mode applies, which capabilities and requirements it has, and the exact
 * `xpu-container-cli` command line (README, `xpu-container-runtime-hook`) that sets the devices up.
 *
 * @module
 */

import { type Capability, parseDriverCapabilities } from "../core/device/capabilities.ts";
import type { Config } from "../core/config/config.ts";
import { parseDeviceRequest } from "../core/request/device_request.ts";
import { RequestError } from "../core/errors.ts";
import { describeMode, resolveMode } from "../core/request/mode.ts";
import { isPrivileged, type OciSpec, specEnv, specMounts } from "../core/oci/oci_spec.ts";
import { collectRequirements } from "../core/request/requirements.ts";

/** The second line of the refusal when the hook runs outside legacy mode (README, Troubleshooting). */
export const DIRECT_INVOCATION_ERROR =
  "invoking the XPU Container Runtime Hook directly (e.g. specifying the docker --gpus flag) " +
  "is not supported. Please use the XPU Container Runtime instead.";

/** The environment variable naming the capabilities a container wants. */
export const CAPABILITIES_ENV = "XPU_DRIVER_CAPABILITIES";

/** What the hook knows when it decides. */
export interface PrestartInput {
  spec: OciSpec;
  /** The container's rootfs on the host. */
  rootfs: string;
  /**
   * The container's bundle (from the OCI state), passed to the cli on a cgroup v2 host only:
   * there the spec's device rules are the container's whole device access, and the cli checks
   * them. Elsewhere the cli's command line stays as the README's hook section gives it.
   */
  bundle?: string;
  pid: number;
  config: Config;
  /** Called only when the `auto` mode rules need to look at the platform. */
  isCsvPlatform: () => boolean;
}

/** The hook's decision. */
export type PrestartDecision =
  | { action: "skip"; reason: string }
  | { action: "refuse"; lines: [string, string] }
  | { action: "configure"; args: string[] };

/** What `xpu-container-cli configure` is asked to do. */
export interface CliRequest {
  /** `all`, or the ids; empty for `none` (driver files only). */
  devices: "all" | readonly string[];
  capabilities: readonly Capability[];
  requirements: readonly string[];
  /** The bundle, whose spec's device rules the cli checks on cgroup v2 (v2 hosts only). */
  bundle?: string;
  pid: number;
  rootfs: string;
}

/**
 * The cli arguments (without the program) in the order the README's hook section gives:
 * `[--root=…] [--load-kmods] [--debug=…] [--ldcache=…] [--user=…] configure [--ldconfig=…]
 * [--no-cgroups] [--device=<ids>] --<capability>… [--require=<expr>]… [--bundle=<dir>]
 * --pid=<pid> <rootfs>`. `--bundle` is ours, given on cgroup v2 hosts only: there the spec's
 * device rules are the container's whole device access, and the cli refuses nodes they do not
 * allow.
 */
export function buildCliArgs(config: Config, request: CliRequest): string[] {
  const cli = config.cli;
  const args: string[] = [];
  if (cli.root !== "/") args.push(`--root=${cli.root}`);
  if (cli.loadKmods) args.push("--load-kmods");
  if (cli.debug) args.push(`--debug=${cli.debug}`);
  if (cli.ldcache) args.push(`--ldcache=${cli.ldcache}`);
  if (cli.user) args.push(`--user=${cli.user}`);
  args.push("configure");
  if (cli.ldconfig) args.push(`--ldconfig=${cli.ldconfig}`);
  if (cli.noCgroups) args.push("--no-cgroups");
  const devices = request.devices === "all" ? "all" : request.devices.join(",");
  if (devices !== "") args.push(`--device=${devices}`);
  for (const capability of request.capabilities) args.push(`--${capability}`);
  for (const requirement of request.requirements) args.push(`--require=${requirement}`);
  if (request.bundle !== undefined) args.push(`--bundle=${request.bundle}`);
  args.push(`--pid=${request.pid}`, request.rootfs);
  return args;
}

/**
 * Decides the prestart step.
 *
 * @throws {RequestError} when the container asks for capabilities the host does not offer
 */
export function decidePrestart(input: PrestartInput): PrestartDecision {
  const { spec, config } = input;
  const env = specEnv(spec);
  const { request, notes } = parseDeviceRequest(
    { env, mounts: specMounts(spec), privileged: isPrivileged(spec) },
    config,
  );
  if (request === undefined) {
    return { action: "skip", reason: notes[0] ?? "the container asks for no XPU" };
  }
  if (!config.hook.skipModeDetection) {
    const resolved = resolveMode({
      configured: config.runtime.mode,
      requested: request.devices,
      isCsvPlatform: input.isCsvPlatform,
    });
    if (resolved.mode !== "legacy") {
      return { action: "refuse", lines: [describeMode(resolved), DIRECT_INVOCATION_ERROR] };
    }
  }
  const capabilities = parseDriverCapabilities(
    env.get(CAPABILITIES_ENV),
    config.supportedDriverCapabilities,
  );
  if (!capabilities.ok) {
    const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");
    const problem = capabilities.unknown.length > 0
      ? `unknown capabilities ${quoted(capabilities.unknown)}`
      : `capabilities ${quoted(capabilities.unsupported)} this host does not support ` +
        `(supported-driver-capabilities = "${config.supportedDriverCapabilities.join(",")}")`;
    throw new RequestError(
      `Cannot start the container: ${CAPABILITIES_ENV} names ${problem}: ask for ` +
        `${config.supportedDriverCapabilities.join(", ")} or "all"`,
    );
  }
  return {
    action: "configure",
    args: buildCliArgs(config, {
      devices: request.devices,
      capabilities: capabilities.capabilities,
      requirements: collectRequirements(env, { disabledByConfig: config.disableRequire }),
      bundle: input.bundle,
      pid: input.pid,
      rootfs: input.rootfs,
    }),
  };
}
