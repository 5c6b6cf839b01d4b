import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { type Logger, silentLogger } from "../../src/core/io/log.ts";
import { type ByteStream, unixByteStream } from "../../src/core/io/unix_stream.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { RequestError, UsageError } from "../../src/core/errors.ts";
import {
  type ContainerAdjustment,
  type CreateContainerRequest,
  decodeEmpty,
  NriEvent,
} from "../../src/nri/nri_messages.ts";
import { checkPluginIdentity } from "../../src/nri/plugin_identity.ts";
import {
  decisionTimeMs,
  describeAdjustment,
  type NriDecide,
  runNriPlugin,
  SUBSCRIBED_EVENTS,
} from "../../src/nri/nri_session.ts";
import { StatusCode, TtrpcStatusError } from "../../src/nri/ttrpc.ts";
import { MUX_HEADER_BYTES, MUX_WRITE_CHUNK } from "../../src/nri/multiplex.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { FakeNriRuntime } from "../helpers/fake_nri_runtime.ts";
import { memoryStreamPair, type RecordingStream } from "../helpers/memory_stream.ts";

function capturingLogger() {
  const lines: string[] = [];
  const logger: Logger = {
    debug: (m) => void lines.push(`debug: ${m}`),
    info: (m) => void lines.push(`info: ${m}`),
    warn: (m) => void lines.push(`warn: ${m}`),
    error: (m) => void lines.push(`error: ${m}`),
    enabled: () => true,
  };
  return { lines, logger };
}

const ADJUSTMENT: ContainerAdjustment = {
  env: [{ key: "XPU_VISIBLE_DEVICES", value: "void" }],
  linux: {
    devices: [{
      path: "/dev/xpu0",
      type: "c",
      major: 240,
      minor: 0,
      fileMode: { value: 0o666 },
    }],
  },
};

function request(name: string, env: string[]): CreateContainerRequest {
  return {
    pod: {
      id: "p1",
      name: "pod",
      uid: "",
      namespace: "ns",
      labels: {},
      annotations: {},
      runtimeHandler: "",
      pid: 0,
      ips: [],
    },
    container: {
      id: `${name}-id`,
      podSandboxId: "p1",
      name,
      state: 0,
      labels: {},
      annotations: {},
      args: ["sh"],
      env,
      mounts: [],
      pid: 0,
    },
  };
}

/** Decides from the env alone: a device for XPU_VISIBLE_DEVICES=0, a refusal for 9. */
const decideByEnv: NriDecide = async (req) => {
  await Promise.resolve();
  const env = req.container?.env ?? [];
  if (env.includes("XPU_VISIBLE_DEVICES=9")) {
    return { error: 'Cannot find XPU device "9": the host has devices 0 and 1' };
  }
  if (env.includes("XPU_VISIBLE_DEVICES=0")) return { adjustment: ADJUSTMENT };
  return { adjustment: {} };
};

/**
 * A plugin run whose `connect` hands out in-memory connections, each served by a fresh
 * {@link FakeNriRuntime}; `refuse` makes the next connection attempts fail as a missing socket.
 */
