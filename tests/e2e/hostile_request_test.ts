/**
 * Hostile requests and hostile files around the container, through the real shim in front of
 * runc: an unprivileged container asking through a CDI annotation when the config forbids it, a
 * request for a CDI kind the config does not allow, a config.json that is a FIFO, log and pid
 * files that are planted symlinks to host files, and config.json bytes that are not UTF-8.
 * Each checks that nothing reached the lab's "host" dir and that the legitimate request works.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { runContainer } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import {
  type Lab,
  labTest,
  nextId,
  presentKernelModule,
  readLog,
  runInLab,
  writeToolkitSources,
} from "../helpers/lab.ts";
import {
  addConfig,
  assertContainerWorks,
  assertHostUntouched,
  clearLog,
  generateCdiSpec,
  HOSTILE_NEEDS,
  hostileBundle,
  type HostileBundleOptions,
  type HostileLab,
  prepareHostileLab,
} from "../helpers/hostile.ts";

const NEEDS = [...HOSTILE_NEEDS];
const ALL_CAPS_SYS_ADMIN = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"];

/** Starts `<lab>/<name>` through the shim and runc with a fresh `--log`. */
async function start(h: HostileLab, name: string, options: HostileBundleOptions) {
  const { specPath } = hostileBundle(h, name, options);
  const before = Deno.readFileSync(specPath);
  clearLog(h.lab);
  return { ...await runInLab(h.lab, name), specPath, before };
}

function errorsOf(lab: Lab): string[] {
  return readLog(lab).filter((e) => e.level === "error").map((e) => e.msg);
}

/** Makes the container privileged as engines do: CAP_SYS_ADMIN in every capability set. */
function privileged(spec: Record<string, unknown>) {
  const process = spec.process as { capabilities: Record<string, string[]> };
  for (const set of ["bounding", "effective", "permitted"]) {
    process.capabilities[set] = ALL_CAPS_SYS_ADMIN;
  }
}

function annotate(annotations: Record<string, string>) {
  return (spec: Record<string, unknown>) => {
    spec.annotations = { ...(spec.annotations as Record<string, string> ?? {}), ...annotations };
  };
}

await labTest(
  "hostile request: with envvar-when-unprivileged = false, a cdi.k8s.io/ annotation gets an unprivileged container no device",
  NEEDS,
  { mode: "cdi" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    addConfig(lab, undefined, [
      "accept-xpu-visible-devices-envvar-when-unprivileged = false",
      "accept-xpu-visible-devices-as-volume-mounts = true",
    ]);
    await generateCdiSpec(lab);

    const byAnnotation = await start(h, "annotation", {
      edit: annotate({ "cdi.k8s.io/x": "xpu.dev/xpu=0" }),
    });
    strictEqual(byAnnotation.createCode, 0, byAnnotation.createStderr);
    match(byAnnotation.stdout, /^\/dev\/xpu0: absent$/m, "an unprivileged annotation got xpu0");
    match(byAnnotation.stdout, /^\/dev\/xpu1: absent$/m);
    match(byAnnotation.stdout, /^probe done$/m);

    const byEnv = await start(h, "env", { env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] });
    strictEqual(byEnv.createCode, 0, byEnv.createStderr);
    match(byEnv.stdout, /^\/dev\/xpu0: absent$/m, "an unprivileged env request got xpu0");
    assertHostUntouched(h, "unprivileged requests");

    // What stays allowed: a privileged container's annotation, and a volume-mount request.
    const privilegedRun = await start(h, "privileged", {
      edit: (spec) => {
        privileged(spec);
        annotate({ "cdi.k8s.io/x": "xpu.dev/xpu=0" })(spec);
      },
    });
    assertContainerWorks(privilegedRun, "privileged annotation", { ldcache: false });
    const volume = await start(h, "volume", {
      edit: (spec) => {
        (spec.mounts as unknown[]).push({
          destination: "/var/run/xpu-container-devices/0",
          type: "bind",
          source: "/dev/null",
          options: ["bind", "ro"],
        });
      },
    });
    assertContainerWorks(volume, "volume-mount request", { ldcache: false });
    assertHostUntouched(h, "allowed requests");
  },
);

