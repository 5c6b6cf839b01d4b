/**
 * `xpu-ctk cdi validate | list | generate` on real temp files: what the user sees on stdout and
 * stderr, and what the written spec file holds.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { parseCdiSpec } from "../../src/core/cdi/cdi_spec.ts";
import { ConfigError, RequestError, UsageError, WriteError } from "../../src/core/errors.ts";
import type { ToolIo } from "../../src/core/io/tool_io.ts";
import {
  cdiGenerate,
  cdiList,
  cdiValidate,
  type GenerateFlags,
  MAX_REPORTED_PROBLEMS,
  writeOutputFile,
} from "../../src/ctk/cdi_commands.ts";
import { assertRejectsError, assertThrowsError, type ErrorClass } from "../helpers/assert_error.ts";
import { fixtureHostFs } from "../helpers/fixture_fs.ts";
import { withTempDir, writeTree } from "../helpers/temp_dir.ts";

function fakeIo(env: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "" };
  const io: ToolIo = {
    env,
    cwd: "/",
    stdout: (text) => void (out.stdout += text),
    stderr: (text) => void (out.stderr += text),
    readStdin: () => Promise.resolve(""),
  };
  return { io, out };
}

const deepEq = isDeepStrictEqual;

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

/** A YAML spec of `kind` with one env-only device per name. */
function yamlSpec(kind: string, names: string[]): string {
  return `cdiVersion: "0.3.0"\nkind: ${kind}\ndevices:\n` +
    names.map((n) => `  - name: ${n}\n    containerEdits:\n      env: [DEV_${n}=1]\n`).join("");
}

/** A spec as an older version wrote it (hooks without env), or as this one does (`env`). */
function specWithHook(env?: string[]): string {
  const hook = { hookName: "createContainer", path: "/usr/bin/xpu-ctk", args: ["xpu-ctk"], env };
  return JSON.stringify({
    cdiVersion: "0.5.0",
    kind: "xpu.dev/xpu",
    containerEdits: { hooks: [hook] },
    devices: [{ name: "0", containerEdits: { deviceNodes: [{ path: "/dev/xpu0" }] } }],
  });
}
const CURRENT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

const JSON_SPEC = JSON.stringify({
  cdiVersion: "0.5.0",
  kind: "xpu.dev/xpu",
  devices: [
    { name: "0", containerEdits: { deviceNodes: [{ path: "/dev/xpu0" }] } },
    { name: "all", containerEdits: { deviceNodes: [{ path: "/dev/xpu0" }] } },
  ],
});

