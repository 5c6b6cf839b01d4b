/**
 * End-to-end test gate: a test that needs root or a real program runs when the machine has them.
 * With `XPU_E2E_REQUIRED=1` (set by CI) a missing prerequisite fails the test instead of skipping
 * it; on a developer machine the skip is printed with its reason.
 *
 * @module
 */

import { hasProgram } from "../../scripts/container_lab.ts";

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
  | "cc";

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
};

async function missing(needs: readonly Need[]): Promise<string[]> {
  const out: string[] = [];
  for (const need of needs) {
    const ok = need === "root"
      ? Deno.uid() === 0
      : need === "busybox"
      ? await Deno.stat("/bin/busybox").then(() => true, () => false)
      : await hasProgram(need);
    if (!ok) out.push(`${need} (${PACKAGES[need]})`);
  }
  return out;
}

/** Registers an end-to-end test that needs `needs`. */
export async function e2eTest(
  name: string,
  needs: readonly Need[],
  fn: (t: Deno.TestContext) => Promise<void>,
): Promise<void> {
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