/** A spec of another kind in the spec dirs: its device hands the container a host file. */
function writeOtherKindSpec(h: HostileLab) {
  Deno.writeTextFileSync(
    `${h.lab.cdiDir}/other.json`,
    JSON.stringify({
      cdiVersion: "0.5.0",
      kind: "example.com/hostfile",
      devices: [{
        name: "secret",
        containerEdits: {
          mounts: [{
            hostPath: `${h.host}/secret`,
            containerPath: "/leaked",
            options: ["ro", "nosuid", "nodev", "bind"],
          }],
        },
      }],
    }),
  );
}

await labTest(
  "hostile request: allowed-kinds = [xpu.dev/xpu] refuses another kind in the spec dirs, naming the key",
  NEEDS,
  { mode: "cdi" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    addConfig(lab, "xpu-container-runtime.modes.cdi", ['allowed-kinds = ["xpu.dev/xpu"]']);
    await generateCdiSpec(lab);
    writeOtherKindSpec(h);
    const listed = await runTool(toolArgv("xpu-ctk"), {
      args: ["cdi", "list", "--spec-dir", lab.cdiDir],
      env: lab.env,
    });
    match(listed.stdout, /^example\.com\/hostfile=secret$/m, listed.stderr);

    const requests: [string, HostileBundleOptions][] = [
      ["annotation", { edit: annotate({ "cdi.k8s.io/x": "example.com/hostfile=secret" }) }],
      ["env", { env: ["XPU_VISIBLE_DEVICES=example.com/hostfile=secret"] }],
      [
        "mixed",
        { env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0,example.com/hostfile=secret"] },
      ],
    ];
    for (const [name, options] of requests) {
      const run = await start(h, name, options);
      ok(
        run.createCode !== 0,
        `${name}: a request for a kind outside allowed-kinds started:\n${run.stdout}`,
      );
      const logged = errorsOf(lab);
      strictEqual(logged.length, 1, `${name}: one error line in the --log: ${logged.join(" | ")}`);
      match(logged[0], /allowed-kinds/, `${name}: the error names the key`);
      match(logged[0], /example\.com\/hostfile/, `${name}: the error names the kind`);
      strictEqual(run.createStderr.trim().split("\n").length, 1, run.createStderr);
      match(run.createStderr, /allowed-kinds/);
      deepStrictEqual(Deno.readFileSync(run.specPath), run.before, `${name}: config.json changed`);
    }
    assertHostUntouched(h, "refused kinds");

    const allowed = await start(h, "allowed", { env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] });
    assertContainerWorks(allowed, "allowed kind", { ldcache: false });

    // An empty list allows every kind, as before the key existed.
    Deno.writeTextFileSync(
      lab.configPath,
      Deno.readTextFileSync(lab.configPath).replace(
        'allowed-kinds = ["xpu.dev/xpu"]',
        "allowed-kinds = []",
      ),
    );
    const every = await start(h, "every", {
      env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0,example.com/hostfile=secret"],
    });
    strictEqual(every.createCode, 0, every.createStderr);
    match(every.stdout, /^\/dev\/xpu0: open ok$/m);
    match(every.stdout, /^host secret/m, "allowed-kinds = [] serves every kind");
    assertHostUntouched(h, "every kind");
  },
);

/** Bound of a shim run that must fail fast. */
const FAST_FAIL_MS = 10_000;

