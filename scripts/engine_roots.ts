/**
 * Test roots holding the container engines operators run today, so the end-to-end suite runs
 * against them as well as against the host's (Debian 12's) engines.
 *
 *   deno run -A scripts/engine_roots.ts build trixie|sid [--dir DIR]
 *   deno run -A scripts/engine_roots.ts run trixie|sid|DIR [--cgroup2] -- COMMAND [ARG...]
 *
 * `build` makes a Debian root with debootstrap from the host's own mirror and installs the engines
 * in it; it is idempotent (a finished root carries a stamp naming its package list) and starts over
 * when a previous build did not finish. `run` enters the root as a real root, not a chroot (runc's
 * `pivot_root` fails under chroot): a private mount namespace, `/proc`, `/sys` and `/dev` from the
 * host, a tmpfs `/run`, the repository and `../shared` at their host paths, Deno and its cache; then
 * `pivot_root`. Daemons started inside live as long as that namespace, so each caller runs one
 * whole scenario (here: the test suite) per entry. `--cgroup2` mounts a cgroup v2 hierarchy on
 * `/sys/fs/cgroup` inside the namespace: runc, crun, docker and podman then see a cgroup v2 host.
 *
 * @module
 */

import { REPO_ROOT } from "../tests/helpers/container_lab.ts";
import { shellQuote as q } from "../src/core/text/shell_quote.ts";

/** The suites a root can be built from, and what each is for. */
export const SUITES = ["trixie", "sid"] as const;
export type Suite = typeof SUITES[number];

/** What goes into every root besides the minimal base. */
export const ROOT_PACKAGES: readonly string[] = [
  "ca-certificates",
  "busybox-static",
  "procps",
  "iproute2",
  "iptables",
  "util-linux",
  "coreutils",
  "kmod",
  "runc",
  "crun",
  "containerd",
  "docker.io",
  "docker-cli",
  "podman",
  "gcc",
  "libc6-dev",
  "strace",
];

/**
 * Packages whose files are unpacked without their dependencies: the CRI API definition the CRI
 * client loads (`api.proto` and the `gogo.proto` it imports). Installed properly they pull in
 * 1.7 GB of Go sources.
 */
export const UNPACKED_PACKAGES: readonly string[] = [
  "golang-github-kubernetes-cri-api-dev",
  "golang-github-gogo-protobuf-dev",
];

/** Where roots live unless `--dir` or `XPU_ENGINE_ROOTS` says otherwise. */
export function defaultRootDir(suite: string): string {
  return `${Deno.env.get("XPU_ENGINE_ROOTS") ?? "/var/tmp/xpu-engine-roots"}/${suite}`;
}

const STAMP = ".xpu-engine-root";

function stampText(suite: string): string {
  return `${suite}\n${ROOT_PACKAGES.join(" ")}\n${UNPACKED_PACKAGES.join(" ")}\n`;
}

/** The mirror the host's apt uses (deb822 `URIs:` or a one-line `deb` entry). */
export function hostMirror(sources: string): string | undefined {
  const deb822 = sources.match(/^URIs:\s*(\S+)/m);
  if (deb822) return deb822[1];
  const line = sources.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m);
  return line?.[1];
}

function readHostSources(): string {
  const texts: string[] = [];
  for (const file of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    try {
      texts.push(Deno.readTextFileSync(file));
    } catch {
      // absent: the other file may have it
    }
  }
  return texts.join("\n");
}

