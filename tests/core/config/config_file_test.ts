import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { defaultConfig, getField } from "../../../src/core/config/config.ts";
import {
  loadConfig,
  parseConfig,
  resolveConfigPath,
  SYSTEM_CONFIG_PATH,
} from "../../../src/core/config/config_file.ts";
import { renderConfigToml } from "../../../src/core/config/config_render.ts";
import { ConfigError } from "../../../src/core/errors.ts";

const PATH = "/etc/xpu-container-runtime/config.toml";

Deno.test("resolveConfigPath", async (t) => {
  const cases: { name: string; input: Record<string, string | undefined>; expected: string }[] = [
    {
      name: "XPU_CTK_CONFIG_FILE_PATH wins over XDG_CONFIG_HOME",
      input: { XPU_CTK_CONFIG_FILE_PATH: "/opt/c.toml", XDG_CONFIG_HOME: "/home/u/.config" },
      expected: "/opt/c.toml",
    },
    {
      name: "XDG_CONFIG_HOME alone",
      input: { XDG_CONFIG_HOME: "/home/u/.config" },
      expected: "/home/u/.config/xpu-container-runtime/config.toml",
    },
    {
      name: "XDG_CONFIG_HOME with a trailing slash",
      input: { XDG_CONFIG_HOME: "/home/u/.config/" },
      expected: "/home/u/.config/xpu-container-runtime/config.toml",
    },
    {
      name: "neither set: the system file",
      input: {},
      expected: "/etc/xpu-container-runtime/config.toml",
    },
    {
      name: "empty XPU_CTK_CONFIG_FILE_PATH is ignored",
      input: { XPU_CTK_CONFIG_FILE_PATH: "", XDG_CONFIG_HOME: "/x" },
      expected: "/x/xpu-container-runtime/config.toml",
    },
    {
      name: "both empty: the system file",
      input: { XPU_CTK_CONFIG_FILE_PATH: "", XDG_CONFIG_HOME: "" },
      expected: "/etc/xpu-container-runtime/config.toml",
    },
    {
      name: "explicitly undefined values are ignored",
      input: { XPU_CTK_CONFIG_FILE_PATH: undefined, XDG_CONFIG_HOME: undefined },
      expected: "/etc/xpu-container-runtime/config.toml",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(resolveConfigPath(c.input), c.expected));
  }
  strictEqual(SYSTEM_CONFIG_PATH, "/etc/xpu-container-runtime/config.toml");
});