Deno.test("cdi validate", async (t) => {
  await t.step(
    "valid JSON and YAML: 0 invalid, one line each with kind, version, count",
    async () => {
      await withTempDir(async (dir) => {
        writeTree(dir, {
          "/xpu.json": JSON_SPEC,
          "/vendor.yaml": yamlSpec("vendor.com/device", ["dev1"]),
        });
        const { io, out } = fakeIo();
        strictEqual(await cdiValidate([`${dir}/xpu.json`, `${dir}/vendor.yaml`], io), 0);
        deepStrictEqual(lines(out.stdout), [
          `${dir}/xpu.json: valid, kind xpu.dev/xpu, cdiVersion 0.5.0, 2 devices`,
          `${dir}/vendor.yaml: valid, kind vendor.com/device, cdiVersion 0.3.0, 1 device`,
        ]);
        strictEqual(out.stderr, "");
      });
    },
  );

  await t.step("an invalid file: count 1, one stderr line naming the file", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/bad.yaml": 'cdiVersion: "0.3.0"\nkind: vendor.com/device\ndevices:\n  - name: dev1\n' +
          "    containerEdits:\n      env: [FOOBAR]\n",
      });
      const { io, out } = fakeIo();
      strictEqual(await cdiValidate([`${dir}/bad.yaml`], io), 1);
      strictEqual(out.stdout, "");
      const errors = lines(out.stderr);
      strictEqual(errors.length, 1, out.stderr);
      ok(errors[0].startsWith("xpu-ctk: "), errors[0]);
      ok(errors[0].includes(`"${dir}/bad.yaml", line 6`), errors[0]);
      ok(errors[0].includes('"FOOBAR" is not NAME=VALUE'), errors[0]);
    });
  });

  await t.step("every problem of a file, one line each, in document order, positions", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/bad.yaml": 'cdiVersion: "0.3.0"\nkind: vendor.com/device\ndevices:\n' +
          "  - name: dev1\n    containerEdits:\n      env: [FOOBAR, A=B, BAZ]\n" +
          "      deviceNodes:\n        - path: dev/xpu0\n          permissions: rwx\n" +
          "  - name: dev1\n    containerEdits:\n      env: [C=D]\n",
      });
      const { io, out } = fakeIo();
      strictEqual(await cdiValidate([`${dir}/bad.yaml`], io), 1);
      const errors = lines(out.stderr);
      const expected = [
        ["line 6", '"FOOBAR" is not NAME=VALUE'],
        ["line 6", '"BAZ" is not NAME=VALUE'],
        ["line 8", '"dev/xpu0" is not an absolute path'],
        ["line 9", 'has permissions "rwx"'],
        ["line 10", 'device "dev1" is defined twice'],
      ];
      strictEqual(errors.length, expected.length, out.stderr);
      for (const [i, [line, text]] of expected.entries()) {
        ok(errors[i].includes(`"${dir}/bad.yaml", ${line}`), errors[i]);
        ok(errors[i].includes(text), errors[i]);
      }
    });
  });

  await t.step("shape problems all together, without the rules that need right types", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/shape.json": JSON.stringify(
          {
            cdiVersion: "0.3.0",
            kind: "vendor.com/device",
            vendor: "x",
            devices: [{
              name: "d",
              containerEdits: { env: "A=B", deviceNodes: [{ path: "/x", uid: -1 }] },
            }],
          },
          null,
          2,
        ),
      });
      const { io, out } = fakeIo();
      strictEqual(await cdiValidate([`${dir}/shape.json`], io), 1);
      const errors = lines(out.stderr);
      strictEqual(errors.length, 3, out.stderr);
      ok(errors[0].includes('unknown field "vendor"'), errors[0]);
      ok(errors[1].includes("devices[0].containerEdits.env must be a list of strings"), errors[1]);
      ok(
        errors[2].includes("deviceNodes[0].uid must be an integer from 0 to 4294967295"),
        errors[2],
      );
    });
  });

  await t.step(
    `at most ${MAX_REPORTED_PROBLEMS} problems, then one line saying there are more`,
    async () => {
      await withTempDir(async (dir) => {
        const env = Array.from({ length: 50 }, (_, i) => `"BAD${i}"`).join(", ");
        writeTree(dir, {
          "/many.yaml": 'cdiVersion: "0.3.0"\nkind: vendor.com/device\ndevices:\n' +
            `  - name: dev1\n    containerEdits:\n      env: [${env}]\n`,
          "/good.yaml": yamlSpec("vendor.com/device", ["dev1"]),
        });
        const { io, out } = fakeIo();
        strictEqual(await cdiValidate([`${dir}/many.yaml`, `${dir}/good.yaml`], io), 1);
        const errors = lines(out.stderr);
        strictEqual(errors.length, MAX_REPORTED_PROBLEMS + 1, out.stderr);
        ok(errors[MAX_REPORTED_PROBLEMS - 1].includes('"BAD19" is not NAME=VALUE'));
        strictEqual(
          errors[MAX_REPORTED_PROBLEMS],
          `xpu-ctk: CDI spec "${dir}/many.yaml": more problems than the ${MAX_REPORTED_PROBLEMS} ` +
            "above: fix these and validate again",
        );
        // The next file is still checked.
        deepStrictEqual(lines(out.stdout), [
          `${dir}/good.yaml: valid, kind vendor.com/device, cdiVersion 0.3.0, 1 device`,
        ]);
      });
    },
  );

  await t.step(
    "a FIFO named like a spec is refused, not read (no hang); a missing one named",
    async () => {
      await withTempDir(async (dir) => {
        const fifo = `${dir}/fifo.yaml`;
        const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
        strictEqual(made.code, 0);
        const { io, out } = fakeIo();
        strictEqual(await cdiValidate([fifo, `${dir}/missing.json`], io), 2);
        const errors = lines(out.stderr);
        strictEqual(errors.length, 2, out.stderr);
        ok(errors[0].includes(`Cannot read CDI spec "${fifo}": it is a FIFO`), errors[0]);
        ok(errors[1].includes(`Cannot read CDI spec "${dir}/missing.json"`), errors[1]);
      });
    },
  );

  await t.step("a .txt file is invalid: CDI specs end in .json or .yaml", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, { "/spec.txt": JSON_SPEC });
      const { io, out } = fakeIo();
      strictEqual(await cdiValidate([`${dir}/spec.txt`], io), 1);
      strictEqual(out.stdout, "");
      deepStrictEqual(lines(out.stderr), [
        `xpu-ctk: Cannot validate "${dir}/spec.txt": CDI spec files end in .json or .yaml`,
      ]);
    });
  });

  await t.step(
    "a spec from an older version: valid, with a warning naming file and hook",
    async () => {
      await withTempDir(async (dir) => {
        writeTree(dir, { "/old.json": specWithHook(), "/new.json": specWithHook(CURRENT_ENV) });
        const { io, out } = fakeIo();
        strictEqual(await cdiValidate([`${dir}/old.json`, `${dir}/new.json`], io), 0);
        strictEqual(lines(out.stdout).length, 2, out.stdout);
        deepStrictEqual(lines(out.stderr), [
          `xpu-ctk: warning: CDI spec "${dir}/old.json": containerEdits.hooks[0] ` +
          `("/usr/bin/xpu-ctk") has no env, so runtimes start it with the container's ` +
          `environment: regenerate the spec ("xpu-ctk cdi generate") or give the hook an ` +
          `explicit env`,
        ]);
      });
    },
  );

  await t.step(
    "hostile: relative hook and container paths are invalid, the field named",
    async () => {
      await withTempDir(async (dir) => {
        const spec = JSON.parse(specWithHook(CURRENT_ENV));
        spec.containerEdits.hooks[0].path = "xpu-ctk";
        const mount = JSON.parse(specWithHook(CURRENT_ENV));
        mount.devices[0].containerEdits.mounts = [{ hostPath: "/x", containerPath: "etc/x" }];
        writeTree(dir, {
          "/hook.json": JSON.stringify(spec),
          "/mount.json": JSON.stringify(mount),
        });
        const { io, out } = fakeIo();
        strictEqual(await cdiValidate([`${dir}/hook.json`, `${dir}/mount.json`], io), 2);
        strictEqual(out.stdout, "");
        const errors = lines(out.stderr);
        strictEqual(errors.length, 2, out.stderr);
        ok(errors[0].includes('containerEdits.hooks[0].path "xpu-ctk" is not an absolute path'));
        ok(
          errors[1].includes(
            'devices[0].containerEdits.mounts[0].containerPath "etc/x" is not an absolute path',
          ),
          errors[1],
        );
      });
    },
  );

  await t.step("a mix: every file is checked, the invalid ones counted", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/a.yml": yamlSpec("vendor.com/device", ["dev1"]),
        "/b.json": JSON_SPEC,
        "/c.json": "{",
      });
      const { io, out } = fakeIo();
      const files = [`${dir}/a.yml`, `${dir}/b.json`, `${dir}/c.json`, `${dir}/missing.yaml`];
      strictEqual(await cdiValidate(files, io), 3);
      strictEqual(lines(out.stdout).length, 1);
      ok(out.stdout.startsWith(`${dir}/b.json: valid`), out.stdout);
      const errors = lines(out.stderr);
      strictEqual(errors.length, 3, out.stderr);
      ok(errors[0].includes(`"${dir}/a.yml"`), errors[0]);
      ok(errors[1].includes(`"${dir}/c.json", line 1`), errors[1]);
      ok(errors[2].includes(`${dir}/missing.yaml`), errors[2]);
    });
  });
});

