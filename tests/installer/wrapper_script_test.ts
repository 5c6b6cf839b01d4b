/**
 * The installer's wrapper scripts: byte-compared with goldens under `fixtures/installer/wrappers/`
 * (`XPU_UPDATE_GOLDEN=1` rewrites them), and run by `/bin/sh` from a dir whose name has a blank,
 * a quote and a `$` to show the quoting holds.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { toolkitLayout } from "../../src/installer/toolkit_layout.ts";
import { renderWrapper, shellQuote } from "../../src/installer/wrapper_script.ts";
import { encodeFastPathRecord } from "../../src/core/fast_path/fast_path_record.ts";
import { assertGolden } from "../helpers/golden.ts";
import { presentKernelModule } from "../helpers/lab.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const GOLDEN = `${REPO_ROOT}/fixtures/installer/wrappers`;
const ROOTS = {
  plain: "/usr/local/xpu/toolkit",
  quoted: "/opt/tool kit's dir/toolkit/",
};

Deno.test("wrappers match their goldens for a plain and a quoted toolkit root", async (t) => {
  const layout = toolkitLayout({ kernelModule: "xpu", fallbackRuntime: "runc" });
  for (const [label, root] of Object.entries(ROOTS)) {
    for (const wrapper of layout.wrappers) {
      await t.step(`${label}/${wrapper.name}`, () => {
        assertGolden(`${GOLDEN}/${label}/${wrapper.name}`, renderWrapper(wrapper, root));
      });
    }
  }
  await t.step("fast path: the runtime wrappers are bash and look at their record", () => {
    const fast = toolkitLayout({ kernelModule: "xpu", fallbackRuntime: "runc", fastPath: true });
    for (const [label, root] of Object.entries(ROOTS)) {
      assertGolden(
        `${GOLDEN}/fast-path/${label}/xpu-container-runtime`,
        renderWrapper(fast.wrappers[0], root),
      );
    }
    // Only the runtimes take it: the other tools' wrappers are the same as without.
    const plain = toolkitLayout({ kernelModule: "xpu", fallbackRuntime: "runc" });
    deepStrictEqual(
      fast.wrappers.map((w) => [w.name, w.fastPath !== undefined]),
      plain.wrappers.map((w) => [
        w.name,
        w.name.startsWith("xpu-container-runtime.") ||
        w.name === "xpu-container-runtime",
      ]),
    );
  });
  await t.step("no module check when the module is empty", () => {
    const bare = toolkitLayout({ kernelModule: "", fallbackRuntime: "runc" });
    assertGolden(
      `${GOLDEN}/no-module-check/xpu-container-runtime`,
      renderWrapper(bare.wrappers[0], ROOTS.plain),
    );
  });
});

Deno.test("shellQuote survives what sh would otherwise expand or split", async () => {
  const values = ["plain", "", "it's", "a b", "$HOME", "`id`", '"x"', "back\\slash", "'"];
  const script = values.map((v) => `printf '%s\\n' ${shellQuote(v)}`).join("\n");
  const out = await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output();
  deepStrictEqual(new TextDecoder().decode(out.stdout).split("\n").slice(0, -1), values);
});

async function runSh(path: string, args: string[]) {
  const out = await new Deno.Command(path, {
    args,
    env: { PATH: "/usr/bin:/bin" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("a wrapper in a dir named with a blank, a quote and a $ runs its .real", async () => {
  await withTempDir(async (base) => {
    const dir = `${base}/tool kit's $HOME`;
    Deno.mkdirSync(dir);
    const layout = toolkitLayout({ kernelModule: presentKernelModule(), fallbackRuntime: "false" });
    for (const wrapper of layout.wrappers) {
      Deno.writeTextFileSync(`${dir}/${wrapper.name}`, renderWrapper(wrapper, dir));
      Deno.chmodSync(`${dir}/${wrapper.name}`, 0o755);
    }
    const real = [
      "#!/bin/sh",
      'echo "real: $0"',
      'for a in "$@"; do echo "arg: $a"; done',
      'echo "path: ${PATH%%:*}"',
      'echo "config: $XPU_CTK_CONFIG_FILE_PATH"',
      'echo "ld: $LD_LIBRARY_PATH"',
    ].join("\n");
    for (const name of ["xpu-container-runtime", "xpu-container-cli"]) {
      Deno.writeTextFileSync(`${dir}/${name}.real`, real + "\n");
      Deno.chmodSync(`${dir}/${name}.real`, 0o755);
    }
    const runtime = await runSh(`${dir}/xpu-container-runtime`, ["state", "a b", "it's"]);
    strictEqual(runtime.stderr, "");
    strictEqual(
      runtime.stdout,
      [
        `real: ${dir}/xpu-container-runtime.real`,
        "arg: state",
        "arg: a b",
        "arg: it's",
        `path: ${dir}`,
        `config: ${dir}/.config/xpu-container-runtime/config.toml`,
        "ld: ",
      ].join("\n") + "\n",
    );
    const cli = await runSh(`${dir}/xpu-container-cli`, ["info"]);
    strictEqual(cli.code, 0, cli.stderr);
    strictEqual(cli.stdout.split("\n").find((l) => l.startsWith("ld: ")), `ld: ${dir}`);
    strictEqual(cli.stdout.split("\n").find((l) => l.startsWith("config: ")), "config: ");
  });
});

Deno.test("a runtime wrapper without its module execs the fallback; the message goes to stderr", async () => {
  await withTempDir(async (dir) => {
    const fallback = `${dir}/fallback runc`;
    Deno.writeTextFileSync(fallback, '#!/bin/sh\necho "fallback: $*"\n');
    Deno.chmodSync(fallback, 0o755);
    const layout = toolkitLayout({ kernelModule: "xpu_not_loaded", fallbackRuntime: fallback });
    const wrapper = layout.wrappers.find((w) => w.name === "xpu-container-runtime.cdi")!;
    Deno.writeTextFileSync(`${dir}/w`, renderWrapper(wrapper, dir));
    Deno.chmodSync(`${dir}/w`, 0o755);
    const run = await runSh(`${dir}/w`, ["state", "c1"]);
    strictEqual(run.code, 0);
    strictEqual(run.stdout, "fallback: state c1\n");
    strictEqual(
      run.stderr,
      `xpu-container-runtime.cdi: kernel module xpu_not_loaded is not loaded: running ${fallback} directly\n`,
    );
  });
});

Deno.test("a fast-path wrapper in a dir named with a blank, a quote and a $: state execs runc, create the .real", async () => {
  await withTempDir(async (base) => {
    const dir = `${base}/tool kit's $HOME`;
    Deno.mkdirSync(`${dir}/.config/xpu-container-runtime`, { recursive: true });
    Deno.mkdirSync(`${base}/bin`);
    const layout = toolkitLayout({
      kernelModule: presentKernelModule(),
      fallbackRuntime: "false",
      fastPath: true,
    });
    const wrapper = layout.wrappers.find((w) => w.name === "xpu-container-runtime")!;
    Deno.writeTextFileSync(`${dir}/xpu-container-runtime`, renderWrapper(wrapper, dir));
    Deno.chmodSync(`${dir}/xpu-container-runtime`, 0o755);
    Deno.writeTextFileSync(`${dir}/xpu-container-runtime.real`, '#!/bin/sh\necho "real: $*"\n');
    Deno.chmodSync(`${dir}/xpu-container-runtime.real`, 0o755);
    const runc = `${base}/bin/xpu-test-runc`;
    Deno.writeTextFileSync(runc, '#!/bin/sh\necho "runc: $*"\n');
    Deno.chmodSync(runc, 0o755);
    const configPath = `${dir}/.config/xpu-container-runtime/config.toml`;
    const text = `[xpu-container-runtime]\nruntimes = [${JSON.stringify(runc)}]\n`;
    Deno.writeTextFileSync(configPath, text);
    Deno.writeFileSync(
      `${dir}/xpu-container-runtime.fast-path`,
      encodeFastPathRecord({
        configPath,
        configBytes: new TextEncoder().encode(text),
        runtimes: [runc],
        logLevel: "info",
      })!,
    );
    const state = await runSh(`${dir}/xpu-container-runtime`, ["state", "a b"]);
    deepStrictEqual(state, { code: 0, stdout: "runc: state a b\n", stderr: "" });
    const create = await runSh(`${dir}/xpu-container-runtime`, ["create", "--bundle", "b", "c"]);
    deepStrictEqual(create, { code: 0, stdout: "real: create --bundle b c\n", stderr: "" });
  });
});
