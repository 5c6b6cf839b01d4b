/**
 * Hostile images for the security end-to-end tests: payloads built with `cc` (a library that
 * records every process it is loaded into, as `LD_PRELOAD` or `LD_AUDIT`; a `RENAME_EXCHANGE`
 * racer; a real ELF driver library so an ld cache can name it), crafted busybox images, and the
 * two checks every such test makes — nothing reached the lab's "host" dir, and the same container
 * still got its XPU.
 *
 * The "host" is `<lab>/host`: payloads aim at it by its absolute path (`$H`) or through
 * `/proc/1/root$H` (pid 1 of a container that has not pivoted yet still has the host's root).
 * Markers are only ever written there.
 *
 * @module
 */

export { useCrun } from "./lab.ts";
import { deepStrictEqual, doesNotMatch, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle, SIMULATED_LIB_DIR } from "./container_lab.ts";
import type { BundleOptions } from "./container_lab.ts";
import { runTool } from "./toolkit_commands.ts";
import { type Lab, readLog } from "./lab.ts";

/** What the tests need besides root and runc. */
export const HOSTILE_NEEDS = ["root", "runc", "busybox", "cc"] as const;

/** The host's static ldconfig (Debian's is static-pie), copied into images that "have glibc". */
export const HOST_LDCONFIG = "/sbin/ldconfig";

/** Records every process it is loaded into, in `$XPU_EVIL_MARKER` (an absolute host path). */
const EVIL_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void record(const char *how) {
  const char *path = getenv("XPU_EVIL_MARKER");
  if (path == NULL || path[0] != '/') return;
  char exe[1024] = "?", cwd[1024] = "?";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = 0;
  if (getcwd(cwd, sizeof cwd) == NULL) strcpy(cwd, "?");
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  dprintf(fd, "%s pid=%d uid=%d exe=%s cwd=%s\n", how, (int)getpid(), (int)getuid(), exe, cwd);
  close(fd);
}

__attribute__((constructor)) static void evil_init(void) { record("preloaded"); }

/* The rtld-audit entry point: makes the same library work as LD_AUDIT. */
unsigned int la_version(unsigned int version) {
  record("audit");
  return version;
}
`;

/**
 * Swaps two paths with renameat2(RENAME_EXCHANGE) until it has done MAX swaps, MAX_SECONDS
 * passed, or SIGTERM/SIGINT arrives; always stops after an even number of swaps (both paths as
 * they started) and prints the count.
 */
const RACER_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int swap(const char *a, const char *b) {
  return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: racer A B MAX_SWAPS MAX_SECONDS\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  long max = atol(argv[3]);
  time_t end = time(NULL) + atol(argv[4]);
  long n = 0;
  /* Tell the parent the loop is about to start. */
  printf("ready\n");
  fflush(stdout);
  while (!stop && n < max && (n % 4096 != 0 || time(NULL) < end)) {
    if (swap(argv[1], argv[2]) != 0) {
      perror("renameat2");
      return 1;
    }
    n++;
  }
  if (n % 2 == 1 && swap(argv[1], argv[2]) == 0) n++;
  printf("%ld\n", n);
  return 0;
}
`;

/** A real shared library (soname libxpu.so.1) whose bytes hold the probe's "fake libxpu" line. */
const LIBXPU_C = String.raw`
__attribute__((used)) const char xpu_banner[] = "\nfake libxpu 1.0.0\n";
int xpu_device_count(void) { return 2; }
`;

/** The payloads of one test file. */
export interface Payloads {
  dir: string;
  /** The LD_PRELOAD / LD_AUDIT library. */
  evilSo: string;
  racer: string;
  /** An ELF `libxpu.so.1.0.0` for driver roots. */
  libxpu: string;
}

let built: Promise<Payloads> | undefined;

async function compile(dir: string, name: string, source: string, flags: string[]) {
  Deno.writeTextFileSync(`${dir}/${name}.c`, source);
  const out = await runTool(["timeout", "60", "cc"], {
    args: [...flags, "-o", `${dir}/${name}`, `${dir}/${name}.c`],
  });
  strictEqual(out.code, 0, `cc ${name}: ${out.stderr}`);
  return `${dir}/${name}`;
}