Deno.test("parseConfig of an empty file gives the README's Configuration defaults", async (t) => {
  const { config, warnings } = parseConfig("", PATH);
  deepStrictEqual(warnings, []);
  deepStrictEqual(config, defaultConfig());
  const cases: { name: string; input: string; expected: unknown }[] = [
    { name: "disable-require", input: "disableRequire", expected: false },
    { name: "swarm-resource", input: "swarmResource", expected: "" },
    {
      name: "accept-xpu-visible-devices-envvar-when-unprivileged",
      input: "acceptEnvvarUnprivileged",
      expected: true,
    },
    {
      name: "accept-xpu-visible-devices-as-volume-mounts",
      input: "acceptVolumeMounts",
      expected: false,
    },
    {
      name: "supported-driver-capabilities",
      input: "supportedDriverCapabilities",
      expected: ["compat32", "compute", "display", "graphics", "utility", "video"],
    },
    { name: "xpu-container-cli.root", input: "cli.root", expected: "/" },
    { name: "xpu-container-cli.profile", input: "cli.profile", expected: "xpu" },
    { name: "xpu-container-cli.path", input: "cli.path", expected: "" },
    { name: "xpu-container-cli.environment", input: "cli.environment", expected: [] },
    { name: "xpu-container-cli.debug", input: "cli.debug", expected: "" },
    { name: "xpu-container-cli.ldcache", input: "cli.ldcache", expected: "" },
    { name: "xpu-container-cli.load-kmods", input: "cli.loadKmods", expected: true },
    { name: "xpu-container-cli.no-cgroups", input: "cli.noCgroups", expected: false },
    { name: "xpu-container-cli.user", input: "cli.user", expected: "" },
    { name: "xpu-container-cli.ldconfig", input: "cli.ldconfig", expected: "@/sbin/ldconfig" },
    { name: "xpu-container-runtime.debug", input: "runtime.debug", expected: "" },
    { name: "xpu-container-runtime.log-level", input: "runtime.logLevel", expected: "info" },
    {
      name: "xpu-container-runtime.runtimes",
      input: "runtime.runtimes",
      expected: ["runc", "crun"],
    },
    { name: "xpu-container-runtime.mode", input: "runtime.mode", expected: "auto" },
    {
      name: "xpu-container-runtime.modes.csv.mount-spec-path",
      input: "runtime.modes.csv.mountSpecPath",
      expected: "/etc/xpu-container-runtime/host-files-for-container.d",
    },
    {
      name: "xpu-container-runtime.modes.cdi.spec-dirs",
      input: "runtime.modes.cdi.specDirs",
      expected: ["/etc/cdi", "/var/run/cdi"],
    },
    {
      name: "xpu-container-runtime.modes.cdi.default-kind",
      input: "runtime.modes.cdi.defaultKind",
      expected: "xpu.dev/xpu",
    },
    {
      name: "xpu-container-runtime.modes.cdi.annotation-prefixes",
      input: "runtime.modes.cdi.annotationPrefixes",
      expected: ["cdi.k8s.io/"],
    },
    {
      name: "xpu-container-runtime.modes.cdi.allowed-kinds (empty: every kind)",
      input: "runtime.modes.cdi.allowedKinds",
      expected: [],
    },
    {
      name: "xpu-container-runtime-hook.path",
      input: "hook.path",
      expected: "xpu-container-runtime-hook",
    },
    {
      name: "xpu-container-runtime-hook.skip-mode-detection",
      input: "hook.skipModeDetection",
      expected: false,
    },
    { name: "xpu-ctk.path", input: "ctk.path", expected: "xpu-ctk" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(getField(config, c.input), c.expected));
  }
});

Deno.test("defaultConfig returns a fresh object each call", () => {
  const a = defaultConfig();
  a.runtime.runtimes.push("youki");
  deepStrictEqual(defaultConfig().runtime.runtimes, ["runc", "crun"]);
});

