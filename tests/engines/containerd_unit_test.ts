/**
 * containerd's pieces one by one: parse errors with their position, the config version, which
 * runtime's settings a handler inherits, `imports` globs that already cover the drop-in, and an
 * unconfigure without memory.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "smol-toml";
import { ConfigError } from "../../src/core/errors.ts";
import { getAt } from "../../src/core/text/toml_table.ts";
import {
  annotationPatterns,
  configureContainerd,
  configVersion,
  CRI_PLUGIN,
  matchFilepathGlob,
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
      // Every handler passes the CDI annotations the shim reads.
      deepStrictEqual(runtimeTable(c.input, cri, HANDLER, c.ours), {
        ...c.expected,
        container_annotations: ["cdi.k8s.io/*"],
      });
      deepStrictEqual(c.input, before, "the document is not changed");
    });
  }
});

Deno.test("runtimeTable: container_annotations lets CRI pass what the shim reads", async (t) => {
  const cri = CRI_PLUGIN[3];
  const doc = (runc: Record<string, unknown>) => ({
    version: 3,
    plugins: { "io.containerd.cri.v1.runtime": { containerd: { runtimes: { runc } } } },
  });
  const cases: {
    name: string;
    runc: Record<string, unknown>;
    prefixes?: string[];
    expected: string[];
  }[] = [
    {
      // containerd's own default config has this: copied as is, CRI would drop every annotation.
      name: "the default runtime's empty list: ours added",
      runc: { runtime_type: RUNC_V2, container_annotations: [] },
      expected: ["cdi.k8s.io/*"],
    },
    {
      name: "the default runtime's patterns kept, ours appended",
      runc: { runtime_type: RUNC_V2, container_annotations: ["io.kubernetes.cri.*", "a.b/*"] },
      expected: ["io.kubernetes.cri.*", "a.b/*", "cdi.k8s.io/*"],
    },
    {
      name: "ours already there: not twice",
      runc: { runtime_type: RUNC_V2, container_annotations: ["cdi.k8s.io/*"] },
      expected: ["cdi.k8s.io/*"],
    },
    {
      name: "the shim's configured prefixes",
      runc: { runtime_type: RUNC_V2 },
      prefixes: ["cdi.k8s.io/", "xpu.example.com/"],
      expected: ["cdi.k8s.io/*", "xpu.example.com/*"],
    },
    {
      name: "no prefixes configured: the copied list only",
      runc: { runtime_type: RUNC_V2, container_annotations: [] },
      prefixes: [],
      expected: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const table = runtimeTable(doc(c.runc), cri, HANDLER, ["xpu"], c.prefixes);
      deepStrictEqual(table.container_annotations, c.expected);
    });
  }
});

Deno.test("annotationPatterns: Go path.Match patterns covering each prefix", async (t) => {
  const cases: { name: string; prefixes: string[]; expected: string[] }[] = [
    { name: "a prefix ending in /", prefixes: ["cdi.k8s.io/"], expected: ["cdi.k8s.io/*"] },
    {
      // `*` does not cross `/`: "xpu.dev" also prefixes "xpu.devices/x".
      name: "a prefix without /: both forms",
      prefixes: ["xpu.dev"],
      expected: ["xpu.dev*", "xpu.dev*/*"],
    },
    { name: "glob characters are escaped", prefixes: ["a*b?[c]/"], expected: ["a\\*b\\?\\[c]/*"] },
    { name: "duplicates once", prefixes: ["x/", "x/"], expected: ["x/*"] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(annotationPatterns(c.prefixes), c.expected));
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

