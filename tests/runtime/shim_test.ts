/** The shim's main path, run in-process with a fake exec, and the modules it loads. */

import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { ConfigError, ExecError, UsageError } from "../../src/core/errors.ts";
import type { ExecRequest } from "../../src/core/process.ts";
import { runShim, shimLogSinks } from "../../src/runtime/shim.ts";
import { REPO_ROOT } from "../../scripts/container_lab.ts";

/** Runs the shim in-process; the fake exec records the request instead of replacing the process. */
async function handover(args: string[], env: Record<string, string>): Promise<ExecRequest> {
  let captured: ExecRequest | undefined;
  const fakeExec = (request: ExecRequest): never => {
    captured = request;
    return undefined as never;
  };
  await runShim({ args, env, cwd: "/", executableName: "xpu-container-runtime" }, fakeExec);
  if (captured === undefined) throw new Error("runShim did not hand over");
  return captured;
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "xpu-shim-" });
    try {
      await fn(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

function fakeRuntime(dir: string): string {
  const path = `${dir}/fake-runc`;
  Deno.writeTextFileSync(path, "#!/bin/sh\nexit 0\n");
  Deno.chmodSync(path, 0o755);
  return path;
}

Deno.test("shimLogSinks: the engine's --log and the config's debug file", async (t) => {
  const cases = [
    { name: "no log", runc: { isCreate: false, debug: false }, debug: "", expected: [] },
    {
      name: "--log with json",
      runc: { isCreate: false, debug: false, log: "/b/log.json", logFormat: "json" },
      debug: "",
      expected: [{ path: "/b/log.json", format: "json" }],
    },
    {
      name: "--log without format is text, debug file added",
      runc: { isCreate: false, debug: false, log: "/b/log" },
      debug: "/var/log/x.log",
      expected: [{ path: "/b/log", format: "text" }, { path: "/var/log/x.log", format: "text" }],
    },
    {
      name: "/dev/null debug is none",
      runc: { isCreate: false, debug: false },
      debug: "/dev/null",
      expected: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const config = { runtime: { debug: c.debug } } as Parameters<typeof shimLogSinks>[1];
      deepStrictEqual(shimLogSinks(c.runc, config), c.expected);
    });
  }
});

Deno.test(
  "pass-through hands the unchanged argv and environment to the first usable runtime",
  withDir(async (dir) => {
    const runtime = fakeRuntime(dir);
    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      `[xpu-container-runtime]\nruntimes = ["/nope", "${runtime}"]\n`,
    );
    const env = { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml`, PATH: "/usr/bin", OTHER: "1" };
    const args = ["--root", "/r", "state", "id"];
    const request = await handover(args, env);
    deepStrictEqual(request, { path: runtime, argv: [runtime, ...args], env });
  }),
);

Deno.test(
  "config problems are one error line in the --log and a ConfigError; warnings are logged",
  withDir(async (dir) => {
    const log = `${dir}/log.json`;
    Deno.writeTextFileSync(`${dir}/config.toml`, `[xpu-container-runtime]\nmode = "fast"\n`);
    const env = { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml` };
    await rejects(
      handover(["--log", log, "--log-format", "json", "state", "x"], env),
      (error: unknown) => error instanceof ConfigError && error.line === 2,
    );
    const lines = Deno.readTextFileSync(log).trim().split("\n").map((l) => JSON.parse(l));
    strictEqual(lines.length, 1);
    strictEqual(lines[0].level, "error");
    match(
      lines[0].msg,
      /^Cannot load ".*config\.toml", line 2: "xpu-container-runtime\.mode" is "fast"/,
    );

    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      `typo-key = 1\n[xpu-container-runtime]\nruntimes = ["${fakeRuntime(dir)}"]\n`,
    );
    Deno.removeSync(log);
    await handover(["--log", log, "--log-format", "json", "state", "x"], env);
    const warning = JSON.parse(Deno.readTextFileSync(log).trim());
    strictEqual(warning.level, "warning");
    match(warning.msg, /Ignoring unknown key "typo-key" in ".*", line 1/);
  }),
);

Deno.test(
  "--debug forces debug logging; no usable runtime names the candidates",
  withDir(async (dir) => {
    const log = `${dir}/log`;
    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      `[xpu-container-runtime]\nruntimes = ["${fakeRuntime(dir)}"]\n`,
    );
    const env = { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml` };
    await handover(["--debug", "--log", log, "state", "x"], env);
    match(Deno.readTextFileSync(log), /^time="[^"]+" level=debug msg="Handing over to /);

    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      `[xpu-container-runtime]\nruntimes = ["no-such-runtime-xyz"]\n`,
    );
    await rejects(
      handover(["state", "x"], { ...env, PATH: dir }),
      (error: unknown) =>
        error instanceof ExecError &&
        /none of "no-such-runtime-xyz" is an executable/.test(error.message),
    );
  }),
);

Deno.test(
  "create with a bundle flag and no value is a usage error, nothing handed over",
  withDir(async (dir) => {
    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      `[xpu-container-runtime]\nruntimes = ["${fakeRuntime(dir)}"]\n`,
    );
    await rejects(
      handover(["create", "id", "--bundle"], { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml` }),
      (error: unknown) =>
        error instanceof UsageError && /"--bundle" flag needs a directory/.test(error.message),
    );
  }),
);

Deno.test("the pass-through path does not load the modules only create needs", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--config",
      `${REPO_ROOT}/deno.json`,
      `${REPO_ROOT}/bin/xpu-container-runtime.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  type Dependency = { code?: { specifier: string }; isDynamic?: boolean };
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: Dependency[] }[];
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const walk = (followDynamic: boolean) => {
    const seen = new Set<string>();
    const pending = [...info.roots];
    while (pending.length > 0) {
      const specifier = pending.pop()!;
      if (seen.has(specifier)) continue;
      seen.add(specifier);
      for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
        if (dep.code && (followDynamic || !dep.isDynamic)) pending.push(dep.code.specifier);
      }
    }
    return [...seen].filter((s) => s.startsWith("file:")).map((s) =>
      s.slice(s.indexOf("/src/") + 1)
    );
  };
  const eager = walk(false);
  const all = walk(true);
  ok(all.includes("src/runtime/create.ts"), "create.ts is part of the program");
  for (
    const createOnly of [
      "src/runtime/create.ts",
      "src/runtime/csv_edits.ts",
      "src/core/device_discovery.ts",
      "src/core/oci_spec.ts",
      "src/core/atomic_file.ts",
      "src/core/mode.ts",
    ]
  ) {
    ok(
      !eager.includes(createOnly),
      `${createOnly} is loaded on every command: ${eager.join(", ")}`,
    );
  }
});