Deno.test("parseConfig reads values", async (t) => {
  const cases: { name: string; input: string; expected: Record<string, unknown> }[] = [
    {
      name: "runtime section: mode, runtimes, debug, log-level",
      input: [
        "[xpu-container-runtime]",
        'mode = "cdi"',
        'runtimes = ["/usr/local/sbin/runc"]',
        'debug = "/var/log/xpu-runtime.log"',
        'log-level = "debug"',
      ].join("\n"),
      expected: {
        "runtime.mode": "cdi",
        "runtime.runtimes": ["/usr/local/sbin/runc"],
        "runtime.debug": "/var/log/xpu-runtime.log",
        "runtime.logLevel": "debug",
      },
    },
    {
      name: "top-level booleans and strings",
      input: [
        "disable-require = true",
        'swarm-resource = "DOCKER_RESOURCE_XPU"',
        "accept-xpu-visible-devices-envvar-when-unprivileged = false",
        "accept-xpu-visible-devices-as-volume-mounts = true",
        'supported-driver-capabilities = "video, compute"',
      ].join("\n"),
      expected: {
        disableRequire: true,
        swarmResource: "DOCKER_RESOURCE_XPU",
        acceptEnvvarUnprivileged: false,
        acceptVolumeMounts: true,
        supportedDriverCapabilities: ["video", "compute"],
      },
    },
    {
      name: "cli section: root, environment list, booleans",
      input: [
        "# a comment",
        "[xpu-container-cli]",
        'root = "/run/xpu/driver"',
        'environment = ["A=1", "B=2"]',
        "load-kmods = false",
        "no-cgroups = true",
        'ldconfig = "/sbin/ldconfig.real"',
        'user = "root:video"',
      ].join("\n"),
      expected: {
        "cli.root": "/run/xpu/driver",
        "cli.environment": ["A=1", "B=2"],
        "cli.loadKmods": false,
        "cli.noCgroups": true,
        "cli.ldconfig": "/sbin/ldconfig.real",
        "cli.user": "root:video",
        "cli.profile": "xpu",
      },
    },
    {
      name: "nested [xpu-container-runtime.modes.csv] section",
      input: '[xpu-container-runtime.modes.csv]\nmount-spec-path = "/opt/csv.d"\n',
      expected: {
        "runtime.modes.csv.mountSpecPath": "/opt/csv.d",
        "runtime.mode": "auto",
      },
    },
    {
      name: "dotted keys under [xpu-container-runtime]",
      input: [
        "[xpu-container-runtime]",
        'modes.cdi.default-kind = "a.b/c"',
        'modes.cdi.spec-dirs = ["/x"]',
      ].join("\n"),
      expected: {
        "runtime.modes.cdi.defaultKind": "a.b/c",
        "runtime.modes.cdi.specDirs": ["/x"],
        "runtime.modes.cdi.annotationPrefixes": ["cdi.k8s.io/"],
      },
    },
    {
      name: "fully dotted key at top level",
      input: 'xpu-container-runtime.modes.cdi.annotation-prefixes = ["a/", "b/"]\n',
      expected: { "runtime.modes.cdi.annotationPrefixes": ["a/", "b/"] },
    },
    {
      name: "hook and ctk sections",
      input: [
        "[xpu-container-runtime-hook]",
        'path = "/usr/local/xpu/toolkit/xpu-container-runtime-hook"',
        "skip-mode-detection = true",
        "[xpu-ctk]",
        'path = "/usr/local/xpu/toolkit/xpu-ctk"',
      ].join("\n"),
      expected: {
        "hook.path": "/usr/local/xpu/toolkit/xpu-container-runtime-hook",
        "hook.skipModeDetection": true,
        "ctk.path": "/usr/local/xpu/toolkit/xpu-ctk",
      },
    },
    {
      name: "allowed-kinds listing the default kind",
      input: [
        "[xpu-container-runtime.modes.cdi]",
        'allowed-kinds = ["xpu.dev/xpu", "management.xpu.dev/xpu"]',
      ].join("\n"),
      expected: {
        "runtime.modes.cdi.allowedKinds": ["xpu.dev/xpu", "management.xpu.dev/xpu"],
      },
    },
    {
      name: "inline table for a section",
      input: 'xpu-container-runtime = { mode = "legacy" }\n',
      expected: { "runtime.mode": "legacy", "runtime.runtimes": ["runc", "crun"] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { config, warnings } = parseConfig(c.input, PATH);
      deepStrictEqual(warnings, []);
      for (const [field, value] of Object.entries(c.expected)) {
        deepStrictEqual(getField(config, field), value, `field "${field}"`);
      }
    });
  }
});

