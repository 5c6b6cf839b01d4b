import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { defaultConfig } from "../../src/core/config/config.ts";
import { parseConfig } from "../../src/core/config/config_file.ts";
import { ExecError, UsageError } from "../../src/core/errors.ts";
import { HOOK_PATH } from "../../src/core/config/hook_env.ts";
import { ctkMain } from "../../src/ctk/main.ts";
import { runCtk } from "../../src/ctk/ctk_entry.ts";
import { VERSION } from "../../src/core/version.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import { assertGolden } from "../helpers/golden.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function fakeIo(stdin = "", env: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "", stdinRead: false };
  return {
    out,
    io: {
      env,
      cwd: "/",
      stdout: (text: string) => void (out.stdout += text),
      stderr: (text: string) => void (out.stderr += text),
      readStdin: () => (out.stdinRead = true, Promise.resolve(stdin)),
    },
  };
}

Deno.test("xpu-ctk config default prints a config that reads back as the defaults", async () => {
  const { out, io } = fakeIo();
  strictEqual(await ctkMain(["config", "default"], io), 0);
  assertGolden(`${REPO_ROOT}/fixtures/config/default.toml`, out.stdout);
  const parsed = parseConfig(out.stdout, "<stdout>");
  deepStrictEqual(parsed.config, defaultConfig());
  deepStrictEqual(parsed.warnings, []);
  strictEqual(out.stderr, "");
});

Deno.test("xpu-ctk config default --output writes the defaults like other outputs", async (t) => {
  const golden = Deno.readTextFileSync(`${REPO_ROOT}/fixtures/config/default.toml`);
  const cases: {
    name: string;
    input: { setup?: (dir: string) => void; output: string };
    expected: { mode: number; dirs?: string[] } | { error: string };
  }[] = [
    {
      name: "a new file, mode 0644",
      input: { output: "/config.toml" },
      expected: { mode: 0o644 },
    },
    {
      name: "missing directories are created, mode 0755",
      input: { output: "/etc/xpu-container-runtime/config.toml" },
      expected: { mode: 0o644, dirs: ["/etc", "/etc/xpu-container-runtime"] },
    },
    {
      name: "over a 0600 file: replaced, mode 0644",
      input: {
        setup: (dir) => Deno.writeTextFileSync(`${dir}/config.toml`, "old", { mode: 0o600 }),
        output: "/config.toml",
      },
      expected: { mode: 0o644 },
    },
    {
      name: "hostile: a symbolic link at the path is refused, its target untouched",
      input: {
        setup: (dir) => {
          Deno.writeTextFileSync(`${dir}/host-file`, "the host's own file\n");
          Deno.symlinkSync(`${dir}/host-file`, `${dir}/config.toml`);
        },
        output: "/config.toml",
      },
      expected: { error: 'Cannot write "DIR/config.toml": it is a symbolic link' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (dir) => {
        c.input.setup?.(dir);
        const output = dir + c.input.output;
        const { out, io } = fakeIo();
        if ("error" in c.expected) {
          await assertRejectsError(
            () => ctkMain(["config", "default", "--output", output], io),
            UsageError,
            c.expected.error.replace("DIR", dir),
          );
          strictEqual(Deno.readTextFileSync(`${dir}/host-file`), "the host's own file\n");
          ok(Deno.lstatSync(output).isSymlink);
        } else {
          strictEqual(await ctkMain(["config", "default", "--output", output], io), 0);
          strictEqual(Deno.readTextFileSync(output), golden);
          strictEqual(Deno.statSync(output).mode! & 0o7777, c.expected.mode);
          for (const made of c.expected.dirs ?? []) {
            strictEqual(Deno.statSync(dir + made).mode! & 0o7777, 0o755, made);
          }
        }
        strictEqual(out.stdout, "");
        strictEqual(out.stderr, "");
      });
    });
  }
});

Deno.test("xpu-ctk help pages show each option's default", async (t) => {
  const cases: { name: string; input: string[]; expected: string[] }[] = [
    {
      name: "xpu-ctk --help",
      input: ["--help"],
      expected: ["-v, --version", "print the version"],
    },
    {
      name: "cdi generate --help",
      input: ["cdi", "generate", "--help"],
      expected: [
        '(default: [xpu-container-cli] root, else "/")',
        "(default: the driver root)",
        '(default: [xpu-container-cli] profile, else "xpu")',
        '(default: [xpu-container-runtime.modes.cdi] default-kind, else "xpu.dev/xpu")',
        '(default: [xpu-ctk] path, else "xpu-ctk", looked up in PATH)',
        "(default: stdout)",
        '(default: from the --output name, else "yaml")',
      ],
    },
    {
      name: "cdi list --help: the config's spec dirs, not []",
      input: ["cdi", "list", "--help"],
      expected: [
        '(default: [xpu-container-runtime.modes.cdi] spec-dirs, else "/etc/cdi", "/var/run/cdi")',
      ],
    },
    {
      name: "config default --help",
      input: ["config", "default", "--help"],
      expected: ["--output <file>", "(default: stdout)"],
    },
    {
      name: "hook create-symlinks --help: none, not []",
      input: ["hook", "create-symlinks", "--help"],
      expected: ["(repeatable) (default: none)"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { out, io } = fakeIo();
      strictEqual(await ctkMain(c.input, io), 0);
      // Commander wraps long lines: compare with the wrapping undone.
      const text = out.stdout.replace(/\n +/g, " ");
      for (const fragment of c.expected) ok(text.includes(fragment), `${fragment} in:\n${text}`);
      ok(!text.includes("(default: [])"), text);
    });
  }
});