async function run(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  const status = await new Deno.Command(cmd, { args, stdin: "null", ...options }).spawn().status;
  if (!status.success) {
    throw new Error(`${cmd} ${args.slice(0, 4).join(" ")}… failed with exit ${status.code}`);
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A minimal Debian root (`debootstrap --variant=minbase`) in `dir`, ready for apt inside it: the
 * host's resolver, no expiry check (sid's InRelease reads as expired here), no services started by
 * maintainer scripts, no recommends, no pty (there is no /dev/pts in a chroot).
 */
async function debootstrap(
  options: { suite: string; dir: string; mirror: string; include: readonly string[] },
): Promise<void> {
  const { suite, dir, mirror } = options;
  Deno.mkdirSync(dir, { recursive: true });
  const include = options.include.length > 0 ? [`--include=${options.include.join(",")}`] : [];
  await run("debootstrap", ["--variant=minbase", ...include, suite, dir, mirror], {
    stdout: "null",
  });
  Deno.writeTextFileSync(`${dir}/etc/resolv.conf`, Deno.readTextFileSync("/etc/resolv.conf"));
  Deno.writeTextFileSync(
    `${dir}/etc/apt/apt.conf.d/90xpu-test-root`,
    'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\nDpkg::Use-Pty "0";\n',
  );
  Deno.writeTextFileSync(`${dir}/usr/sbin/policy-rc.d`, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
}

/**
 * Builds (or finds ready) a fresh Debian `suite` root in `dir`: debootstrap's minimal base and
 * nothing more, as a new machine has it. What `./demo.sh` and `./test.sh` set up is tested there,
 * each time on a copy (an overlay), so the root itself stays fresh.
 */
export async function buildFreshRoot(suite: string, dir: string): Promise<void> {
  const stamp = `${dir}/${STAMP}`;
  const text = `fresh ${suite}\n`;
  if (exists(stamp) && Deno.readTextFileSync(stamp) === text) return;
  const mirror = hostMirror(readHostSources());
  if (!mirror) throw new Error("no Debian mirror in /etc/apt/sources.list.d/debian.sources");
  if (exists(dir)) await run("rm", ["-rf", "--one-file-system", dir]);
  const started = Date.now();
  console.error(`fresh root ${suite}: debootstrap from ${mirror} into ${dir}`);
  await debootstrap({ suite, dir, mirror, include: [] });
  Deno.writeTextFileSync(stamp, text);
  console.error(`fresh root ${suite}: built in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Builds (or finds ready) the root for `suite` in `dir`. */
export async function buildRoot(suite: Suite, dir: string): Promise<void> {
  const stamp = `${dir}/${STAMP}`;
  if (exists(stamp) && Deno.readTextFileSync(stamp) === stampText(suite)) {
    console.error(`engine root ${suite}: ready in ${dir}`);
    return;
  }
  const mirror = hostMirror(readHostSources());
  if (!mirror) throw new Error("no Debian mirror in /etc/apt/sources.list.d/debian.sources");
  const started = Date.now();
  if (exists(dir)) {
    console.error(`engine root ${suite}: ${dir} is unfinished or outdated, building it again`);
    await run("rm", ["-rf", "--one-file-system", dir]);
  }
  console.error(`engine root ${suite}: debootstrap from ${mirror} into ${dir}`);
  await debootstrap({ suite, dir, mirror, include: ["ca-certificates", "busybox-static"] });
  const install = [
    "set -e",
    "mount -t proc proc /proc",
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get update -qq",
    `apt-get install -y -qq ${ROOT_PACKAGES.join(" ")} >/dev/null`,
    "mkdir -p /var/tmp/unpacked && chown _apt /var/tmp/unpacked && cd /var/tmp/unpacked",
    `apt-get download -qq ${UNPACKED_PACKAGES.join(" ")}`,
    'for deb in *.deb; do dpkg-deb -x "$deb" /; done',
    "cd / && rm -rf /var/tmp/unpacked",
    "apt-get clean",
    "umount /proc",
  ].join("\n");
  await run("unshare", [
    "-m",
    "--propagation",
    "private",
    "chroot",
    dir,
    "/bin/sh",
    "-c",
    install,
  ]);
  Deno.writeTextFileSync(stamp, stampText(suite));
  console.error(`engine root ${suite}: built in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Host paths the root must see at the same place. */
function sharedPaths(): string[] {
  const paths = [REPO_ROOT, `${REPO_ROOT}/../shared`];
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
  paths.push(denoDir);
  return paths.filter(exists).map((p) => Deno.realPathSync(p));
}

/**
 * The shell program that enters `dir` in the private mount namespace `unshare` made, then runs
 * `"$@"`. Pure; exported for its test.
 */
export function entryScript(
  dir: string,
  name: string,
  binds: readonly string[],
  denoPath: string,
  cgroup2: boolean,
): string {
  const lines = [
    "set -e",
    `R=${q(dir)}`,
    'mount --bind "$R" "$R"',
    'mount -t proc proc "$R/proc"',
    'mount --rbind /sys "$R/sys"',
    'mount --rbind /dev "$R/dev"',
    'mount -t tmpfs -o mode=0755 tmpfs "$R/run"',
    'mkdir -p "$R/tmp" "$R/var/tmp" "$R/.oldroot"',
    'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"',
  ];
  for (const path of binds) {
    lines.push(`mkdir -p "$R"${q(path)}`, `mount --rbind ${q(path)} "$R"${q(path)}`);
  }
  lines.push(
    'touch "$R/usr/local/bin/deno"',
    `mount --bind ${q(denoPath)} "$R/usr/local/bin/deno"`,
  );
  if (cgroup2) {
    // A cgroup v2 host as runc and the engines detect it: the unified hierarchy on /sys/fs/cgroup.
    lines.push(
      'umount -R "$R/sys/fs/cgroup" 2>/dev/null || umount -l "$R/sys/fs/cgroup"',
      'mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"',
    );
  }
  lines.push(
    'cd "$R"',
    "pivot_root . .oldroot",
    "cd /",
    "umount -l /.oldroot",
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `export XPU_ENGINE_SET=${q(name)}`,
    'exec "$@"',
  );
  return lines.join("\n");
}

/** Runs `command` inside the root in `dir`, returning its exit code. */
export async function runInRoot(
  dir: string,
  command: readonly string[],
  options: {
    cgroup2?: boolean;
    cwd?: string;
    /** More host paths the root sees at the same place. */
    binds?: readonly string[];
    /**
     * A dir for an overlay of the root: what the command changes lands there (`upper/`), and the
     * root itself stays as it was.
     */
    overlay?: string;
  } = {},
): Promise<number> {
  if (!exists(`${dir}/${STAMP}`)) {
    throw new Error(`${dir} is not a finished engine root: run "engine_roots.ts build" first`);
  }
  const name = dir.replace(/\/+$/, "").split("/").pop()! + (options.cgroup2 ? "-cgroup2" : "");
  let root = dir;
  let overlay = "";
  if (options.overlay !== undefined) {
    const [upper, work, merged] = ["upper", "work", "merged"].map((d) => `${options.overlay}/${d}`);
    root = merged;
    overlay = `mkdir -p ${q(upper)} ${q(work)} ${q(merged)}\n` +
      `mount -t overlay overlay -o lowerdir=${q(dir)},upperdir=${q(upper)},workdir=${q(work)} ` +
      `${q(merged)}\n`;
  }
  const binds = [...sharedPaths(), ...(options.binds ?? []).map((p) => Deno.realPathSync(p))];
  const script = overlay +
    entryScript(root, name, binds, Deno.execPath(), options.cgroup2 ?? false);
  const cwd = options.cwd ?? Deno.cwd();
  const status = await new Deno.Command("unshare", {
    args: [
      "-m",
      "--propagation",
      "private",
      "/bin/sh",
      "-c",
      script,
      "engine-root",
      "/bin/sh",
      "-c",
      'cd "$0" && exec "$@"',
      cwd,
      ...command,
    ],
    stdin: "inherit",
  }).spawn().status;
  return status.code;
}

function usage(): never {
  console.error(
    "usage: engine_roots.ts build trixie|sid [--dir DIR] | run trixie|sid|DIR [--cgroup2] -- COMMAND...",
  );
  Deno.exit(2);
}

function rootDirOf(name: string | undefined, dirFlag: string | undefined): string {
  if (!name) usage();
  if (dirFlag) return dirFlag;
  return (SUITES as readonly string[]).includes(name) ? defaultRootDir(name) : name;
}

if (import.meta.main) {
  const [verb, name, ...rest] = Deno.args;
  const dashes = rest.indexOf("--");
  const flags = dashes < 0 ? rest : rest.slice(0, dashes);
  const command = dashes < 0 ? [] : rest.slice(dashes + 1);
  const dirIndex = flags.indexOf("--dir");
  const dirFlag = dirIndex >= 0 ? flags[dirIndex + 1] : undefined;
  try {
    if (verb === "build") {
      if (!(SUITES as readonly string[]).includes(name ?? "")) usage();
      await buildRoot(name as Suite, rootDirOf(name, dirFlag));
    } else if (verb === "run") {
      if (command.length === 0) usage();
      Deno.exit(
        await runInRoot(rootDirOf(name, dirFlag), command, {
          cgroup2: flags.includes("--cgroup2"),
        }),
      );
    } else {
      usage();
    }
  } catch (error) {
    console.error(`engine_roots: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
