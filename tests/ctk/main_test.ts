import { deepStrictEqual, match, rejects, strictEqual } from "node:assert/strict";
import { defaultConfig } from "../../src/core/config.ts";
import { parseConfig } from "../../src/core/config_file.ts";
import { UsageError } from "../../src/core/errors.ts";
import { ctkMain } from "../../src/ctk/main.ts";
import { VERSION } from "../../src/core/version.ts";

function fakeIo(stdin = "") {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      env: {},
      cwd: "/",
      stdout: (text: string) => void (out.stdout += text),
      stderr: (text: string) => void (out.stderr += text),
      readStdin: () => Promise.resolve(stdin),
    },
  };
}

Deno.test("xpu-ctk config default prints a config that reads back as the defaults", async () => {
  const { out, io } = fakeIo();
  strictEqual(await ctkMain(["config", "default"], io), 0);
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