/**
 * Builds the payloads once per test file (the first call compiles; later calls share the
 * result). The dir is removed when the test file's process unloads.
 */
export function buildPayloads(): Promise<Payloads> {
  built ??= (async () => {
    const dir = Deno.makeTempDirSync({ prefix: "xpu-hostile-payloads-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Already gone.
      }
    });
    const [evilSo, racer, libxpu] = await Promise.all([
      compile(dir, "evil.so", EVIL_C, ["-shared", "-fPIC", "-O2"]),
      compile(dir, "racer", RACER_C, ["-O2", "-static"]).catch(() =>
        compile(dir, "racer", RACER_C, ["-O2"])
      ),
      compile(dir, "libxpu.so.1.0.0", LIBXPU_C, ["-shared", "-fPIC", "-Wl,-soname,libxpu.so.1"]),
    ]);
    return { dir, evilSo, racer, libxpu };
  })();
  return built;
}

/** A lab whose host dir is seeded and whose driver library is a real ELF file. */
export interface HostileLab {
  lab: Lab;
  /** The "host" dir (absolute): the only place payloads aim at. */
  host: string;
  payloads: Payloads;
  /** What the host dir and the mounts looked like before anything ran. */
  before: HostSnapshot;
}

/** What the host dir holds before a test: files a payload would read, replace or write into. */
export const HOST_SEED: Readonly<Record<string, string>> = {
  "/secret": "host secret 5f3c9e\n",
  "/precious": "precious host file\n",
  // Targets of lib-dir and device symlinks: the injectors must not replace these.
  "/lib/libxpu.so.1": "precious host lib link\n",
  "/lib/libxpu.so.1.0.0": "precious host lib\n",
  "/dev/xpu0": "precious host dev file\n",
  // Target of an ld.so.conf.d symlink: the drop-in must not overwrite it.
  "/conf.d/00-xpu-ctk.conf": "precious host ld conf\n",
  // Reached by an image ld.so.conf `include`: it names a host lib dir (`@HOST@` = the host dir).
  "/conf.d/host.conf": "/proc/1/root@HOST@/libdir\n",
  "/mnt/.keep": "",
  // Where a racing image symlink points: the hooks must never create anything here.
  "/race/.keep": "",
  // Targets of an image /etc or /var/cache/ldconfig link: no ldconfig may write here.
  "/etc/ld.so.cache": "precious host ld cache\n",
  "/etc/ld.so.conf.d/.keep": "",
  "/auxcache/.keep": "",
};

/**
 * Seeds `<lab>/host`, replaces the lab's text driver library with a real ELF one (so an ld cache
 * can list it) and snapshots the host dir and the mounts under the lab.
 */
export async function prepareHostileLab(lab: Lab): Promise<HostileLab> {
  const payloads = await buildPayloads();
  const host = `${lab.dir}/host`;
  for (const [path, text] of Object.entries(HOST_SEED)) {
    const full = host + path;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(full, text.replaceAll("@HOST@", host));
  }
  // A real library in a host lib dir: an ldconfig that scans the dir makes a link beside it.
  Deno.mkdirSync(`${host}/libdir`);
  Deno.copyFileSync(payloads.libxpu, `${host}/libdir/libhostonly.so.1.0`);
  Deno.copyFileSync(payloads.libxpu, `${lab.driverRoot}${SIMULATED_LIB_DIR}/libxpu.so.1.0.0`);
  Deno.chmodSync(`${lab.driverRoot}${SIMULATED_LIB_DIR}/libxpu.so.1.0.0`, 0o644);
  return { lab, host, payloads, before: snapshotHost(lab, host) };
}

/** One entry of a host dir, as compared: kind, mode, owner, bytes or link target, device. */
type EntryState = string;

/** The host dir's entries and the mount points under the lab. */
export interface HostSnapshot {
  entries: Record<string, EntryState>;
  mounts: string[];
}