function harness(options: { decide?: NriDecide; refuseConnects?: number } = {}) {
  const { lines, logger } = capturingLogger();
  const controller = new AbortController();
  const runtimes: FakeNriRuntime[] = [];
  const pluginEnds: RecordingStream[] = [];
  const sleeps: number[] = [];
  let refusals = options.refuseConnects ?? 0;
  let connects = 0;
  const waiters: ((runtime: FakeNriRuntime) => void)[] = [];
  const connect = (path: string): Promise<ByteStream> => {
    connects++;
    strictEqual(path, "/run/test/nri.sock");
    if (refusals > 0) {
      refusals--;
      return Promise.reject(new Deno.errors.NotFound("No such file or directory (os error 2)"));
    }
    const [plugin, runtime] = memoryStreamPair();
    const fake = new FakeNriRuntime(runtime);
    runtimes.push(fake);
    pluginEnds.push(plugin);
    waiters.shift()?.(fake);
    return Promise.resolve(plugin);
  };
  const done = runNriPlugin({
    decide: options.decide ?? decideByEnv,
    log: logger,
    signal: controller.signal,
    socketPath: "/run/test/nri.sock",
    pluginName: "xpu-test",
    pluginIndex: "42",
    connect,
    retry: { initialMs: 10, maxMs: 40 },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  /** The runtime of connection `n` (0-based), once the plugin has connected that often. */
  const runtime = (n: number): Promise<FakeNriRuntime> =>
    runtimes[n] ? Promise.resolve(runtimes[n]) : new Promise((resolve) => {
      const wait = () => runtimes[n] ? resolve(runtimes[n]) : waiters.push(wait);
      waiters.push(wait);
    });
  return {
    lines,
    sleeps,
    pluginEnds,
    connects: () => connects,
    runtime,
    stop: async () => {
      controller.abort();
      await done;
    },
    done,
  };
}

Deno.test("nri session: the exchange with a runtime, step by step", async (t) => {
  const h = harness();
  const rt = await h.runtime(0);

  await t.step("registers with its name and index on the runtime's connection", async () => {
    deepStrictEqual(await rt.registered(), { pluginName: "xpu-test", pluginIdx: "42" });
  });

  await t.step("Configure: subscribes to CreateContainer alone (mask 8)", async () => {
    const answer = await rt.configure();
    deepStrictEqual(answer, { events: 8 });
    strictEqual(SUBSCRIBED_EVENTS, 1 << (NriEvent.CREATE_CONTAINER - 1));
  });

  await t.step("Synchronize: echoes `more` for a split sync, then the last part", async () => {
    const existing = request("old", ["XPU_VISIBLE_DEVICES=0"]).container!;
    deepStrictEqual(
      await rt.synchronize({ pods: [], containers: [existing], more: true }),
      { more: true },
    );
    deepStrictEqual(await rt.synchronize({ pods: [], containers: [], more: false }), {
      more: false,
    });
  });

  await t.step("CreateContainer with a request: the adjustment comes back whole", async () => {
    const answer = await rt.createContainer(request("gpu", ["XPU_VISIBLE_DEVICES=0"]));
    deepStrictEqual(answer.adjust?.env, ADJUSTMENT.env);
    deepStrictEqual(answer.adjust?.linux?.devices, [{ ...ADJUSTMENT.linux!.devices![0] }]);
  });

  await t.step("CreateContainer asking for nothing: an empty adjustment", async () => {
    const answer = await rt.createContainer(request("plain", ["PATH=/bin"]));
    deepStrictEqual(answer, { adjust: { annotations: {}, mounts: [], env: [], cdiDevices: [] } });
  });

  await t.step("CreateContainer refused: a status error carrying our message", async () => {
    await rejects(
      rt.createContainer(request("bad", ["XPU_VISIBLE_DEVICES=9"])),
      (error: unknown) => {
        ok(error instanceof TtrpcStatusError);
        strictEqual(error.code, StatusCode.UNKNOWN);
        strictEqual(error.message, 'Cannot find XPU device "9": the host has devices 0 and 1');
        return true;
      },
    );
  });

  await t.step("an undecodable CreateContainer is refused with INVALID_ARGUMENT", async () => {
    await rejects(rt.callRaw("CreateContainer", new Uint8Array([0x12, 9, 1])), (e: unknown) => {
      ok(e instanceof TtrpcStatusError);
      strictEqual(e.code, StatusCode.INVALID_ARGUMENT);
      match(e.message, /^Cannot read the NRI CreateContainer request: /);
      return true;
    });
  });

  await t.step("methods not subscribed to are answered empty", async () => {
    deepStrictEqual(decodeEmpty(await rt.callRaw("StateChange", new Uint8Array())), {});
  });

  await t.step("one log line per decision and per connection change", () => {
    const decisions = h.lines.filter((l) => l.includes("CreateContainer "));
    deepStrictEqual(decisions, [
      'info: CreateContainer "ns/pod/gpu": env XPU_VISIBLE_DEVICES, 1 device',
      'info: CreateContainer "ns/pod/plain": no change',
      'error: CreateContainer "ns/pod/bad": refused: Cannot find XPU device "9": the host has ' +
      "devices 0 and 1",
      "error: Cannot read the NRI CreateContainer request: truncated length-delimited field: " +
      "9 bytes announced, 1 left",
    ]);
    ok(h.lines.includes('info: Registered with NRI at "/run/test/nri.sock" as "42-xpu-test"'));
  });

  await t.step("Shutdown is answered, then the plugin reconnects", async () => {
    await rt.shutdown();
    const next = await h.runtime(1);
    deepStrictEqual(await next.registered(), { pluginName: "xpu-test", pluginIdx: "42" });
    ok(h.lines.includes("info: The runtime is shutting down NRI"));
    ok(h.lines.some((l) => l.startsWith('warn: Lost the NRI connection at "/run/test/nri.sock"')));
  });

  await t.step("SIGTERM's abort: the connection is closed and the run resolves", async () => {
    await h.stop();
    ok(h.pluginEnds[1].closedHere);
    strictEqual(h.lines.at(-1), "info: NRI plugin stopped");
  });
});

Deno.test("nri session: decisions may be async, may throw, and must come in time", async (t) => {
  const never = new Promise<never>(() => {});
  const cases: {
    name: string;
    decide: NriDecide;
    requestTimeout?: number;
    expected: string | RegExp;
  }[] = [
    {
      name: "a thrown error is the refusal's message (a bug: not one of the closed set)",
      decide: () => {
        throw new Error("boom");
      },
      expected: "internal error: Error: boom",
    },
    {
      name: "a rejected promise too, a tool error with its own message",
      decide: () => Promise.reject(new RequestError('Cannot use device "7": gone')),
      expected: 'Cannot use device "7": gone',
    },
    {
      name: "a decision that does not come is refused before the runtime's timeout",
      decide: () => never,
      requestTimeout: 400,
      // Too short a timeout for the 250 ms margin: three quarters of it.
      expected: /^Cannot decide the container's devices within 300 ms, before the runtime's /,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const h = harness({ decide: c.decide });
      const rt = await h.runtime(0);
      await rt.registered();
      await rt.configure({ requestTimeout: c.requestTimeout });
      const started = Date.now();
      await rejects(rt.createContainer(request("x", [])), (e: unknown) => {
        ok(e instanceof TtrpcStatusError);
        if (typeof c.expected === "string") strictEqual(e.message, c.expected);
        else match(e.message, c.expected);
        return true;
      });
      if (c.requestTimeout) ok(Date.now() - started < c.requestTimeout, "answered in time");
      await h.stop();
    });
  }
});

Deno.test("nri session: reconnects with a bounded backoff", async (t) => {
  await t.step(
    "a socket that is missing: retried, doubling up to the bound, said once",
    async () => {
      const h = harness({ refuseConnects: 5 });
      const rt = await h.runtime(0);
      await rt.registered();
      strictEqual(h.connects(), 6);
      deepStrictEqual(h.sleeps, [10, 20, 40, 40, 40]);
      const warnings = h.lines.filter((l) => l.startsWith("warn: Cannot connect to NRI"));
      deepStrictEqual(warnings, [
        'warn: Cannot connect to NRI at "/run/test/nri.sock": No such file or directory: ' +
        "retrying until the runtime listens (is NRI enabled in its config?)",
      ]);
      await h.stop();
    },
  );

  await t.step("after a configured connection drops, the backoff starts over", async () => {
    const h = harness({ refuseConnects: 0 });
    const first = await h.runtime(0);
    await first.registered();
    await first.configure();
    first.close();
    const second = await h.runtime(1);
    await second.registered();
    deepStrictEqual(h.sleeps, [10]);
    // The next container after the restart is served by the new connection.
    await second.configure();
    const answer = await second.createContainer(request("gpu", ["XPU_VISIBLE_DEVICES=0"]));
    deepStrictEqual(answer.adjust?.env, ADJUSTMENT.env);
    await h.stop();
  });

  await t.step(
    "a runtime that drops the plugin before configuring it: backoff keeps growing",
    async () => {
      const h = harness();
      for (let n = 0; n < 4; n++) {
        const rt = await h.runtime(n);
        await rt.registered();
        rt.close();
      }
      await h.runtime(4);
      deepStrictEqual(h.sleeps, [10, 20, 40, 40]);
      await h.stop();
    },
  );

  await t.step("a refused registration is logged and retried", async () => {
    const { lines, logger } = capturingLogger();
    const controller = new AbortController();
    let connects = 0;
    const done = runNriPlugin({
      decide: decideByEnv,
      log: logger,
      signal: controller.signal,
      socketPath: "/run/test/nri.sock",
      connect: () => {
        connects++;
        const [plugin, runtime] = memoryStreamPair();
        new FakeNriRuntime(runtime, { refuseRegistration: "invalid plugin index" });
        return Promise.resolve(plugin);
      },
      retry: { initialMs: 1, maxMs: 1 },
      sleep: () => {
        if (connects >= 2) controller.abort();
        return Promise.resolve();
      },
    });
    await done;
    strictEqual(connects, 2);
    ok(
      lines.includes(
        'error: Cannot register with NRI at "/run/test/nri.sock": invalid plugin index',
      ),
      lines.join("\n"),
    );
  });
});

Deno.test("nri session: stops while waiting for the runtime", async () => {
  const h = harness({ refuseConnects: 1_000_000 });
  await Promise.resolve();
  await h.stop();
  ok(h.connects() >= 1);
  strictEqual(h.lines.at(-1), "info: NRI plugin stopped");
});

Deno.test("nri session: plugin names and indexes the runtime would refuse", async (t) => {
  const cases: { name: string; input: [string, string]; expected?: string }[] = [
    { name: "the defaults", input: ["xpu-container-toolkit", "10"] },
    { name: "an empty name", input: ["", "10"], expected: 'plugin name ""' },
    { name: "a name with a slash", input: ["a/b", "10"], expected: 'plugin name "a/b"' },
    { name: "a one-digit index", input: ["x", "1"], expected: 'plugin index "1"' },
    { name: "a three-digit index", input: ["x", "100"], expected: 'plugin index "100"' },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      if (c.expected === undefined) checkPluginIdentity(...c.input);
      else assertThrowsError(() => checkPluginIdentity(...c.input), UsageError, c.expected);
    });
  }
});

