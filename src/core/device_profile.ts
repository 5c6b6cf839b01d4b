/**
 * Device profiles: one accelerator family described as data (its device nodes, identity files,
 * driver files and kernel module), so discovery and injection are the same code for every vendor.
 *
 * @module
 */

import type { Capability } from "./capabilities.ts";

/** Driver files that belong to a set of capabilities. */
export interface DriverFileGroup {
  /** The group is injected when the container asks for any of these. */
  capabilities: readonly Capability[];
  /** In-root directories searched, in order. */
  dirs: readonly string[];
  /** File-name globs matched in each directory. */
  patterns: readonly string[];
}

/** One accelerator family. Paths are in-root (read under the driver root or the dev root). */
export interface DeviceProfile {
  name: string;
  /** Kernel module whose presence the installed wrappers check. */
  kernelModule: string;
  /** Globs of per-device nodes; the i-th device owns one match of each glob. */
  deviceNodes: readonly string[];
  /**
   * How a node's device index is found: the decimal number ending its file name (`xpu3` → 3), or
   * its position among the sorted matches.
   */
  indexFrom: "suffix" | "order";
  /** Nodes every container with a device also gets, when present on the host. */
  controlNodes: readonly string[];
  /** Identity files of a device; `{index}` is replaced by its index. */
  identity: { uuid?: string; name?: string };
  driverFiles: readonly DriverFileGroup[];
  /**
   * The library whose versioned file name gives the driver version (`libxpu.so` with
   * `libxpu.so.1.2.3` → `1.2.3`), searched in the driver files' directories.
   */
  versionLibrary?: string;
}

/** The generic `xpu` family of SPEC §3. */
export const XPU_PROFILE: DeviceProfile = {
  name: "xpu",
  kernelModule: "xpu",
  deviceNodes: ["/dev/xpu[0-9]*"],
  indexFrom: "suffix",
  controlNodes: ["/dev/xpuctl", "/dev/xpu-uvm"],
  identity: { uuid: "/sys/class/xpu/xpu{index}/uuid", name: "/sys/class/xpu/xpu{index}/name" },
  driverFiles: [
    {
      capabilities: ["compute", "utility", "graphics", "video", "display"],
      dirs: ["/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"],
      patterns: ["libxpu*.so*"],
    },
    { capabilities: ["utility"], dirs: ["/usr/bin"], patterns: ["xpu-smi"] },
  ],
  versionLibrary: "libxpu.so",
};

/** Profiles built into the toolkit, by name. */
export const BUILTIN_PROFILES: Readonly<Record<string, DeviceProfile>> = {
  xpu: XPU_PROFILE,
};

/** The built-in profile called `name`, or `undefined`. */
export function builtinProfile(name: string): DeviceProfile | undefined {
  return Object.hasOwn(BUILTIN_PROFILES, name) ? BUILTIN_PROFILES[name] : undefined;
}