function describeEntry(path: string): EntryState {
  const info = Deno.lstatSync(path);
  const head = `mode=${(info.mode ?? 0).toString(8)} uid=${info.uid} gid=${info.gid}`;
  if (info.isSymlink) return `symlink ${head} -> ${Deno.readLinkSync(path)}`;
  if (info.isDirectory) return `dir ${head}`;
  if (info.isFile) {
    return `file ${head} mtime=${info.mtime?.getTime()} ${describeBytes(Deno.readFileSync(path))}`;
  }
  return `${info.isCharDevice ? "char" : info.isBlockDevice ? "block" : "other"} ${head} ` +
    `rdev=${info.rdev}`;
}

/** Short text as it is; anything else as its size and a hash (FNV-1a), to keep diffs legible. */
function describeBytes(bytes: Uint8Array): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (text.length <= 200) return `bytes=${JSON.stringify(text)}`;
  } catch {
    // Not UTF-8: hashed below.
  }
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return `size=${bytes.length} fnv1a=${hash.toString(16)}`;
}

function walk(dir: string, prefix: string, out: Record<string, EntryState>) {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}/${entry.name}`;
    out[`${prefix}/${entry.name}`] = describeEntry(path);
    if (entry.isDirectory) walk(path, `${prefix}/${entry.name}`, out);
  }
}

/** Mount points of this (the host's) mount namespace under `dir`. */
export function mountsUnder(dir: string): string[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return Deno.readTextFileSync("/proc/self/mountinfo").trim().split("\n")
    .map((line) => unescape(line.split(" ")[4]))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort();
}

/** The host dir's entries and the host mount points under the lab dir (podman's store aside). */
export function snapshotHost(lab: Lab, host: string): HostSnapshot {
  const entries: Record<string, EntryState> = {};
  walk(host, "", entries);
  const mounts = mountsUnder(lab.dir).filter((m) => !m.startsWith(`${lab.dir}/podman/`));
  return { entries, mounts };
}

/**
 * Asserts that nothing reached the host: no marker or new file, link, node or dir in the host
 * dir, every seeded file byte-identical (and unwritten), no new mount on the host under the lab.
 */
export function assertHostUntouched(h: HostileLab, what: string): void {
  const after = snapshotHost(h.lab, h.host);
  const markers = Object.keys(after.entries).filter((p) => p.includes("marker"));
  const marked = markers.map((m) => `${m}: ${readOr(`${h.host}${m}`, "")}`).join("\n");
  deepStrictEqual(markers, [], `${what}: hostile code ran on the host:\n${marked}`);
  const paths = [...new Set([...Object.keys(h.before.entries), ...Object.keys(after.entries)])];
  const changed = paths.sort().filter((p) => h.before.entries[p] !== after.entries[p]).map((p) =>
    `${p}: ${h.before.entries[p] ?? "(absent)"} => ${after.entries[p] ?? "(gone)"}`
  );
  deepStrictEqual(changed, [], `${what}: the host dir changed`);
  deepStrictEqual(after.mounts, h.before.mounts, `${what}: new mounts on the host`);
}

function readOr(path: string, fallback: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

/**
 * The lab's PROBE, with the driver library grepped rather than printed (it is an ELF file here),
 * plus the ld cache as the image's own ldconfig reads it and any host file leaked into the image.
 */
export const HOSTILE_PROBE = [
  "export PATH=/bin:/sbin",
  "for d in /dev/xpu0 /dev/xpu1 /dev/xpuctl; do",
  '  if [ -e $d ]; then (exec 3>$d) 2>&1 && echo "$d: open ok"; else echo "$d: absent"; fi',
  "done",
  `grep -ao "fake libxpu [0-9.]*" ${SIMULATED_LIB_DIR}/libxpu.so 2>&1`,
  `echo "link: $(readlink ${SIMULATED_LIB_DIR}/libxpu.so)"`,
  "L=/sbin/ldconfig; [ -x /sbin/ldconfig.real ] && L=/sbin/ldconfig.real",
  'if [ -x "$L" ]; then echo "ldcache: $($L -p | grep -c libxpu)"; $L -p | grep libxpu; fi',
  "cat /leaked 2>/dev/null",
  "echo probe done",
].join("\n");

/** The container's command: the probe, by absolute path (no PATH lookup of `sh`). */
export const PROBE_ARGS = ["/bin/sh", "-c", HOSTILE_PROBE];

/** What a container run printed. */
export interface ProbeRun {
  createCode: number;
  createStderr: string;
  stdout: string;
}

/**
 * Asserts the container got what an honest one gets: xpu0 opens, the control node is allowed
 * (ENXIO), the driver library is readable, its symlink recreated, and — for an image with an
 * ldconfig — a refreshed ld cache that lists it. Host secrets never show up inside.
 */
export function assertContainerWorks(
  run: ProbeRun,
  what: string,
  options: { ldcache: boolean },
): void {
  strictEqual(run.createCode, 0, `${what}: create failed: ${run.createStderr}`);
  const out = run.stdout;
  match(out, /^\/dev\/xpu0: open ok$/m, `${what}: /dev/xpu0\n${out}`);
  match(out, /\/dev\/xpuctl: No such device or address/, `${what}: control node\n${out}`);
  match(out, /^fake libxpu 1\.0\.0$/m, `${what}: driver library\n${out}`);
  match(out, /^link: libxpu\.so\.1$/m, `${what}: symlink\n${out}`);
  if (options.ldcache) {
    match(
      out,
      new RegExp(
        `libxpu\\.so\\.1 \\(libc6,x86-64\\) => ${SIMULATED_LIB_DIR}/libxpu\\.so\\.1$`,
        "m",
      ),
      `${what}: ld cache\n${out}`,
    );
  }
  match(out, /^probe done$/m, `${what}: probe did not finish\n${out}`);
  doesNotMatch(out, /host secret/, `${what}: a host file leaked into the container`);
  doesNotMatch(out, /=> \/proc\//, `${what}: the ld cache names host paths through /proc`);
  doesNotMatch(out, /libhostonly/, `${what}: the ld cache lists a host library`);
}

/**
 * For an image whose layout makes an injection target unreachable without leaving the rootfs:
 * either a refused start whose one error line names `path`, or a normal start (the file then
 * landed inside the rootfs). Returns which.
 */
export function assertRefusedOrContained(
  run: ProbeRun,
  what: string,
  options: { path: RegExp; errorLines: () => string[] },
): "refused" | "started" {
  if (run.createCode === 0) {
    match(run.stdout, /^probe done$/m, `${what}: started, but the probe did not finish`);
    doesNotMatch(run.stdout, /host secret/, `${what}: a host file leaked into the container`);
    return "started";
  }
  const lines = options.errorLines();
  ok(lines.length >= 1, `${what}: refused without an error line (stderr: ${run.createStderr})`);
  // crun sends a hook's stderr to /dev/null (unless the run.oci.hooks.stderr annotation names a
  // file), so under crun the refusal shows only as crun's own hook error.
  if (lines.some((l) => /error executing hook .*\(exit code: [1-9]/.test(l))) return "refused";
  ok(
    lines.some((l) => options.path.test(l)),
    `${what}: the refusal does not name ${options.path}: ${lines.join(" | ")}`,
  );
  return "refused";
}

/** Options of {@link hostileBundle}. */
export interface HostileBundleOptions extends Partial<BundleOptions> {
  /** Crafts the image: called with the rootfs dir after the busybox base is in place. */
  image?: (rootfs: string) => void;
}

/** Makes `<lab>/<name>`: a busybox bundle running the probe, then crafted by `options.image`. */
export function hostileBundle(h: HostileLab, name: string, options: HostileBundleOptions = {}) {
  const dir = `${h.lab.dir}/${name}`;
  const specPath = makeBundle(dir, {
    args: options.args ?? PROBE_ARGS,
    env: options.env,
    edit: options.edit,
  });
  options.image?.(`${dir}/rootfs`);
  return { dir, rootfs: `${dir}/rootfs`, specPath };
}

/** Copies the host's static ldconfig into the image at `/sbin/ldconfig` (a glibc image). */
export function addRealLdconfig(rootfs: string, at = "/sbin/ldconfig"): void {
  Deno.mkdirSync(`${rootfs}/sbin`, { recursive: true });
  Deno.mkdirSync(`${rootfs}/etc/ld.so.conf.d`, { recursive: true });
  Deno.writeTextFileSync(`${rootfs}/etc/ld.so.conf`, "include /etc/ld.so.conf.d/*.conf\n");
  Deno.copyFileSync(HOST_LDCONFIG, `${rootfs}${at}`);
  Deno.chmodSync(`${rootfs}${at}`, 0o755);
}

/**
 * The body of a hostile program: from wherever it runs, it tries to leave (write a marker to
 * `$H` and `/proc/1/root$H`, list `/proc/1/root`, mount and mknod there, copy a host file into
 * the image's `/leaked`). Every success is recorded in a marker.
 */
export function escapeAttempts(host: string, name: string): string {
  return [
    `H='${host}'`,
    `for d in "$H" "/proc/1/root$H"; do`,
    `  if [ -d "$d" ] && echo "${name} ran as uid $(id -u 2>/dev/null) in $(pwd)" >> "$d/marker-${name}" 2>/dev/null; then`,
    `    ls /proc/1/root/ >> "$d/marker-${name}" 2>&1`,
    `    mount -t tmpfs xpu-hostile "$d/mnt" 2>/dev/null && echo mounted >> "$d/marker-${name}"`,
    `    mknod "$d/marker-${name}-node" c 1 3 2>/dev/null`,
    `  fi`,
    `done`,
    // Inside a chroot of the rootfs, / is the image: a copy here shows up in the container.
    `[ -r "/proc/1/root$H/secret" ] && [ ! -e "$H" ] && cat "/proc/1/root$H/secret" > /leaked 2>/dev/null`,
  ].join("\n");
}

/**
 * A hostile `/sbin/ldconfig`: a `#!/bin/sh` script that tries the escape, then execs the real
 * static ldconfig (copied to `/sbin/ldconfig.real`) with its arguments, so the legitimate
 * outcome — an updated ld cache — is still checkable.
 */
