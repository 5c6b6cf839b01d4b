/**
 * End-to-end test gate: a test that needs root or a real program runs when the machine has them.
 * With `XPU_E2E_REQUIRED=1` (set by CI) a missing prerequisite fails the test instead of skipping
 * it; on a developer machine the skip is printed with its reason.
 *
 * @module
 */

import { hasProgram } from "./container_lab.ts";
import { parseContainerdVersion } from "../../src/engines/containerd_version.ts";

/** What an end-to-end test may need. */
export type Need =
  | "root"
  | "runc"
  | "crun"
  | "busybox"
  | "unshare"
  | "nsenter"
  | "podman"
  | "dockerd"
  | "containerd"
  | "cc"
  | "qemu-aarch64";

const PACKAGES: Record<Need, string> = {
  root: "run the tests as root",
  runc: "apt-get install runc",
  crun: "apt-get install crun",
  busybox: "apt-get install busybox-static",
  unshare: "apt-get install util-linux",
  nsenter: "apt-get install util-linux",
  podman: "apt-get install podman",
  dockerd: "apt-get install docker.io",
  containerd: "apt-get install containerd",
  cc: "apt-get install gcc libc6-dev",
  "qemu-aarch64": "apt-get install qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross",
};

/** The aarch64 libraries `qemu-aarch64-static -L` runs an aarch64 Deno with. */
export const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";

async function missing(needs: readonly Need[]): Promise<string[]> {
  const out: string[] = [];
  for (const need of needs) {
    const ok = need === "root"
      ? Deno.uid() === 0
      : need === "busybox"
      ? await Deno.stat("/bin/busybox").then(() => true, () => false)
      : need === "qemu-aarch64"
      ? await hasProgram("qemu-aarch64-static") &&
        await Deno.stat(`${AARCH64_SYSROOT}/lib/libgcc_s.so.1`).then(() => true, () => false)
      : await hasProgram(need);
    if (!ok) out.push(`${need} (${PACKAGES[need]})`);
  }
  return out;
}

/** The engines of the engine set the suite runs against: the host's, or a test root's. */
export interface EngineSet {
  /** `XPU_ENGINE_SET` (set by `scripts/engine_roots.ts run`), or "host". */
  name: string;
  /** Major.minor of each engine found, e.g. `{ containerd: [2, 1] }`. */
  versions: Partial<Record<"docker" | "containerd" | "podman" | "runc" | "crun", number[]>>;
}

let engineSetCache: Promise<EngineSet> | undefined;

type VersionParser = (text: string) => readonly number[] | undefined;

/** Major and minor from `… version X.Y…`, as dockerd, podman, runc and crun print them. */
const versionWord: VersionParser = (text) => {
  const m = /version (\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
};

async function versionOf(program: string, parse: VersionParser) {
  try {
    const out = await new Deno.Command(program, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return parse(new TextDecoder().decode(out.stdout));
  } catch {
    return undefined;
  }
}

/** The engine set this suite runs against, read from the programs themselves. */
export function engineSet(): Promise<EngineSet> {
  engineSetCache ??= (async () => {
    const probes: Record<keyof EngineSet["versions"], [string, VersionParser]> = {
      docker: ["dockerd", versionWord],
      // containerd prints its module path first: the product's own reading of it.
      containerd: ["containerd", parseContainerdVersion],
      podman: ["podman", versionWord],
      runc: ["runc", versionWord],
      crun: ["crun", versionWord],
    };
    const versions: EngineSet["versions"] = {};
    for (const [engine, [program, parse]] of Object.entries(probes)) {
      const version = await versionOf(program, parse);
      if (version) versions[engine as keyof typeof probes] = [...version];
    }
    return { name: Deno.env.get("XPU_ENGINE_SET") ?? "host", versions };
  })();
  return engineSetCache;
}

/** Whether `version` (major.minor) is at least `major.minor`. */
export function atLeast(version: readonly number[] | undefined, major: number, minor = 0): boolean {
  if (version === undefined) return false;
  return version[0] > major || (version[0] === major && (version[1] ?? 0) >= minor);
}

/** Options of {@link e2eTest}. */
export interface E2eOptions {
  /**
   * Why the test does not apply to this engine set (`undefined`: it applies). A test that does
   * not apply is not a skip: the behaviour it checks does not exist there (docker 20.10 has no
   * CDI). It is printed, and runs in the engine sets where it applies.
   */
  notApplicable?: (engines: EngineSet) => string | undefined;
}

/** Registers an end-to-end test that needs `needs`. */
export async function e2eTest(
  name: string,
  needs: readonly Need[],
  fn: (t: Deno.TestContext) => Promise<void>,
  options: E2eOptions = {},
): Promise<void> {
  if (options.notApplicable) {
    const engines = await engineSet();
    const reason = options.notApplicable(engines);
    if (reason !== undefined) {
      console.error(`N/A "${name}" on engine set ${engines.name}: ${reason}`);
      Deno.test({ name: `${name} (not applicable: ${reason})`, ignore: true, fn: () => {} });
      return;
    }
  }
  const absent = await missing(needs);
  const required = Deno.env.get("XPU_E2E_REQUIRED") === "1";
  if (absent.length > 0 && !required) {
    console.error(`SKIP "${name}": missing ${absent.join(", ")}`);
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      if (absent.length > 0) {
        throw new Error(`cannot run with XPU_E2E_REQUIRED=1: missing ${absent.join(", ")}`);
      }
      await fn(t);
    },
  });
}