await labTest(
  "hostile file: a config.json that is a FIFO fails the create fast with one error, never hangs",
  NEEDS,
  { mode: "csv" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    const { dir, specPath } = hostileBundle(h, "fifo", { env: ["XPU_VISIBLE_DEVICES=0"] });
    Deno.removeSync(specPath);
    const made = await runTool(["mkfifo", specPath]);
    strictEqual(made.code, 0, made.stderr);
    const [program, ...lead] = toolArgv("xpu-container-runtime");
    const child = new Deno.Command(program, {
      args: [
        ...lead,
        "--root",
        lab.stateRoot,
        "--log",
        lab.logFile,
        "--log-format",
        "json",
        "create",
        "--bundle",
        dir,
        nextId("fifo"),
      ],
      env: lab.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const began = Date.now();
    const output = child.output();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), FAST_FAIL_MS);
    });
    const outcome = await Promise.race([output, hung]);
    clearTimeout(timer);
    if (outcome === "hung") {
      child.kill("SIGKILL");
      await output;
      throw new Error(`the shim still blocks on the FIFO config.json after ${FAST_FAIL_MS} ms`);
    }
    ok(Date.now() - began < FAST_FAIL_MS);
    ok(outcome.code !== 0, "the create succeeded with a FIFO for config.json");
    const stderr = new TextDecoder().decode(outcome.stderr);
    const logged = errorsOf(lab);
    strictEqual(logged.length, 1, `one error line in the --log: ${logged.join(" | ")}`);
    match(logged[0], /config\.json/);
    strictEqual(stderr.trim().split("\n").length, 1, stderr);
    match(stderr, /config\.json/);
    ok(Deno.lstatSync(specPath).isFifo, "the FIFO was replaced");
    assertHostUntouched(h, "FIFO config.json");

    // The same bundle with a regular config.json starts.
    Deno.removeSync(dir, { recursive: true });
    const honest = await start(h, "fifo", { env: ["XPU_VISIBLE_DEVICES=0"] });
    assertContainerWorks(honest, "regular config.json", { ldcache: false });
  },
);

await labTest(
  "hostile file: a --log or debug file planted as a symlink to a host file leaves it byte-identical",
  NEEDS,
  { mode: "csv" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    // runc 1.3 writes its own warnings to --log (through the link: that is runc's business, and
    // an engine's log path lies in its own bundle dir). The low-level runtime here is runc without
    // the --log, so whatever reaches the planted file is the shim's.
    const runc = `${lab.dir}/runc-without-log`;
    Deno.writeTextFileSync(
      runc,
      [
        "#!/bin/sh",
        'n=$#; while [ "$n" -gt 0 ]; do',
        "  a=$1; shift; n=$((n - 1))",
        '  case "$a" in',
        "    --log) shift; n=$((n - 1)) ;;",
        "    --log=*) ;;",
        '    *) set -- "$@" "$a" ;;',
        "  esac",
        "done",
        'exec runc "$@"',
        "",
      ].join("\n"),
    );
    Deno.chmodSync(runc, 0o755);
    const config = Deno.readTextFileSync(lab.configPath);
    Deno.writeTextFileSync(
      lab.configPath,
      config.replace('runtimes = ["runc"]', `runtimes = [${JSON.stringify(runc)}]`),
    );
    // That runtime alone with the same --log: it writes nothing there.
    const planted = `${lab.dir}/planted-log.json`;
    Deno.symlinkSync(`${h.host}/precious`, planted);
    hostileBundle(h, "control", {});
    const control = await runContainer({
      runtime: [runc],
      lowLevel: [runc],
      stateRoot: lab.stateRoot,
      bundle: `${lab.dir}/control`,
      id: nextId("control"),
      logFile: planted,
    });
    strictEqual(control.createCode, 0, control.createStderr);
    assertHostUntouched(h, "runc alone");

    hostileBundle(h, "log", { env: ["XPU_VISIBLE_DEVICES=0"] });
    const viaLog = await runContainer({
      runtime: toolArgv("xpu-container-runtime"),
      lowLevel: [runc],
      stateRoot: lab.stateRoot,
      bundle: `${lab.dir}/log`,
      id: nextId("log"),
      env: lab.env,
      logFile: planted,
    });
    assertHostUntouched(h, "--log symlink");
    assertContainerWorks(viaLog, "--log symlink", { ldcache: false });

    const debugLink = `${lab.dir}/planted-debug.log`;
    Deno.symlinkSync(`/proc/1/root${h.host}/precious`, debugLink);
    addConfig(lab, "xpu-container-runtime", [`debug = ${JSON.stringify(debugLink)}`]);
    const viaDebug = await start(h, "debug", { env: ["XPU_VISIBLE_DEVICES=0"] });
    assertHostUntouched(h, "debug file symlink");
    assertContainerWorks(viaDebug, "debug file symlink", { ldcache: false });
  },
);

