/**
 * The runtime server (`xpu-ctk runtime-server`) in front of real runc: a create through the shim
 * is served by the warm process and the container gets its device; a request it refuses fails
 * with the shim's own line and status; and whatever is wrong with the server (stopped, a socket
 * in a directory others may write, a peer that never answers or answers nonsense), the shim does
 * the work itself and the container still gets its device. And under docker, a container gets
 * its XPU through a create the server served.
 */

import { match, ok, strictEqual } from "node:assert/strict";
import { makeBundle } from "../helpers/container_lab.ts";
import { runTool, toolArgv } from "../helpers/toolkit_commands.ts";
import { withXpuRuntimeDockerd } from "../helpers/dockerd.ts";
import { generateCdiSpec, type Lab, labTest, PROBE, runInLab } from "../helpers/lab.ts";

const NEEDS = ["root", "runc", "busybox"] as const;

/** A running `xpu-ctk runtime-server`; `stop` sends SIGTERM and returns its whole log. */
interface Server {
  socket: string;
  /** The log so far. */
  log(): string;
  /**
   * The log once it matches `pattern` (within 5 s): the server logs a request after its answer,
   * so the shim can be done before the line is read.
   */
  logged(pattern: RegExp): Promise<string>;
  stop(): Promise<string>;
}

async function startServer(lab: Lab, socket = `${lab.dir}/server/runtime.sock`): Promise<Server> {
  const [program, ...lead] = toolArgv("xpu-ctk");
  const child = new Deno.Command(program, {
    args: [...lead, "runtime-server", "--socket", socket],
    env: lab.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const { promise: ready, resolve: listening } = Promise.withResolvers<void>();
  const drained = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (text.includes("Listening on")) listening();
    }
  })();
  const exited = child.status.then((s) => {
    listening();
    return s;
  });
  await ready;
  if (!text.includes("Listening on")) {
    await drained;
    throw new Error(`the runtime server did not start (exit ${(await exited).code}): ${text}`);
  }
  // The logfmt lines escape quotes; the tests read the messages.
  const log = () => text.replaceAll('\\"', '"');
  return {
    socket,
    log,
    async logged(pattern) {
      for (let waited = 0; waited < 5000 && !pattern.test(log()); waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return log();
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      const status = await exited;
      await drained;
      strictEqual(status.code, 0, text);
      return text;
    },
  };
}

/** The lab's shim environment, pointed at `socket` ("" turns the server off). */
function useSocket(lab: Lab, socket: string): void {
  lab.env = { ...lab.env, XPU_RUNTIME_SERVER_SOCKET: socket };
}

await labTest(
  "runtime server: a create it serves gets the device; its refusal is the shim's own",
  [...NEEDS],
  { mode: "cdi" },
  async (lab) => {
    await generateCdiSpec(lab);
    const server = await startServer(lab);
    try {
      useSocket(lab, server.socket);
      makeBundle(`${lab.dir}/bundle`, {
        args: ["sh", "-c", PROBE],
        env: ["XPU_VISIBLE_DEVICES=0"],
      });
      const run = await runInLab(lab, "bundle");
      strictEqual(run.createCode, 0, run.createStderr);
      match(run.stdout, /^\/dev\/xpu0: open ok$/m);
      match(run.stdout, /^\/dev\/xpu1: absent$/m);
      match(run.stdout, /^fake libxpu 1\.0\.0$/m);
      const servedLine = new RegExp(`Served create of "${run.id}" in [0-9.]+ ms: exec "`);
      match(await server.logged(servedLine), servedLine);
      // `--version create …`: the shim's version line first, which only the shim prints.
      const version = await runTool(toolArgv("xpu-container-runtime"), {
        args: ["--version", "create", "--bundle", `${lab.dir}/bundle`, "version-probe"],
        env: lab.env,
      });
      match(version.stdout, /^xpu-container-runtime version /);
      ok(!server.log().includes("version-probe"), "the server was asked");
      const doctor = await runTool(toolArgv("xpu-ctk"), { args: ["doctor"], env: lab.env });
      match(doctor.stdout, /^OK {4}runtime server: listening on "[^"]+": creates through/m);

      // An unknown device: the same line and status as the shim alone, and nothing written.
      const specPath = makeBundle(`${lab.dir}/bad`, {
        args: ["true"],
        env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=7"],
      });
      const before = Deno.readFileSync(specPath);
      const served = await runInLab(lab, "bad");
      useSocket(lab, "");
      const alone = await runInLab(lab, "bad");
      strictEqual(served.createCode, alone.createCode);
      ok(served.createCode !== 0);
      strictEqual(served.createStderr, alone.createStderr);
      match(served.createStderr, /^xpu-container-runtime: .*xpu=7/);
      strictEqual(Deno.readTextFileSync(specPath), new TextDecoder().decode(before));
      const refused = new RegExp(`Refused create of "${served.id}"`);
      match(await server.logged(refused), refused);
      ok(!server.log().includes(alone.id), "the shim alone asked the server");
    } finally {
      await server.stop();
    }
    // Stopped, the server leaves no socket behind.
    strictEqual(
      (() => {
        try {
          return Deno.lstatSync(server.socket).isSocket;
        } catch {
          return false;
        }
      })(),
      false,
    );
  },
);

