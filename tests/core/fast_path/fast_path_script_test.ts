/**
 * The fast path's bash against the shim's own choice: for each case the launcher either execs
 * the runtime `findFirstExecutable` picks for the same config, PATH and files, with the same
 * argv, stdin, exit status and output, or falls through to the shim (saying whether it asks
 * the shim to rewrite the record).
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  launcherRecordPath,
  renderFastPath,
} from "../../../src/core/fast_path/fast_path_script.ts";
import { renderCompiledRuntimeLauncher, renderLauncher } from "../../../scripts/build/launcher.ts";
import { renderWrapper } from "../../../src/installer/wrapper_script.ts";
import {
  encodeFastPathRecord,
  FAST_PATH_RECORD_ENV,
} from "../../../src/core/fast_path/fast_path_record.ts";
import { findFirstExecutable } from "../../../src/core/io/executable_lookup.ts";
import { parseConfig } from "../../../src/core/config/config_file.ts";
import { blockingParent } from "../../helpers/exec_handover.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const encoder = new TextEncoder();

/** A launcher: the fast path, then what the shim would be (prints SLOW and the variable). */
function writeLauncher(dir: string, record: string): string {
  const path = `${dir}/launcher`;
  Deno.writeTextFileSync(
    path,
    [
      "#!/bin/bash",
      ...renderFastPath(`'${record}'`),
      `echo "SLOW \${${FAST_PATH_RECORD_ENV}-unset} $#"`,
      "exit 99",
      "",
    ].join("\n"),
  );
  Deno.chmodSync(path, 0o755);
  return path;
}