export function addHostileLdconfig(rootfs: string, host: string): void {
  addRealLdconfig(rootfs, "/sbin/ldconfig.real");
  Deno.writeTextFileSync(
    `${rootfs}/sbin/ldconfig`,
    ["#!/bin/sh", escapeAttempts(host, "ldconfig"), 'exec /sbin/ldconfig.real "$@"'].join("\n") +
      "\n",
  );
  Deno.chmodSync(`${rootfs}/sbin/ldconfig`, 0o755);
}

/** Host programs an image shadows through `PATH=/proc/self/cwd/evilbin:…`. */
export const SHADOWED_PROGRAMS = [
  "chroot",
  "ldconfig",
  "nsenter",
  "sh",
  "mount",
  "deno",
  "mkdir",
  "ln",
  "mknod",
] as const;

/** The container env that puts the image's `/evilbin` first in a host-side PATH lookup. */
export const EVIL_PATH = "PATH=/proc/self/cwd/evilbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:" +
  "/usr/bin:/sbin:/bin";

/**
 * Adds `/evilbin/<program>` scripts that try the escape and then exec the real host program of
 * the same name, so a hook that finds them still works.
 */
export function addPathShadows(rootfs: string, host: string): void {
  Deno.mkdirSync(`${rootfs}/evilbin`, { recursive: true });
  for (const name of SHADOWED_PROGRAMS) {
    const path = `${rootfs}/evilbin/${name}`;
    Deno.writeTextFileSync(
      path,
      [
        "#!/bin/sh",
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        escapeAttempts(host, `path-${name}`),
        `real=$(command -v ${name}) || exit 127`,
        `exec "$real" "$@"`,
      ].join("\n") + "\n",
    );
    Deno.chmodSync(path, 0o755);
  }
}