Deno.test("nri session: describeAdjustment says what changes", async (t) => {
  const cases: { name: string; input: ContainerAdjustment; expected: string }[] = [
    { name: "nothing", input: {}, expected: "no change" },
    { name: "env and devices", input: ADJUSTMENT, expected: "env XPU_VISIBLE_DEVICES, 1 device" },
    {
      name: "mounts, hooks and cgroup rules",
      input: {
        mounts: [
          { destination: "/a", type: "bind", source: "/a", options: [] },
          { destination: "/b", type: "bind", source: "/b", options: [] },
        ],
        hooks: { createContainer: [{ path: "/bin/h", args: [], env: [] }] },
        linux: { resources: { devices: [{ allow: true, type: "c", access: "rw" }] } },
      },
      expected: "1 cgroup rule, 2 mounts, 1 hook",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(describeAdjustment(c.input), c.expected));
  }
});

Deno.test("nri session: over a real unix socket, with the default name and index", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nri.sock`;
    const listener = Deno.listen({ transport: "unix", path });
    const controller = new AbortController();
    const done = runNriPlugin({
      decide: () => ({ adjustment: {} }),
      log: silentLogger,
      signal: controller.signal,
      socketPath: path,
    });
    const runtime = new FakeNriRuntime(unixByteStream(await listener.accept()));
    deepStrictEqual(await runtime.registered(), {
      pluginName: "xpu-container-toolkit",
      pluginIdx: "10",
    });
    deepStrictEqual(await runtime.configure(), { events: 8 });
    controller.abort();
    await done;
    await runtime.ended;
    listener.close();
  });
});

Deno.test("nri session: an answer over 4 KiB goes out in frames of at most 4 KiB, whole", async () => {
  const mounts = Array.from({ length: 200 }, (_, i) => ({
    destination: `/usr/lib/xpu/lib${i}.so`,
    type: "bind",
    source: `/usr/lib/xpu/lib${i}.so`,
    options: ["ro", "nosuid", "nodev", "bind"],
  }));
  const h = harness({ decide: () => ({ adjustment: { mounts } }) });
  const rt = await h.runtime(0);
  await rt.registered();
  await rt.configure();
  const answer = await rt.createContainer(request("many", []));
  deepStrictEqual(answer.adjust?.mounts, mounts);
  // Every frame the plugin wrote: an 8-byte header and at most 4 KiB; the big answer took several.
  const frames = h.pluginEnds[0].written.flatMap((buffer) => {
    const sizes: number[] = [];
    for (let at = 0; at < buffer.length;) {
      const length = new DataView(buffer.buffer, buffer.byteOffset + at).getUint32(4);
      sizes.push(length);
      at += MUX_HEADER_BYTES + length;
    }
    return sizes;
  });
  ok(frames.every((n) => n <= MUX_WRITE_CHUNK), `frames: ${frames.join(", ")}`);
  ok(frames.filter((n) => n === MUX_WRITE_CHUNK).length >= 2, `frames: ${frames.join(", ")}`);
  await h.stop();
});

Deno.test("nri session: the time a decision may take, for each runtime timeout", () => {
  strictEqual(decisionTimeMs(2000), 1750);
  strictEqual(decisionTimeMs(400), 300);
  strictEqual(decisionTimeMs(1), 1);
  // "720h": longer than a timer can wait, which would fire at once and refuse every container.
  strictEqual(decisionTimeMs(720 * 3600 * 1000), 2 ** 31 - 1);
});
