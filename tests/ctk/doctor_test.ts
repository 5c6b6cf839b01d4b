/**
 * `xpu-ctk doctor` against fixture hosts: the xpu fixture driver root seen as `/`, with programs,
 * the kernel module, the cgroup files, engine configs written by the engines' own plans and CDI
 * specs laid over it in memory. Each check has a case for its OK line and for its FIX (or WARN)
 * line; a report with a FIX line fails the command with one RequestError.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseCdiSpec } from "../../src/core/cdi/cdi_spec.ts";
import { RequestError, UsageError } from "../../src/core/errors.ts";
import type { HostFs } from "../../src/core/io/host_fs.ts";
import type { ToolIo } from "../../src/core/io/tool_io.ts";
import { type DoctorFlags, runDoctor } from "../../src/ctk/doctor.ts";
import { cdiSpecDrift } from "../../src/ctk/doctor_report.ts";
import type { FileState } from "../../src/engines/engine_adapter.ts";
import type { RuntimeHandler } from "../../src/engines/engine_edit.ts";
import { findEngine } from "../../src/engines/engines.ts";
import { DEFAULT_STATE_DIR, memoryPath, memoryText } from "../../src/engines/revert_memory.ts";
import { resolveRuntimeSettings, type RuntimeFlags } from "../../src/engines/runtime_command.ts";
import { journalPath } from "../../src/engines/change_journal.ts";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { fixtureHostFs } from "../helpers/fixture_fs.ts";
import { type MemoryEntry, memoryHostFs, type MemoryTree } from "../helpers/memory_fs.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import {
  renderCompiledRuntimeLauncher,
  renderLauncher,
  RUNTIME_TOOL,
} from "../../scripts/build/launcher.ts";
import { encodeFastPathRecord } from "../../src/core/fast_path/fast_path_record.ts";

const GOLDEN_SPEC = Deno.readTextFileSync(`${REPO_ROOT}/fixtures/cdi/xpu.yaml`);
const EXEC: MemoryEntry = { file: "#!/bin/sh\n", mode: 0o755 };
const CONFIG = "/etc/xpu-container-runtime/config.toml";
const DAEMON_JSON = "/etc/docker/daemon.json";
const SHIM = "/usr/bin/xpu-container-runtime";
const V2_MOUNTINFO = "25 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
const V1_MOUNTINFO = "30 25 0:26 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";

/** `top` laid over `bottom`: a path in `top` wins, directories list both. */
function overlay(top: HostFs, bottom: HostFs): HostFs {
  return {
    stat: (path) => top.stat(path) ?? bottom.stat(path),
    lstat: (path) => top.lstat(path) ?? bottom.lstat(path),
    readDir(path) {
      const [a, b] = [top.readDir(path), bottom.readDir(path)];
      return a === undefined && b === undefined
        ? undefined
        : [...new Set([...(a ?? []), ...(b ?? [])])].sort();
    },
    readLink: (path) => top.lstat(path) ? top.readLink(path) : bottom.readLink(path),
    readTextFile: (path) => top.readTextFile(path) ?? bottom.readTextFile(path),
  };
}

/** `fs`, where every path under `prefix` fails as for a user who may not read it. */
function denying(fs: HostFs, prefix: string): HostFs {
  const check = (path: string) => {
    if (path.startsWith(prefix)) {
      throw Object.assign(new Error(`Permission denied (os error 13): stat '${path}'`), {
        code: "EACCES",
      });
    }
  };
  return {
    stat: (path) => (check(path), fs.stat(path)),
    lstat: (path) => (check(path), fs.lstat(path)),
    readDir: (path) => (check(path), fs.readDir(path)),
    readLink: (path) => (check(path), fs.readLink(path)),
    readTextFile: (path) => (check(path), fs.readTextFile(path)),
  };
}

/**
 * The files `xpu-ctk runtime configure` would leave for `engine` (its config and the revert
 * memory), planned by the engine's own adapter over `base`.
 */
function configured(
  engine: string,
  options: { handlers?: RuntimeHandler[]; base?: Record<string, string>; flags?: RuntimeFlags } =
    {},
): Record<string, string> {
  const adapter = findEngine(engine)!;
  const target = resolveRuntimeSettings("configure", { runtime: engine, ...options.flags }, {});
  const base = options.base ?? {};
  const files: FileState = { text: (path) => base[path] ?? null, memory: () => undefined };
  const handlers = options.handlers ?? [{ name: "xpu", path: SHIM }];
  const changes = adapter.plan(files, {
    target,
    configure: { handlers, cdi: false },
    host: undefined,
  });
  const tree = { ...base };
  for (const change of changes) {
    if (change.after !== null) tree[change.path] = change.after;
    if (change.memory) tree[memoryPath(change.path, target.stateDir)] = memoryText(change.memory);
  }
  return tree;
}

const DOCKER_FILES = configured("docker", { base: { [DAEMON_JSON]: '{\n  "debug": false\n}\n' } });

/** The .deb's runtime launcher (with the fast path) and its record, current for no config file. */
const RECORD = "/var/lib/xpu-container-toolkit/runtime.fast-path";
const LAUNCHER: MemoryEntry = {
  file: renderCompiledRuntimeLauncher(
    "/usr/lib/xpu-container-toolkit/xpu-container-runtime",
    `'${RECORD}'`,
  ),
  mode: 0o755,
};
function recordFor(config: string | undefined, logLevel = "info"): string {
  return new TextDecoder().decode(encodeFastPathRecord({
    configPath: CONFIG,
    configBytes: config === undefined ? undefined : new TextEncoder().encode(config),
    runtimes: ["runc", "crun"],
    logLevel,
  }));
}