Deno.test("cdi list", async (t) => {
  await t.step("qualified names sorted on stdout, nothing on stderr", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/etc/b.yaml": yamlSpec("vendor.com/device", ["zeta", "alpha"]),
        "/run/a.json": JSON_SPEC,
      });
      const { io, out } = fakeIo();
      await cdiList([`${dir}/etc`, `${dir}/run`, `${dir}/missing`], io);
      strictEqual(
        out.stdout,
        "vendor.com/device=alpha\nvendor.com/device=zeta\nxpu.dev/xpu=0\nxpu.dev/xpu=all\n",
      );
      strictEqual(out.stderr, "");
    });
  });

  await t.step("a conflict is printed once, though recorded for both files", async () => {
    await withTempDir(async (dir) => {
      const run = `${dir}/run`;
      writeTree(dir, {
        "/run/vendor1.yaml": yamlSpec("vendor1.com/device", ["dev1", "dev2"]),
        "/run/vendor1-other.yaml": yamlSpec("vendor1.com/device", ["dev1"]),
      });
      const { io, out } = fakeIo();
      await cdiList([`${dir}/etc`, run], io);
      strictEqual(out.stdout, "vendor1.com/device=dev2\n");
      deepStrictEqual(lines(out.stderr), [
        `xpu-ctk: warning: conflicting device "vendor1.com/device=dev1" ` +
        `(specs "${run}/vendor1.yaml", "${run}/vendor1-other.yaml")`,
      ]);
    });
  });

  await t.step("shadowing is a warning naming both files", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/etc/vendor1.yaml": yamlSpec("vendor1.com/device", ["dev1", "dev2"]),
        "/run/vendor1.yaml": yamlSpec("vendor1.com/device", ["dev1"]),
      });
      const { io, out } = fakeIo();
      await cdiList([`${dir}/etc`, `${dir}/run`], io);
      strictEqual(out.stdout, "vendor1.com/device=dev1\nvendor1.com/device=dev2\n");
      deepStrictEqual(lines(out.stderr), [
        `xpu-ctk: warning: "vendor1.com/device=dev1" from "${dir}/run/vendor1.yaml" shadows ` +
        `the one in "${dir}/etc/vendor1.yaml"`,
      ]);
    });
  });

  await t.step("a spec from an older version: listed, with a warning about its hook", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/etc/old.json": specWithHook(),
        "/etc/vendor.yaml": yamlSpec("vendor.com/device", ["dev1"]),
      });
      const { io, out } = fakeIo();
      await cdiList([`${dir}/etc`], io);
      strictEqual(out.stdout, "vendor.com/device=dev1\nxpu.dev/xpu=0\n");
      const warnings = lines(out.stderr);
      strictEqual(warnings.length, 1, out.stderr);
      ok(
        warnings[0].startsWith(
          `xpu-ctk: warning: CDI spec "${dir}/etc/old.json": containerEdits.hooks[0] ` +
            `("/usr/bin/xpu-ctk") has no env`,
        ),
        warnings[0],
      );
    });
  });

  await t.step("a current spec with its hook's env: no warning", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, { "/etc/new.json": specWithHook(CURRENT_ENV) });
      const { io, out } = fakeIo();
      await cdiList([`${dir}/etc`], io);
      strictEqual(out.stdout, "xpu.dev/xpu=0\n");
      strictEqual(out.stderr, "");
    });
  });

  await t.step("an invalid file is a warning naming it; the others are listed", async () => {
    await withTempDir(async (dir) => {
      writeTree(dir, {
        "/etc/bad.yaml": "xyzzy: garbled\n",
        "/etc/good.yaml": yamlSpec("vendor.com/device", ["dev1"]),
        "/etc/ignored.yml": "xyzzy: garbled\n",
      });
      const { io, out } = fakeIo();
      await cdiList([`${dir}/etc`], io);
      strictEqual(out.stdout, "vendor.com/device=dev1\n");
      const warnings = lines(out.stderr);
      strictEqual(warnings.length, 1, out.stderr);
      ok(warnings[0].startsWith("xpu-ctk: warning: "), warnings[0]);
      ok(warnings[0].includes(`"${dir}/etc/bad.yaml"`), warnings[0]);
    });
  });
});