await labTest(
  "runtime server: stopped, untrusted, silent or talking nonsense, the shim does the work itself",
  [...NEEDS],
  { mode: "csv" },
  async (lab) => {
    makeBundle(`${lab.dir}/bundle`, { args: ["sh", "-c", PROBE], env: ["XPU_VISIBLE_DEVICES=0"] });
    const works = async (why: string) => {
      const run = await runInLab(lab, "bundle");
      strictEqual(run.createCode, 0, `${why}: ${run.createStderr}`);
      match(run.stdout, /^\/dev\/xpu0: open ok$/m, why);
      return run;
    };

    // A server whose socket dir others may write: it is not asked.
    const server = await startServer(lab);
    useSocket(lab, server.socket);
    Deno.chmodSync(`${lab.dir}/server`, 0o777);
    const untrusted = await works("a socket dir others may write");
    ok(!server.log().includes(untrusted.id), "a socket in a dir others may write was asked");
    Deno.chmodSync(`${lab.dir}/server`, 0o700);
    await server.stop();
    await works("a stopped server");

    // Peers that are no server: one that never answers (the shim waits its 5 s), one that
    // answers nonsense, one that hangs up.
    for (const peer of ["silent", "nonsense", "hang-up"] as const) {
      const socket = `${lab.dir}/server/${peer}.sock`;
      const listener = Deno.listen({ transport: "unix", path: socket });
      const held: Deno.Conn[] = [];
      const serving = (async () => {
        for await (const conn of listener) {
          if (peer === "silent") held.push(conn);
          else if (peer === "hang-up") conn.close();
          else {
            await conn.write(new TextEncoder().encode('{"protocol":1,"kind":"exec","path":"x"}\n'));
            conn.close();
          }
        }
      })();
      try {
        useSocket(lab, socket);
        await works(`a peer that is ${peer}`);
      } finally {
        listener.close();
        for (const conn of held) conn.close();
        await serving.catch(() => {});
      }
    }
  },
);

await labTest(
  "runtime server under docker: docker run --runtime xpu gets the XPU, the create served warm",
  [...NEEDS, "nsenter", "dockerd"],
  { mode: "csv" },
  async (lab) => {
    const server = await startServer(lab);
    try {
      // The environment a runtime sees is dockerd's.
      const env = { ...lab.env, XPU_RUNTIME_SERVER_SOCKET: server.socket };
      await withXpuRuntimeDockerd(`${lab.dir}/docker`, `${lab.dir}/tools`, env, async (d) => {
        const run = await d.runProbe(["--runtime", "xpu", "-e", "XPU_VISIBLE_DEVICES=0"]);
        strictEqual(run.code, 0, run.stderr);
        match(run.stdout, /^\/dev\/xpu0: open ok$/m);
        match(run.stdout, /^\/dev\/xpu1: absent$/m);
        match(run.stdout, /^fake libxpu 1\.0\.0$/m);
      });
      const served = /Served create of "[0-9a-f]{64}" in [0-9.]+ ms: exec "/;
      match(await server.logged(served), served);
    } finally {
      await server.stop();
    }
  },
);