Deno.test("xpu-ctk: unknown hooks warn and succeed; usage mistakes are UsageErrors", async (t) => {
  await t.step("unknown hook", async () => {
    const { out, io } = fakeIo();
    strictEqual(await ctkMain(["hook", "enable-cuda-compat", "--x"], io), 0);
    match(out.stderr, /warning: unknown hook "enable-cuda-compat"/);
    strictEqual(out.stdout, "");
  });
  await t.step("unknown command", async () => {
    const { io } = fakeIo();
    await rejects(
      ctkMain(["frobnicate"], io),
      (e: unknown) => e instanceof UsageError && /unknown command "frobnicate"/.test(e.message),
    );
  });
  await t.step("missing option value", async () => {
    const { io } = fakeIo();
    await rejects(ctkMain(["hook", "create-symlinks", "--link"], io), UsageError);
  });
  await t.step("malformed --link", async () => {
    const { io } = fakeIo("{}");
    await rejects(ctkMain(["hook", "create-symlinks", "--link", "a:b"], io), UsageError);
  });
  for (const flag of ["--version", "-v"]) {
    await t.step(`${flag}: "xpu-ctk version <VERSION>"`, async () => {
      const { out, io } = fakeIo();
      strictEqual(await ctkMain([flag], io), 0);
      strictEqual(out.stdout, `xpu-ctk version ${VERSION}\n`);
      strictEqual(out.stderr, "");
    });
  }
});

Deno.test("xpu-ctk: every usage error is one line, values quoted, help only on --help", async (t) => {
  const cases: { name: string; input: string[]; expected: string }[] = [
    {
      name: "a suggestion is folded into the line",
      input: ["runtime", "configure", "--cofig", "/x"],
      expected: 'unknown option "--cofig" (did you mean "--config"?): ' +
        'see "xpu-ctk runtime configure --help"',
    },
    {
      name: "an unknown command with a suggestion",
      input: ["confg"],
      expected: 'unknown command "confg" (did you mean "config"?): see "xpu-ctk --help"',
    },
    {
      name: "a command group without its command lists them; no help text",
      input: ["cdi"],
      expected: '"xpu-ctk cdi" needs a command: "generate", "list" or "validate": ' +
        'see "xpu-ctk cdi --help"',
    },
    {
      name: "no command at all",
      input: [],
      expected:
        '"xpu-ctk" needs a command: "hook", "cdi", "runtime", "config", "device", "doctor", "nri-plugin" or "runtime-server": ' +
        'see "xpu-ctk --help"',
    },
    {
      name: "help for a command that does not exist",
      input: ["help", "nope"],
      expected:
        'unknown command "nope": use "hook", "cdi", "runtime", "config", "device", "doctor", "nri-plugin" or "runtime-server": ' +
        'see "xpu-ctk --help"',
    },
    {
      name: "a missing value names the option and the command's help",
      input: ["cdi", "generate", "--output"],
      expected: 'option "--output <file>" needs a value: see "xpu-ctk cdi generate --help"',
    },
    {
      name: "extra arguments are named",
      input: ["config", "default", "extra", "more"],
      expected: 'too many arguments for "xpu-ctk config default": "extra", "more": it takes ' +
        'none: see "xpu-ctk config default --help"',
    },
    {
      name: "control characters in a flag are escaped",
      input: ["--a\r\nxpu-ctk: fake line\u0007"],
      expected: 'unknown option "--a\\r\\nxpu-ctk: fake line\\u0007": see "xpu-ctk --help"',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { io, out } = fakeIo();
      const error = await assertRejectsError(() => ctkMain(c.input, io), UsageError, "");
      strictEqual(error.message, c.expected);
      strictEqual(error.exitCode, 2);
      strictEqual(out.stdout, "");
      strictEqual(out.stderr, "", "no help text with an error");
    });
  }
  await t.step("an unknown hook's name is quoted in its warning", async () => {
    const { io, out } = fakeIo();
    strictEqual(await ctkMain(["hook", "a\nb"], io), 0);
    strictEqual(out.stderr, 'xpu-ctk: warning: unknown hook "a\\nb": ignoring it\n');
  });
  await t.step("--help still prints the help, on stdout", async () => {
    const { io, out } = fakeIo();
    strictEqual(await ctkMain(["cdi", "--help"], io), 0);
    match(out.stdout, /^Usage: xpu-ctk cdi \[options\] \[command\]/);
  });
});