await labTest(
  "hostile file: the installer's pid file planted as a symlink to a host file leaves it byte-identical",
  NEEDS,
  { mode: "cdi" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    const source = writeToolkitSources(`${lab.dir}/source`);
    const daemonJson = `${lab.dir}/daemon.json`;
    Deno.writeTextFileSync(daemonJson, "{}\n");
    const pidFile = `${lab.dir}/run/toolkit.pid`;
    Deno.mkdirSync(`${lab.dir}/run`);
    Deno.symlinkSync(`${h.host}/precious`, pidFile);
    const run = await runTool(["timeout", "60", ...toolArgv("xpu-ctk-installer")], {
      args: [
        `${lab.dir}/run-xpu`,
        "--source-dir",
        source,
        "--kernel-module",
        presentKernelModule(),
        "--no-daemon",
      ],
      env: {
        RUNTIME: "docker",
        RUNTIME_ARGS:
          `--config '${daemonJson}' --restart-mode none --state-dir '${lab.dir}/revert'`,
        TOOLKIT_PID_FILE: pidFile,
        DRIVER_ROOT: lab.driverRoot,
      },
    });
    assertHostUntouched(h, "pid file symlink");
    ok(run.code !== 124, "the installer hung");
    if (run.code !== 0) match(run.stderr, /toolkit\.pid/, "a refusal names the pid file");

    // A plain pid file path works as before.
    try {
      Deno.removeSync(pidFile);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const plain = await runTool(["timeout", "60", ...toolArgv("xpu-ctk-installer")], {
      args: [
        `${lab.dir}/run-xpu`,
        "--source-dir",
        source,
        "--kernel-module",
        presentKernelModule(),
        "--no-daemon",
      ],
      env: {
        RUNTIME: "docker",
        RUNTIME_ARGS:
          `--config '${daemonJson}' --restart-mode none --state-dir '${lab.dir}/revert'`,
        TOOLKIT_PID_FILE: pidFile,
        DRIVER_ROOT: lab.driverRoot,
      },
    });
    strictEqual(plain.code, 0, plain.stderr);
    match(Deno.readTextFileSync(daemonJson), /xpu/);
  },
);

await labTest(
  "hostile file: non-UTF-8 bytes in config.json survive the shim's edit byte for byte",
  NEEDS,
  { mode: "csv" },
  async (lab) => {
    const h = await prepareHostileLab(lab);
    const { specPath } = hostileBundle(h, "bytes", {
      env: ["XPU_VISIBLE_DEVICES=0"],
      edit: annotate({ "org.example/raw": "@RAW@" }),
    });
    // A lone 0xff and an overlong NUL: neither is UTF-8; both must come back as they were.
    const raw = new Uint8Array([0xff, 0x41, 0xc0, 0x80]);
    const text = Deno.readFileSync(specPath);
    const at = indexOf(text, new TextEncoder().encode("@RAW@"));
    ok(at >= 0);
    const edited = new Uint8Array([...text.slice(0, at), ...raw, ...text.slice(at + 5)]);
    Deno.writeFileSync(specPath, edited);
    clearLog(lab);
    const run = await runInLab(lab, "bytes");
    assertContainerWorks(run, "non-UTF-8 config.json", { ldcache: false });
    const after = Deno.readFileSync(specPath);
    ok(indexOf(after, raw) >= 0, "the non-UTF-8 bytes were rewritten (e.g. as U+FFFD)");
    ok(indexOf(after, new Uint8Array([0xef, 0xbf, 0xbd])) < 0, "U+FFFD appeared in config.json");
    assertHostUntouched(h, "non-UTF-8 config.json");
  },
);

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