Deno.test("matchFilepathGlob: Go's filepath.Glob semantics, never a RegExp", async (t) => {
  const path = "/etc/containerd/conf.d/99-xpu.toml";
  const cases: { name: string; pattern: string; expected: boolean }[] = [
    { name: "* in the last element", pattern: "/etc/containerd/conf.d/*.toml", expected: true },
    { name: "* in a dir element", pattern: "/etc/*/conf.d/*", expected: true },
    { name: "* does not cross a /", pattern: "/etc/*.toml", expected: false },
    { name: "a trailing * does not cross a /", pattern: "/etc/containerd/*", expected: false },
    { name: "? is one character", pattern: "/etc/containerd/conf.d/9?-xpu.toml", expected: true },
    { name: "? is not a /", pattern: "/etc/containerd?conf.d/99-xpu.toml", expected: false },
    { name: "a range", pattern: "/etc/containerd/conf.d/[0-9][0-9]-*", expected: true },
    { name: "a negated class", pattern: "/etc/containerd/conf.d/[^a-z]9-*", expected: true },
    {
      name: "a negated class that excludes",
      pattern: "/etc/containerd/conf.d/[^9]9-*",
      expected: false,
    },
    { name: "an escaped *", pattern: "/etc/containerd/conf.d/\\*.toml", expected: false },
    { name: "an escaped letter", pattern: "/etc/containerd/conf.d/\\99-*.toml", expected: true },
    {
      name: "a class never matches the separator",
      pattern: "/etc/containerd[/]conf.d/*",
      expected: false,
    },
    { name: "an unclosed class", pattern: "/etc/containerd/conf.d/[*.toml", expected: false },
    { name: "an unbalanced [", pattern: "/etc/[x*", expected: false },
    { name: "an empty class", pattern: "/etc/containerd/conf.d/[]*", expected: false },
    { name: "a range without an end", pattern: "/etc/containerd/conf.d/[9-]*", expected: false },
    { name: "a backslash at the end", pattern: "/etc/containerd/conf.d/*\\", expected: false },
    { name: "malformed after a mismatch is still malformed", pattern: "/x/*/[", expected: false },
    { name: "more elements than the path", pattern: "/etc/containerd/conf.d/*/*", expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(matchFilepathGlob(c.pattern, path), c.expected));
  }
});

Deno.test("configureContainerd: imports as containerd reads them", async (t) => {
  const request = { handlers: [HANDLER], cdi: false };
  const cases = [
    { name: "an unbalanced [ (was made a RegExp)", imports: '["/etc/[x"]', covered: false },
    {
      name: "a malformed glob matches nothing",
      imports: '["/etc/containerd/conf.d/[*.toml"]',
      covered: false,
    },
    {
      name: "a path with [ but no * is a path",
      imports: '["/etc/containerd/conf.d/[9]9-xpu.toml"]',
      covered: false,
    },
    {
      name: "a relative glob, from the main file's dir",
      imports: '["conf.d/*.toml"]',
      covered: true,
    },
    {
      name: "a path cleaned first",
      imports: '["/etc/containerd//x/../conf.d/./99-xpu.toml"]',
      covered: true,
    },
    { name: "a class and a ?", imports: '["/etc/containerd/conf.d/9?-[w-z]pu.*"]', covered: true },
    { name: "entries that are not strings are skipped", imports: '[1, ["/x"]]', covered: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const text = `version = 2\nimports = ${c.imports}\n`;
      const changes = configureContainerd(
        { config: CONFIG, dropIn: DROP_IN },
        { config: text, dropIn: null },
        request,
      );
      const main = changes.find((ch) => ch.path === CONFIG);
      if (c.covered) {
        strictEqual(main, undefined, "the main file is not changed");
        return;
      }
      const imports = (parse(main!.after!) as { imports: unknown[] }).imports;
      deepStrictEqual(plain(imports), [...JSON.parse(c.imports), DROP_IN]);
    });
  }
  await t.step("imports that is not an array: ConfigError", () => {
    assertThrowsError(
      () =>
        configureContainerd(
          { config: CONFIG, dropIn: DROP_IN },
          { config: 'version = 2\nimports = "/etc/x.toml"\n', dropIn: null },
          request,
        ),
      ConfigError,
      `"imports" is "/etc/x.toml", expected an array of paths`,
    );
  });
});