/** The two ways in: the command tree, and the entry's (which takes the hooks runc runs itself). */
const WAYS_IN = [
  { name: "ctkMain", run: ctkMain },
  { name: "the entry's runCtk", run: runCtk },
] as const;

Deno.test("xpu-ctk hook create-symlinks reads the state from stdin and links in the rootfs", async (t) => {
  for (const { name, run } of WAYS_IN) {
    await t.step(name, async () => {
      const bundle = Deno.makeTempDirSync({ prefix: "xpu-ctk-main-" });
      try {
        Deno.mkdirSync(`${bundle}/rootfs/x`, { recursive: true });
        Deno.writeTextFileSync(`${bundle}/rootfs/x/c`, "a file already there");
        Deno.writeTextFileSync(
          `${bundle}/config.json`,
          JSON.stringify({ root: { path: "rootfs" } }),
        );
        const { io, out } = fakeIo(
          JSON.stringify({ ociVersion: "1.0.2", id: "c", bundle, pid: 1 }),
        );
        const args = ["hook", "create-symlinks", "--link", "libxpu.so.1::/usr/lib/libxpu.so"];
        strictEqual(await run([...args, "--link=b::/x/a", "--link", "d::/x/c"], io), 0);
        strictEqual(Deno.readLinkSync(`${bundle}/rootfs/usr/lib/libxpu.so`), "libxpu.so.1");
        strictEqual(Deno.readLinkSync(`${bundle}/rootfs/x/a`), "b");
        strictEqual(
          out.stderr,
          'xpu-ctk: warning: not creating "/x/c": a file is already there\n',
        );
        await assertRejectsError(
          () => run(["hook", "create-symlinks", "--link", "no-separator"], fakeIo().io),
          UsageError,
          "no-separator",
        );
      } finally {
        Deno.removeSync(bundle, { recursive: true });
      }
    });
  }
});

Deno.test("xpu-ctk hook refuses loader variables before reading its state; the same hook works without", async (t) => {
  const bundle = Deno.makeTempDirSync({ prefix: "xpu-ctk-main-" });
  try {
    Deno.mkdirSync(`${bundle}/rootfs`);
    Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify({ root: { path: "rootfs" } }));
    const state = JSON.stringify({ ociVersion: "1.0.2", id: "c", bundle, pid: 1 });
    const args = ["hook", "create-symlinks", "--link", "libxpu.so.1::/usr/lib/libxpu.so"];
    const cases: { name: string; env: Record<string, string>; fragment: string }[] = [
      {
        name: "LD_PRELOAD from the image",
        env: { PATH: "/bin", LD_PRELOAD: "/proc/self/cwd/evil.so" },
        fragment: "Refusing to run xpu-ctk hook with LD_PRELOAD set",
      },
      {
        name: "LD_LIBRARY_PATH from the image (update-ldcache too)",
        env: { LD_LIBRARY_PATH: "/usr/lib" },
        fragment: "with LD_LIBRARY_PATH set",
      },
      { name: "LD_AUDIT", env: { LD_AUDIT: "a.so" }, fragment: "with LD_AUDIT set" },
    ];
    for (const c of cases) {
      await t.step(`hostile: ${c.name}`, async () => {
        for (const hook of [args, ["hook", "update-ldcache", "--folder", "/usr/lib"]]) {
          for (const { run } of WAYS_IN) {
            const { io, out } = fakeIo(state, c.env);
            const error = await assertRejectsError(() => run(hook, io), ExecError, c.fragment);
            ok(error.message.includes("the hook was started with the container's environment"));
            strictEqual(out.stdinRead, false, "the state is not even read");
            deepStrictEqual([...Deno.readDirSync(`${bundle}/rootfs`)], [], "nothing touched");
          }
        }
      });
    }
    await t.step("honest: the env the toolkit writes", async () => {
      for (const { run } of WAYS_IN) {
        const { io } = fakeIo(state, { PATH: HOOK_PATH, XPU_CTK_CONFIG_FILE_PATH: "/x.toml" });
        strictEqual(await run(args, io), 0);
        strictEqual(Deno.readLinkSync(`${bundle}/rootfs/usr/lib/libxpu.so`), "libxpu.so.1");
        Deno.removeSync(`${bundle}/rootfs/usr`, { recursive: true });
      }
    });
    await t.step("commands that are not hooks are not concerned", async () => {
      const { io, out } = fakeIo("", { LD_LIBRARY_PATH: "/opt/lib" });
      strictEqual(await ctkMain(["config", "default"], io), 0);
      ok(out.stdout.includes("[xpu-ctk]"));
    });
  } finally {
    Deno.removeSync(bundle, { recursive: true });
  }
});
