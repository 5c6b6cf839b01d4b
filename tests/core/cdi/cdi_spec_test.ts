/**
 * CDI spec validation and parsing, carrying over the CDI reference's spec_test,
 * container-edits_test and device_test cases: the first problem in the reference's order, where
 * it is (field path, and line and column in a file), and strict parsing (unknown fields,
 * duplicate keys and wrong JSON types are errors).
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import {
  type CdiSpec,
  cdiSpecProblem,
  formatCdiSpec,
  formatFieldPath,
  hooksWithoutEnv,
  hookWithoutEnvWarning,
  parseCdiSpec,
} from "../../../src/core/cdi/cdi_spec.ts";
import { SpecError } from "../../../src/core/errors.ts";
import { assertRejectsError } from "../../helpers/assert_error.ts";

const KIND = "vendor.com/device";

/** What a case expects: valid, or the first problem's field path and message. */
type Expected = undefined | { at: string; message: RegExp; onKey?: boolean };

type Doc = Record<string, unknown>;

/** A valid document (cdiVersion 1.1.0, device dev1 with env) with `extra` merged in. */
function doc(extra: Doc = {}): Doc {
  return {
    cdiVersion: "1.1.0",
    kind: KIND,
    devices: [{ name: "dev1", containerEdits: { env: ["FOO=BAR"] } }],
    ...extra,
  };
}

function checkProblem(input: unknown, expected: Expected): void {
  const problem = cdiSpecProblem(input);
  if (expected === undefined) {
    strictEqual(problem, undefined, `unexpected problem: ${JSON.stringify(problem)}`);
    return;
  }
  ok(problem !== undefined, "expected a problem, the document was accepted");
  strictEqual(formatFieldPath(problem.at), expected.at);
  match(problem.message, expected.message);
  strictEqual(problem.onKey === true, expected.onKey === true, "onKey");
}