/** Everything in order: programs, the module, cgroup v2, a fresh spec, docker configured. */
const HEALTHY: MemoryTree = {
  "/usr/bin/runc": EXEC,
  [SHIM]: LAUNCHER,
  [RECORD]: recordFor(undefined),
  "/usr/bin/xpu-container-runtime-hook": EXEC,
  "/usr/bin/xpu-container-cli": EXEC,
  "/usr/bin/xpu-ctk": EXEC,
  "/sys/module/xpu": { dir: true },
  "/proc/modules": "",
  "/proc/self/cgroup": "0::/\n",
  "/proc/self/mountinfo": V2_MOUNTINFO,
  "/etc/cdi/xpu.yaml": GOLDEN_SPEC,
  ...DOCKER_FILES,
};

function without(tree: MemoryTree, ...paths: string[]): MemoryTree {
  return Object.fromEntries(Object.entries(tree).filter(([path]) => !paths.includes(path)));
}

function fakeIo(env: Record<string, string>) {
  const out = { stdout: "", stderr: "" };
  const io: ToolIo = {
    env,
    cwd: "/",
    stdout: (text) => void (out.stdout += text),
    stderr: (text) => void (out.stderr += text),
    readStdin: () => Promise.resolve(""),
  };
  return { io, out };
}

/** One parsed report line. */
interface Line {
  status: string;
  check: string;
  rest: string;
}

interface DoctorInput {
  tree: MemoryTree;
  flags?: DoctorFlags;
  env?: Record<string, string>;
  /** Wraps the host (to make parts of it unreadable). */
  wrap?: (fs: HostFs) => HostFs;
  /** Which unix sockets a server listens on. */
  listening?: string[];
}

/** Runs `doctor` on the fixture host with `tree` laid over it. */
async function doctor(input: DoctorInput) {
  const { io, out } = fakeIo(input.env ?? { PATH: "/usr/bin" });
  const host = overlay(memoryHostFs(input.tree), fixtureHostFs("xpu"));
  let error: unknown;
  try {
    await runDoctor(input.flags ?? {}, io, {
      fs: input.wrap ? input.wrap(host) : host,
      probeSocket: (path) => Promise.resolve(input.listening?.includes(path) ?? false),
    });
  } catch (e) {
    error = e;
  }
  const text = input.flags?.json ? "" : out.stdout;
  const lines: Line[] = text.split("\n").filter((l) => l !== "").map((text) => {
    const m = /^(OK|WARN|FIX) +([^:]+): (.*)$/.exec(text);
    ok(m, `a report line: ${text}`);
    return { status: m[1], check: m[2], rest: m[3] };
  });
  return { lines, error, stdout: out.stdout, stderr: out.stderr };
}

Deno.test("doctor: a healthy host gets one OK line per check and exit 0", async () => {
  const { stdout, error, stderr } = await doctor({ tree: HEALTHY });
  strictEqual(error, undefined);
  strictEqual(stderr, "");
  const memory = memoryPath(DAEMON_JSON, DEFAULT_STATE_DIR);
  ok(Object.hasOwn(DOCKER_FILES, memory), "the configure left a memory");
  deepStrictEqual(stdout.split("\n"), [
    `OK    config: "${CONFIG}" does not exist, so the built-in defaults apply: profile "xpu", ` +
    `mode "auto" (on this host: cdi for CDI names, else legacy)`,
    `OK    driver root: "/"`,
    `OK    devices: 2 under "/" (profile "xpu"): 0 (XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000000), ` +
    `1 (XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001); control nodes "/dev/xpuctl"`,
    `OK    driver files: 4 under "/", driver version "1.0.0"`,
    `OK    kernel module: "xpu" is loaded`,
    `OK    runtimes: "/usr/bin/runc" (the first usable of "runc", "crun")`,
    `OK    [xpu-container-runtime-hook] path: "xpu-container-runtime-hook" is ` +
    `"/usr/bin/xpu-container-runtime-hook"`,
    `OK    [xpu-container-cli] path: "/usr/bin/xpu-container-cli"`,
    `OK    [xpu-ctk] path: "xpu-ctk" is "/usr/bin/xpu-ctk"`,
    `OK    engine docker: "${DAEMON_JSON}": handlers "xpu" ("${SHIM}"); default runtime "runc"`,
    `OK    fast path: handler "xpu" ("${SHIM}"): calls other than create go straight to the ` +
    `low-level runtime (record "${RECORD}", current for "${CONFIG}")`,
    `OK    runtime server: none on "/run/xpu-container-toolkit/runtime.sock" (optional): every ` +
    `create through the shim starts it cold; "xpu-ctk runtime-server" serves them warm`,
    `OK    CDI spec dirs: "/etc/cdi" (1 valid spec), "/var/run/cdi" (missing)`,
    `OK    CDI spec: "/etc/cdi/xpu.yaml": valid and fresh (kind "xpu.dev/xpu", 5 devices)`,
    `OK    cgroup: v2: device access is the eBPF program the runtime builds from the spec's ` +
    `rules; legacy mode through xpu-container-runtime adds them, a prestart hook alone cannot`,
    "",
  ]);
});

