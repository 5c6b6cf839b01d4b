/** The shim's main path, run in-process with a fake exec, and the modules it loads. */

import { deepStrictEqual, match, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { ConfigError, ExecError, SpecError, UsageError } from "../../src/core/errors.ts";
import type { ExecRequest } from "../../src/core/io/process.ts";
import {
  asksForVersion,
  configPathForHooks,
  runShim,
  shimLogSinks,
} from "../../src/runtime/shim.ts";
import { VERSION } from "../../src/core/version.ts";
import { REPO_ROOT } from "../helpers/container_lab.ts";

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
  "XPU_CTK_CONFIG_FILE_PATH naming a missing file: one error line in the --log, nothing handed over",
  withDir(async (dir) => {
    const log = `${dir}/log.json`;
    const env = { XPU_CTK_CONFIG_FILE_PATH: `${dir}/missing.toml`, PATH: "/usr/bin:/bin" };
    await rejects(
      handover(["--log", log, "--log-format", "json", "state", "x"], env),
      (error: unknown) => error instanceof ConfigError && error.path === `${dir}/missing.toml`,
    );
    const lines = Deno.readTextFileSync(log).trim().split("\n").map((l) => JSON.parse(l));
    strictEqual(lines.length, 1);
    strictEqual(lines[0].level, "error");
    strictEqual(
      lines[0].msg,
      `Cannot load the config file "${dir}/missing.toml" that XPU_CTK_CONFIG_FILE_PATH names: ` +
        `no such file: create it ("xpu-ctk config default --output ${dir}/missing.toml" writes ` +
        `the defaults), or unset XPU_CTK_CONFIG_FILE_PATH to use ` +
        `"/etc/xpu-container-runtime/config.toml"`,
    );
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

Deno.test("asksForVersion: --version among runc's global flags only", async (t) => {
  const cases: { name: string; input: string[]; expected: boolean }[] = [
    { name: "--version alone", input: ["--version"], expected: true },
    { name: "-version (Go's single dash)", input: ["-version"], expected: true },
    { name: "after global flags", input: ["--root", "/r", "--debug", "--version"], expected: true },
    { name: "after a global flag's = value", input: ["--log=/l", "--version"], expected: true },
    { name: "before the subcommand", input: ["--version", "state", "id"], expected: true },
    { name: "as a global flag's value", input: ["--root", "--version"], expected: false },
    {
      name: "after the subcommand: the subcommand's",
      input: ["state", "--version"],
      expected: false,
    },
    { name: "after --", input: ["--", "--version"], expected: false },
    { name: "runc's -v is left to runc", input: ["-v"], expected: false },
    { name: "a longer flag", input: ["--version-info"], expected: false },
    { name: "no version flag", input: ["--root", "/r", "state", "id"], expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(asksForVersion(c.input), c.expected));
  }
});

Deno.test(
  "--version prints the shim's line on stdout, then hands the same argv to the runtime",
  withDir(async (dir) => {
    const runtime = fakeRuntime(dir);
    Deno.writeTextFileSync(
      `${dir}/config.toml`,
      `[xpu-container-runtime]\nruntimes = ["${runtime}"]\n`,
    );
    const env = { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml` };
    const cases: { name: string; input: string[]; expected: string }[] = [
      {
        name: "--version",
        input: ["--version"],
        expected: `xpu-container-runtime version ${VERSION}\n`,
      },
      {
        name: "after global flags",
        input: ["--root", "/r", "--version"],
        expected: `xpu-container-runtime version ${VERSION}\n`,
      },
      { name: "a subcommand's --version: nothing", input: ["state", "--version"], expected: "" },
      { name: "another command: nothing", input: ["state", "id"], expected: "" },
    ];
    for (const c of cases) {
      let stdout = "";
      let request: ExecRequest | undefined;
      await runShim({
        args: c.input,
        env,
        cwd: "/",
        executableName: "xpu-container-runtime",
        stdout: (text) => void (stdout += text),
      }, (r): never => {
        // The line is out before the runtime takes over the process.
        request = { ...r, argv: [...r.argv, `stdout so far: ${stdout}`] };
        return undefined as never;
      });
      strictEqual(stdout, c.expected, c.name);
      deepStrictEqual(request, {
        path: runtime,
        argv: [runtime, ...c.input, `stdout so far: ${c.expected}`],
        env,
      }, c.name);
    }
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
      "src/runtime/create_fs.ts",
      "src/runtime/mode_edit.ts",
      "src/runtime/hook_program.ts",
      "src/runtime/legacy_edits.ts",
      "src/runtime/csv_edits.ts",
      "src/runtime/csv_mount_spec.ts",
      "src/runtime/cdi_edits.ts",
      "src/runtime/cdi_annotations.ts",
      "src/core/cdi/cdi_registry.ts",
      "src/core/cdi/cdi_dir_reader.ts",
      "src/core/device/device_discovery.ts",
      "src/core/oci/oci_spec.ts",
      "src/core/io/regular_file.ts",
      "src/core/io/atomic_file.ts",
      "src/core/request/mode.ts",
    ]
  ) {
    ok(
      !eager.includes(createOnly),
      `${createOnly} is loaded on every command: ${eager.join(", ")}`,
    );
  }
});

Deno.test("configPathForHooks: the config the shim loaded, when its own env chose it", async (t) => {
  const cases: {
    name: string;
    input: { loaded: string; env: Record<string, string>; cwd?: string };
    expected: string | undefined;
  }[] = [
    {
      name: "XPU_CTK_CONFIG_FILE_PATH named it",
      input: {
        loaded: "/opt/xpu/config.toml",
        env: { XPU_CTK_CONFIG_FILE_PATH: "/opt/xpu/config.toml" },
      },
      expected: "/opt/xpu/config.toml",
    },
    {
      name: "a relative XPU_CTK_CONFIG_FILE_PATH, made absolute against the shim's cwd",
      input: {
        loaded: "conf/config.toml",
        env: { XPU_CTK_CONFIG_FILE_PATH: "conf/config.toml" },
        cwd: "/run/bundle/",
      },
      expected: "/run/bundle/conf/config.toml",
    },
    {
      name: "XDG_CONFIG_HOME chose it",
      input: {
        loaded: "/home/u/.config/xpu-container-runtime/config.toml",
        env: { XDG_CONFIG_HOME: "/home/u/.config" },
      },
      expected: "/home/u/.config/xpu-container-runtime/config.toml",
    },
    {
      name: "the system file: nothing to pass, a hook reads it anyway",
      input: { loaded: "/etc/xpu-container-runtime/config.toml", env: { PATH: "/usr/bin" } },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () =>
      strictEqual(
        configPathForHooks(c.input.loaded, { env: c.input.env, cwd: c.input.cwd ?? "/" }),
        c.expected,
      ));
  }
});

/** Bytes from text pieces (UTF-8) and raw byte lists, in order. */
function bytesOf(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : p);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Whether `needle` occurs in `haystack`. */
function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A config serving CDI from `<dir>/cdi`, with one device whose only edit is an env entry. */
function cdiSetup(dir: string): Record<string, string> {
  Deno.mkdirSync(`${dir}/cdi`);
  Deno.writeTextFileSync(
    `${dir}/cdi/vendor.yaml`,
    'cdiVersion: "0.5.0"\nkind: vendor.com/dev\ndevices:\n' +
      "  - name: one\n    containerEdits:\n      env: [DEV_ONE=1]\n",
  );
  Deno.writeTextFileSync(
    `${dir}/config.toml`,
    `[xpu-container-runtime]\nmode = "cdi"\nruntimes = ["${fakeRuntime(dir)}"]\n` +
      `[xpu-container-runtime.modes.cdi]\nspec-dirs = ["${dir}/cdi"]\n`,
  );
  return { XPU_CTK_CONFIG_FILE_PATH: `${dir}/config.toml`, PATH: "/usr/bin:/bin" };
}

Deno.test(
  "create keeps every byte it does not edit: invalid UTF-8 in env and annotations",
  withDir(async (dir) => {
    const env = cdiSetup(dir);
    Deno.mkdirSync(`${dir}/bundle`);
    const annotations = bytesOf('"annotations":{"org.example/note":"', [0xe9, 0xff], '"}');
    const badEnv = bytesOf('"LANG=', [0xc3, 0x28], '"');
    const original = bytesOf(
      '{"ociVersion":"1.0.2","process":{"args":["sh"],"env":[',
      [...badEnv],
      ',"XPU_VISIBLE_DEVICES=vendor.com/dev=one"]},"root":{"path":"rootfs"},',
      [...annotations],
      "}",
    );
    Deno.writeFileSync(`${dir}/bundle/config.json`, original);
    const request = await handover(["create", "--bundle", `${dir}/bundle`, "id"], env);
    strictEqual(request.argv[1], "create");
    const written = Deno.readFileSync(`${dir}/bundle/config.json`);
    ok(containsBytes(written, annotations), "the annotations lost their bytes");
    ok(containsBytes(written, badEnv), "the invalid env entry lost its bytes");
    ok(!containsBytes(written, new TextEncoder().encode("\uFFFD")), "U+FFFD was written");
    const spec = JSON.parse(new TextDecoder().decode(written));
    ok(spec.process.env.includes("DEV_ONE=1"), JSON.stringify(spec.process.env));
    ok(containsBytes(written, bytesOf('{"ociVersion":"1.0.2","process":{"args":["sh"],"env":[')));
  }),
);

Deno.test(
  "create refuses a config.json that is a link or a FIFO: one error line, nothing handed over",
  async (t) => {
    await t.step(
      "a symbolic link: SpecError, the link's target byte-identical",
      withDir(async (dir) => {
        const env = cdiSetup(dir);
        Deno.mkdirSync(`${dir}/bundle`);
        const target = bytesOf('{"process":{"env":["XPU_VISIBLE_DEVICES=vendor.com/dev=one"]}}');
        Deno.writeFileSync(`${dir}/elsewhere.json`, target);
        Deno.symlinkSync(`${dir}/elsewhere.json`, `${dir}/bundle/config.json`);
        await rejects(
          handover(["--log", `${dir}/log`, "create", "--bundle", `${dir}/bundle`, "id"], env),
          (error: unknown) =>
            error instanceof SpecError &&
            error.message ===
              `Cannot read OCI spec "${dir}/bundle/config.json": it is a symbolic link (to ` +
                `"${dir}/elsewhere.json"): config.json must be a regular file in the bundle; ` +
                `recreate the container`,
        );
        deepStrictEqual(Deno.readFileSync(`${dir}/elsewhere.json`), target);
        ok(Deno.lstatSync(`${dir}/bundle/config.json`).isSymlink);
        match(Deno.readTextFileSync(`${dir}/log`), /^time="[^"]+" level=error msg="Cannot read/);
      }),
    );
    await t.step(
      "a FIFO: the real shim exits 1 at once with one line; runc is not called",
      withDir(async (dir) => {
        const env = cdiSetup(dir);
        Deno.mkdirSync(`${dir}/bundle`);
        strictEqual(
          new Deno.Command("mkfifo", { args: [`${dir}/bundle/config.json`] }).outputSync().code,
          0,
        );
        // The fake runtime leaves a marker if it ever runs.
        Deno.writeTextFileSync(`${dir}/fake-runc`, `#!/bin/sh\ntouch "${dir}/runc-ran"\n`);
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            `${REPO_ROOT}/bin/xpu-container-runtime.ts`,
            "create",
            "--bundle",
            `${dir}/bundle`,
            "id",
          ],
          env,
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(20_000),
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        strictEqual(out.code, 1, stderr);
        strictEqual(new TextDecoder().decode(out.stdout), "");
        strictEqual(
          stderr,
          `xpu-container-runtime: Cannot read OCI spec "${dir}/bundle/config.json": it is a ` +
            `FIFO, not a regular file: config.json must be a regular file in the bundle; ` +
            `recreate the container\n`,
        );
        ok(Deno.lstatSync(`${dir}/bundle/config.json`).isFifo);
        throws(() => Deno.lstatSync(`${dir}/runc-ran`), Deno.errors.NotFound);
      }),
    );
  },
);

Deno.test(
  "a --log that is a symbolic link is refused on stderr; the container still starts",
  withDir(async (dir) => {
    const env = cdiSetup(dir);
    Deno.writeTextFileSync(`${dir}/host-file`, "host\n");
    Deno.symlinkSync(`${dir}/host-file`, `${dir}/log.json`);
    Deno.writeTextFileSync(`${dir}/fake-runc`, `#!/bin/sh\necho "runc $*"\n`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${REPO_ROOT}/bin/xpu-container-runtime.ts`,
        "--debug",
        "--log",
        `${dir}/log.json`,
        "--log-format",
        "json",
        "state",
        "id",
      ],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    strictEqual(out.code, 0, stderr);
    strictEqual(
      new TextDecoder().decode(out.stdout),
      "runc --debug --log " +
        `${dir}/log.json --log-format json state id\n`,
    );
    strictEqual(
      stderr,
      `Cannot log to "${dir}/log.json": it is a symbolic link (to "${dir}/host-file"): log ` +
        `files are never opened through a link; point the log setting at the file itself\n`,
    );
    strictEqual(Deno.readTextFileSync(`${dir}/host-file`), "host\n");
    ok(Deno.lstatSync(`${dir}/log.json`).isSymlink);
  }),
);
