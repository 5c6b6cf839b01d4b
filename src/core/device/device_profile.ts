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
  /**
   * Identity files of a device, one value per file; `{index}` is replaced by the device's index
   * and `{node}` by the file name of its first node (`renderD128`).
   */
  identity: { uuid?: string; name?: string };
  /**
   * Identity from `Key: value` files found by a glob (NVIDIA's
   * `/proc/driver/nvidia/gpus/<bus>/information`): the file whose `indexKey` equals the device
   * index gives its UUID and name.
   */
  identityFiles?: { glob: string; indexKey: string; uuidKey?: string; nameKey?: string };
  driverFiles: readonly DriverFileGroup[];
  /**
   * The library whose versioned file name gives the driver version (`libxpu.so` with
   * `libxpu.so.1.2.3` → `1.2.3`), searched in the driver files' directories.
   */
  versionLibrary?: string;
}

/** Where distributions put driver libraries. */
const LIB_DIRS = [
  "/usr/lib64",
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib",
];

/** The generic `xpu` family (README, `xpu-container-cli`: profiles). */
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
      dirs: LIB_DIRS,
      patterns: ["libxpu*.so*"],
    },
    { capabilities: ["utility"], dirs: ["/usr/bin"], patterns: ["xpu-smi"] },
  ],
  versionLibrary: "libxpu.so",
};

/** NVIDIA GPUs: `/dev/nvidia<N>`, the CUDA driver and NVML. */
export const NVIDIA_PROFILE: DeviceProfile = {
  name: "nvidia",
  kernelModule: "nvidia",
  deviceNodes: ["/dev/nvidia[0-9]*"],
  indexFrom: "suffix",
  controlNodes: ["/dev/nvidiactl", "/dev/nvidia-uvm*", "/dev/nvidia-modeset"],
  identity: {},
  identityFiles: {
    glob: "/proc/driver/nvidia/gpus/*/information",
    indexKey: "Device Minor",
    uuidKey: "GPU UUID",
    nameKey: "Model",
  },
  driverFiles: [
    { capabilities: ["compute"], dirs: LIB_DIRS, patterns: ["libcuda.so*"] },
    { capabilities: ["utility"], dirs: LIB_DIRS, patterns: ["libnvidia-ml.so*"] },
    { capabilities: ["utility"], dirs: ["/usr/bin"], patterns: ["nvidia-smi"] },
  ],
  versionLibrary: "libcuda.so",
};

/** AMD GPUs (ROCm): one DRM render node per device, `/dev/kfd` shared. */
export const AMD_PROFILE: DeviceProfile = {
  name: "amd",
  kernelModule: "amdgpu",
  deviceNodes: ["/dev/dri/renderD[0-9]*"],
  indexFrom: "order",
  controlNodes: ["/dev/kfd"],
  identity: { uuid: "/sys/class/drm/{node}/device/unique_id" },
  driverFiles: [
    {
      capabilities: ["compute"],
      dirs: ["/opt/rocm/lib", ...LIB_DIRS],
      patterns: ["libamdhip64.so*", "libhsa-runtime64.so*"],
    },
    { capabilities: ["utility"], dirs: ["/opt/rocm/bin", "/usr/bin"], patterns: ["rocm-smi"] },
  ],
  versionLibrary: "libamdhip64.so",
};

/** Intel GPUs: the DRM card and render node of each device, Level Zero and OpenCL drivers. */
export const INTEL_PROFILE: DeviceProfile = {
  name: "intel",
  kernelModule: "i915",
  deviceNodes: ["/dev/dri/card[0-9]*", "/dev/dri/renderD[0-9]*"],
  indexFrom: "order",
  controlNodes: [],
  identity: {},
  driverFiles: [
    {
      capabilities: ["compute"],
      dirs: LIB_DIRS,
      patterns: ["libze_intel_gpu.so*", "libigdrcl.so*"],
    },
    { capabilities: ["utility"], dirs: ["/usr/bin"], patterns: ["xpu-smi"] },
  ],
  versionLibrary: "libze_intel_gpu.so",
};

/** Profiles built into the toolkit, by name. */
export const BUILTIN_PROFILES: Readonly<Record<string, DeviceProfile>> = {
  xpu: XPU_PROFILE,
  nvidia: NVIDIA_PROFILE,
  amd: AMD_PROFILE,
  intel: INTEL_PROFILE,
};

/** The built-in profile called `name`, or `undefined`. */
export function builtinProfile(name: string): DeviceProfile | undefined {
  return Object.hasOwn(BUILTIN_PROFILES, name) ? BUILTIN_PROFILES[name] : undefined;
}

/**
 * The profile called `name`: one defined in the config (`[profiles.<name>]`) first, then a
 * built-in one.
 */
export function findProfile(
  defined: Readonly<Record<string, DeviceProfile>>,
  name: string,
): DeviceProfile | undefined {
  return Object.hasOwn(defined, name) ? defined[name] : builtinProfile(name);
}