/** A config file with `toml`. */
const withConfig = (toml: string): MemoryTree => ({ ...HEALTHY, [CONFIG]: toml });

const STALE_SPEC = GOLDEN_SPEC.replace('name: "1"', 'name: "7"')
  .replaceAll("libxpu.so.1.0.0", "libxpu.so.0.9.0");

interface Case {
  name: string;
  input: DoctorInput;
  expected: { status: "OK" | "WARN" | "FIX"; check: string; detail: string };
}

const SERVER_SOCKET = "/run/xpu-container-toolkit/runtime.sock";
/** The doctor's own user: the one the shims' server must belong to (root in CI). */
const ME = Deno.uid() ?? 0;
const SERVER_DIR: MemoryTree = {
  "/run/xpu-container-toolkit": { dir: true, mode: 0o700, uid: ME },
  [SERVER_SOCKET]: { socket: true, uid: ME },
};

/** The .deb's bundled runtime launcher, whose module cache is in /var/cache. */
const CACHE = "/var/cache/xpu-container-toolkit";
const BUNDLED_LAUNCHER: MemoryEntry = {
  file: renderLauncher(RUNTIME_TOOL, {
    fastPathRecord: `'${RECORD}'`,
    home: "/usr/lib/xpu-container-toolkit",
    cacheDir: `'${CACHE}'`,
  }),
  mode: 0o755,
};
const BUNDLED: MemoryTree = { ...HEALTHY, [SHIM]: BUNDLED_LAUNCHER };