Deno.test("configureContainerd in place: inputs that hung or crashed", async (t) => {
  const files = { config: CONFIG, dropIn: "" };
  const cri = '[plugins."io.containerd.grpc.v1.cri"]';
  const cases = [
    {
      name: "a UTF-8 BOM (kept byte for byte)",
      input: `\uFEFFversion = 2\n\n${cri}\n  enable_cdi = false\n`,
      handler: HANDLER,
    },
    {
      name: 'a header with an escaped quote: [plugins."a\\"b"]',
      input: 'version = 2\n[plugins."a\\"b"]\n  x = 1\n',
      handler: HANDLER,
    },
    {
      name: "a handler named with a quote",
      input: "version = 2\n",
      handler: { name: 'a"b', path: '/opt/"q"' },
    },
    {
      name: "\\U0001F600 in a key",
      input: 'version = 2\n[plugins."\\U0001F600"]\n  x = 1\n',
      handler: HANDLER,
    },
    {
      name: "CRLF line endings (kept)",
      input: `version = 2\r\n${cri}\r\n  enable_cdi = false\r\n`,
      handler: HANDLER,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const request = { handlers: [c.handler], defaultRuntime: c.handler.name, cdi: true };
      const [change] = configureContainerd(files, { config: c.input, dropIn: null }, request);
      const after = change.after!;
      const cri = getAt(parse(after), CRI_PLUGIN[2]);
      strictEqual(getAt(cri, ["enable_cdi"]), true);
      strictEqual(getAt(cri, ["containerd", "default_runtime_name"]), c.handler.name);
      strictEqual(
        getAt(cri, ["containerd", "runtimes", c.handler.name, "options", "BinaryName"]),
        c.handler.path,
      );
      // Every other key is unchanged.
      const before = plain(parse(c.input)) as Record<string, Record<string, unknown>>;
      const now = plain(parse(after)) as Record<string, Record<string, unknown>>;
      for (const [key, value] of Object.entries(before)) {
        if (key !== "plugins") deepStrictEqual(now[key], value);
      }
      for (const [key, value] of Object.entries(before.plugins ?? {})) {
        if (key !== CRI_PLUGIN[2][1]) deepStrictEqual(now.plugins[key], value);
      }
      strictEqual(after.startsWith("\uFEFF"), c.input.startsWith("\uFEFF"), "the BOM stays");
      if (c.input.includes("\r\n")) ok(!/[^\r]\n/.test(after), "CRLF stays");
      const reverted = unconfigureContainerd(files, {
        config: after,
        dropIn: null,
        configMemory: change.memory,
      }, { names: [c.handler.name] });
      strictEqual(reverted[0].after, c.input, "unconfigure gives the bytes back");
    });
  }
});

Deno.test("configureContainerd in place: a value in the way is a ConfigError naming it", async (t) => {
  const files = { config: CONFIG, dropIn: "" };
  const request = { handlers: [HANDLER], defaultRuntime: "xpu", cdi: true };
  const cases = [
    {
      name: "containerd holds a string",
      input: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  containerd = "x"\n',
      fragment:
        'line 3: "plugins."io.containerd.grpc.v1.cri".containerd" holds a value, not a table',
    },
    {
      name: "runtimes is an array of tables",
      input: 'version = 2\n[[plugins."io.containerd.grpc.v1.cri".containerd.runtimes]]\n  a = 1\n',
      fragment: '.containerd.runtimes" is an array of tables',
    },
    {
      name: "enable_cdi is a table",
      input: 'version = 2\n[plugins."io.containerd.grpc.v1.cri".enable_cdi]\n',
      fragment: '.enable_cdi" is a table, not a value',
    },
    {
      name: "the CRI section is an inline table",
      input: 'version = 2\nplugins = { "io.containerd.grpc.v1.cri" = {} }\n',
      fragment: 'line 2: "plugins" is an inline table',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => configureContainerd(files, { config: c.input, dropIn: null }, request),
        ConfigError,
        c.fragment,
      );
      strictEqual(error.path, CONFIG);
    });
  }
  await t.step("with a drop-in: the same, from the parsed document", () => {
    assertThrowsError(
      () =>
        configureContainerd({ config: CONFIG, dropIn: DROP_IN }, {
          config: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  containerd = "x"\n',
          dropIn: null,
        }, request),
      ConfigError,
      '"plugins."io.containerd.grpc.v1.cri".containerd" is "x", expected a table',
    );
  });
});

Deno.test("configureContainerd in place: a second configure keeps the user's default's settings", () => {
  // The default runtime we replaced is the one our handler inherits from, configure after configure.
  const files = { config: CONFIG, dropIn: "" };
  const input = [
    "version = 2",
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  default_runtime_name = "custom"',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.custom.options]',
    "  Custom = true",
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    "  Runc = true",
    "",
  ].join("\n");
  const request = { handlers: [HANDLER], defaultRuntime: "xpu", cdi: false };
  const [first] = configureContainerd(files, { config: input, dropIn: null }, request);
  const options = getAt(parse(first.after!), [
    ...CRI_PLUGIN[2],
    "containerd",
    "runtimes",
    "xpu",
    "options",
  ]);
  deepStrictEqual(plain(options), { Custom: true, BinaryName: HANDLER.path });
  const [again] = configureContainerd(files, {
    config: first.after,
    dropIn: null,
    configMemory: first.memory,
  }, request);
  strictEqual(again.after, first.after);
});