Deno.test("cdiSpecProblem: spec_test TestNewSpec, TestReadSpec and TestGetters", async (t) => {
  const cases: { name: string; input: unknown; expected: Expected }[] = [
    {
      name: "unparsable (xyzzy: garbled) is an unknown field",
      input: { xyzzy: "garbled" },
      expected: { at: "xyzzy", message: /unknown field "xyzzy"/, onKey: true },
    },
    {
      name: "missing cdiVersion",
      input: { kind: KIND, devices: [{ name: "dev1", containerEdits: { env: ["A=B"] } }] },
      expected: { at: "cdiVersion", message: /cdiVersion is missing/ },
    },
    {
      name: 'cdiVersion "0.0.0"',
      input: doc({ cdiVersion: "0.0.0" }),
      expected: { at: "cdiVersion", message: /"0\.0\.0" is not a supported CDI version/ },
    },
    {
      name: "missing kind",
      input: { cdiVersion: "0.3.0", devices: [{ name: "dev1", containerEdits: { env: ["A=B"] } }] },
      expected: { at: "kind", message: /kind is missing/ },
    },
    {
      name: 'kind "vendor.com-/device" (vendor ends with "-")',
      input: doc({ kind: "vendor.com-/device" }),
      expected: { at: "kind", message: /vendor "vendor\.com-"/ },
    },
    {
      name: 'kind "vendor.com/device=" (class ends with "=")',
      input: doc({ kind: "vendor.com/device=" }),
      expected: { at: "kind", message: /class "device="/ },
    },
    {
      name: 'kind "vendor1.comdevice" (no "/")',
      input: doc({ kind: "vendor1.comdevice" }),
      expected: { at: "kind", message: /must have the form "vendor\/class"/ },
    },
    {
      name: 'kind "vendor.com/foo/bar" ("/" in the class)',
      input: doc({ kind: "vendor.com/foo/bar" }),
      expected: { at: "kind", message: /class "foo\/bar"/ },
    },
    {
      name: 'kind "vendor.com/foo/" (trailing "/")',
      input: doc({ kind: "vendor.com/foo/" }),
      expected: { at: "kind", message: /foo\// },
    },
    {
      name: "kind with one-letter vendor and class is valid",
      input: doc({ kind: "a/b" }),
      expected: undefined,
    },
    {
      name: "device without containerEdits",
      input: doc({ devices: [{ name: "dev1" }] }),
      expected: { at: "devices[0].containerEdits", message: /device "dev1" has no containerEdits/ },
    },
    {
      name: "device with empty containerEdits",
      input: doc({ devices: [{ name: "dev1", containerEdits: { env: [], mounts: [] } }] }),
      expected: { at: "devices[0].containerEdits", message: /has no containerEdits/ },
    },
    {
      name: "device whose only edit is netDevices is not empty",
      input: doc({
        devices: [{
          name: "dev1",
          containerEdits: { netDevices: [{ hostInterfaceName: "eth0", name: "net0" }] },
        }],
      }),
      expected: undefined,
    },
    {
      name: "duplicate device name (dev1, dev2, dev1)",
      input: doc({
        devices: ["dev1", "dev2", "dev1"].map((name) => ({
          name,
          containerEdits: { env: [`${name.toUpperCase()}=1`] },
        })),
      }),
      expected: { at: "devices[2].name", message: /device "dev1" is defined twice/ },
    },
    {
      name: "no devices",
      input: doc({ devices: [] }),
      expected: { at: "devices", message: /the spec has no devices/ },
    },
    {
      name: "no devices key",
      input: { cdiVersion: "0.3.0", kind: KIND },
      expected: { at: "devices", message: /the spec has no devices/ },
    },
    {
      name: "only the spec's own containerEdits, no devices",
      input: { cdiVersion: "0.3.0", kind: KIND, containerEdits: { env: ["A=B"] } },
      expected: { at: "devices", message: /the spec has no devices/ },
    },
    {
      name: "device name missing",
      input: doc({ devices: [{ containerEdits: { env: ["A=B"] } }] }),
      expected: { at: "devices[0].name", message: /device name is missing/ },
    },
    {
      name: "valid: 0.3.0, dev1 to dev3 with env",
      input: {
        cdiVersion: "0.3.0",
        kind: KIND,
        devices: ["dev1", "dev2", "dev3"].map((name) => ({
          name,
          containerEdits: { env: [`${name.toUpperCase()}=1`] },
        })),
      },
      expected: undefined,
    },
    {
      name: "valid: 0.4.0 with a tmpfs mount type",
      input: {
        cdiVersion: "0.4.0",
        kind: KIND,
        devices: [{
          name: "dev1",
          containerEdits: {
            mounts: [{ hostPath: "tmpfs", containerPath: "/tmp/data", type: "tmpfs" }],
          },
        }],
      },
      expected: undefined,
    },
    {
      name: "0.3.0 with a device named 0 needs 0.5.0",
      input: doc({
        cdiVersion: "0.3.0",
        devices: [{ name: "0", containerEdits: { env: ["A=B"] } }],
      }),
      expected: { at: "cdiVersion", message: /it needs at least 0\.5\.0/ },
    },
    {
      name: "0.5.0 with a dotted class needs 0.6.0",
      input: doc({ cdiVersion: "0.5.0", kind: "vendor.com/class.sub" }),
      expected: { at: "cdiVersion", message: /it needs at least 0\.6\.0/ },
    },
    {
      // The reference validates the version before it splits the kind.
      name: "an unknown cdiVersion is reported before an invalid kind",
      input: doc({ cdiVersion: "0.0.0", kind: "vendor1.comdevice" }),
      expected: { at: "cdiVersion", message: /"0\.0\.0" is not a supported CDI version/ },
    },
    {
      name: "the spec's own edits are checked before the devices",
      input: doc({
        containerEdits: { env: ["SPEC"] },
        devices: [{ name: "dev1", containerEdits: { env: ["DEV"] } }],
      }),
      expected: { at: "containerEdits.env[0]", message: /"SPEC" is not NAME=VALUE/ },
    },
    {
      name: "devices are checked in file order",
      input: doc({
        devices: [
          { name: "dev1", containerEdits: { env: ["A=1"] } },
          { name: "dev2", containerEdits: { env: ["SECOND"] } },
          { name: "dev3", containerEdits: { env: ["THIRD"] } },
        ],
      }),
      expected: { at: "devices[1].containerEdits.env[0]", message: /"SECOND"/ },
    },
  ];
  for (const c of cases) await t.step(c.name, () => checkProblem(c.input, c.expected));
});

Deno.test("cdiSpecProblem: container-edits_test TestValidateContainerEdits", async (t) => {
  const cases: { name: string; edits: Doc; expected: Expected }[] = [
    { name: "valid env BAR=BARVALUE1", edits: { env: ["BAR=BARVALUE1"] }, expected: undefined },
    { name: 'valid env "A=" (empty value)', edits: { env: ["A="] }, expected: undefined },
    {
      name: "valid device {path}",
      edits: { deviceNodes: [{ path: "/dev/null" }] },
      expected: undefined,
    },
    {
      name: "valid device {path, type c}",
      edits: { deviceNodes: [{ path: "/dev/null", type: "c" }] },
      expected: undefined,
    },
    {
      name: "valid device {path, type b, permissions rwm}",
      edits: { deviceNodes: [{ path: "/dev/sda", type: "b", permissions: "rwm" }] },
      expected: undefined,
    },
    {
      name: "valid device types u and p, permissions in any order",
      edits: {
        deviceNodes: [
          { path: "/dev/u", type: "u", permissions: "mwr" },
          { path: "/dev/p", type: "p", permissions: "" },
        ],
      },
      expected: undefined,
    },
    {
      name: "valid mount with both paths",
      edits: { mounts: [{ hostPath: "/dev/host", containerPath: "/dev/container" }] },
      expected: undefined,
    },
    {
      name: "valid hooks of all 6 names with args and env",
      edits: {
        hooks: [
          "prestart",
          "createRuntime",
          "createContainer",
          "startContainer",
          "poststart",
          "poststop",
        ].map((hookName) => ({
          hookName,
          path: "/usr/local/bin/hook",
          args: ["hook", "--arg"],
          env: ["HOOK_ENV=1", "OTHER="],
        })),
      },
      expected: undefined,
    },
    {
      name: 'valid intelRdt closID "foo.bar"',
      edits: { intelRdt: { closID: "foo.bar" } },
      expected: undefined,
    },
    {
      name: 'valid intelRdt closID "/" (the root CLOS)',
      edits: { intelRdt: { closID: "/" } },
      expected: undefined,
    },
    {
      // An empty closID is the reference's zero value: "empty config" is valid.
      name: 'valid intelRdt closID "" (unset)',
      edits: { intelRdt: { closID: "" } },
      expected: undefined,
    },
    {
      name: "valid intelRdt closID of 4095 characters",
      edits: { intelRdt: { closID: "c".repeat(4095) } },
      expected: undefined,
    },
    {
      name: "valid netDevices",
      edits: {
        netDevices: [
          { hostInterfaceName: "eth0", name: "net0" },
          { hostInterfaceName: "eth1", name: "net1" },
        ],
      },
      expected: undefined,
    },
    {
      name: "valid additionalGids with 0 (not checked)",
      edits: { additionalGids: [0, 5] },
      expected: undefined,
    },
    {
      name: 'invalid env ""',
      edits: { env: [""] },
      expected: { at: "env[0]", message: /"" is not NAME=VALUE/ },
    },
    {
      name: 'invalid env "=foo"',
      edits: { env: ["A=1", "=foo"] },
      expected: { at: "env[1]", message: /"=foo" is not NAME=VALUE/ },
    },
    {
      name: 'invalid env "FOOBAR"',
      edits: { env: ["FOOBAR"] },
      expected: { at: "env[0]", message: /"FOOBAR" is not NAME=VALUE/ },
    },
    {
      name: "invalid device with an empty path",
      edits: { deviceNodes: [{ path: "" }] },
      expected: { at: "deviceNodes[0].path", message: /has no path/ },
    },
    {
      name: "invalid device without a path",
      edits: { deviceNodes: [{ type: "c" }] },
      expected: { at: "deviceNodes[0].path", message: /has no path/ },
    },
    {
      name: 'invalid device type "f"',
      edits: { deviceNodes: [{ path: "/dev/null", type: "f" }] },
      expected: { at: "deviceNodes[0].type", message: /"\/dev\/null" has type "f"/ },
    },
    {
      name: 'invalid device permissions "to land"',
      edits: { deviceNodes: [{ path: "/dev/null", type: "b", permissions: "to land" }] },
      expected: { at: "deviceNodes[0].permissions", message: /permissions "to land"/ },
    },
    {
      name: "invalid mount with an empty hostPath",
      edits: { mounts: [{ hostPath: "", containerPath: "/dev/container" }] },
      expected: { at: "mounts[0]", message: /has no hostPath/ },
    },
    {
      name: "invalid mount with an empty containerPath",
      edits: { mounts: [{ hostPath: "/dev/host", containerPath: "" }] },
      expected: { at: "mounts[0]", message: /has no containerPath/ },
    },
    {
      name: "invalid hook with no path",
      edits: { hooks: [{ hookName: "prestart", args: ["a"] }] },
      expected: { at: "hooks[0].path", message: /has no path/ },
    },
    {
      name: 'invalid hookName "misCreateRuntime"',
      edits: { hooks: [{ hookName: "misCreateRuntime", path: "/usr/local/bin/hook" }] },
      expected: { at: "hooks[0].hookName", message: /hookName "misCreateRuntime"/ },
    },
    {
      name: 'invalid hook env "=value2"',
      edits: {
        hooks: [{ hookName: "prestart", path: "/bin/h", env: ["key1=value1", "=value2"] }],
      },
      expected: { at: "hooks[0].env[1]", message: /"=value2" is not NAME=VALUE/ },
    },
    ...["foo/bar", ".", "..", "foo\nbar", "c".repeat(4096)].map((closID) => ({
      name: `invalid intelRdt closID ${JSON.stringify(closID.slice(0, 12))}` +
        (closID.length > 12 ? ` (${closID.length} characters)` : ""),
      edits: { intelRdt: { closID } },
      expected: { at: "intelRdt.closID", message: /is not a valid name/ },
    })),
    {
      name: "invalid netDevice without hostInterfaceName",
      edits: { netDevices: [{ name: "net0" }] },
      expected: { at: "netDevices[0]", message: /has no hostInterfaceName/ },
    },
    {
      name: "invalid netDevice without name",
      edits: { netDevices: [{ hostInterfaceName: "eth0" }] },
      expected: { at: "netDevices[0]", message: /has no name/ },
    },
    {
      name: "invalid netDevices sharing a hostInterfaceName",
      edits: {
        netDevices: [
          { hostInterfaceName: "eth0", name: "net0" },
          { hostInterfaceName: "eth0", name: "net1" },
        ],
      },
      expected: { at: "netDevices[1]", message: /repeats/ },
    },
    {
      name: "invalid netDevices sharing a name",
      edits: {
        netDevices: [
          { hostInterfaceName: "eth0", name: "net0" },
          { hostInterfaceName: "eth1", name: "net0" },
        ],
      },
      expected: { at: "netDevices[1]", message: /repeats/ },
    },
    {
      name: "env is checked before device nodes",
      edits: { deviceNodes: [{ path: "" }], env: ["BAD"] },
      expected: { at: "env[0]", message: /"BAD"/ },
    },
    {
      name: "hostile: a relative device node path",
      edits: { deviceNodes: [{ path: "/dev/xpu0" }, { path: "dev/xpu1" }] },
      expected: { at: "deviceNodes[1].path", message: /"dev\/xpu1" is not an absolute path/ },
    },
    {
      name: "hostile: a relative hook path (runc would resolve it in the container's dir)",
      edits: {
        hooks: [{ hookName: "createContainer", path: "xpu-ctk", env: ["PATH=/usr/bin"] }],
      },
      expected: { at: "hooks[0].path", message: /hooks\[0\]\.path "xpu-ctk" is not an absolute/ },
    },
    {
      name: "hostile: a ./ hook path",
      edits: { hooks: [{ hookName: "prestart", path: "./bin/hook" }] },
      expected: { at: "hooks[0].path", message: /"\.\/bin\/hook" is not an absolute path/ },
    },
    {
      name: "hostile: a relative mount containerPath",
      edits: { mounts: [{ hostPath: "/usr/lib/libx.so", containerPath: "usr/lib/libx.so" }] },
      expected: {
        at: "mounts[0].containerPath",
        message: /"usr\/lib\/libx\.so" is not an absolute path/,
      },
    },
    {
      name: "honest: the same edits with absolute paths (and a tmpfs hostPath) are valid",
      edits: {
        deviceNodes: [{ path: "/dev/xpu1" }],
        hooks: [{ hookName: "createContainer", path: "/usr/bin/xpu-ctk", env: ["PATH=/usr/bin"] }],
        mounts: [
          { hostPath: "/usr/lib/libx.so", containerPath: "/usr/lib/libx.so" },
          { hostPath: "tmpfs", containerPath: "/run/x", type: "tmpfs" },
        ],
      },
      expected: undefined,
    },
    {
      name: "hooks are checked before mounts",
      edits: { mounts: [{ hostPath: "", containerPath: "/c" }], hooks: [{ hookName: "x" }] },
      expected: { at: "hooks[0].hookName", message: /hookName "x"/ },
    },
    {
      name: "a NUL in deviceNodes[].path",
      edits: { deviceNodes: [{ path: "/dev/xpu0\0/../null" }] },
      expected: {
        at: "deviceNodes[0].path",
        message: /deviceNodes\[0\]\.path "\/dev\/xpu0\\u0000\/\.\.\/null" contains a NUL byte/,
      },
    },
    {
      name: "a NUL in deviceNodes[].hostPath",
      edits: { deviceNodes: [{ path: "/dev/xpu0", hostPath: "/dev/xpu0\0" }] },
      expected: { at: "deviceNodes[0].hostPath", message: /contains a NUL byte/ },
    },
    {
      name: "a NUL in mounts[].hostPath",
      edits: { mounts: [{ hostPath: "/usr/lib/libx.so\0", containerPath: "/usr/lib/libx.so" }] },
      expected: { at: "mounts[0].hostPath", message: /contains a NUL byte/ },
    },
    {
      name: "a NUL in mounts[].containerPath",
      edits: { mounts: [{ hostPath: "/usr/lib/libx.so", containerPath: "/usr/\0lib" }] },
      expected: { at: "mounts[0].containerPath", message: /contains a NUL byte/ },
    },
    {
      name: "a NUL in hooks[].path",
      edits: { hooks: [{ hookName: "createContainer", path: "/usr/bin/xpu-ctk\0", env: [] }] },
      expected: { at: "hooks[0].path", message: /contains a NUL byte/ },
    },
    {
      name: "a path longer than Linux takes",
      edits: { deviceNodes: [{ path: "/dev" + "/x".repeat(2_048) }] },
      expected: { at: "deviceNodes[0].path", message: /is longer than 4095 bytes$/ },
    },
    {
      name: "a name longer than Linux takes",
      edits: { mounts: [{ hostPath: `/usr/${"l".repeat(256)}`, containerPath: "/usr/lib" }] },
      expected: { at: "mounts[0].hostPath", message: /has a name longer than 255 bytes$/ },
    },
    {
      name: "hostPath null is absent",
      edits: { deviceNodes: [{ path: "/dev/xpu0", hostPath: null }] },
      expected: undefined,
    },
  ];
  const places: { name: string; prefix: string; wrap: (edits: Doc) => Doc }[] = [
    {
      name: "in a device",
      prefix: "devices[0].containerEdits",
      wrap: (edits) => doc({ devices: [{ name: "dev1", containerEdits: edits }] }),
    },
    {
      name: "in the spec's own edits",
      prefix: "containerEdits",
      wrap: (edits) => doc({ containerEdits: edits }),
    },
  ];
  for (const place of places) {
    for (const c of cases) {
      await t.step(`${c.name}, ${place.name}`, () =>
        checkProblem(
          place.wrap(c.edits),
          c.expected && { ...c.expected, at: `${place.prefix}.${c.expected.at}` },
        ));
    }
  }
});

Deno.test("cdiSpecProblem: device_test device names", async (t) => {
  const cases: { name: string; device: Doc; expected: Expected }[] = [
    {
      name: '"dev" with env FOO=BAR',
      device: { name: "dev", containerEdits: { env: ["FOO=BAR"] } },
      expected: undefined,
    },
    {
      name: '"dev" with env "=BAR"',
      device: { name: "dev", containerEdits: { env: ["=BAR"] } },
      expected: { at: "devices[0].containerEdits.env[0]", message: /"=BAR"/ },
    },
    {
      name: '"a dev ice"',
      device: { name: "a dev ice", containerEdits: { env: ["FOO=BAR"] } },
      expected: { at: "devices[0].name", message: /device name "a dev ice"/ },
    },
    {
      name: 'one character "a"',
      device: { name: "a", containerEdits: { env: ["FOO=BAR"] } },
      expected: undefined,
    },
    {
      name: '"dev_1:2.3-x"',
      device: { name: "dev_1:2.3-x", containerEdits: { env: ["FOO=BAR"] } },
      expected: undefined,
    },
    {
      name: '"-dev" (starts with "-")',
      device: { name: "-dev", containerEdits: { env: ["FOO=BAR"] } },
      expected: { at: "devices[0].name", message: /device name "-dev"/ },
    },
    {
      name: '"dev:" (ends with ":")',
      device: { name: "dev:", containerEdits: { env: ["FOO=BAR"] } },
      expected: { at: "devices[0].name", message: /device name "dev:"/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => checkProblem(doc({ devices: [c.device] }), c.expected));
  }
});

Deno.test("cdiSpecProblem: strict shape (unknown fields, JSON types, null)", async (t) => {
  const nodeDoc = (node: Doc) =>
    doc({ devices: [{ name: "dev1", containerEdits: { deviceNodes: [node] } }] });
  const cases: { name: string; input: unknown; expected: Expected }[] = [
    {
      name: "unknown field at the top level",
      input: doc({ vendor: "acme" }),
      expected: { at: "vendor", message: /unknown field "vendor"/, onKey: true },
    },
    {
      name: "unknown field in a device",
      input: doc({ devices: [{ name: "dev1", containerEdits: { env: ["A=B"] }, foo: 1 }] }),
      expected: {
        at: "devices[0].foo",
        message: /unknown field "foo" in devices\[0\]/,
        onKey: true,
      },
    },
    {
      name: "unknown field in containerEdits",
      input: doc({ devices: [{ name: "dev1", containerEdits: { envs: ["A=B"] } }] }),
      expected: {
        at: "devices[0].containerEdits.envs",
        message: /unknown field "envs" in devices\[0\]\.containerEdits/,
        onKey: true,
      },
    },
    {
      name: "unknown field in the spec's containerEdits",
      input: doc({ containerEdits: { device_nodes: [] } }),
      expected: { at: "containerEdits.device_nodes", message: /unknown field/, onKey: true },
    },
    {
      name: "unknown field in a device node",
      input: nodeDoc({ path: "/dev/x", owner: "root" }),
      expected: {
        at: "devices[0].containerEdits.deviceNodes[0].owner",
        message: /unknown field "owner" in devices\[0\]\.containerEdits\.deviceNodes\[0\]/,
        onKey: true,
      },
    },
    {
      name: "unknown field in intelRdt",
      input: doc({ containerEdits: { intelRdt: { closID: "a", enableFoo: true } } }),
      expected: { at: "containerEdits.intelRdt.enableFoo", message: /unknown field/, onKey: true },
    },
    {
      name: "devices as an object",
      input: doc({ devices: { dev1: { containerEdits: { env: ["A=B"] } } } }),
      expected: { at: "devices", message: /devices must be a list/ },
    },
    {
      name: "env as a string",
      input: doc({ devices: [{ name: "dev1", containerEdits: { env: "A=B" } }] }),
      expected: {
        at: "devices[0].containerEdits.env",
        message: /devices\[0\]\.containerEdits\.env must be a list of strings/,
      },
    },
    {
      name: "major as a string",
      input: nodeDoc({ path: "/dev/x", type: "c", major: "195" }),
      expected: {
        at: "devices[0].containerEdits.deviceNodes[0].major",
        message: /major must be an integer/,
      },
    },
    {
      name: "fileMode as a fraction",
      input: nodeDoc({ path: "/dev/x", fileMode: 1.5 }),
      expected: {
        at: "devices[0].containerEdits.deviceNodes[0].fileMode",
        message: /must be an integer/,
      },
    },
    {
      name: "cdiVersion as a number",
      input: doc({ cdiVersion: 1.1 }),
      expected: { at: "cdiVersion", message: /cdiVersion must be a string/ },
    },
    {
      name: "annotations with a number value",
      input: doc({ annotations: { a: 1 } }),
      expected: { at: "annotations", message: /must be a map of strings/ },
    },
    {
      name: "a device that is not an object",
      input: doc({ devices: ["dev1"] }),
      expected: { at: "devices[0]", message: /devices\[0\] must be an object/ },
    },
    {
      name: "a document that is a list",
      input: [doc()],
      expected: { at: "", message: /the document must be an object/ },
    },
    {
      name: "null fields count as absent",
      input: doc({ annotations: null, containerEdits: null }),
      expected: undefined,
    },
    {
      // null is absent: it must not raise the minimum version (Go reads it as a nil pointer).
      name: "intelRdt: null at 0.3.0 is absent, not an intelRdt",
      input: doc({
        cdiVersion: "0.3.0",
        devices: [{ name: "dev1", containerEdits: { env: ["A=B"], intelRdt: null } }],
      }),
      expected: undefined,
    },
  ];
  for (const c of cases) await t.step(c.name, () => checkProblem(c.input, c.expected));
});

Deno.test("cdiSpecProblem: integer ranges, null closID and 1.1.0's dropped fields, as the reference", async (t) => {
  // Each expected verdict is the reference's (container-device-interface v1.1.0): its spec
  // structs type uid, gid, fileMode and additionalGids as uint32 and major, minor and timeout as
  // int64, so json.Unmarshal refuses what does not fit; closID null is ""; and 1.1.0's IntelRdt
  // has no enableCMT or enableMBM, which its strict parse refuses as unknown fields.
  const edits = (e: Doc, version = "1.1.0") =>
    doc({ cdiVersion: version, devices: [{ name: "dev1", containerEdits: e }] });
  const node = (extra: Doc) => edits({ deviceNodes: [{ path: "/dev/xpu0", ...extra }] });
  const hook = (extra: Doc) =>
    edits({ hooks: [{ hookName: "createContainer", path: "/bin/true", ...extra }] });
  const at = (field: string) => `devices[0].containerEdits.deviceNodes[0].${field}`;
  const cases: { name: string; input: unknown; expected: Expected }[] = [
    {
      name: "uid 0 and 4294967295: accepted",
      input: node({ uid: 0, gid: 4294967295 }),
      expected: undefined,
    },
    {
      name: "uid -1: refused (uint32), where runc would refuse the config",
      input: node({ uid: -1 }),
      expected: { at: at("uid"), message: /uid must be an integer from 0 to 4294967295/ },
    },
    {
      name: "gid 4294967296: refused (uint32)",
      input: node({ gid: 4294967296 }),
      expected: { at: at("gid"), message: /gid must be an integer from 0 to 4294967295/ },
    },
    {
      name: "fileMode -1: refused (os.FileMode is uint32)",
      input: node({ fileMode: -1 }),
      expected: { at: at("fileMode"), message: /fileMode must be an integer from 0/ },
    },
    { name: "fileMode 438 (0666): accepted", input: node({ fileMode: 438 }), expected: undefined },
    {
      name: "additionalGids with -5: refused at the element (uint32)",
      input: edits({ additionalGids: [5, -5] }),
      expected: {
        at: "devices[0].containerEdits.additionalGids[1]",
        message: /additionalGids\[1\] must be an integer from 0 to 4294967295/,
      },
    },
    {
      name: "additionalGids 4294967296: refused (uint32)",
      input: edits({ additionalGids: [4294967296] }),
      expected: { at: "devices[0].containerEdits.additionalGids[0]", message: /from 0 to/ },
    },
    {
      name: "major -1, minor 0: accepted (int64)",
      input: node({ major: -1, minor: 0 }),
      expected: undefined,
    },
    {
      name: "major 2^53 − 1: accepted (int64, exact)",
      input: node({ major: 9007199254740991 }),
      expected: undefined,
    },
    {
      name: "minor 2^60: the reference takes it; refused here, a number cannot hold it exactly",
      input: node({ minor: 2 ** 60 }),
      expected: {
        at: at("minor"),
        message: /minor is beyond ±9007199254740991.*cannot carry exactly/,
      },
    },
    {
      name: "hook timeout -1: accepted (int64; runtimes judge it)",
      input: hook({ timeout: -1 }),
      expected: undefined,
    },
    {
      name: "hook timeout 1.5: refused (not an integer)",
      input: hook({ timeout: 1.5 }),
      expected: {
        at: "devices[0].containerEdits.hooks[0].timeout",
        message: /timeout must be an integer/,
      },
    },
    {
      name: "closID null: accepted, as an absent closID",
      input: edits({ intelRdt: { closID: null, schemata: ["L3:0=f"] } }),
      expected: undefined,
    },
    {
      name: 'closID "..": refused',
      input: edits({ intelRdt: { closID: ".." } }),
      expected: { at: "devices[0].containerEdits.intelRdt.closID", message: /not a valid name/ },
    },
    {
      name: "enableCMT in a 1.1.0 spec: refused as an unknown field",
      input: edits({ intelRdt: { closID: "g", enableCMT: true } }),
      expected: {
        at: "devices[0].containerEdits.intelRdt.enableCMT",
        message:
          /unknown field "enableCMT" in devices\[0\]\.containerEdits\.intelRdt: cdiVersion 1\.1\.0 dropped it; use enableMonitoring/,
        onKey: true,
      },
    },
    {
      name: "enableMBM: false in the spec's own edits of a v1.1.0 spec: refused",
      input: doc({ cdiVersion: "v1.1.0", containerEdits: { intelRdt: { enableMBM: false } } }),
      expected: {
        at: "containerEdits.intelRdt.enableMBM",
        message: /unknown field "enableMBM"/,
        onKey: true,
      },
    },
    {
      name: "enableCMT in a 0.7.0 spec: accepted",
      input: edits({ intelRdt: { enableCMT: true } }, "0.7.0"),
      expected: undefined,
    },
    {
      name: "enableMonitoring in a 1.1.0 spec: accepted",
      input: edits({ intelRdt: { enableMonitoring: true } }),
      expected: undefined,
    },
  ];
  for (const c of cases) await t.step(c.name, () => checkProblem(c.input, c.expected));
});

Deno.test("parseCdiSpec reads YAML as YAML 1.1 and scalars as strings where the spec has one, as the reference", async (t) => {
  // The expected values are what the reference (container-device-interface v1.1.0, through
  // sigs.k8s.io/yaml and go-yaml) gives for the same text; a .json file goes the same way there.
  const text = (device: string, node = "", version = "0.5.0") =>
    `cdiVersion: "${version}"\nkind: vendor.com/device\ndevices:\n  - name: ${device}\n` +
    `    containerEdits:\n      env: [FOO=BAR]\n` +
    (node ? `      deviceNodes:\n        - path: /dev/xpu0\n${node}` : "");
  const cases: { name: string; path?: string; text: string; check: (s: CdiSpec) => void }[] = [
    {
      name: "fileMode: 0666 is octal: 438",
      text: text("dev1", "          fileMode: 0666\n"),
      check: (s) => strictEqual(s.devices[0].containerEdits.deviceNodes![0].fileMode, 438),
    },
    {
      name: "uid: 1_000 is the number 1000",
      text: text("dev1", "          uid: 1_000\n"),
      check: (s) => strictEqual(s.devices[0].containerEdits.deviceNodes![0].uid, 1000),
    },
    {
      name: 'name: 0 (unquoted) is the device "0"',
      text: text("0"),
      check: (s) => strictEqual(s.devices[0].name, "0"),
    },
    {
      name: 'name: yes is the device "true"',
      text: text("yes"),
      check: (s) => strictEqual(s.devices[0].name, "true"),
    },
    {
      name: 'name: 0x1f is the device "31"',
      text: text("0x1f"),
      check: (s) => strictEqual(s.devices[0].name, "31"),
    },
    {
      // go-yaml has no base 60 and keeps a timestamp a string for a string field.
      name: 'name: 1:20 is the device "1:20", not 80',
      text: text("1:20"),
      check: (s) => strictEqual(s.devices[0].name, "1:20"),
    },
    {
      name: 'name: 2001-12-14 is the device "2001-12-14", not a date',
      text: text("2001-12-14"),
      check: (s) => strictEqual(s.devices[0].name, "2001-12-14"),
    },
    {
      name: "a quoted value is the string written",
      text: text("dev1", '          permissions: "rw"\n'),
      check: (s) => strictEqual(s.devices[0].containerEdits.deviceNodes![0].permissions, "rw"),
    },
    {
      name: 'a JSON spec\'s "name": 0 is the device "0" too',
      path: "/etc/cdi/zero.json",
      text: '{"cdiVersion":"0.5.0","kind":"vendor.com/device","devices":[{"name":0,' +
        '"containerEdits":{"env":["FOO=BAR"]}}]}',
      check: (s) => strictEqual(s.devices[0].name, "0"),
    },
  ];
  for (const c of cases) {
    await t.step(
      c.name,
      async () => c.check(await parseCdiSpec(c.text, c.path ?? "/etc/cdi/a.yaml")),
    );
  }
  await t.step("formatCdiSpec quotes YAML 1.1 words, so they read back as strings", async () => {
    const names = ["yes", "on", "0666", "1_000", "0x1f", "1:20"];
    const spec: CdiSpec = {
      cdiVersion: "0.5.0",
      kind: KIND,
      devices: names.map((name) => ({ name, containerEdits: { env: [`N=${name}`] } })),
    };
    const back = await parseCdiSpec(await formatCdiSpec(spec, "yaml"), "/etc/cdi/a.yaml");
    deepStrictEqual(back.devices.map((d) => d.name), names);
  });
  await t.step("fileMode: on is a boolean in YAML 1.1, so not an integer: refused", async () => {
    await assertRejectsError(
      () => parseCdiSpec(text("dev1", "          fileMode: on\n"), "/etc/cdi/a.yaml"),
      SpecError,
      "deviceNodes[0].fileMode must be an integer from 0 to 4294967295",
    );
  });
  await t.step(
    "a list where a string goes is still refused (the reference's strictness)",
    async () => {
      await assertRejectsError(
        () => parseCdiSpec(text("[a, b]"), "/etc/cdi/a.yaml"),
        SpecError,
        "devices[0].name must be a string",
      );
    },
  );
});

const VALID_JSON = `{
  "cdiVersion": "0.3.0",
  "kind": "vendor.com/device",
  "devices": [
    {
      "name": "dev1",
      "containerEdits": {
        "env": ["FOO=BAR"]
      }
    }
  ]
}
`;

const VALID_YAML = `cdiVersion: 0.3.0
kind: vendor.com/device
devices:
  - name: dev1
    containerEdits:
      env:
        - FOO=BAR
`;

const VALID: CdiSpec = {
  cdiVersion: "0.3.0",
  kind: KIND,
  devices: [{ name: "dev1", containerEdits: { env: ["FOO=BAR"] } }],
};

Deno.test("parseCdiSpec reads valid JSON and YAML (TestReadSpec valid)", async (t) => {
  const cases: { name: string; input: { text: string; path: string }; expected: CdiSpec }[] = [
    { name: "JSON", input: { text: VALID_JSON, path: "/etc/cdi/v.json" }, expected: VALID },
    { name: "YAML", input: { text: VALID_YAML, path: "/etc/cdi/v.yaml" }, expected: VALID },
    {
      name: "JSON text in a .yaml file (YAML is a superset)",
      input: { text: VALID_JSON, path: "/etc/cdi/v.yaml" },
      expected: VALID,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      deepStrictEqual(await parseCdiSpec(c.input.text, c.input.path), c.expected);
    });
  }
});

Deno.test("parseCdiSpec errors carry the path, line and column", async (t) => {
  const cases: {
    name: string;
    input: { text: string; path: string };
    expected: { line?: number; column?: number; message: string };
  }[] = [
    {
      name: "JSON syntax error on line 3",
      input: {
        path: "/etc/cdi/syntax.json",
        text: '{\n  "cdiVersion": "0.3.0",\n  "kind": ,\n  "devices": []\n}\n',
      },
      expected: { line: 3, column: 11, message: 'unexpected ","' },
    },
    {
      name: "YAML duplicate key",
      input: {
        path: "/etc/cdi/dup.yaml",
        text: "cdiVersion: 0.3.0\nkind: vendor.com/device\nkind: vendor.com/other\n" +
          "devices:\n  - name: dev1\n    containerEdits:\n      env: [FOO=BAR]\n",
      },
      expected: { line: 3, column: 1, message: "unique" },
    },
    {
      name: "unparsable: xyzzy: garbled",
      input: { path: "/etc/cdi/garbled.yaml", text: "xyzzy: garbled\n" },
      expected: { line: 1, column: 1, message: 'unknown field "xyzzy"' },
    },
    {
      name: "unknown field in YAML, on its line",
      input: {
        path: "/etc/cdi/unknown.yaml",
        text: [
          'cdiVersion: "0.5.0"',
          "kind: vendor.com/device",
          "devices:",
          "  - name: dev1",
          "    containerEdits:",
          "      deviceNodes:",
          "        - path: /dev/foo",
          "          owner: root",
          "",
        ].join("\n"),
      },
      expected: {
        line: 8,
        column: 11,
        message: 'unknown field "owner" in devices[0].containerEdits.deviceNodes[0]',
      },
    },
    {
      name: "hostile: a relative hook path in YAML, on its line",
      input: {
        path: "/etc/cdi/relative.yaml",
        text: [
          'cdiVersion: "0.5.0"',
          "kind: vendor.com/device",
          "devices:",
          "  - name: dev1",
          "    containerEdits:",
          "      hooks:",
          "        - hookName: createContainer",
          "          path: xpu-ctk",
          "",
        ].join("\n"),
      },
      expected: {
        line: 8,
        column: 17,
        message: 'devices[0].containerEdits.hooks[0].path "xpu-ctk" is not an absolute path',
      },
    },
    {
      name: "invalid env entry in JSON, on its line",
      input: {
        path: "/etc/cdi/env.json",
        text: [
          "{",
          '  "cdiVersion": "0.3.0",',
          '  "kind": "vendor.com/device",',
          '  "devices": [',
          "    {",
          '      "name": "dev1",',
          '      "containerEdits": {',
          '        "env": ["FOO=BAR",',
          '                "FOOBAR"]',
          "      }",
          "    }",
          "  ]",
          "}",
          "",
        ].join("\n"),
      },
      expected: {
        line: 9,
        column: 17,
        message: 'devices[0].containerEdits.env[1] "FOOBAR" is not NAME=VALUE',
      },
    },
    {
      name: "missing cdiVersion in YAML",
      input: {
        path: "/etc/cdi/noversion.yaml",
        text: "kind: vendor.com/device\ndevices:\n  - name: dev1\n" +
          "    containerEdits:\n      env: [FOO=BAR]\n",
      },
      // A missing field is located at the start of the document.
      expected: { line: 1, column: 1, message: "cdiVersion is missing" },
    },
    {
      name: "wrong JSON type, on its line",
      input: {
        path: "/etc/cdi/major.yaml",
        text: 'cdiVersion: "0.3.0"\nkind: vendor.com/device\ndevices:\n  - name: dev1\n' +
          "    containerEdits:\n      deviceNodes:\n        - path: /dev/x\n" +
          '          major: "195"\n',
      },
      expected: { line: 8, column: 18, message: "major must be an integer" },
    },
    {
      name: "an empty YAML file",
      input: { path: "/etc/cdi/empty.yaml", text: "" },
      expected: { message: "the file is empty" },
    },
    {
      name: "a YAML file of comments only",
      input: { path: "/etc/cdi/comments.yaml", text: "# nothing here\n" },
      expected: { message: "the file is empty" },
    },
    {
      // The reference reads JSON and YAML alike: an empty file is "no Spec data" for both.
      name: "an empty JSON file",
      input: { path: "/etc/cdi/empty.json", text: "" },
      expected: { message: "the file is empty" },
    },
    {
      // The reference reads JSON through its strict YAML path, where a repeated key is an error.
      name: "JSON duplicate key",
      input: {
        path: "/etc/cdi/dup.json",
        text: '{\n  "cdiVersion": "0.3.0",\n  "cdiVersion": "0.3.0",\n' +
          '  "kind": "vendor.com/device",\n' +
          '  "devices": [{"name": "dev1", "containerEdits": {"env": ["FOO=BAR"]}}]\n}\n',
      },
      expected: { line: 3, message: "cdiVersion" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const error = await assertRejectsError(
        () => parseCdiSpec(c.input.text, c.input.path),
        SpecError,
        c.expected.message,
      );
      strictEqual(error.path, c.input.path);
      match(error.message, /^Cannot load CDI spec "/);
      ok(error.message.includes(`"${c.input.path}"`), error.message);
      match(error.message, /: fix the spec or remove the file$/);
      strictEqual(error.line, c.expected.line);
      if (c.expected.column !== undefined || c.expected.line === undefined) {
        strictEqual(error.column, c.expected.column);
      }
      if (c.expected.line !== undefined) {
        ok(error.message.includes(`line ${c.expected.line}`), error.message);
      }
    });
  }
});

Deno.test("formatCdiSpec round trips through parseCdiSpec", async (t) => {
  const spec: CdiSpec = {
    cdiVersion: "1.1.0",
    kind: "vendor.com/class.sub",
    annotations: { "vendor.com/flag": "true", "vendor.com/count": "0123" },
    containerEdits: {
      env: ["A=1", "EMPTY="],
      deviceNodes: [{ path: "/dev/ctl", hostPath: "/host/dev/ctl", type: "c", major: 240 }],
      mounts: [{
        hostPath: "/usr/lib/libx.so.1",
        containerPath: "/usr/lib/libx.so.1",
        options: ["ro", "nosuid", "nodev", "bind"],
      }],
      hooks: [{
        hookName: "createContainer",
        path: "/usr/bin/xpu-ctk",
        args: ["xpu-ctk", "hook", "update-ldcache"],
        timeout: 10,
      }],
      additionalGids: [44],
      intelRdt: { closID: "clos1", schemata: ["L3:0=ff"], enableMonitoring: true },
      netDevices: [{ hostInterfaceName: "eth1", name: "net1" }],
    },
    devices: [
      { name: "0", containerEdits: { deviceNodes: [{ path: "/dev/xpu0", fileMode: 0o666 }] } },
      { name: "1", containerEdits: { deviceNodes: [{ path: "/dev/xpu1", uid: 0, gid: 44 }] } },
      {
        name: "all",
        annotations: { note: "null" },
        containerEdits: { deviceNodes: [{ path: "/dev/xpu0" }, { path: "/dev/xpu1" }] },
      },
    ],
  };
  const cases: { name: string; format: "json" | "yaml"; path: string }[] = [
    { name: "json", format: "json", path: "/etc/cdi/round.json" },
    { name: "yaml (device 0 stays a string)", format: "yaml", path: "/etc/cdi/round.yaml" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const text = await formatCdiSpec(spec, c.format);
      ok(text.endsWith("\n"), "ends with a newline");
      deepStrictEqual(await parseCdiSpec(text, c.path), spec);
      if (c.format === "json") deepStrictEqual(JSON.parse(text), spec);
    });
  }
});

Deno.test("hooksWithoutEnv: the hooks an older version wrote, where they are", async (t) => {
  const hook = (path: string, env?: string[]) => ({ hookName: "createContainer", path, env });
  const cases: { name: string; input: CdiSpec; expected: { at: string; path: string }[] }[] = [
    {
      name: "honest: every hook has an env (an empty one is explicit too)",
      input: {
        cdiVersion: "0.5.0",
        kind: KIND,
        containerEdits: { hooks: [hook("/usr/bin/a", ["PATH=/bin"]), hook("/usr/bin/b", [])] },
        devices: [{ name: "d", containerEdits: { hooks: [hook("/usr/bin/c", ["A=1"])] } }],
      },
      expected: [],
    },
    {
      name: "old: spec edits first, then each device's",
      input: {
        cdiVersion: "0.5.0",
        kind: KIND,
        containerEdits: { hooks: [hook("/usr/bin/a", ["PATH=/bin"]), hook("/usr/bin/b")] },
        devices: [
          { name: "d0", containerEdits: { env: ["A=1"] } },
          { name: "d1", containerEdits: { hooks: [hook("/usr/bin/c")] } },
        ],
      },
      expected: [
        { at: "containerEdits.hooks[1]", path: "/usr/bin/b" },
        { at: "devices[1].containerEdits.hooks[0]", path: "/usr/bin/c" },
      ],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(hooksWithoutEnv(c.input), c.expected));
  }
  await t.step("the warning names the file, the hook and the fix on one line", () => {
    const line = hookWithoutEnvWarning("/etc/cdi/xpu.yaml", {
      at: "containerEdits.hooks[0]",
      path: "/usr/bin/xpu-ctk",
    });
    strictEqual(
      line,
      'CDI spec "/etc/cdi/xpu.yaml": containerEdits.hooks[0] ("/usr/bin/xpu-ctk") has no env, ' +
        "so runtimes start it with the container's environment: regenerate the spec " +
        '("xpu-ctk cdi generate") or give the hook an explicit env',
    );
  });
});

Deno.test("parseCdiSpec refuses hostile documents with one line naming the file", async (t) => {
  const yamlDevice = (edits: string) =>
    `cdiVersion: 0.5.0\nkind: xpu.dev/xpu\ndevices:\n- name: "0"\n  containerEdits:\n${edits}`;
  const bomb = () => {
    let text = `a: &a [${Array(10).fill("lol").join(",")}]\n`;
    for (const [i, name] of [..."bcdefghi"].entries()) {
      text += `${name}: &${name} [${Array(10).fill(`*${"abcdefgh"[i]}`).join(",")}]\n`;
    }
    return text;
  };
  const cases: {
    name: string;
    input: { text: string; path: string };
    expected: { line?: number; column?: number; message: string };
  }[] = [
    {
      name: "a YAML alias bomb",
      input: { path: "/etc/cdi/bomb.yaml", text: bomb() },
      expected: {
        line: 2,
        column: 8,
        message: "its aliases expand more than 100 times (an alias bomb)",
      },
    },
    {
      name: "a repeated key in a map of 5,000 keys (found in one pass)",
      input: {
        path: "/etc/cdi/keys.yaml",
        text: Array.from({ length: 5_000 }, (_, i) => `k${i}: 1\n`).join("") + "k5: 2\n",
      },
      expected: { line: 5_001, column: 1, message: "Map keys must be unique" },
    },
    {
      name: "a repeated key before a later syntax error is the one reported",
      input: { path: "/etc/cdi/dup.yaml", text: "kind: a\nkind: b\nx: [\n" },
      expected: { line: 2, column: 1, message: "Map keys must be unique" },
    },
    {
      name: "a YAML alias before its anchor",
      input: { path: "/etc/cdi/alias.yaml", text: "cdiVersion: *v\nkind: &v x\n" },
      expected: { line: 1, column: 13, message: "Unresolved alias" },
    },
    {
      name: 'an invalid "\\q" escape in JSON',
      input: { path: "/etc/cdi/q.json", text: '{"cdiVersion": "0.5.0\\q"}' },
      expected: { line: 1, column: 22, message: 'invalid escape "\\q"' },
    },
    {
      name: "5,000 levels of JSON nesting",
      input: {
        path: "/etc/cdi/deep.json",
        text: `{"kind": ${"[".repeat(5_000)}${"]".repeat(5_000)}}`,
      },
      expected: { line: 1, column: 521, message: "the document nests deeper than 512 levels" },
    },
    {
      name: "100,000 levels of JSON nesting, unclosed",
      input: { path: "/etc/cdi/deep.json", text: '{"a":'.repeat(100_000) },
      expected: { line: 1, column: 2561, message: "the document nests deeper than 512 levels" },
    },
    {
      name: "100,000 levels of YAML flow sequences",
      input: { path: "/etc/cdi/deep.yaml", text: `kind: ${"[".repeat(100_000)}` },
      expected: { line: 1, column: 518, message: "the document nests deeper than 512 levels" },
    },
    {
      name: "100,000 levels of YAML block sequences",
      input: { path: "/etc/cdi/deep.yaml", text: "- ".repeat(100_000) + "x\n" },
      expected: { line: 1, column: 1025, message: "the document nests deeper than 512 levels" },
    },
    {
      name: "a NUL in a YAML deviceNodes[].path",
      input: {
        path: "/etc/cdi/nul.yaml",
        text: yamlDevice('    deviceNodes:\n    - path: "/dev/xpu0\\0"\n'),
      },
      expected: {
        line: 7,
        column: 13,
        message: 'devices[0].containerEdits.deviceNodes[0].path "/dev/xpu0\\u0000" contains a NUL',
      },
    },
    {
      name: "a YAML !!set where an object goes",
      input: { path: "/etc/cdi/set.yaml", text: yamlDevice("    !!set {env}\n") },
      expected: { line: 6, column: 11, message: "devices[0].containerEdits must be an object" },
    },
    {
      name: "a YAML !!omap where a map of strings goes",
      input: {
        path: "/etc/cdi/omap.yaml",
        text: "cdiVersion: 0.6.0\nkind: xpu.dev/xpu\nannotations: !!omap [a: b]\n",
      },
      expected: { line: 3, column: 21, message: "annotations must be a map of strings" },
    },
    {
      name: "a newline in a value is escaped",
      input: {
        path: "/etc/cdi/newline.yaml",
        text: yamlDevice('    env: ["NO_EQUALS\\nSIGN"]\n'),
      },
      expected: { line: 6, message: '"NO_EQUALS\\nSIGN" is not NAME=VALUE' },
    },
    {
      name: "a newline in the vendor (cdi_name's message) is escaped",
      input: {
        path: "/etc/cdi/vendor.json",
        text: '{"cdiVersion": "0.5.0", "kind": "xpu\\n.dev/xpu", "devices": []}',
      },
      expected: { line: 1, message: 'vendor "xpu\\n.dev"' },
    },
    {
      name: "2^53+1 where the spec has an object",
      input: {
        path: "/etc/cdi/big.json",
        text: '{"cdiVersion": "0.5.0", "kind": "x.dev/x", "containerEdits": 9007199254740993}',
      },
      expected: { line: 1, column: 62, message: "containerEdits must be an object" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const error = await assertRejectsError(
        () => parseCdiSpec(c.input.text, c.input.path),
        SpecError,
        c.expected.message,
      );
      strictEqual(error.path, c.input.path);
      match(error.message, /^Cannot load CDI spec "/);
      match(error.message, /: fix the spec or remove the file$/);
      ok(!/[\n\r]/.test(error.message), `one line: ${JSON.stringify(error.message)}`);
      strictEqual(error.line, c.expected.line, error.message);
      if (c.expected.column !== undefined) strictEqual(error.column, c.expected.column);
    });
  }
  await t.step("the legitimate spec next to them still loads", async () => {
    const spec = await parseCdiSpec(
      yamlDevice("    deviceNodes:\n    - path: /dev/xpu0\n      hostPath: /dev/xpu0\n"),
      "/etc/cdi/xpu.yaml",
    );
    deepStrictEqual(spec.devices[0].containerEdits.deviceNodes, [
      { path: "/dev/xpu0", hostPath: "/dev/xpu0" },
    ]);
  });
});