Deno.test("parseConfig warns about unknown keys with their line", async (t) => {
  const cases: { name: string; input: string; expected: { key: string; line: number }[] }[] = [
    {
      name: "unknown top-level key",
      input: 'mode = "cdi"\n',
      expected: [{ key: "mode", line: 1 }],
    },
    {
      name: "unknown key in a known section",
      input: '[xpu-container-runtime]\nmode = "cdi"\nruntime = "runc"\n',
      expected: [{ key: "xpu-container-runtime.runtime", line: 3 }],
    },
    {
      name: "unknown section",
      input: 'disable-require = true\n\n[xpu-container-runtimes]\nmode = "cdi"\n',
      expected: [{ key: "xpu-container-runtimes", line: 3 }],
    },
    {
      name: "unknown nested key via a dotted key",
      input: '[xpu-container-runtime]\nmodes.cdi.kind = "a/b"\n',
      expected: [{ key: "xpu-container-runtime.modes.cdi.kind", line: 2 }],
    },
    {
      name: "several unknown keys",
      input: 'foo = 1\n[xpu-ctk]\npath = "x"\nbar = 2\n',
      expected: [{ key: "foo", line: 1 }, { key: "xpu-ctk.bar", line: 4 }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { config, warnings } = parseConfig(c.input, PATH);
      strictEqual(warnings.length, c.expected.length, warnings.join("\n"));
      c.expected.forEach((want, i) => {
        ok(warnings[i].includes(`"${want.key}"`), warnings[i]);
        ok(warnings[i].includes(`"${PATH}", line ${want.line}`), warnings[i]);
      });
      ok(config !== undefined);
    });
  }
  await t.step("allowed-kinds without default-kind: a warning with its line", () => {
    const { config, warnings } = parseConfig(
      '[xpu-container-runtime.modes.cdi]\nallowed-kinds = ["management.xpu.dev/xpu"]\n',
      PATH,
    );
    deepStrictEqual(config.runtime.modes.cdi.allowedKinds, ["management.xpu.dev/xpu"]);
    strictEqual(warnings.length, 1, warnings.join("\n"));
    ok(warnings[0].includes(`"${PATH}", line 2`), warnings[0]);
    ok(warnings[0].includes('does not list default-kind "xpu.dev/xpu"'), warnings[0]);
  });
  await t.step("known values next to unknown keys still apply", () => {
    const { config } = parseConfig('[xpu-container-runtime]\nmode = "csv"\nfoo = 1\n', PATH);
    strictEqual(config.runtime.mode, "csv");
  });
});

Deno.test("parseConfig rejects invalid values", async (t) => {
  const cases: { name: string; input: string; expected: { line: number; key: string } }[] = [
    {
      name: 'mode = "bogus"',
      input: '# header\n[xpu-container-runtime]\nmode = "bogus"\n',
      expected: { line: 3, key: "xpu-container-runtime.mode" },
    },
    {
      name: "runtimes = []",
      input: "[xpu-container-runtime]\nruntimes = []\n",
      expected: { line: 2, key: "xpu-container-runtime.runtimes" },
    },
    {
      name: 'runtimes = "runc"',
      input: '[xpu-container-runtime]\nruntimes = "runc"\n',
      expected: { line: 2, key: "xpu-container-runtime.runtimes" },
    },
    {
      name: "runtimes = [1]",
      input: "[xpu-container-runtime]\nruntimes = [1]\n",
      expected: { line: 2, key: "xpu-container-runtime.runtimes" },
    },
    {
      name: 'root = "relative"',
      input: '[xpu-container-cli]\nload-kmods = true\nroot = "relative"\n',
      expected: { line: 3, key: "xpu-container-cli.root" },
    },
    {
      name: "log-level = 3",
      input: "[xpu-container-runtime]\nlog-level = 3\n",
      expected: { line: 2, key: "xpu-container-runtime.log-level" },
    },
    {
      name: 'supported-driver-capabilities = "compute,nope"',
      input: 'supported-driver-capabilities = "compute,nope"\n',
      expected: { line: 1, key: "supported-driver-capabilities" },
    },
    {
      name: 'default-kind = "noslash"',
      input: '[xpu-container-runtime.modes.cdi]\ndefault-kind = "noslash"\n',
      expected: { line: 2, key: "xpu-container-runtime.modes.cdi.default-kind" },
    },
    {
      name: 'profile = "unknown"',
      input: '[xpu-container-cli]\nprofile = "unknown"\n',
      expected: { line: 2, key: "xpu-container-cli.profile" },
    },
    {
      name: 'disable-require = "yes"',
      input: 'disable-require = "yes"\n',
      expected: { line: 1, key: "disable-require" },
    },
    {
      name: "xpu-container-runtime = 5 (a table key given a scalar)",
      input: "xpu-container-runtime = 5\n",
      expected: { line: 1, key: "xpu-container-runtime" },
    },
    {
      name: 'allowed-kinds = "xpu.dev/xpu" (not a list)',
      input: '[xpu-container-runtime.modes.cdi]\nallowed-kinds = "xpu.dev/xpu"\n',
      expected: { line: 2, key: "xpu-container-runtime.modes.cdi.allowed-kinds" },
    },
    {
      name: 'allowed-kinds = ["xpu.dev/xpu", "noslash"]',
      input: '[xpu-container-runtime.modes.cdi]\nallowed-kinds = ["xpu.dev/xpu", "noslash"]\n',
      expected: { line: 2, key: "xpu-container-runtime.modes.cdi.allowed-kinds" },
    },
    {
      name: "dotted key with a bad value",
      input: '[xpu-container-runtime]\nmodes.cdi.default-kind = "1bad/x"\n',
      expected: { line: 2, key: "xpu-container-runtime.modes.cdi.default-kind" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      throws(() => parseConfig(c.input, PATH), (error: unknown) => {
        ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        strictEqual(error.path, PATH);
        strictEqual(error.line, c.expected.line);
        strictEqual(error.exitCode, 1);
        ok(error.message.includes(`"${c.expected.key}"`), error.message);
        ok(error.message.includes(`"${PATH}"`), error.message);
        match(error.message, /expected/);
        ok(!error.message.includes("\n"), "one line");
        return true;
      });
    });
  }
});