/** A stand-in runtime: prints its name, argv and stdin, writes to stderr, exits 7. */
function writeRuntime(path: string, name: string): void {
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh\necho "RAN ${name} $0 $*"\nread -r line\necho "in: $line"\necho err >&2\nexit 7\n`,
  );
  Deno.chmodSync(path, 0o755);
}

function recordFor(configPath: string, text: string | undefined): Uint8Array {
  const config = text === undefined ? undefined : parseConfig(text, configPath).config;
  return encodeFastPathRecord({
    configPath,
    configBytes: text === undefined ? undefined : encoder.encode(text),
    runtimes: config?.runtime.runtimes ?? ["runc", "crun"],
    logLevel: config?.runtime.logLevel ?? "info",
  })!;
}

async function run(
  launcher: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(launcher, {
    args,
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  // The shim's stand-in exits without reading: a closed pipe is no failure here.
  await writer.write(encoder.encode("hello\n")).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("fast path: which runtime, or the shim, for each config and PATH", async (t) => {
  await withTempDir(async (dir) => {
    const config = `${dir}/etc/config.toml`;
    const record = `${dir}/var/record`;
    Deno.mkdirSync(`${dir}/etc`);
    Deno.mkdirSync(`${dir}/var`);
    const launcher = writeLauncher(dir, record);
    writeRuntime(`${dir}/bin1/runc`, "bin1-runc");
    writeRuntime(`${dir}/bin2/runc`, "bin2-runc");
    writeRuntime(`${dir}/bin2/crun`, "bin2-crun");
    writeRuntime(`${dir}/abs/my-runc`, "abs-my-runc");
    for (const [bin, name] of [["bin1", "xpurt-a"], ["bin2", "xpurt-a"], ["bin2", "xpurt-b"]]) {
      writeRuntime(`${dir}/${bin}/${name}`, `${bin}-${name}`);
    }
    Deno.mkdirSync(`${dir}/bin3/xpurt-a`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/bin3/xpurt-b`, "#!/bin/sh\n");
    Deno.mkdirSync(`${dir}/bin3/runc`, { recursive: true }); // a dir named runc: not a program
    Deno.writeTextFileSync(`${dir}/bin3/crun`, "#!/bin/sh\n"); // no execute bit

    interface Case {
      name: string;
      configText?: string;
      /** The record's config text; "same" = configText. */
      recordText?: string | "same" | "none";
      path: string;
      args?: string[];
      env?: Record<string, string>;
      /** `fast` = a runtime ran (which one: findFirstExecutable's); else the shim, and the var. */
      expected: "fast" | { slow: "record" | "unset" };
    }
    const runtimes = (list: string[]) =>
      `[xpu-container-runtime]\nruntimes = ${JSON.stringify(list)}\n`;
    const cases: Case[] = [
      {
        name: "first PATH dir wins",
        configText: runtimes(["runc"]),
        path: `${dir}/bin1:${dir}/bin2`,
        expected: "fast",
      },
      {
        name: "PATH order, trailing slashes and empty entries",
        configText: runtimes(["runc"]),
        path: `::${dir}/bin2//:${dir}/bin1`,
        expected: "fast",
      },
      {
        name: "a dir and a file without x bit are skipped",
        configText: runtimes(["runc", "crun"]),
        path: `${dir}/bin3:${dir}/bin2`,
        expected: "fast",
      },
      {
        name: "the first runtime missing everywhere: the second",
        configText: runtimes(["no-such-runtime", "crun"]),
        path: `${dir}/bin2`,
        expected: "fast",
      },
      {
        name: "an absolute runtime path",
        configText: runtimes([`${dir}/abs/my-runc`, "runc"]),
        path: `${dir}/bin1`,
        expected: "fast",
      },
      {
        name: "none found: the shim says so",
        configText: runtimes(["no-such-runtime"]),
        path: `${dir}/bin1`,
        expected: { slow: "unset" },
      },
      {
        name: "create goes to the shim",
        configText: runtimes(["runc"]),
        path: `${dir}/bin1`,
        args: ["--root", "/r", "create", "--bundle", "b", "id"],
        expected: { slow: "unset" },
      },
      {
        name: "--version goes to the shim",
        configText: runtimes(["runc"]),
        path: `${dir}/bin1`,
        args: ["--version"],
        expected: { slow: "unset" },
      },
      {
        name: "--debug goes to the shim",
        configText: runtimes(["runc"]),
        path: `${dir}/bin1`,
        args: ["--debug", "state", "x"],
        expected: { slow: "unset" },
      },
      {
        name: "config edited since the record: the shim, asked to rewrite it",
        configText: runtimes(["crun"]),
        recordText: runtimes(["runc"]),
        path: `${dir}/bin2`,
        expected: { slow: "record" },
      },
      {
        name: "one byte appended: the shim, asked to rewrite it",
        configText: runtimes(["runc"]) + "\n",
        recordText: runtimes(["runc"]),
        path: `${dir}/bin2`,
        expected: { slow: "record" },
      },
      {
        name: "no record yet: the shim, asked to write one",
        configText: runtimes(["runc"]),
        recordText: "none",
        path: `${dir}/bin2`,
        expected: { slow: "record" },
      },
      {
        name: "log-level debug: the shim, nothing to rewrite",
        configText: `[xpu-container-runtime]\nlog-level = "debug"\n`,
        path: `${dir}/bin2`,
        expected: { slow: "unset" },
      },
      {
        name: "a config named by another path than the record's: the shim",
        configText: runtimes(["runc"]),
        path: `${dir}/bin2`,
        env: { XPU_CTK_CONFIG_FILE_PATH: `${dir}/etc/other.toml` },
        expected: { slow: "record" },
      },
      {
        name: "XDG_CONFIG_HOME alone: the shim",
        configText: runtimes(["runc"]),
        path: `${dir}/bin2`,
        env: { XDG_CONFIG_HOME: `${dir}/xdg`, XPU_CTK_CONFIG_FILE_PATH: "" },
        expected: { slow: "unset" },
      },
      {
        name: "an outer launcher already looked: the shim",
        configText: runtimes(["runc"]),
        path: `${dir}/bin2`,
        env: { [FAST_PATH_RECORD_ENV]: "/elsewhere" },
        expected: { slow: "record" },
      },
      {
        name: "the argument after a flag value is plain: state",
        configText: runtimes(["runc"]),
        path: `${dir}/bin1`,
        args: ["--root", "/run/runc", "--log", "/l", "--log-format", "json", "state", "c1"],
        expected: "fast",
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        Deno.writeTextFileSync(config, c.configText ?? "");
        const recordText = c.recordText === undefined || c.recordText === "same"
          ? c.configText
          : c.recordText;
        try {
          Deno.removeSync(record);
        } catch { /* none yet */ }
        if (recordText !== "none") Deno.writeFileSync(record, recordFor(config, recordText));
        const env = { PATH: c.path, XPU_CTK_CONFIG_FILE_PATH: config, ...c.env };
        const args = c.args ?? ["state", "c1"];
        const result = await run(launcher, args, env);
        if (c.expected === "fast") {
          const parsed = parseConfig(c.configText ?? "", config).config;
          const chosen = findFirstExecutable(parsed.runtime.runtimes, { path: c.path });
          strictEqual(typeof chosen, "string", "the shim would find a runtime");
          const name = chosen!.slice(dir.length + 1).replace("/", "-");
          deepStrictEqual(result, {
            code: 7,
            stdout: `RAN ${name} ${chosen} ${args.join(" ")}\nin: hello\n`,
            stderr: "err\n",
          });
        } else {
          const variable = c.expected.slow === "record"
            ? (c.env?.[FAST_PATH_RECORD_ENV] ?? record)
            : "unset";
          deepStrictEqual(result, {
            code: 99,
            stdout: `SLOW ${variable} ${args.length}\n`,
            stderr: "",
          });
        }
      });
    }

    await t.step("60 drawn PATHs and runtime lists: the same choice as the shim", async () => {
      let seed = 20261202;
      const draw = (n: number) => {
        seed = (seed * 48271) % 2147483647;
        return Math.floor((seed / 2147483647) * n);
      };
      const dirs = ["bin1", "bin1/", "bin2", "bin3", "nowhere", "", "/", "bin2//"];
      // Names no standard dir has, so every pick is a stand-in (the standard dirs: below).
      const names = [
        "xpurt-a",
        "xpurt-b",
        "no-such",
        `${dir}/abs/my-runc`,
        `${dir}/bin3/xpurt-b`,
        "",
      ];
      for (let i = 0; i < 60; i++) {
        const path = Array.from({ length: 1 + draw(4) }, () => {
          const d = dirs[draw(dirs.length)];
          return d === "" || d === "/" ? d : `${dir}/${d}`;
        }).join(":");
        const list = Array.from({ length: 1 + draw(3) }, () => names[draw(names.length)]);
        const text = runtimes(list);
        Deno.writeTextFileSync(config, text);
        Deno.writeFileSync(record, recordFor(config, text));
        const env = { PATH: path, XPU_CTK_CONFIG_FILE_PATH: config };
        const result = await run(launcher, ["delete", "--force", "c1"], env);
        const chosen = findFirstExecutable(list, { path });
        const what = `PATH=${path} runtimes=${JSON.stringify(list)}`;
        if (chosen === undefined) {
          strictEqual(result.stdout, "SLOW unset 3\n", what);
        } else {
          strictEqual(result.stdout.split("\n")[0].split(" ")[2], chosen, what);
        }
      }
    });

    await t.step("a runtime found only in a standard dir (the real runc)", async () => {
      const text = runtimes(["runc"]);
      Deno.writeTextFileSync(config, text);
      Deno.writeFileSync(record, recordFor(config, text));
      const args = ["--root", `${dir}/runc-root`, "list", "--format", "json"];
      const result = await run(launcher, args, {
        PATH: `${dir}/nowhere`,
        XPU_CTK_CONFIG_FILE_PATH: config,
      });
      const runc = findFirstExecutable(["runc"], { path: `${dir}/nowhere` })!;
      const direct = await new Deno.Command(runc, { args, stdin: "null" }).output();
      deepStrictEqual(result, {
        code: direct.code,
        stdout: new TextDecoder().decode(direct.stdout),
        stderr: new TextDecoder().decode(direct.stderr),
      });
    });

    await t.step(
      "a caller that blocks or ignores a signal: the shim, which resets them",
      async () => {
        Deno.writeTextFileSync(config, runtimes(["xpurt-a"]));
        Deno.writeFileSync(record, recordFor(config, runtimes(["xpurt-a"])));
        writeRuntime(`${dir}/sig/xpurt-a`, "a");
        const env = { PATH: `${dir}/sig:/usr/bin:/bin`, XPU_CTK_CONFIG_FILE_PATH: config };
        const clean = await run(launcher, ["state", "c1"], env);
        strictEqual(clean.stdout.split(" ").slice(0, 2).join(" "), "RAN a", "a clean caller");
        const ignoring = ["perl", "-e", '$SIG{USR2} = "IGNORE"; exec { $ARGV[0] } @ARGV or die'];
        for (const parent of [blockingParent(), ignoring]) {
          const result = await run(parent[0], [...parent.slice(1), launcher, "state", "c1"], env);
          deepStrictEqual(result, { code: 99, stdout: "SLOW unset 2\n", stderr: "" }, parent[2]);
        }
      },
    );

    await t.step("a record not owned by the caller is not used", async () => {
      Deno.writeTextFileSync(config, runtimes(["runc"]));
      Deno.writeFileSync(record, recordFor(config, runtimes(["runc"])));
      Deno.chownSync(record, 65534, 65534);
      const result = await run(launcher, ["state", "c1"], {
        PATH: `${dir}/bin1`,
        XPU_CTK_CONFIG_FILE_PATH: config,
      });
      deepStrictEqual(result, { code: 99, stdout: `SLOW ${record} 2\n`, stderr: "" });
    });

    await t.step("a NUL in the config file: the shim", async () => {
      const text = runtimes(["runc"]);
      Deno.writeFileSync(record, recordFor(config, text));
      Deno.writeFileSync(config, new Uint8Array([...encoder.encode(text), 0, 0x41]));
      const result = await run(launcher, ["state", "c1"], {
        PATH: `${dir}/bin1`,
        XPU_CTK_CONFIG_FILE_PATH: config,
      });
      deepStrictEqual(result, { code: 99, stdout: `SLOW ${record} 2\n`, stderr: "" });
    });

    await t.step("no config file at the system path: the record says absent", async () => {
      // The system path cannot be faked here; an absent record for another path never matches.
      Deno.removeSync(config);
      Deno.writeFileSync(record, recordFor(config, undefined));
      const result = await run(launcher, ["state", "c1"], {
        PATH: `${dir}/bin1`,
        XPU_CTK_CONFIG_FILE_PATH: config,
      });
      // A named missing file is the shim's error to give, never the fast path's.
      deepStrictEqual(result, { code: 99, stdout: `SLOW ${record} 2\n`, stderr: "" });
    });
  });
});

