/**
 * Which config version a new containerd config file gets: the one the installed containerd reads.
 * containerd 2.x reads version 3 (and migrates 2); 1.6 and 1.7 refuse 3. The version is asked of
 * the containerd binary itself, on the host (through `chroot <host-root>` when the host is mounted
 * elsewhere, as in the node daemon).
 *
 * @module
 */

import { runProcess } from "../core/io/process.ts";

/** Major and minor of a `containerd --version` line, e.g. `containerd github.com/… 2.1.9 …`. */
export function parseContainerdVersion(text: string): [number, number] | undefined {
  const m = /containerd\S*\s+v?(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** The config version a containerd of `major` reads natively. */
export function configVersionFor(major: number): 2 | 3 {
  return major >= 2 ? 3 : 2;
}

/** What the detection found, and the line that says so. */
export interface ContainerdVersionChoice {
  configVersion: 2 | 3;
  note: string;
}

/** The argv that asks the host's containerd its version. */
export function versionArgv(hostRoot: string | undefined): string[] {
  return hostRoot && hostRoot !== "/"
    ? ["chroot", hostRoot, "containerd", "--version"]
    : ["containerd", "--version"];
}

/**
 * Decides the version from what `containerd --version` printed (pure). An unknown containerd
 * gets version 2, which every supported containerd reads.
 */
export function chooseConfigVersion(
  argv: readonly string[],
  result: { code: number; stdout: string; stderr: string } | { error: string },
): ContainerdVersionChoice {
  const command = argv.join(" ");
  const fallback = (why: string): ContainerdVersionChoice => ({
    configVersion: 2,
    note: `No containerd config file: writing config version 2, which containerd 1.6, 1.7 and ` +
      `2.x read (${why})`,
  });
  if ("error" in result) return fallback(`"${command}" could not run: ${result.error}`);
  const version = result.code === 0 ? parseContainerdVersion(result.stdout) : undefined;
  if (version === undefined) {
    const said = (result.stderr.trim() || result.stdout.trim()).split("\n").pop() ||
      `exit ${result.code}`;
    return fallback(`"${command}" did not print a version: ${said}`);
  }
  const configVersion = configVersionFor(version[0]);
  return {
    configVersion,
    note: `No containerd config file: writing config version ${configVersion}, which the ` +
      `installed containerd ${version.join(".")} reads`,
  };
}

/** Asks the host's containerd its version and decides the config version. */
export async function detectConfigVersion(
  hostRoot: string | undefined,
): Promise<ContainerdVersionChoice> {
  const argv = versionArgv(hostRoot);
  try {
    return chooseConfigVersion(argv, await runProcess(argv[0], { args: argv.slice(1) }));
  } catch (error) {
    return chooseConfigVersion(argv, {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