Deno.test("unconfigureContainerd after an edit keeps a handler the file had, untouched by configure", () => {
  // Configure changed none of the handler's own keys (so none is in the memory): it is still the
  // user's, and stays.
  const files = { config: CONFIG, dropIn: "" };
  const input = [
    "version = 2",
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xpu]',
    '  runtime_type = "io.containerd.runc.v2"',
    "",
  ].join("\n");
  const request = { handlers: [HANDLER], cdi: false };
  const [configured] = configureContainerd(files, { config: input, dropIn: null }, request);
  const edited = `# edited\n${configured.after}`;
  const [reverted] = unconfigureContainerd(files, {
    config: edited,
    dropIn: null,
    configMemory: configured.memory,
  }, { names: ["xpu"] });
  strictEqual(reverted.after, `# edited\n${input}`);
});

Deno.test("configureContainerd in place on 20,000 tables: every table stays, ours are added", () => {
  // The scale that once took seconds (a re-read of the text per key, quadratic look-ups); what is
  // checked here is the result — the time is in the report of the change, not asserted.
  const files = { config: CONFIG, dropIn: "" };
  const tables = Array.from({ length: 20_000 }, (_, i) => `[plugins."x.${i}"]\n  k = ${i}\n`);
  const input = `version = 2\n\n${tables.join("\n")}`;
  const request = { handlers: [HANDLER], defaultRuntime: "xpu", cdi: true };
  const [configured] = configureContainerd(files, { config: input, dropIn: null }, request);
  const doc = parse(configured.after!) as Record<string, Record<string, unknown>>;
  strictEqual(Object.keys(doc.plugins).length, 20_001);
  strictEqual(getAt(doc.plugins, ["x.19999", "k"]), 19_999);
  strictEqual(
    getAt(doc, [...CRI_PLUGIN[2], "containerd", "runtimes", "xpu", "options", "BinaryName"]),
    HANDLER.path,
  );
  const edited = configured.after!.replace("k = 7\n", "k = 8\n");
  const [reverted] = unconfigureContainerd(files, {
    config: edited,
    dropIn: null,
    configMemory: configured.memory,
  }, { names: ["xpu"] });
  strictEqual(reverted.after, input.replace("k = 7\n", "k = 8\n"));
});

Deno.test("unconfigure never leaves imports naming a drop-in that is gone", async (t) => {
  const files = {
    config: "/etc/containerd/config.toml",
    dropIn: "/etc/containerd/conf.d/99-xpu.toml",
  };
  const dropIn =
    "# Written by xpu-ctk runtime configure; xpu-ctk runtime unconfigure removes it.\nversion = 2\n";
  const cases = [
    {
      name: "the only entry: the key goes",
      config: `version = 2\nimports = ["${files.dropIn}"]\n`,
      expected: "version = 2\n",
    },
    {
      name: "an uncleaned entry naming it",
      config: `version = 2\nimports = ["/etc/containerd//conf.d/./99-xpu.toml"]\n`,
      expected: "version = 2\n",
    },
    {
      name: "other entries stay",
      config: `version = 2\nimports = ["/etc/site.toml", "${files.dropIn}"]\n`,
      expected: 'version = 2\nimports = ["/etc/site.toml"]\n',
    },
    {
      name: "a glob covering it is the user's: untouched",
      config: 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
      expected: 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
    },
  ];
  for (const c of cases) {
    for (const withDropInMemory of [false, true]) {
      await t.step(`${c.name} (drop-in memory: ${withDropInMemory})`, () => {
        const dropInMemory = withDropInMemory
          ? {
            version: 1 as const,
            engine: "containerd",
            file: files.dropIn,
            before: null,
            after: dropIn,
            changes: [],
            created: [],
          }
          : undefined;
        const changes = unconfigureContainerd(files, {
          config: c.config,
          dropIn,
          dropInMemory,
        }, { names: ["xpu"] });
        const removal = changes.find((x) => x.path === files.dropIn);
        const main = changes.find((x) => x.path === files.config);
        if (withDropInMemory && c.expected !== c.config) {
          // Configure found the entry there: the user's. The file stays, emptied.
          ok(removal?.after?.includes("Kept, empty"), String(removal?.after));
          strictEqual(main?.after ?? c.config, c.config);
          return;
        }
        strictEqual(removal?.after, null, "the drop-in goes");
        strictEqual(main?.after ?? c.config, c.expected);
      });
    }
  }
});