Deno.test("cdi generate", async (t) => {
  const FS = fixtureHostFs("xpu");
  /** Runs generate in a temp dir, with no config file at the default location. */
  const generate = (dir: string, flags: GenerateFlags) => {
    const { io, out } = fakeIo({ XDG_CONFIG_HOME: `${dir}/no-xdg`, PATH: "" });
    return { run: () => cdiGenerate(flags, io, FS), out };
  };

  await t.step("the written file has mode 0644, even over a 0600 file", async () => {
    await withTempDir(async (dir) => {
      const output = `${dir}/xpu.yaml`;
      Deno.writeTextFileSync(output, "old", { mode: 0o600 });
      Deno.chmodSync(output, 0o600);
      const { run, out } = generate(dir, { output });
      await run();
      strictEqual(Deno.statSync(output).mode! & 0o7777, 0o644);
      strictEqual(out.stdout, "");
      const spec = await parseCdiSpec(Deno.readTextFileSync(output), output);
      strictEqual(spec.kind, "xpu.dev/xpu");
      deepStrictEqual(spec.devices.map((d) => d.name).slice(0, 2), ["0", "1"]);
      // The hooks name xpu-ctk where PATH would not find it, and carry their own env.
      ok(spec.containerEdits?.hooks?.every((h) => h.path === "/usr/bin/xpu-ctk"));
      strictEqual(spec.containerEdits?.hooks?.length, 2);
      ok(spec.containerEdits?.hooks?.every((h) => deepEq(h.env, CURRENT_ENV)));
      ok(out.stderr.includes('"xpu-ctk" ([xpu-ctk] path) is not an executable'), out.stderr);
    });
  });

  await t.step("--output in missing directories creates them (0755), then the file", async () => {
    await withTempDir(async (dir) => {
      const output = `${dir}/var/run/cdi/xpu.yaml`;
      const { run, out } = generate(dir, { output });
      await run();
      for (const made of [`${dir}/var`, `${dir}/var/run`, `${dir}/var/run/cdi`]) {
        const info = Deno.lstatSync(made);
        ok(info.isDirectory, made);
        strictEqual(info.mode! & 0o7777, 0o755, made);
      }
      strictEqual(Deno.statSync(output).mode! & 0o7777, 0o644);
      strictEqual((await parseCdiSpec(Deno.readTextFileSync(output), output)).kind, "xpu.dev/xpu");
      deepStrictEqual([...Deno.readDirSync(`${dir}/var/run/cdi`)].map((e) => e.name), [
        "xpu.yaml",
      ]);
      strictEqual(out.stdout, "");
    });
  });

  await t.step("a named config file that is missing: ConfigError, nothing written", async () => {
    await withTempDir(async (dir) => {
      const { io, out } = fakeIo({ XPU_CTK_CONFIG_FILE_PATH: `${dir}/missing.toml`, PATH: "" });
      await assertRejectsError(
        () => cdiGenerate({ output: `${dir}/out/xpu.yaml` }, io, FS),
        ConfigError,
        `Cannot load the config file "${dir}/missing.toml" that XPU_CTK_CONFIG_FILE_PATH ` +
          `names: no such file`,
      );
      deepStrictEqual([...Deno.readDirSync(dir)], []);
      strictEqual(out.stdout, "");
    });
  });

  await t.step("--format inferred from the extension: .json writes JSON", async () => {
    await withTempDir(async (dir) => {
      const output = `${dir}/xpu.json`;
      await generate(dir, { output }).run();
      const text = Deno.readTextFileSync(output);
      const parsed = JSON.parse(text);
      strictEqual(parsed.kind, "xpu.dev/xpu");
      deepStrictEqual(await parseCdiSpec(text, output), parsed);
      strictEqual(Deno.statSync(output).mode! & 0o7777, 0o644);
    });
  });

  await t.step("without --output: YAML on stdout, --kind used", async () => {
    await withTempDir(async (dir) => {
      const { run, out } = generate(dir, { kind: "acme.com/gpu" });
      await run();
      const spec = await parseCdiSpec(out.stdout, "<stdout>.yaml");
      strictEqual(spec.kind, "acme.com/gpu");
      deepStrictEqual([...Deno.readDirSync(dir)], []);
    });
  });

  await t.step("an absolute --hook-path is written as given", async () => {
    await withTempDir(async (dir) => {
      const { run, out } = generate(dir, { hookPath: "/opt/xpu/xpu-ctk" });
      await run();
      const spec = await parseCdiSpec(out.stdout, "<stdout>.yaml");
      ok(spec.containerEdits?.hooks?.every((h) => h.path === "/opt/xpu/xpu-ctk"));
      strictEqual(out.stderr, "");
    });
  });

  await t.step("hostile: a relative [xpu-ctk] path is a ConfigError, nothing written", async () => {
    await withTempDir(async (dir) => {
      const config = `${dir}/config.toml`;
      Deno.writeTextFileSync(config, '[xpu-ctk]\npath = "bin/xpu-ctk"\n');
      const { io, out } = fakeIo({ XPU_CTK_CONFIG_FILE_PATH: config, PATH: "" });
      const output = `${dir}/out.yaml`;
      await assertRejectsError(
        () => cdiGenerate({ output }, io, FS),
        ConfigError,
        `[xpu-ctk] path is "bin/xpu-ctk", a relative path (hooks need absolute ones): set it ` +
          `to the absolute path of xpu-ctk in "${config}", or pass --hook-path`,
      );
      strictEqual(out.stdout, "");
      deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.toml"]);
    });
  });

  const failures: {
    name: string;
    flags: GenerateFlags;
    expected: { error: ErrorClass<UsageError | RequestError>; fragment: string };
  }[] = [
    {
      name: "hostile: a relative --hook-path",
      flags: { hookPath: "xpu-ctk" },
      expected: {
        error: UsageError,
        fragment: 'Cannot use --hook-path "xpu-ctk": a hook\'s path must be absolute',
      },
    },
    {
      name: "an unknown --format",
      flags: { format: "toml" },
      expected: { error: UsageError, fragment: 'Cannot use --format "toml": use json or yaml' },
    },
    {
      name: "an invalid --kind",
      flags: { kind: "vendor.com" },
      expected: { error: UsageError, fragment: 'Cannot use --kind "vendor.com"' },
    },
    {
      name: "an unknown --profile names the known profiles",
      flags: { profile: "acme" },
      expected: {
        error: UsageError,
        fragment: 'Cannot use --profile "acme": no such device profile: use one of ' +
          '"xpu", "nvidia", "amd", "intel"',
      },
    },
    {
      name: "a relative --driver-root",
      flags: { driverRoot: "rel/root" },
      expected: {
        error: UsageError,
        fragment: 'Cannot use --driver-root "rel/root": expected an absolute path',
      },
    },
    {
      name: "a relative --dev-root",
      flags: { devRoot: "dev" },
      expected: { error: UsageError, fragment: 'Cannot use --dev-root "dev"' },
    },
    {
      name: "a profile that finds no devices (nvidia on the xpu host)",
      flags: { profile: "nvidia" },
      expected: {
        error: RequestError,
        fragment: 'the "nvidia" profile finds no device under "/"',
      },
    },
  ];
  for (const c of failures) {
    await t.step(c.name, async () => {
      await withTempDir(async (dir) => {
        const { run, out } = generate(dir, { ...c.flags, output: `${dir}/out.yaml` });
        await assertRejectsError(run, c.expected.error, c.expected.fragment);
        // Nothing is written or printed when the command fails.
        deepStrictEqual([...Deno.readDirSync(dir)], []);
        strictEqual(out.stdout, "");
      });
    });
  }
});