const CASES: Case[] = [
  {
    name: "module cache: root's 0700 dir: OK",
    input: { tree: { ...BUNDLED, [CACHE]: { dir: true, mode: 0o700 } } },
    expected: {
      status: "OK",
      check: "module cache",
      detail: `handler "xpu" ("${SHIM}"): Deno keeps what it learns of the toolkit's modules in ` +
        `"${CACHE}"`,
    },
  },
  {
    name: "module cache: missing: WARN, every create parses the modules again",
    input: { tree: BUNDLED },
    expected: {
      status: "WARN",
      check: "module cache",
      detail: `"${CACHE}" is not used: it does not exist, so every create parses the toolkit's ` +
        `modules again (about 20–30 ms): create it: "mkdir -m 0700 ${CACHE}"`,
    },
  },
  {
    name: "module cache: another user's or a link: WARN, the launchers pass it by",
    input: { tree: { ...BUNDLED, [CACHE]: { dir: true, mode: 0o700, uid: 1000 } } },
    expected: { status: "WARN", check: "module cache", detail: "it belongs to uid 1000, not 0" },
  },
  {
    name: "module cache: a link: WARN",
    input: {
      tree: { ...BUNDLED, "/tmp/c": { dir: true, mode: 0o700 }, [CACHE]: { link: "/tmp/c" } },
    },
    expected: { status: "WARN", check: "module cache", detail: "it is a symbolic link" },
  },
  {
    name: "module cache: writable by its group: FIX, others would choose the code run as root",
    input: { tree: { ...BUNDLED, [CACHE]: { dir: true, mode: 0o770 } } },
    expected: {
      status: "FIX",
      check: "module cache",
      detail: `"${CACHE}": its group may write it (mode 0770), so whoever writes there chooses ` +
        `the code the toolkit runs as root: make it root's alone: "chown root:root ${CACHE} && ` +
        `chmod 0700 ${CACHE}"`,
    },
  },
  {
    name: "module cache: behind the installer's wrapper, the artefact's lib/cache: FIX when 0777",
    input: {
      tree: {
        ...HEALTHY,
        [SHIM]: {
          file:
            "#!/bin/sh\nexport PATH='/opt/xpu':\"$PATH\"\nexec '/opt/xpu/xpu-container-runtime.real' \"$@\"\n",
          mode: 0o755,
        },
        "/opt/xpu/xpu-container-runtime.real": { file: renderLauncher(RUNTIME_TOOL), mode: 0o755 },
        "/opt/xpu/lib/cache": { dir: true, mode: 0o777 },
      },
    },
    expected: {
      status: "FIX",
      check: "module cache",
      detail: `"/opt/xpu/lib/cache": every user may write it (mode 0777)`,
    },
  },
  {
    name: "runtime server: one listening: OK",
    input: { tree: { ...HEALTHY, ...SERVER_DIR }, listening: [SERVER_SOCKET] },
    expected: {
      status: "OK",
      check: "runtime server",
      detail: `listening on "${SERVER_SOCKET}": creates through the shim are served warm`,
    },
  },
  {
    name: "runtime server: a socket no one listens on: WARN",
    input: { tree: { ...HEALTHY, ...SERVER_DIR } },
    expected: {
      status: "WARN",
      check: "runtime server",
      detail: `"${SERVER_SOCKET}" is a socket no server listens on`,
    },
  },
  {
    name: "runtime server: in a dir others may write: FIX, the shims would not ask it",
    input: {
      tree: {
        ...HEALTHY,
        ...SERVER_DIR,
        "/run/xpu-container-toolkit": { dir: true, mode: 0o777, uid: ME },
      },
      listening: [SERVER_SOCKET],
    },
    expected: {
      status: "FIX",
      check: "runtime server",
      detail: `"/run/xpu-container-toolkit" is writable by others, so the shims will not ask`,
    },
  },
  {
    name: "runtime server: another socket, named by the variable",
    input: {
      tree: {
        ...HEALTHY,
        "/run/xpu": { dir: true, mode: 0o700, uid: ME },
        "/run/xpu/s.sock": { socket: true, uid: ME },
      },
      env: { PATH: "/usr/bin", XPU_RUNTIME_SERVER_SOCKET: "/run/xpu/s.sock" },
      listening: ["/run/xpu/s.sock"],
    },
    expected: { status: "OK", check: "runtime server", detail: 'listening on "/run/xpu/s.sock"' },
  },
  {
    name: "runtime server: turned off by an empty variable",
    input: { tree: HEALTHY, env: { PATH: "/usr/bin", XPU_RUNTIME_SERVER_SOCKET: "" } },
    expected: {
      status: "OK",
      check: "runtime server",
      detail: "XPU_RUNTIME_SERVER_SOCKET is empty here",
    },
  },
  {
    name: "fast path: a plain wrapper has none: WARN",
    input: { tree: { ...HEALTHY, [SHIM]: EXEC } },
    expected: {
      status: "WARN",
      check: "fast path",
      detail: `handler "xpu" ("${SHIM}"): no launcher with the fast path, so every runtime call ` +
        "starts the shim (Deno), not only create",
    },
  },
  {
    name: "fast path: a config edited since the record: WARN, the shim rewrites it",
    input: { tree: { ...withConfig("disable-require = true\n") } },
    expected: {
      status: "WARN",
      check: "fast path",
      detail: `the record "${RECORD}" is out of date with "${CONFIG}": the next call that is not ` +
        "a create goes to the shim, which rewrites it",
    },
  },
  {
    name: "fast path: a record for the config as it is: OK",
    input: {
      tree: {
        ...withConfig("disable-require = true\n"),
        [RECORD]: recordFor("disable-require = true\n"),
      },
    },
    expected: { status: "OK", check: "fast path", detail: `(record "${RECORD}", current for` },
  },
  {
    name: "fast path: no record yet: WARN",
    input: {
      tree: { ...without(HEALTHY, RECORD), "/var/lib/xpu-container-toolkit": { dir: true } },
    },
    expected: { status: "WARN", check: "fast path", detail: "is not written yet: the next call" },
  },
  {
    name: "fast path: a garbled record: WARN",
    input: { tree: { ...HEALTHY, [RECORD]: "xpu-container-runtime fast path 0\n" } },
    expected: { status: "WARN", check: "fast path", detail: "is not a record of this version" },
  },
  {
    name: "fast path: log-level debug: WARN, every call in the shim",
    input: {
      tree: {
        ...withConfig('[xpu-container-runtime]\nlog-level = "debug"\n'),
        [RECORD]: recordFor('[xpu-container-runtime]\nlog-level = "debug"\n', "debug"),
      },
    },
    expected: {
      status: "WARN",
      check: "fast path",
      detail: `the shim takes every call (record "${RECORD}"): log-level is debug`,
    },
  },
  {
    name: "fast path: the record's dir is missing: FIX, every call starts Deno",
    input: {
      tree: {
        ...without(HEALTHY, RECORD),
        [SHIM]: {
          file: renderCompiledRuntimeLauncher("/usr/lib/x/shim", "'/nowhere/runtime.fast-path'"),
          mode: 0o755,
        },
      },
    },
    expected: {
      status: "FIX",
      check: "fast path",
      detail: `the record's dir "/nowhere" does not exist, so the shim cannot write ` +
        `"/nowhere/runtime.fast-path" and every runtime call starts Deno: create it`,
    },
  },
  {
    name: "config: an invalid file is FIX, naming the line; the defaults are used below",
    input: { tree: withConfig('[xpu-container-runtime]\nmode = "fast"\n') },
    expected: {
      status: "FIX",
      check: "config",
      detail: `Cannot load "${CONFIG}", line 2: "xpu-container-runtime.mode" is "fast"`,
    },
  },
  {
    name: "config: an unknown key is a WARN",
    input: { tree: withConfig("colour = true\n") },
    expected: { status: "WARN", check: "config", detail: `Ignoring unknown key "colour"` },
  },
  {
    name: "config: a file XPU_CTK_CONFIG_FILE_PATH names must exist",
    input: { tree: HEALTHY, env: { PATH: "/usr/bin", XPU_CTK_CONFIG_FILE_PATH: "/etc/x.toml" } },
    expected: {
      status: "FIX",
      check: "config",
      detail: `Cannot load the config file "/etc/x.toml" that XPU_CTK_CONFIG_FILE_PATH names`,
    },
  },
  {
    name: "config: found, with its profile and mode",
    input: { tree: withConfig('[xpu-container-runtime]\nmode = "cdi"\n') },
    expected: { status: "OK", check: "config", detail: `"${CONFIG}": profile "xpu", mode "cdi"` },
  },
  {
    name: "driver root: a missing one is FIX, and devices are not looked for there",
    input: { tree: HEALTHY, flags: { driverRoot: "/run/xpu/driver" } },
    expected: {
      status: "FIX",
      check: "driver root",
      detail: `"/run/xpu/driver" does not exist: pass the driver's root as --driver-root`,
    },
  },
  {
    name: "devices: none under the driver root is FIX",
    input: {
      tree: { ...HEALTHY, "/opt/empty": { dir: true } },
      flags: { driverRoot: "/opt/empty" },
    },
    expected: {
      status: "FIX",
      check: "devices",
      detail: `the "xpu" profile finds no device under "/opt/empty" ("/dev/xpu[0-9]*"): load`,
    },
  },
  {
    name: "driver files: none under the driver root is FIX",
    input: {
      tree: { ...HEALTHY, "/opt/empty": { dir: true } },
      flags: { driverRoot: "/opt/empty" },
    },
    expected: {
      status: "FIX",
      check: "driver files",
      detail: `the "xpu" profile finds none under "/opt/empty" ("libxpu*.so*", "xpu-smi")`,
    },
  },
  {
    name: "kernel module: neither /sys/module nor /proc/modules has it: FIX with modprobe",
    input: { tree: without(HEALTHY, "/sys/module/xpu") },
    expected: {
      status: "FIX",
      check: "kernel module",
      detail: `"xpu" is not loaded (no "/sys/module/xpu", not in "/proc/modules"): load the ` +
        `driver: "modprobe xpu"`,
    },
  },
  {
    name: "kernel module: listed in /proc/modules is loaded",
    input: {
      tree: { ...without(HEALTHY, "/sys/module/xpu"), "/proc/modules": "xpu 16384 0 - Live 0x0\n" },
    },
    expected: { status: "OK", check: "kernel module", detail: `"xpu" is loaded` },
  },
  {
    name: "runtimes: none usable is FIX",
    input: { tree: without(HEALTHY, "/usr/bin/runc") },
    expected: {
      status: "FIX",
      check: "runtimes",
      detail: `none of "runc", "crun" is an executable in PATH or the standard dirs: install one`,
    },
  },
  {
    name: "runtimes: a file without an execute bit does not count",
    input: { tree: { ...HEALTHY, "/usr/bin/runc": { file: "", mode: 0o644 } } },
    expected: { status: "FIX", check: "runtimes", detail: `none of "runc", "crun"` },
  },
  {
    name: "hook: missing in auto mode is FIX",
    input: { tree: without(HEALTHY, "/usr/bin/xpu-container-runtime-hook") },
    expected: {
      status: "FIX",
      check: "[xpu-container-runtime-hook] path",
      detail: `"xpu-container-runtime-hook" is not an executable in PATH or the standard dirs: ` +
        `install it, or set [xpu-container-runtime-hook] path in "${CONFIG}"`,
    },
  },
  {
    name: "hook: missing in cdi mode is only a WARN",
    input: {
      tree: without(
        withConfig('[xpu-container-runtime]\nmode = "cdi"\n'),
        "/usr/bin/xpu-container-runtime-hook",
      ),
    },
    expected: {
      status: "WARN",
      check: "[xpu-container-runtime-hook] path",
      detail: "(only legacy mode run it)",
    },
  },
  {
    name: "hook: a relative path is FIX",
    input: { tree: withConfig('[xpu-container-runtime-hook]\npath = "bin/hook"\n') },
    expected: {
      status: "FIX",
      check: "[xpu-container-runtime-hook] path",
      detail: `"bin/hook" is a relative path, which runc would resolve in the container's`,
    },
  },
  {
    name: "cli: an absolute path that is not there is FIX",
    input: { tree: withConfig('[xpu-container-cli]\npath = "/opt/xpu/xpu-container-cli"\n') },
    expected: {
      status: "FIX",
      check: "[xpu-container-cli] path",
      detail: `"/opt/xpu/xpu-container-cli" is not an executable file`,
    },
  },
  {
    name: "cli: unset and nowhere is FIX",
    input: { tree: without(HEALTHY, "/usr/bin/xpu-container-cli") },
    expected: {
      status: "FIX",
      check: "[xpu-container-cli] path",
      detail: `it is not set, and there is no executable at "/usr/bin/xpu-container-cli"`,
    },
  },
  {
    name: "ctk: missing in legacy mode is only a WARN",
    input: {
      tree: without(withConfig('[xpu-container-runtime]\nmode = "legacy"\n'), "/usr/bin/xpu-ctk"),
    },
    expected: { status: "WARN", check: "[xpu-ctk] path", detail: "(only csv and cdi mode run it)" },
  },
  {
    name: "ctk: missing in auto mode is FIX",
    input: { tree: without(HEALTHY, "/usr/bin/xpu-ctk") },
    expected: { status: "FIX", check: "[xpu-ctk] path", detail: `"xpu-ctk" is not an executable` },
  },
  {
    name: "engines: no engine config at all is a WARN",
    input: { tree: without(HEALTHY, ...Object.keys(DOCKER_FILES)) },
    expected: {
      status: "WARN",
      check: "engines",
      detail: `no engine config found ("/etc/docker/daemon.json", "/etc/containerd/config.toml", ` +
        `"/etc/crio/crio.conf"): pass --runtime (and --config) to check an engine`,
    },
  },
  {
    name: "engine: a named engine without its config file is FIX",
    input: { tree: HEALTHY, flags: { runtime: "containerd" } },
    expected: {
      status: "FIX",
      check: "engine containerd",
      detail: `"/etc/containerd/config.toml" does not exist: run "xpu-ctk runtime configure ` +
        `--runtime containerd", or pass --config`,
    },
  },
  {
    name: "engine: --config names the file; found there with its handlers",
    input: {
      tree: {
        ...without(HEALTHY, ...Object.keys(DOCKER_FILES)),
        ...configured("docker", { flags: { config: "/srv/daemon.json" } }),
      },
      flags: { runtime: "docker", config: "/srv/daemon.json" },
    },
    expected: {
      status: "OK",
      check: "engine docker",
      detail: `"/srv/daemon.json": handlers "xpu" ("${SHIM}")`,
    },
  },
  {
    name: "engine: a handler taken out by hand is FIX: a configure would change the file",
    input: { tree: { ...HEALTHY, [DAEMON_JSON]: '{\n  "debug": false\n}\n' } },
    expected: {
      status: "FIX",
      check: "engine docker",
      detail: `handlers "xpu" are not as xpu-ctk configured them: a configure would change ` +
        `"${DAEMON_JSON}": re-run "xpu-ctk runtime configure --runtime docker"`,
    },
  },
  {
    name: "engine: a handler whose program is gone is FIX",
    input: { tree: without(HEALTHY, SHIM) },
    expected: {
      status: "FIX",
      check: "engine docker",
      detail: `handler "xpu" runs "${SHIM}", which is not an executable file`,
    },
  },
  {
    name: "engine: a config the engine would not read is FIX, with line and column",
    input: { tree: { ...HEALTHY, [DAEMON_JSON]: '{"debug": }\n' } },
    expected: { status: "FIX", check: "engine docker", detail: `"${DAEMON_JSON}", line 1` },
  },
  {
    name: "engine: found but never configured is a WARN",
    input: {
      tree: { ...without(HEALTHY, ...Object.keys(DOCKER_FILES)), [DAEMON_JSON]: "{}\n" },
    },
    expected: {
      status: "WARN",
      check: "engine docker",
      detail: `"${DAEMON_JSON}" has no handler that xpu-ctk configured (no revert memory in ` +
        `"${DEFAULT_STATE_DIR}"); default runtime "runc": run "xpu-ctk runtime configure`,
    },
  },
  {
    name: "engine: named but never configured is FIX",
    input: {
      tree: { ...without(HEALTHY, ...Object.keys(DOCKER_FILES)), [DAEMON_JSON]: "{}\n" },
      flags: { runtime: "docker" },
    },
    expected: { status: "FIX", check: "engine docker", detail: "has no handler that xpu-ctk" },
  },
  {
    name: "engine: --state-dir is where the memories are looked for",
    input: { tree: HEALTHY, flags: { stateDir: "/var/lib/elsewhere" } },
    expected: {
      status: "WARN",
      check: "engine docker",
      detail: `(no revert memory in "/var/lib/elsewhere")`,
    },
  },
  {
    name: "engine: an interrupted change is FIX",
    input: {
      tree: { ...HEALTHY, [journalPath(DEFAULT_STATE_DIR, "/etc/docker")]: "{}" },
    },
    expected: {
      status: "FIX",
      check: "engine docker",
      detail: `an interrupted change is pending in "${
        journalPath(DEFAULT_STATE_DIR, "/etc/docker")
      }"`,
    },
  },
  {
    name: "engine: memories only root may read: WARN, run as root",
    input: { tree: HEALTHY, wrap: (fs) => denying(fs, DEFAULT_STATE_DIR) },
    expected: {
      status: "WARN",
      check: "engine docker",
      detail: `cannot check: Cannot read "${
        memoryPath(DAEMON_JSON, DEFAULT_STATE_DIR)
      }": Permission denied: run "xpu-ctk doctor" as root`,
    },
  },
  {
    name: "engine: a hook file as xpu-ctk wrote it (hook mode, no config file of its own)",
    input: {
      tree: { ...HEALTHY, ...configured("crio", { flags: { configMode: "hook" } }) },
      flags: { runtime: "crio" },
    },
    expected: {
      status: "OK",
      check: "engine crio",
      detail: `hook file "/usr/share/containers/oci/hooks.d/oci-xpu-hook.json" is as xpu-ctk wrote`,
    },
  },
  {
    name: "engine: a hook file xpu-ctk wrote that is gone is FIX",
    input: {
      tree: without(
        { ...HEALTHY, ...configured("crio", { flags: { configMode: "hook" } }) },
        "/usr/share/containers/oci/hooks.d/oci-xpu-hook.json",
      ),
      flags: { runtime: "crio" },
    },
    expected: {
      status: "FIX",
      check: "engine crio",
      detail:
        `hook file "/usr/share/containers/oci/hooks.d/oci-xpu-hook.json" that xpu-ctk wrote ` +
        `is gone: run "xpu-ctk runtime configure --runtime crio --config-mode hook"`,
    },
  },
  {
    name: "CDI: a spec dir that is a file is FIX",
    input: { tree: { ...HEALTHY, "/var/run/cdi": "not a dir" } },
    expected: {
      status: "FIX",
      check: "CDI spec dirs",
      detail: `"/etc/cdi" (1 valid spec), "/var/run/cdi" (not a directory): remove "/var/run/cdi"`,
    },
  },
  {
    name: "CDI: a spec dir only root may read is a WARN",
    input: { tree: HEALTHY, wrap: (fs) => denying(fs, "/etc/cdi") },
    expected: {
      status: "WARN",
      check: "CDI spec dirs",
      detail: `"/etc/cdi" (unreadable), "/var/run/cdi" (missing): run "xpu-ctk doctor" as root`,
    },
  },
  {
    name: "CDI: an invalid spec is FIX, naming the file",
    input: { tree: { ...HEALTHY, "/etc/cdi/bad.json": '{"cdiVersion": "0.3.0"}' } },
    expected: { status: "FIX", check: "CDI spec", detail: `"/etc/cdi/bad.json"` },
  },
  {
    name: "CDI: the same device twice in one dir is FIX",
    input: { tree: { ...HEALTHY, "/etc/cdi/copy.yaml": GOLDEN_SPEC } },
    expected: {
      status: "FIX",
      check: "CDI spec",
      detail: `conflicting device "xpu.dev/xpu=0" (specs "/etc/cdi/xpu.yaml", ` +
        `"/etc/cdi/copy.yaml"): remove one of the two specs`,
    },
  },
  {
    name: "CDI: a stale spec is FIX, saying what differs and how to regenerate it",
    input: { tree: { ...HEALTHY, "/etc/cdi/xpu.yaml": STALE_SPEC } },
    expected: {
      status: "FIX",
      check: "CDI spec",
      detail: `"/etc/cdi/xpu.yaml" is stale: devices no longer on the host: "7"; devices ` +
        `missing from the spec: "1"; driver files no longer on the host: ` +
        `"/usr/lib/x86_64-linux-gnu/libxpu.so.0.9.0"; driver files missing from the spec: ` +
        `"/usr/lib/x86_64-linux-gnu/libxpu.so.1.0.0": regenerate it: run ` +
        `"xpu-ctk cdi generate --output /etc/cdi/xpu.yaml"`,
    },
  },
  {
    name: "CDI: a spec for a host without devices is stale",
    input: {
      tree: { ...HEALTHY, "/opt/empty": { dir: true } },
      flags: { driverRoot: "/opt/empty" },
    },
    expected: {
      status: "FIX",
      check: "CDI spec",
      detail: `"/etc/cdi/xpu.yaml" (kind "xpu.dev/xpu", 5 devices) is stale: Cannot generate`,
    },
  },
  {
    name: "CDI: another kind is valid, not compared",
    input: {
      tree: {
        ...HEALTHY,
        "/etc/cdi/xpu.yaml": GOLDEN_SPEC.replace("kind: xpu.dev/xpu", "kind: acme.com/npu"),
      },
    },
    expected: {
      status: "OK",
      check: "CDI spec",
      detail: `"/etc/cdi/xpu.yaml": valid (kind "acme.com/npu", 5 devices; not the default kind`,
    },
  },
  {
    name: "CDI: no spec of the default kind in auto mode is a WARN",
    input: { tree: without(HEALTHY, "/etc/cdi/xpu.yaml") },
    expected: {
      status: "WARN",
      check: "CDI spec",
      detail: `no spec of kind "xpu.dev/xpu" in "/etc/cdi", "/var/run/cdi" (requests by CDI ` +
        `name, and the xpu-cdi handler, need one): run "xpu-ctk cdi generate --output ` +
        `/var/run/cdi/xpu.yaml"`,
    },
  },
  {
    name: "CDI: no spec of the default kind in cdi mode is FIX",
    input: {
      tree: without(withConfig('[xpu-container-runtime]\nmode = "cdi"\n'), "/etc/cdi/xpu.yaml"),
    },
    expected: { status: "FIX", check: "CDI spec", detail: `no spec of kind "xpu.dev/xpu"` },
  },
  {
    name: "cgroup: v1 with a devices controller",
    input: {
      tree: {
        ...HEALTHY,
        "/proc/self/mountinfo": V1_MOUNTINFO,
        "/proc/self/cgroup": "5:devices:/\n0::/\n",
      },
    },
    expected: {
      status: "OK",
      check: "cgroup",
      detail: "v1 devices controller: in legacy mode xpu-container-cli grants each device",
    },
  },
  {
    name: "cgroup: v2 with an engine that runs the hook alone is a WARN",
    input: { tree: { ...HEALTHY, ...configured("crio", { flags: { configMode: "hook" } }) } },
    expected: {
      status: "WARN",
      check: "cgroup",
      detail: `a prestart hook alone cannot, and "crio" runs the hook alone: run those ` +
        `containers through xpu-container-runtime, or use CDI`,
    },
  },
  {
    name: "cgroup: no device cgroup visible is a WARN",
    input: { tree: { ...HEALTHY, "/proc/self/cgroup": "", "/proc/self/mountinfo": "" } },
    expected: { status: "WARN", check: "cgroup", detail: "no device cgroup is visible" },
  },
  {
    name: "cgroup: without /proc it cannot be told (FIX: not a permission problem)",
    input: { tree: without(HEALTHY, "/proc/self/cgroup") },
    expected: { status: "FIX", check: "cgroup", detail: `Cannot read "/proc/self/cgroup"` },
  },
];

