/**
 * Device profiles defined in config.toml (`[profiles.<name>]`), read through `parseConfig`: the
 * profile they give, `xpu-container-cli.profile` naming one, and errors with the line to fix.
 */

import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { CAPABILITIES } from "../../../src/core/device/capabilities.ts";
import { parseConfig } from "../../../src/core/config/config_file.ts";
import {
  type DeviceProfile,
  findProfile,
  XPU_PROFILE,
} from "../../../src/core/device/device_profile.ts";
import { ConfigError } from "../../../src/core/errors.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";

const PATH = "/etc/xpu-container-runtime/config.toml";

const ACME = `# Acme accelerators
[profiles.acme]
kernel-module = "acme"
device-nodes = ["/dev/acme[0-9]*", "/dev/acme-render[0-9]*"]
index-from = "order"
control-nodes = ["/dev/acmectl"]
uuid-file = "/sys/class/acme/acme{index}/uuid"
version-library = "libacme.so"

[[profiles.acme.driver-files]]
capabilities = ["compute", "utility"]
dirs = ["/usr/lib/x86_64-linux-gnu"]
patterns = ["libacme*.so*"]

[[profiles.acme.driver-files]]
capabilities = ["utility"]
dirs = ["/usr/bin"]
patterns = ["acme-smi"]
`;

const ACME_PROFILE: DeviceProfile = {
  name: "acme",
  kernelModule: "acme",
  deviceNodes: ["/dev/acme[0-9]*", "/dev/acme-render[0-9]*"],
  indexFrom: "order",
  controlNodes: ["/dev/acmectl"],
  identity: { uuid: "/sys/class/acme/acme{index}/uuid" },
  driverFiles: [
    {
      capabilities: ["compute", "utility"],
      dirs: ["/usr/lib/x86_64-linux-gnu"],
      patterns: ["libacme*.so*"],
    },
    { capabilities: ["utility"], dirs: ["/usr/bin"], patterns: ["acme-smi"] },
  ],
  versionLibrary: "libacme.so",
};

Deno.test("parseConfig reads [profiles.<name>]", async (t) => {
  const cases: { name: string; input: string; expected: Record<string, DeviceProfile> }[] = [
    { name: "a full profile", input: ACME, expected: { acme: ACME_PROFILE } },
    {
      name: "defaults: index from suffix, no control nodes, identity or driver files",
      input: '[profiles.min]\ndevice-nodes = ["/dev/min[0-9]*"]\n',
      expected: {
        min: {
          name: "min",
          kernelModule: "",
          deviceNodes: ["/dev/min[0-9]*"],
          indexFrom: "suffix",
          controlNodes: [],
          identity: {},
          driverFiles: [],
        },
      },
    },
    {
      name: "name-file, and driver files without capabilities serve every capability",
      input: '[profiles.b]\ndevice-nodes = ["/dev/b0"]\nname-file = "/sys/b/{node}/name"\n' +
        '[[profiles.b.driver-files]]\npatterns = ["libb.so*"]\n',
      expected: {
        b: {
          name: "b",
          kernelModule: "",
          deviceNodes: ["/dev/b0"],
          indexFrom: "suffix",
          controlNodes: [],
          identity: { name: "/sys/b/{node}/name" },
          driverFiles: [{ capabilities: [...CAPABILITIES], dirs: [], patterns: ["libb.so*"] }],
        },
      },
    },
    {
      name: "two profiles",
      input: '[profiles.a]\ndevice-nodes = ["/dev/a0"]\n[profiles.b]\ndevice-nodes = ["/dev/b0"]\n',
      expected: {
        a: {
          name: "a",
          kernelModule: "",
          deviceNodes: ["/dev/a0"],
          indexFrom: "suffix",
          controlNodes: [],
          identity: {},
          driverFiles: [],
        },
        b: {
          name: "b",
          kernelModule: "",
          deviceNodes: ["/dev/b0"],
          indexFrom: "suffix",
          controlNodes: [],
          identity: {},
          driverFiles: [],
        },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { config, warnings } = parseConfig(c.input, PATH);
      deepStrictEqual(config.profiles, c.expected);
      deepStrictEqual(warnings, []);
    });
  }
});

