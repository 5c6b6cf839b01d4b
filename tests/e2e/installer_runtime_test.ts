/**
 * The installed toolkit in front of real runc: `xpu-ctk-installer install` from a source dir of
 * the toolkit's executables; the installed runtime wrapper (module present) runs a container that
 * gets the XPU through the installed hook and cli, with the installed config only; with the module
 * absent it hands the container to runc untouched, saying so on stderr, and `state` still prints
 * pure JSON on stdout.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { makeBundle, runContainer } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import {
  labTest,
  nextId,
  presentKernelModule,
  PROBE,
  writeToolkitSources,
} from "../helpers/lab.ts";

const NEEDS = ["root", "runc", "nsenter", "busybox"] as const;
/** What the runtime gets from an engine: no toolkit config in its environment. */
const ENGINE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

await labTest(
  "installer: the installed runtime runs a container with the XPU, or falls back to runc",
  [...NEEDS],
  // The lab's own config asks for CDI: a container that gets its XPU shows the installed config won.
  { mode: "cdi" },
  async (lab) => {
    const source = `${lab.dir}/source`;
    writeToolkitSources(source);
    const root = `${lab.dir}/installed/toolkit`;
    const install = (module: string) =>
      runTool(toolArgv("xpu-ctk-installer"), {
        args: [
          "install",
          "--toolkit-root",
          root,
          "--source-dir",
          source,
          "--driver-root",
          lab.driverRoot,
          "--kernel-module",
          module,
        ],
      });

    const installed = await install(presentKernelModule());
    strictEqual(installed.code, 0, installed.stderr);
    strictEqual(installed.stdout, "");
    strictEqual(
      installed.stderr,
      `xpu-ctk-installer: installed the toolkit into ${root} (from ${source})\n`,
    );
    makeBundle(`${lab.dir}/bundle`, { args: ["sh", "-c", PROBE], env: ["XPU_VISIBLE_DEVICES=0"] });
    const run = await runContainer({
      runtime: [`${root}/xpu-container-runtime`],
      lowLevel: ["runc"],
      stateRoot: lab.stateRoot,
      bundle: `${lab.dir}/bundle`,
      id: nextId("installed"),
      env: ENGINE_ENV,
    });
    strictEqual(run.createCode, 0, run.createStderr);
    match(run.stdout, /^\/dev\/xpu0: open ok$/m);
    match(run.stdout, /^\/dev\/xpu1: absent$/m);
    match(run.stdout, /^fake libxpu 1\.0\.0$/m);

    // No driver: the wrapper runs runc itself; the shim never sees the container.
    const reinstalled = await install("xpu_not_loaded_here");
    strictEqual(reinstalled.code, 0, reinstalled.stderr);
    const specPath = makeBundle(`${lab.dir}/bundle2`, {
      args: ["sh", "-c", PROBE],
      env: ["XPU_VISIBLE_DEVICES=0"],
    });
    const spec = Deno.readFileSync(specPath);
    const id = nextId("fallback");
    const wrapper = `${root}/xpu-container-runtime`;
    const message =
      "xpu-container-runtime: kernel module xpu_not_loaded_here is not loaded: running runc directly\n";
    // The container inherits create's stdio: files, so nothing waits for it to close them.
    const createOut = `${lab.dir}/create.out`;
    const createErr = `${lab.dir}/create.err`;
    const out = Deno.openSync(createOut, { write: true, create: true });
    const err = Deno.openSync(createErr, { write: true, create: true });
    try {
      const created = await new Deno.Command(wrapper, {
        args: ["--root", lab.stateRoot, "create", "--bundle", `${lab.dir}/bundle2`, id],
        env: ENGINE_ENV,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const [stdout, stderr] = [
        created.stdout.pipeTo(out.writable),
        created.stderr.pipeTo(err.writable),
      ];
      // create returns once the container is created; its init keeps the pipes open until it ends.
      strictEqual((await created.status).code, 0);
      const state = await runTool([wrapper], {
        args: ["--root", lab.stateRoot, "state", id],
        env: ENGINE_ENV,
      });
      strictEqual(state.code, 0, state.stderr);
      strictEqual(state.stderr, message);
      const parsed = JSON.parse(state.stdout);
      strictEqual(parsed.id, id);
      strictEqual(parsed.status, "created");
      const started = await runTool(["runc"], { args: ["--root", lab.stateRoot, "start", id] });
      strictEqual(started.code, 0, started.stderr);
      await Promise.all([stdout, stderr]);
    } finally {
      await runTool(["runc"], { args: ["--root", lab.stateRoot, "delete", "--force", id] });
    }
    const containerOut = Deno.readTextFileSync(createOut);
    match(containerOut, /^\/dev\/xpu0: absent$/m);
    strictEqual(Deno.readTextFileSync(createErr).startsWith(message), true);
    deepStrictEqual(Deno.readFileSync(specPath), spec);
    // No log line of the shim's; runc 1.3 itself warns about ambient capabilities it cannot
    // raise here (no CAP_SYS_RESOURCE and friends in this sandbox).
    const errText = Deno.readTextFileSync(createErr);
    const logLines = errText.split("\n").filter((l) =>
      l.includes("level=") && !l.includes(`msg="can't raise ambient capability`)
    );
    deepStrictEqual(logLines, [], `the shim did not run: ${errText}`);
  },
);

await labTest(
  "installer: the management CDI spec read through a mounted host root names host paths",
  ["root"],
  { mode: "auto" },
  async (lab) => {
    const source = writeToolkitSources(`${lab.dir}/source`);
    const root = `${lab.dir}/installed/toolkit`;
    // The simulated host is this pod's "/host": the spec must name /dev/xpu0, not <dir>/dev/xpu0.
    const installed = await runTool(toolArgv("xpu-ctk-installer"), {
      args: ["install", "--toolkit-root", root, "--source-dir", source, "--cdi-enabled"],
      env: { HOST_ROOT_MOUNT: lab.driverRoot, CDI_OUTPUT_DIR: lab.cdiDir },
    });
    strictEqual(installed.code, 0, installed.stderr);
    const file = `${lab.cdiDir}/management.xpu.dev-xpu.yaml`;
    match(installed.stderr, new RegExp(`wrote the management CDI spec ${file} `));
    strictEqual(Deno.statSync(file).mode! & 0o777, 0o644);
    const validated = await runTool(toolArgv("xpu-ctk"), { args: ["cdi", "validate", file] });
    strictEqual(validated.code, 0, validated.stderr);
    const listed = await runTool(toolArgv("xpu-ctk"), {
      args: ["cdi", "list", "--spec-dir", lab.cdiDir],
    });
    strictEqual(listed.stdout, "management.xpu.dev/xpu=all\n");
    const text = Deno.readTextFileSync(file);
    match(text, /^ {8}- path: \/dev\/xpu0$/m);
    match(text, /^ {8}- path: \/dev\/xpu1$/m);
    match(text, /hostPath: \/usr\/lib\/x86_64-linux-gnu\/libxpu\.so\.1\.0\.0$/m);
    ok(!text.includes(lab.driverRoot), "no path under the mount point");
    match(text, new RegExp(`path: ${root}/xpu-ctk$`, "m"));
  },
);