/** Puts the payload library at the image's `/evil.so` (reached as `/proc/self/cwd/evil.so`). */
export function addEvilSo(h: HostileLab, rootfs: string): void {
  Deno.copyFileSync(h.payloads.evilSo, `${rootfs}/evil.so`);
  Deno.chmodSync(`${rootfs}/evil.so`, 0o755);
}

/** The container env of a loader-variable attack: the variable and where the payload reports. */
export function loaderEnv(h: HostileLab, variable: "LD_PRELOAD" | "LD_AUDIT"): string[] {
  return [
    `${variable}=/proc/self/cwd/evil.so`,
    `XPU_EVIL_MARKER=${h.host}/marker-${variable.toLowerCase()}`,
  ];
}

/**
 * Inserts `lines` into the lab's config: at the top (`table` undefined, for top-level keys) or
 * right after the `[table]` header (appending the table when the file has none).
 */
export function addConfig(lab: Lab, table: string | undefined, lines: string[]): void {
  const text = Deno.readTextFileSync(lab.configPath);
  if (table === undefined) {
    Deno.writeTextFileSync(lab.configPath, `${lines.join("\n")}\n${text}`);
    return;
  }
  const header = `[${table}]\n`;
  Deno.writeTextFileSync(
    lab.configPath,
    text.includes(header)
      ? text.replace(header, `${header}${lines.join("\n")}\n`)
      : `${text}\n${header}${lines.join("\n")}\n`,
  );
}