Deno.test("xpu-container-cli.profile names a defined or built-in profile", async (t) => {
  await t.step("a defined profile is accepted", () => {
    const { config } = parseConfig(`[xpu-container-cli]\nprofile = "acme"\n\n${ACME}`, PATH);
    strictEqual(config.cli.profile, "acme");
    deepStrictEqual(findProfile(config.profiles, config.cli.profile), ACME_PROFILE);
  });
  await t.step("defined after the key that names it", () => {
    const { config } = parseConfig(`${ACME}\n[xpu-container-cli]\nprofile = "acme"\n`, PATH);
    strictEqual(config.cli.profile, "acme");
  });
  await t.step("a built-in profile needs no definition", () => {
    const { config } = parseConfig('[xpu-container-cli]\nprofile = "nvidia"\n', PATH);
    strictEqual(config.cli.profile, "nvidia");
  });
  await t.step("an undefined profile is rejected, naming it and the known ones", () => {
    const error = assertThrowsError(
      () => parseConfig('[xpu-container-cli]\nprofile = "acme"\n', PATH),
      ConfigError,
      '"xpu-container-cli.profile" is "acme", expected a known device profile',
    );
    ok(error.message.includes('("xpu", "nvidia", "amd", "intel")'), error.message);
    ok(error.message.includes("[profiles.acme]"), error.message);
    strictEqual(error.path, PATH);
    strictEqual(error.line, 2);
  });
  await t.step("the known names include the defined profiles", () => {
    const error = assertThrowsError(
      () =>
        parseConfig(
          '[xpu-container-cli]\nprofile = "acme"\n[profiles.other]\ndevice-nodes = ["/dev/o0"]\n',
          PATH,
        ),
      ConfigError,
      '"acme"',
    );
    ok(error.message.includes('"intel", "other")'), error.message);
  });
});