Deno.test("launcherRecordPath: where each installed form keeps its record", () => {
  strictEqual(
    launcherRecordPath(renderLauncher("xpu-container-runtime"), "/opt/xpu/xpu-container-runtime"),
    "/opt/xpu/lib/runtime.fast-path",
  );
  strictEqual(
    launcherRecordPath(
      renderLauncher("xpu-container-runtime"),
      "/usr/bin/xpu-container-runtime",
      "/opt/xpu/xpu-container-runtime",
    ),
    "/opt/xpu/lib/runtime.fast-path",
    "linked: beside the file the link leads to",
  );
  strictEqual(
    launcherRecordPath(
      renderLauncher("xpu-container-runtime", { home: "/usr/lib/x" }),
      "/usr/bin/xpu-container-runtime",
    ),
    "/usr/lib/x/lib/runtime.fast-path",
    "a launcher that names its dir",
  );
  strictEqual(
    launcherRecordPath(
      renderCompiledRuntimeLauncher("/usr/lib/x/xpu-container-runtime", "'/var/lib/x/it'\\''s'"),
      "/usr/bin/xpu-container-runtime",
    ),
    "/var/lib/x/it's",
  );
  strictEqual(
    launcherRecordPath(
      ["#!/bin/bash", ...renderFastPath('"$HOME/rec"'), "exec runc"].join("\n"),
      "/x",
    ),
    undefined,
    "a record path it cannot tell",
  );
  strictEqual(launcherRecordPath(renderLauncher("xpu-ctk"), "/opt/xpu/xpu-ctk"), null);
  strictEqual(launcherRecordPath("#!/bin/sh\nexec deno run shim.ts\n", "/x"), null);
  strictEqual(launcherRecordPath("\x7fELF\x02\x01", "/x"), null);
  const wrapper = renderWrapper({
    name: "xpu-container-runtime",
    env: {},
    fastPath: { record: "@destDir@/xpu-container-runtime.fast-path" },
  }, "/usr/local/my 'xpu'/toolkit");
  strictEqual(
    launcherRecordPath(wrapper, "/usr/local/my 'xpu'/toolkit/xpu-container-runtime"),
    "/usr/local/my 'xpu'/toolkit/xpu-container-runtime.fast-path",
  );
});