export { generateCdiSpec } from "./lab.ts";

/** The error lines of a run: the `--log` error entries and the runtime's stderr lines. */
export function errorLines(logErrors: string[], stderr: string): string[] {
  const lines = stderr.trim().split("\n").filter((l) => l !== "");
  return [...logErrors, ...lines.filter((l) => !logErrors.some((e) => l.includes(e)))];
}

/** Empties the lab's `--log` file, so a run's error lines are its own. */
export function clearLog(lab: Lab): void {
  try {
    Deno.removeSync(lab.logFile);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Env entries of the attacks: none may reach a hook the toolkit writes. */
const ATTACKER_ENV = [/^LD_/, /^XPU_EVIL_MARKER=/, /^PATH=\/proc\//];

/**
 * Asserts that every hook in `hooks` (an OCI `hooks` object, or a hooks.d `hook`) has an absolute
 * path and an explicit env holding nothing from the container.
 */
export function assertHooksPinned(hooks: unknown, what: string): void {
  const list: { path?: unknown; env?: unknown; args?: unknown }[] = [];
  if (Array.isArray(hooks)) list.push(...hooks);
  else if (hooks && typeof hooks === "object") {
    for (const stage of Object.values(hooks as Record<string, unknown>)) {
      if (Array.isArray(stage)) list.push(...stage);
    }
  }
  ok(list.length > 0, `${what}: no hooks to check`);
  for (const hook of list) {
    const name = JSON.stringify(hook.args ?? hook.path);
    ok(typeof hook.path === "string" && hook.path.startsWith("/"), `${what}: ${name}: path`);
    ok(Array.isArray(hook.env), `${what}: hook ${name} has no explicit env`);
    const leaked = (hook.env as string[]).filter((e) => ATTACKER_ENV.some((r) => r.test(e)));
    deepStrictEqual(leaked, [], `${what}: hook ${name} gets the container's env`);
  }
}

/** The hooks of a bundle's config.json (as the shim left it). */
export function bundleHooks(specPath: string): unknown {
  return JSON.parse(Deno.readTextFileSync(specPath)).hooks;
}

/** Replaces an in-image path (a dir or file, made if missing) by a symlink to `target`. */
export function linkInImage(rootfs: string, path: string, target: string): void {
  try {
    Deno.removeSync(`${rootfs}${path}`, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  Deno.mkdirSync(`${rootfs}${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
  Deno.symlinkSync(target, `${rootfs}${path}`);
}

/** The error lines of the lab's `--log`. */
export function logErrors(lab: Lab): string[] {
  return readLog(lab).filter((e) => e.level === "error").map((e) => e.msg);
}

/**
 * Checks a run of an image whose layout makes a target unreachable without leaving the rootfs:
 * nothing reached the host, then refused-or-contained; a start must still have its devices, and
 * (with `ldcache`) everything an honest start has.
 */
export function assertUnreachableHandled(
  h: HostileLab,
  run: ProbeRun,
  what: string,
  options: { path: RegExp; ldcache?: boolean; errorLines?: () => string[] },
): void {
  assertHostUntouched(h, what);
  const outcome = assertRefusedOrContained(run, what, {
    path: options.path,
    errorLines: options.errorLines ?? (() => errorLines(logErrors(h.lab), run.createStderr)),
  });
  if (outcome !== "started") return;
  if (options.ldcache) assertContainerWorks(run, what, { ldcache: true });
  else match(run.stdout, /^\/dev\/xpu0: open ok$/m, `${what}: started without xpu0`);
}
