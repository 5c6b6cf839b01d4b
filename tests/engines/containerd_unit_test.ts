/**
 * containerd's pieces one by one: parse errors with their position, the config version, which
 * runtime's settings a handler inherits, `imports` globs that already cover the drop-in, and an
 * unconfigure without memory.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { ConfigError } from "../../src/core/errors.ts";
import {
  configureContainerd,
  configVersion,
  CRI_PLUGIN,
  parseContainerdConfig,
  RUNC_V2,
  runtimeTable,
  unconfigureContainerd,
} from "../../src/engines/containerd.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const CONFIG = "/etc/containerd/config.toml";
const DROP_IN = "/etc/containerd/conf.d/99-xpu.toml";
const HANDLER = { name: "xpu", path: "/usr/local/xpu/toolkit/xpu-container-runtime" };

/** smol-toml's tables have a null prototype; compare plain data. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

Deno.test("parseContainerdConfig: a syntax error names the file, line and column", async (t) => {
  const cases = [
    { name: "a value missing", input: "version = 2\nb = = 2\n", line: 2, column: 5 },
    { name: "an unclosed header", input: "[plugins\n", line: 1, column: 9 },
    { name: "a key defined twice", input: "a = 1\na = 2\n", line: 2, column: 1 },
    {
      name: "an unterminated string",
      input: 'version = 2\n[x]\nname = "abc\n',
      line: 3,
      column: 12,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => parseContainerdConfig(c.input, CONFIG),
        ConfigError,
        `Cannot parse "${CONFIG}", line ${c.line}, column ${c.column}: `,
      );
      strictEqual(error.path, CONFIG);
      strictEqual(error.line, c.line);
      strictEqual(error.column, c.column);
      ok(!error.message.includes("\n"), "one line");
    });
  }
  await t.step("valid text parses", () => {
    deepStrictEqual(plain(parseContainerdConfig("version = 3\n[a]\nb = 1\n", CONFIG)), {
      version: 3,
      a: { b: 1 },
    });
  });
});

Deno.test("configVersion", async (t) => {
  const cases = [
    { name: "missing is version 1", input: {}, expected: 1 },
    { name: "1", input: { version: 1 }, expected: 1 },
    { name: "2", input: { version: 2 }, expected: 2 },
    { name: "3", input: { version: 3 }, expected: 3 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(configVersion(c.input, CONFIG), c.expected));
  }
  const errors = [
    { name: 'the string "4"', input: { version: "4" }, fragment: 'config version "4" is not 1' },
    { name: "4", input: { version: 4 }, fragment: "config version 4 is not 1, 2 or 3" },
    { name: 'the string "2"', input: { version: "2" }, fragment: 'config version "2"' },
  ];
  for (const c of errors) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => configVersion(c.input, CONFIG),
        ConfigError,
        c.fragment,
      );
      strictEqual(error.path, CONFIG);
      ok(error.message.includes(`"${CONFIG}"`), error.message);
      ok(error.message.includes("containerd config migrate"), error.message);
    });
  }
});

Deno.test("runtimeTable: the default runtime's settings, our binary, runc.v2", async (t) => {
  const cri = CRI_PLUGIN[2];
  const doc = (runtimes: Record<string, unknown>, defaultName?: string) => ({
    version: 2,
    plugins: {
      "io.containerd.grpc.v1.cri": {
        containerd: {
          ...(defaultName === undefined ? {} : { default_runtime_name: defaultName }),
          runtimes,
        },
      },
    },
  });
  const cases = [
    {
      name: "the default runtime's options are copied, BinaryName is ours",
      input: doc({
        runc: { runtime_type: RUNC_V2, options: { SystemdCgroup: true } },
        custom: {
          runtime_type: RUNC_V2,
          pod_annotations: ["a.b/*"],
          options: { SystemdCgroup: false, BinaryName: "/usr/bin/custom", Root: "/r" },
        },
      }, "custom"),
      ours: ["xpu"],
      expected: {
        runtime_type: RUNC_V2,
        pod_annotations: ["a.b/*"],
        options: { SystemdCgroup: false, BinaryName: HANDLER.path, Root: "/r" },
      },
    },
    {
      name: "no default named: runc",
      input: doc({ runc: { runtime_type: RUNC_V2, options: { SystemdCgroup: true } } }),
      ours: ["xpu"],
      expected: {
        runtime_type: RUNC_V2,
        options: { SystemdCgroup: true, BinaryName: HANDLER.path },
      },
    },
    {
      name: "runtime_type is forced to runc.v2 when the source has none",
      input: doc({ runc: { options: { SystemdCgroup: true } } }, "runc"),
      ours: ["xpu"],
      expected: {
        runtime_type: RUNC_V2,
        options: { SystemdCgroup: true, BinaryName: HANDLER.path },
      },
    },
    {
      name: "a non-runc default (kata) is skipped for runc",
      input: doc({
        kata: { runtime_type: "io.containerd.kata.v2", options: { ConfigPath: "/k" } },
        runc: { runtime_type: RUNC_V2, options: { SystemdCgroup: true } },
        crun: { runtime_type: RUNC_V2, options: { FromCrun: true } },
      }, "kata"),
      ours: ["xpu"],
      expected: {
        runtime_type: RUNC_V2,
        options: { SystemdCgroup: true, BinaryName: HANDLER.path },
      },
    },
    {
      name: "no runc either: crun",
      input: doc({
        kata: { runtime_type: "io.containerd.kata.v2", options: { ConfigPath: "/k" } },
        crun: { runtime_type: RUNC_V2, options: { BinaryName: "/usr/bin/crun", FromCrun: true } },
      }, "kata"),
      ours: ["xpu"],
      expected: { runtime_type: RUNC_V2, options: { BinaryName: HANDLER.path, FromCrun: true } },
    },
    {
      name: "our own handler as the default is never the source",
      input: doc({
        xpu: { runtime_type: RUNC_V2, options: { Mine: true, BinaryName: "/old" } },
        runc: { runtime_type: RUNC_V2, options: { SystemdCgroup: true } },
      }, "xpu"),
      ours: ["xpu"],
      expected: {
        runtime_type: RUNC_V2,
        options: { SystemdCgroup: true, BinaryName: HANDLER.path },
      },
    },
    {
      name: "no other handler of ours either (setup's xpu-cdi)",
      input: doc({
        "xpu-cdi": { runtime_type: RUNC_V2, options: { Mine: true } },
        crun: { runtime_type: RUNC_V2, options: { FromCrun: true } },
      }, "xpu-cdi"),
      ours: ["xpu", "xpu-cdi", "xpu-legacy"],
      expected: { runtime_type: RUNC_V2, options: { FromCrun: true, BinaryName: HANDLER.path } },
    },
    {
      name: "nothing to inherit",
      input: {},
      ours: ["xpu"],
      expected: { runtime_type: RUNC_V2, options: { BinaryName: HANDLER.path } },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const before = structuredClone(c.input);
      deepStrictEqual(runtimeTable(c.input, cri, HANDLER, c.ours), c.expected);
      deepStrictEqual(c.input, before, "the document is not changed");
    });
  }
});

Deno.test("configureContainerd: an imports glob that covers the drop-in", async (t) => {
  const main = [
    "version = 2",
    "# the drop-ins",
    'imports = ["/etc/containerd/conf.d/*.toml"]',
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  default_runtime_name = "runc"',
    "",
  ].join("\n");
  const request = { handlers: [HANDLER], defaultRuntime: "xpu", cdi: false };
  const cases = [
    {
      name: "a *.toml glob covers it: the main file is not changed",
      imports: null,
      mainChanged: false,
    },
    {
      name: "the exact path covers it",
      imports: `["${DROP_IN}"]`,
      mainChanged: false,
    },
    {
      name: "a glob of another suffix does not: the drop-in is added",
      imports: '["/etc/containerd/conf.d/*.conf"]',
      mainChanged: true,
    },
    {
      name: "a glob of another dir does not",
      imports: '["/etc/containerd/*.toml"]',
      mainChanged: true,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const text = c.imports === null
        ? main
        : main.replace('["/etc/containerd/conf.d/*.toml"]', c.imports);
      const changes = configureContainerd(
        { config: CONFIG, dropIn: DROP_IN },
        { config: text, dropIn: null },
        request,
      );
      const dropIn = changes.find((ch) => ch.path === DROP_IN);
      ok(dropIn?.after, "the drop-in is written");
      const written = parse(dropIn.after) as Record<
        string,
        Record<string, Record<string, unknown>>
      >;
      const cri = written.plugins["io.containerd.grpc.v1.cri"] as Record<string, unknown>;
      const containerd = cri.containerd as Record<string, unknown>;
      strictEqual(containerd.default_runtime_name, "xpu");
      const mainChange = changes.find((ch) => ch.path === CONFIG);
      if (!c.mainChanged) {
        strictEqual(mainChange, undefined, "no change of the main file is planned");
        return;
      }
      ok(mainChange?.after);
      const imports = (parse(mainChange.after) as { imports: string[] }).imports;
      deepStrictEqual(imports, [...JSON.parse(c.imports!), DROP_IN]);
    });
  }
});

Deno.test("unconfigureContainerd without memory", async (t) => {
  const files = { config: CONFIG, dropIn: "" };
  const configured = [
    "version = 2",
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  default_runtime_name = "xpu" # ours',
    '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '    runtime_type = "io.containerd.runc.v2"',
    "",
    '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xpu]',
    '    runtime_type = "io.containerd.runc.v2"',
    '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xpu.options]',
    '      BinaryName = "/usr/local/xpu/toolkit/xpu-container-runtime"',
    "",
  ].join("\n");
  const cases = [
    {
      name: "removes the handler and resets a default that named it to runc",
      input: configured,
      names: ["xpu"],
      expected: [
        "version = 2",
        "",
        '[plugins."io.containerd.grpc.v1.cri".containerd]',
        '  default_runtime_name = "runc" # ours',
        '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '    runtime_type = "io.containerd.runc.v2"',
        "",
      ].join("\n"),
    },
    {
      name: "a default naming another runtime stays",
      input: configured.replace('"xpu" # ours', '"crun"').replace(
        "containerd.runtimes.runc]",
        "containerd.runtimes.crun]",
      ),
      names: ["xpu"],
      expected: [
        "version = 2",
        "",
        '[plugins."io.containerd.grpc.v1.cri".containerd]',
        '  default_runtime_name = "crun"',
        '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]',
        '    runtime_type = "io.containerd.runc.v2"',
        "",
      ].join("\n"),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const changes = unconfigureContainerd(files, { config: c.input, dropIn: null }, {
        names: c.names,
      });
      strictEqual(changes.length, 1);
      strictEqual(changes[0].path, CONFIG);
      strictEqual(changes[0].after, c.expected);
      strictEqual(changes[0].memory, undefined);
    });
  }
  await t.step("a file without our handler: no change planned", () => {
    const text = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_cdi = false\n';
    deepStrictEqual(
      unconfigureContainerd(files, { config: text, dropIn: null }, { names: ["xpu"] }),
      [],
    );
  });
});

Deno.test("unconfigureContainerd after a user edit takes away the tables configure created", () => {
  // The user's file only has runc's options: configure creates the runtime's tables and the
  // parents of the default runtime name and enable_cdi; after an unrelated edit, the key-by-key
  // revert must leave the user's file plus their edit — no empty headers of ours.
  const files = { config: CONFIG, dropIn: "" };
  const input = [
    "version = 2",
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    "  SystemdCgroup = true",
    "",
  ].join("\n");
  const request = { handlers: [HANDLER], defaultRuntime: "xpu", cdi: true };
  const [configured] = configureContainerd(files, { config: input, dropIn: null }, request);
  ok(configured.after && configured.memory);
  const edited = configured.after.replace("version = 2", "version = 2\n# edited");
  const reverted = unconfigureContainerd(
    files,
    { config: edited, dropIn: null, configMemory: configured.memory },
    { names: [HANDLER.name] },
  );
  strictEqual(reverted.length, 1);
  strictEqual(reverted[0].after, input.replace("version = 2", "version = 2\n# edited"));
});
