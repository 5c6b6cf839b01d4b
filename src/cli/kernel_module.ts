/**
 * `--load-kmods`: make sure the profile's kernel module is loaded before devices are set up.
 * Where modules cannot be loaded (no modprobe, inside a container, no such module) this is a
 * logged no-op: the device nodes either exist already or discovery reports them missing.
 *
 * @module
 */

import { statSync } from "../core/io/fs.ts";
import { runProcess } from "../core/io/process.ts";

/** Where hosts keep modprobe: run by absolute path, never found through a PATH. */
export const MODPROBE_PATHS: readonly string[] = ["/usr/sbin/modprobe", "/sbin/modprobe"];

/** What happened to the module. */
export type ModuleOutcome = "present" | "loaded" | { skipped: string };

/** Loads kernel module `name` unless `/sys/module/<name>` shows it is there. */
export async function loadKernelModule(name: string): Promise<ModuleOutcome> {
  if (name === "") return { skipped: "the profile names no kernel module" };
  try {
    statSync(`/sys/module/${name}`);
    return "present";
  } catch {
    // Not loaded (or not built in): try modprobe.
  }
  const modprobe = MODPROBE_PATHS.find((path) => {
    try {
      return statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (modprobe === undefined) return { skipped: `no modprobe in ${MODPROBE_PATHS.join(", ")}` };
  try {
    const result = await runProcess(modprobe, { args: [name], env: {}, clearEnv: true });
    if (result.code === 0) return "loaded";
    return { skipped: result.stderr.trim().split("\n").pop() || `modprobe exit ${result.code}` };
  } catch (error) {
    return { skipped: error instanceof Error ? error.message : String(error) };
  }
}
