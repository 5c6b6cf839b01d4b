/**
 * `xpu-ctk cdi validate | list | generate` on real temp files: what the user sees on stdout and
 * stderr, and what the written spec file holds.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseCdiSpec } from "../../src/core/cdi_spec.ts";
import { RequestError, UsageError } from "../../src/core/errors.ts";
import type { ToolIo } from "../../src/core/tool_io.ts";
import {
  cdiGenerate,
  cdiList,
  cdiValidate,
  type GenerateFlags,
} from "../../src/ctk/cdi_commands.ts";
import { assertRejectsError, type ErrorClass } from "../helpers/assert_error.ts";
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

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

/** A YAML spec of `kind` with one env-only device per name. */
function yamlSpec(kind: string, names: string[]): string {
  return `cdiVersion: "0.3.0"\nkind: ${kind}\ndevices:\n` +
    names.map((n) => `  - name: ${n}\n    containerEdits:\n      env: [DEV_${n}=1]\n`).join("");
}

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
  /** Runs generate in a temp dir whose config file does not exist. */
  const generate = (dir: string, flags: GenerateFlags) => {
    const { io, out } = fakeIo({ XPU_CTK_CONFIG_FILE_PATH: `${dir}/missing.toml`, PATH: "" });
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
      // The hooks name xpu-ctk where PATH would not find it.
      ok(spec.containerEdits?.hooks?.every((h) => h.path === "/usr/bin/xpu-ctk"));
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

  const failures: {
    name: string;
    flags: GenerateFlags;
    expected: { error: ErrorClass<UsageError | RequestError>; fragment: string };
  }[] = [
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

Deno.test("cdiGenerate refuses output names CDI consumers would not read", async (t) => {
  const io = {
    env: { XPU_CTK_CONFIG_FILE_PATH: "/nonexistent/config.toml" },
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
