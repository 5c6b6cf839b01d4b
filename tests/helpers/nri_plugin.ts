/**
 * The NRI plugin as a process next to a private containerd (`cri_pods.ts`), for the end-to-end
 * tests and the NRI benchmark: started with its output in a file, waited for until containerd
 * has connected it, stopped with SIGTERM.
 *
 * @module
 */

import type { World } from "./cri_pods.ts";
import { ENGINE_ENV } from "./cri_pods.ts";

/** The name and index the plugin registers with by default, as containerd logs it. */
export const PLUGIN_ID = "10-xpu-container-toolkit";

/** A running `xpu-ctk nri-plugin`, its stderr in a file. */
export interface PluginProcess {
  log: () => string;
  stop: () => Promise<Deno.CommandStatus>;
}

export function startPlugin(
  argv: readonly string[],
  logPath: string,
  env: Record<string, string> = {},
): PluginProcess {
  const [program, ...args] = argv;
  const child = new Deno.Command(program, {
    args,
    clearEnv: true,
    env: { ...ENGINE_ENV, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const file = Deno.openSync(logPath, { write: true, create: true, append: true });
  const drained = Promise.all([
    child.stderr.pipeTo(new WritableStream({ write: (c) => void file.writeSync(c) })),
    // stdout must stay empty: it is checked at the end.
    child.stdout.pipeTo(
      new WritableStream({
        write: (c) =>
          void file.writeSync(new TextEncoder().encode(`STDOUT: ${new TextDecoder().decode(c)}`)),
      }),
    ),
  ]).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const log = () => {
    try {
      return Deno.readTextFileSync(logPath);
    } catch {
      return "";
    }
  };
  let stopped: Promise<Deno.CommandStatus> | undefined;
  return {
    log,
    stop: () =>
      stopped ??= (async () => {
        if (!exited) child.kill("SIGTERM");
        const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
        const result = await status;
        clearTimeout(timer);
        await drained;
        file.close();
        return result;
      })(),
  };
}

/** How many times containerd has logged the plugin as connected (and synchronized). */
export function connections(world: World): number {
  const log = Deno.readTextFileSync(world.containerd.logPath);
  // 2.x says "… connected and synchronized", 1.7 "… connected", both after the sync.
  return log.split("\n").filter((l) => l.includes(`msg="plugin \\"${PLUGIN_ID}\\" connected`))
    .length;
}

/** Waits until containerd has logged the plugin as connected (and synchronized) `times` times. */
export async function waitForPlugin(world: World, plugin: PluginProcess, times: number) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const count = connections(world);
    if (count >= times) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `containerd did not synchronize the plugin (${count} of ${times} times)\n` +
          `--- plugin log:\n${plugin.log()}\n--- containerd log:\n${world.containerd.logTail(30)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