Deno.test("doctor: each check's OK, WARN and FIX lines", async (t) => {
  for (const { name, input, expected } of CASES) {
    await t.step(name, async () => {
      const { lines, error } = await doctor(input);
      const found = lines.filter((l) => l.check === expected.check);
      ok(
        found.some((l) => l.status === expected.status && l.rest.includes(expected.detail)),
        `expected ${expected.status} ${expected.check}: …${expected.detail}…, got:\n` +
          found.map((l) => `${l.status} ${l.check}: ${l.rest}`).join("\n"),
      );
      // Exit 1 exactly when some line needs a fix.
      const fixes = lines.filter((l) => l.status === "FIX").length;
      strictEqual(error instanceof RequestError, fixes > 0, String(error));
      if (fixes === 0) strictEqual(error, undefined);
    });
  }
});

Deno.test("doctor: the report and the exit status", async (t) => {
  await t.step("one FIX: one RequestError after the report, saying how many", async () => {
    const { error, lines } = await doctor({ tree: without(HEALTHY, "/sys/module/xpu") });
    ok(error instanceof RequestError);
    strictEqual(
      error.message,
      `Cannot call this host ready: 1 check needs a fix: apply the fix reported and re-run ` +
        `"xpu-ctk doctor"`,
    );
    strictEqual(lines.length, 15);
  });
  await t.step("a driver root that is not there: no devices or driver files lines", async () => {
    const { lines } = await doctor({ tree: HEALTHY, flags: { driverRoot: "/nowhere" } });
    deepStrictEqual(lines.filter((l) => /^(devices|driver files)$/.test(l.check)), []);
  });
  await t.step("--json: one document, the same checks, healthy", async () => {
    const report = await doctor({ tree: HEALTHY });
    const json = await doctor({ tree: HEALTHY, flags: { json: true } });
    strictEqual(json.error, undefined);
    const doc = JSON.parse(json.stdout);
    strictEqual(doc.healthy, true);
    deepStrictEqual(
      doc.checks.map((c: { status: string; check: string }) => [c.status, c.check]),
      report.lines.map((l) => [l.status.toLowerCase(), l.check]),
    );
  });
  await t.step("--json: not healthy, each fix in its own field", async () => {
    const { stdout, error } = await doctor({
      tree: without(HEALTHY, "/sys/module/xpu"),
      flags: { json: true },
    });
    ok(error instanceof RequestError);
    const doc = JSON.parse(stdout);
    strictEqual(doc.healthy, false);
    deepStrictEqual(doc.checks.filter((c: { status: string }) => c.status === "fix"), [{
      status: "fix",
      check: "kernel module",
      detail: `"xpu" is not loaded (no "/sys/module/xpu", not in "/proc/modules")`,
      fix: `load the driver: "modprobe xpu"`,
    }]);
  });
});