Deno.test("parseConfig reports TOML syntax errors with line and column", async (t) => {
  const cases: { name: string; input: string; expected: { line: number } }[] = [
    {
      name: "missing value",
      input: "disable-require = true\nswarm-resource = \n",
      expected: { line: 2 },
    },
    {
      name: "unclosed header",
      input: '[xpu-container-runtime\nmode = "cdi"\n',
      expected: { line: 1 },
    },
    {
      name: "unterminated string",
      input: '[xpu-container-runtime]\n\nmode = "cdi\n',
      expected: { line: 3 },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      throws(() => parseConfig(c.input, PATH), (error: unknown) => {
        ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        strictEqual(error.path, PATH);
        strictEqual(error.line, c.expected.line);
        ok(typeof error.column === "number" && error.column >= 1, `column ${error.column}`);
        ok(error.message.includes(`"${PATH}", line ${c.expected.line}, column `), error.message);
        match(error.message, /syntax/);
        ok(!error.message.includes("\n"), "one line");
        return true;
      });
    });
  }
});

Deno.test("loadConfig", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "xpu-config-test-" });
  try {
    await t.step("a missing file at the default location gives the defaults, found=false", () => {
      const path = `${dir}/missing/xpu-container-runtime/config.toml`;
      const loaded = loadConfig({ XDG_CONFIG_HOME: `${dir}/missing` });
      deepStrictEqual(loaded, { config: defaultConfig(), path, found: false, warnings: [] });
    });
    await t.step("a directory as the path is a ConfigError", () => {
      throws(() => loadConfig({ XPU_CTK_CONFIG_FILE_PATH: dir }), (error: unknown) => {
        ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        strictEqual(error.path, dir);
        ok(error.message.includes(`"${dir}"`), error.message);
        return true;
      });
    });
    await t.step("a real file is read, found=true", () => {
      const path = `${dir}/config.toml`;
      Deno.writeTextFileSync(path, '[xpu-container-runtime]\nmode = "legacy"\nfoo = 1\n');
      const loaded = loadConfig({ XPU_CTK_CONFIG_FILE_PATH: path });
      strictEqual(loaded.found, true);
      strictEqual(loaded.path, path);
      strictEqual(loaded.config.runtime.mode, "legacy");
      strictEqual(loaded.warnings.length, 1);
      ok(loaded.warnings[0].includes('"xpu-container-runtime.foo"'), loaded.warnings[0]);
    });
    await t.step("the XDG location is used", () => {
      Deno.mkdirSync(`${dir}/xdg/xpu-container-runtime`, { recursive: true });
      const path = `${dir}/xdg/xpu-container-runtime/config.toml`;
      Deno.writeTextFileSync(path, '[xpu-ctk]\npath = "/opt/xpu-ctk"\n');
      const loaded = loadConfig({ XDG_CONFIG_HOME: `${dir}/xdg/` });
      strictEqual(loaded.found, true);
      strictEqual(loaded.path, path);
      strictEqual(loaded.config.ctk.path, "/opt/xpu-ctk");
    });
    await t.step("an invalid file is a ConfigError naming it", () => {
      const path = `${dir}/bad.toml`;
      Deno.writeTextFileSync(path, '[xpu-container-runtime]\nmode = "bogus"\n');
      throws(() => loadConfig({ XPU_CTK_CONFIG_FILE_PATH: path }), (error: unknown) => {
        ok(error instanceof ConfigError);
        strictEqual(error.path, path);
        strictEqual(error.line, 2);
        return true;
      });
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadConfig: a file XPU_CTK_CONFIG_FILE_PATH names must exist", async (t) => {
  const notFound = (path: string): string => {
    throw new Deno.errors.NotFound(`No such file or directory (os error 2): readfile '${path}'`);
  };
  const cases: {
    name: string;
    input: Record<string, string | undefined>;
    expected: { path: string; message?: string };
  }[] = [
    {
      name: "named and missing: a ConfigError naming the variable, the file and the fix",
      input: { XPU_CTK_CONFIG_FILE_PATH: "/opt/xpu/config.toml" },
      expected: {
        path: "/opt/xpu/config.toml",
        message: 'Cannot load the config file "/opt/xpu/config.toml" that ' +
          "XPU_CTK_CONFIG_FILE_PATH names: no such file: create it " +
          '("xpu-ctk config default --output /opt/xpu/config.toml" writes the defaults), or ' +
          'unset XPU_CTK_CONFIG_FILE_PATH to use "/etc/xpu-container-runtime/config.toml"',
      },
    },
    {
      name: "named and missing, with XDG_CONFIG_HOME: the fix names the XDG file",
      input: { XPU_CTK_CONFIG_FILE_PATH: "/opt/c.toml", XDG_CONFIG_HOME: "/home/u/.config" },
      expected: {
        path: "/opt/c.toml",
        message: 'Cannot load the config file "/opt/c.toml" that XPU_CTK_CONFIG_FILE_PATH ' +
          'names: no such file: create it ("xpu-ctk config default --output /opt/c.toml" ' +
          "writes the defaults), or unset XPU_CTK_CONFIG_FILE_PATH to use " +
          '"/home/u/.config/xpu-container-runtime/config.toml"',
      },
    },
    {
      name: "a path with a line break stays on one line",
      input: { XPU_CTK_CONFIG_FILE_PATH: "/x\n.toml" },
      expected: {
        path: "/x\n.toml",
        message: 'Cannot load the config file "/x\\n.toml" that XPU_CTK_CONFIG_FILE_PATH ' +
          'names: no such file: create it ("xpu-ctk config default --output /x\\n.toml" ' +
          "writes the defaults), or unset XPU_CTK_CONFIG_FILE_PATH to use " +
          '"/etc/xpu-container-runtime/config.toml"',
      },
    },
    {
      name: "empty: unset, so a missing system file means the defaults",
      input: { XPU_CTK_CONFIG_FILE_PATH: "" },
      expected: { path: "/etc/xpu-container-runtime/config.toml" },
    },
    {
      name: "empty, with XDG_CONFIG_HOME: a missing XDG file means the defaults",
      input: { XPU_CTK_CONFIG_FILE_PATH: "", XDG_CONFIG_HOME: "/home/u/.config" },
      expected: { path: "/home/u/.config/xpu-container-runtime/config.toml" },
    },
    {
      name: "unset: a missing system file means the defaults",
      input: {},
      expected: { path: "/etc/xpu-container-runtime/config.toml" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      if (c.expected.message === undefined) {
        deepStrictEqual(loadConfig(c.input, notFound), {
          config: defaultConfig(),
          path: c.expected.path,
          found: false,
          warnings: [],
        });
        return;
      }
      throws(() => loadConfig(c.input, notFound), (error: unknown) => {
        ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        strictEqual(error.message, c.expected.message);
        strictEqual(error.path, c.expected.path);
        strictEqual(error.exitCode, 1);
        return true;
      });
    });
  }
  await t.step("a real missing file named by the variable, not only a fake reader", () => {
    const dir = Deno.makeTempDirSync({ prefix: "xpu-config-test-" });
    try {
      throws(
        () => loadConfig({ XPU_CTK_CONFIG_FILE_PATH: `${dir}/missing/config.toml` }),
        (error: unknown) => error instanceof ConfigError && /no such file/.test(error.message),
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
});

Deno.test("renderConfigToml", async (t) => {
  await t.step("the defaults parse back to the defaults without warnings", () => {
    const text = renderConfigToml(defaultConfig());
    const { config, warnings } = parseConfig(text, PATH);
    deepStrictEqual(warnings, []);
    deepStrictEqual(config, defaultConfig());
  });
  await t.step("it has the section headers of the README's Configuration table", () => {
    const lines = renderConfigToml(defaultConfig()).split("\n");
    for (
      const header of [
        "[xpu-container-cli]",
        "[xpu-container-runtime]",
        "[xpu-container-runtime.modes.csv]",
        "[xpu-container-runtime.modes.cdi]",
        "[xpu-container-runtime-hook]",
        "[xpu-ctk]",
      ]
    ) {
      ok(lines.includes(header), `missing ${header}`);
    }
  });
  await t.step("a changed config round-trips", () => {
    const changed = defaultConfig();
    changed.runtime.mode = "cdi";
    changed.runtime.runtimes = ["/usr/bin/crun"];
    changed.cli.environment = ['QUOTE="x"', "B=\\"];
    changed.supportedDriverCapabilities = ["compute", "utility"];
    changed.hook.skipModeDetection = true;
    const { config, warnings } = parseConfig(renderConfigToml(changed), PATH);
    deepStrictEqual(warnings, []);
    deepStrictEqual(config, changed);
  });
});

Deno.test("parseConfig names the line of a key written with escapes (a BOM before it)", () => {
  const text = '\uFEFF[xpu-container-cli]\n"\\u0072oot" = 1\n';
  const error = throwsConfigError(() => parseConfig(text, PATH));
  strictEqual(error.line, 2);
});

function throwsConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    ok(error instanceof ConfigError, String(error));
    return error;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("a bad value's fix names the key's default, as the defaults give it", async (t) => {
  const useDefault = (field: string) =>
    `: set a valid value or remove the key to use the default ${
      JSON.stringify(getField(defaultConfig(), field))
    }`;
  const cases: { input: string; fix: string }[] = [
    { input: 'disable-require = "yes"\n', fix: useDefault("disableRequire") },
    { input: "[xpu-container-runtime]\nruntimes = []\n", fix: useDefault("runtime.runtimes") },
    {
      input: "supported-driver-capabilities = 7\n",
      fix: ': set a valid value or remove the key to use the default "' +
        (getField(defaultConfig(), "supportedDriverCapabilities") as string[]).join(",") + '"',
    },
    {
      // Unknown names get the list of known ones instead.
      input: 'supported-driver-capabilities = "compute,nope"\n',
      fix: ': use only "compat32", "compute", "display", "graphics", "utility", "video"',
    },
  ];
  for (const c of cases) {
    await t.step(c.input.trim(), () => {
      throws(() => parseConfig(c.input, PATH), (error: unknown) => {
        ok(error instanceof ConfigError);
        ok(error.message.endsWith(c.fix), error.message);
        return true;
      });
    });
  }
});