Deno.test("writeOutputFile: what it makes, and what it leaves when it cannot", async (t) => {
  const long = "x".repeat(300); // over NAME_MAX (255): mkdir and open fail with ENAMETOOLONG
  const cases: {
    name: string;
    input: { setup?: Parameters<typeof writeTree>[1]; path: string };
    expected: { error?: ErrorClass<UsageError | WriteError>; fragment?: string; tree: string[] };
  }[] = [
    {
      name: "an existing directory: only the file",
      input: { path: "/xpu.toml" },
      expected: { tree: ["/xpu.toml"] },
    },
    {
      name: "missing directories are created",
      input: { path: "/a/b/xpu.toml" },
      expected: { tree: ["/a", "/a/b", "/a/b/xpu.toml"] },
    },
    {
      name: "a directory that cannot be made: the ones made before are removed",
      input: { path: `/a/${long}/xpu.toml` },
      expected: {
        error: WriteError,
        fragment: `Cannot create the directory "DIR/a/${long}" for "DIR/a/${long}/xpu.toml": ` +
          "File name too long: nothing was changed",
        tree: [],
      },
    },
    {
      name: "a file that cannot be written: the directories made for it are removed",
      input: { path: `/a/b/${long}.toml` },
      expected: {
        error: WriteError,
        fragment: `Cannot write "DIR/a/b/${long}.toml": File name too long: nothing was changed`,
        tree: [],
      },
    },
    {
      name: "a file where a directory should be: WriteError naming it, nothing changed",
      input: { setup: { "/a": "a file" }, path: "/a/b/c/xpu.toml" },
      expected: {
        error: WriteError,
        fragment: 'Cannot write "DIR/a/b/c/xpu.toml": "DIR/a" is not a directory: nothing ' +
          'was changed; name a file in a directory, or move "DIR/a" away',
        tree: ["/a"],
      },
    },
    {
      name: "the file's own directory is a file",
      input: { setup: { "/a": "a file" }, path: "/a/xpu.toml" },
      expected: {
        error: WriteError,
        fragment: 'Cannot write "DIR/a/xpu.toml": "DIR/a" is not a directory',
        tree: ["/a"],
      },
    },
    {
      name: "a symbolic link to a directory is written through (/var/run -> /run)",
      input: {
        setup: { "/run/.keep": "", "/var/run": { link: "../run" } },
        path: "/var/run/cdi/x",
      },
      expected: { tree: ["/run", "/run/.keep", "/run/cdi", "/run/cdi/x", "/var", "/var/run"] },
    },
    {
      name: "a path ending in a slash names a directory",
      input: { path: "/a/" },
      expected: {
        error: UsageError,
        fragment: 'Cannot write "DIR/a/": it names a directory: name the file',
        tree: [],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        writeTree(dir, c.input.setup ?? {});
        const path = dir + c.input.path;
        if (c.expected.error === undefined) {
          writeOutputFile(path, "text\n", { mode: 0o644 });
          strictEqual(Deno.readTextFileSync(path), "text\n");
        } else {
          assertThrowsError(
            () => writeOutputFile(path, "text\n", { mode: 0o644 }),
            c.expected.error,
            c.expected.fragment!.replaceAll("DIR", dir),
          );
        }
        deepStrictEqual(treeOf(dir), c.expected.tree);
      });
    });
  }
});