Deno.test("doctor: bad input is one usage error, and nothing is reported", async (t) => {
  const cases: { name: string; input: DoctorFlags; expected: string }[] = [
    {
      name: "an unknown engine",
      input: { runtime: "podman" },
      expected: `Cannot check the engine: unknown runtime "podman": pass --runtime docker, ` +
        `containerd or crio`,
    },
    {
      name: "--config without an engine",
      input: { config: "/etc/docker/daemon.json" },
      expected: `Cannot use --config "/etc/docker/daemon.json" without an engine: it names an ` +
        `engine's config file: pass --runtime docker, containerd or crio`,
    },
    {
      name: "a relative --driver-root",
      input: { driverRoot: "driver" },
      expected: `Cannot use --driver-root "driver": expected an absolute path`,
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, async () => {
      const { io, out } = fakeIo({ PATH: "/usr/bin" });
      const host = overlay(memoryHostFs(HEALTHY), fixtureHostFs("xpu"));
      await assertRejectsError(() => runDoctor(input, io, { fs: host }), UsageError, expected);
      strictEqual(out.stdout, "");
    });
  }
});

Deno.test("cdiSpecDrift: what makes a spec stale", async (t) => {
  const golden = await parseCdiSpec(GOLDEN_SPEC, "xpu.yaml");
  const edited = (edit: (text: string) => string) => parseCdiSpec(edit(GOLDEN_SPEC), "x.yaml");
  const cases: { name: string; input: (text: string) => string; expected: string[] }[] = [
    { name: "the same spec is fresh", input: (s) => s, expected: [] },
    {
      name: "hooks and versions are not compared",
      input: (s) => s.replaceAll("/usr/bin/xpu-ctk", "/opt/xpu-ctk"),
      expected: [],
    },
    {
      name: "a device the host no longer has, and one it has now",
      input: (s) => s.replace('name: "1"', 'name: "2"'),
      expected: [`devices no longer on the host: "2"`, `devices missing from the spec: "1"`],
    },
    {
      name: "a device whose nodes changed",
      input: (s) =>
        s.replace("- path: /dev/xpu1\n  - name: XPU", "- path: /dev/xpu9\n  - name: XPU"),
      expected: [`device "1" has nodes "/dev/xpu1" now, the spec "/dev/xpu9"`],
    },
    {
      name: "the control nodes changed",
      input: (s) =>
        s.replace("- path: /dev/xpuctl", "- path: /dev/xpuctl\n    - path: /dev/xpu-uvm"),
      expected: [`control nodes "/dev/xpuctl" now, the spec "/dev/xpu-uvm", "/dev/xpuctl"`],
    },
    {
      name: "a driver file mounted from elsewhere",
      input: (s) => s.replace("- hostPath: /usr/bin/xpu-smi", "- hostPath: /opt/xpu-smi"),
      expected: [
        `driver files no longer on the host: "/opt/xpu-smi"`,
        `driver files missing from the spec: "/usr/bin/xpu-smi"`,
      ],
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, async () => {
      deepStrictEqual(cdiSpecDrift(await edited(input), golden), expected);
    });
  }
});
