import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { REPO_ROOT } from "../../scripts/container_lab.ts";
import { defaultConfig } from "../../src/core/config.ts";
import { parseConfig } from "../../src/core/config_file.ts";
import { ExecError, UsageError } from "../../src/core/errors.ts";
import { HOOK_PATH } from "../../src/core/hook_env.ts";
import { ctkMain } from "../../src/ctk/main.ts";
import { VERSION } from "../../src/core/version.ts";
import { assertRejectsError } from "../helpers/assert_error.ts";
import { assertGolden } from "../helpers/golden.ts";

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
      (e: unknown) => e instanceof UsageError && /unknown command 'frobnicate'/.test(e.message),
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
  await t.step("--version", async () => {
    const { out, io } = fakeIo();
    strictEqual(await ctkMain(["--version"], io), 0);
    strictEqual(out.stdout.trim(), VERSION);
  });
});

Deno.test("xpu-ctk hook create-symlinks reads the state from stdin and links in the rootfs", async () => {
  const bundle = Deno.makeTempDirSync({ prefix: "xpu-ctk-main-" });
  try {
    Deno.mkdirSync(`${bundle}/rootfs`);
    Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify({ root: { path: "rootfs" } }));
    const { io } = fakeIo(JSON.stringify({ ociVersion: "1.0.2", id: "c", bundle, pid: 1 }));
    strictEqual(
      await ctkMain([
        "hook",
        "create-symlinks",
        "--link",
        "libxpu.so.1::/usr/lib/libxpu.so",
        "--link",
        "b::/x/a",
      ], io),
      0,
    );
    strictEqual(Deno.readLinkSync(`${bundle}/rootfs/usr/lib/libxpu.so`), "libxpu.so.1");
    strictEqual(Deno.readLinkSync(`${bundle}/rootfs/x/a`), "b");
  } finally {
    Deno.removeSync(bundle, { recursive: true });
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
          const { io, out } = fakeIo(state, c.env);
          const error = await assertRejectsError(() => ctkMain(hook, io), ExecError, c.fragment);
          ok(error.message.includes("the hook was started with the container's environment"));
          strictEqual(out.stdinRead, false, "the state is not even read");
          deepStrictEqual([...Deno.readDirSync(`${bundle}/rootfs`)], [], "nothing touched");
        }
      });
    }
    await t.step("honest: the env the toolkit writes", async () => {
      const { io } = fakeIo(state, { PATH: HOOK_PATH, XPU_CTK_CONFIG_FILE_PATH: "/x.toml" });
      strictEqual(await ctkMain(args, io), 0);
      strictEqual(Deno.readLinkSync(`${bundle}/rootfs/usr/lib/libxpu.so`), "libxpu.so.1");
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