/** Every path under `dir` (relative, with a leading slash), sorted. */
function treeOf(dir: string, prefix = ""): string[] {
  const paths: string[] = [];
  for (const entry of Deno.readDirSync(dir + prefix)) {
    const path = `${prefix}/${entry.name}`;
    paths.push(path);
    if (entry.isDirectory) paths.push(...treeOf(dir, path));
  }
  return paths.sort();
}

Deno.test("cdiGenerate refuses output names CDI consumers would not read", async (t) => {
  const io = {
    env: { XDG_CONFIG_HOME: "/nonexistent" },
    cwd: "/",
    stdout: () => {},
    stderr: () => {},
    readStdin: () => Promise.resolve(""),
  };
  for (
    const [name, flags, fragment] of [
      ["a .yml name", { output: "/tmp/x.yml" }, /read only \*\.json and \*\.yaml/],
      ["no extension", { output: "/tmp/x" }, /read only \*\.json and \*\.yaml/],
      [
        "--format against the name",
        { output: "/tmp/x.json", format: "yaml" },
        /the name says json/,
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      let caught: unknown;
      try {
        await cdiGenerate(
          { ...flags, driverRoot: "/", hookPath: "/usr/bin/xpu-ctk" },
          io,
          fixtureHostFs("xpu"),
        );
      } catch (error) {
        caught = error;
      }
      if (!(caught instanceof UsageError) || !fragment.test(caught.message)) {
        throw new Error(`expected a UsageError matching ${fragment}, got ${caught}`);
      }
    });
  }
});

Deno.test("cdi generate --output refuses a symbolic link; its target stays as it was", async () => {
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/host-file.yaml`, "the host's own file\n");
    Deno.symlinkSync(`${dir}/host-file.yaml`, `${dir}/xpu.yaml`);
    const { io, out } = fakeIo({ XDG_CONFIG_HOME: `${dir}/no-xdg`, PATH: "" });
    await assertRejectsError(
      () => cdiGenerate({ output: `${dir}/xpu.yaml` }, io, fixtureHostFs("xpu")),
      UsageError,
      `Cannot write "${dir}/xpu.yaml": it is a symbolic link (to "${dir}/host-file.yaml"): ` +
        `files are never written through a link; name the file itself or remove the link`,
    );
    strictEqual(Deno.readTextFileSync(`${dir}/host-file.yaml`), "the host's own file\n");
    ok(Deno.lstatSync(`${dir}/xpu.yaml`).isSymlink);
    strictEqual(out.stdout, "");
  });
});