Deno.test("invalid profiles are ConfigErrors with the line to fix", async (t) => {
  const cases: {
    name: string;
    input: string;
    expected: { line: number; fragment: string };
  }[] = [
    {
      name: "device-nodes missing (the profile's header)",
      input: '# acme\n[profiles.acme]\nkernel-module = "acme"\n',
      expected: {
        line: 2,
        fragment: '"profiles.acme.device-nodes" must be a non-empty array of device node globs',
      },
    },
    {
      name: "device-nodes empty",
      input: '[profiles.acme]\nkernel-module = "acme"\ndevice-nodes = []\n',
      expected: { line: 3, fragment: '"profiles.acme.device-nodes" must be a non-empty array' },
    },
    {
      name: "a relative device node path",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0", "dev/acme1"]\n',
      expected: {
        line: 2,
        fragment: '"profiles.acme.device-nodes" must be an array of absolute paths',
      },
    },
    {
      name: "a relative control node path",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\ncontrol-nodes = ["acmectl"]\n',
      expected: { line: 3, fragment: '"profiles.acme.control-nodes" must be an array of absolute' },
    },
    {
      name: 'index-from "random"',
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\nindex-from = "random"\n',
      expected: { line: 3, fragment: '"profiles.acme.index-from" must be "suffix" or "order"' },
    },
    {
      name: "kernel-module not a string",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\nkernel-module = 1\n',
      expected: { line: 3, fragment: '"profiles.acme.kernel-module" must be a string' },
    },
    {
      name: 'driver-files capabilities ["warp"]',
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\n[[profiles.acme.driver-files]]\n' +
        'capabilities = ["warp"]\npatterns = ["libacme.so*"]\n',
      expected: {
        line: 4,
        fragment: '"profiles.acme.driver-files[0].capabilities" must be capability names',
      },
    },
    {
      name: 'driver-files capabilities ["warp"] in the second table',
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\n' +
        '[[profiles.acme.driver-files]]\ncapabilities = ["compute"]\npatterns = ["a*"]\n' +
        '[[profiles.acme.driver-files]]\ncapabilities = ["warp"]\npatterns = ["b*"]\n',
      expected: { line: 7, fragment: '"profiles.acme.driver-files[1].capabilities"' },
    },
    {
      name: "driver-files patterns missing (the table's header)",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\n[[profiles.acme.driver-files]]\n' +
        'capabilities = ["compute"]\n',
      expected: {
        line: 3,
        fragment: '"profiles.acme.driver-files[0].patterns" must be a non-empty array of file-name',
      },
    },
    {
      name: "driver-files patterns empty",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\n[[profiles.acme.driver-files]]\n' +
        "patterns = []\n",
      expected: { line: 4, fragment: '"profiles.acme.driver-files[0].patterns"' },
    },
    {
      name: "driver-files dirs relative",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\n[[profiles.acme.driver-files]]\n' +
        'dirs = ["usr/lib"]\npatterns = ["a*"]\n',
      expected: { line: 4, fragment: '"profiles.acme.driver-files[0].dirs" must be an array of' },
    },
    {
      name: "driver-files as a single table",
      input: '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\n[profiles.acme.driver-files]\n' +
        'patterns = ["a*"]\n',
      expected: { line: 3, fragment: '"profiles.acme.driver-files" must be an array of tables' },
    },
    {
      name: "a profile name with upper-case letters",
      input: '[profiles.Acme]\ndevice-nodes = ["/dev/acme0"]\n',
      expected: { line: 1, fragment: '"profiles.Acme" must be named with lower-case letters' },
    },
    {
      name: "profiles as a value, not a table",
      input: 'profiles = "acme"\n',
      expected: { line: 1, fragment: '"profiles" must be a table of [profiles.<name>] sections' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => parseConfig(c.input, PATH),
        ConfigError,
        c.expected.fragment,
      );
      strictEqual(error.path, PATH);
      strictEqual(error.line, c.expected.line);
      ok(error.message.includes(`"${PATH}", line ${c.expected.line}:`), error.message);
      ok(error.message.endsWith(": fix the profile or remove it"), error.message);
    });
  }
});

Deno.test("an unknown key in a profile is a warning, not an error", () => {
  const { config, warnings } = parseConfig(
    '[profiles.acme]\ndevice-nodes = ["/dev/acme0"]\ncolour = "red"\n',
    PATH,
  );
  strictEqual(warnings.length, 1);
  ok(warnings[0].includes('Ignoring unknown key "profiles.acme.colour"'), warnings[0]);
  ok(warnings[0].includes(`"${PATH}", line 3`), warnings[0]);
  ok(warnings[0].includes('"device-nodes"'), warnings[0]);
  deepStrictEqual(config.profiles.acme.deviceNodes, ["/dev/acme0"]);
});

Deno.test("a profile named like a built-in one overrides it", async (t) => {
  const { config } = parseConfig(
    '[profiles.xpu]\nkernel-module = "xpu2"\ndevice-nodes = ["/dev/myxpu[0-9]*"]\n',
    PATH,
  );
  const cases: { name: string; input: string; expected: DeviceProfile | undefined }[] = [
    { name: "xpu is the defined one", input: "xpu", expected: config.profiles.xpu },
    {
      name: "nvidia is still the built-in one",
      input: "nvidia",
      expected: findProfile({}, "nvidia"),
    },
    { name: "an unknown name", input: "acme", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(findProfile(config.profiles, c.input), c.expected));
  }
  await t.step("the override holds what the file says, not the built-in's", () => {
    const xpu = findProfile(config.profiles, "xpu")!;
    notStrictEqual(xpu, XPU_PROFILE);
    deepStrictEqual(xpu.deviceNodes, ["/dev/myxpu[0-9]*"]);
    strictEqual(xpu.kernelModule, "xpu2");
    deepStrictEqual(xpu.driverFiles, []);
    strictEqual(config.cli.profile, "xpu");
  });
});
