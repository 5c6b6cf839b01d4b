/**
 * The CDI reference's version rules (specs-go/version.go and its tests, spec_test
 * TestRequiredVersion): the minimum version a spec's content needs, and which declared versions
 * are accepted.
 */

import { match, strictEqual } from "node:assert/strict";
import type { CdiEdits, CdiSpec } from "../../../src/core/cdi/cdi_spec.ts";
import { cdiVersionProblem, minimumCdiVersion } from "../../../src/core/cdi/cdi_version.ts";

const KIND = "vendor.com/device";

/** A spec of one device `device0` (env only) with `extra` merged in. */
function spec(extra: Partial<CdiSpec> = {}): CdiSpec {
  return {
    cdiVersion: "",
    kind: KIND,
    devices: [{ name: "device0", containerEdits: { env: ["FOO=BAR"] } }],
    ...extra,
  };
}

/** A spec whose only device carries `edits`. */
function deviceEdits(edits: CdiEdits): CdiSpec {
  return spec({ devices: [{ name: "device0", containerEdits: edits }] });
}

Deno.test("minimumCdiVersion: the reference's TestRequiredVersion table", async (t) => {
  const cases: { name: string; input: CdiSpec; expected: string }[] = [
    {
      name: "empty spec",
      input: { cdiVersion: "", kind: "", devices: [] },
      expected: "0.3.0",
    },
    {
      name: "hostPath set",
      input: deviceEdits({ deviceNodes: [{ path: "/dev/foo", hostPath: "/dev/bar" }] }),
      expected: "0.5.0",
    },
    {
      name: "hostPath equal to path",
      input: deviceEdits({ deviceNodes: [{ path: "/dev/foo", hostPath: "/dev/foo" }] }),
      expected: "0.5.0",
    },
    {
      name: "hostPath set in the spec's own edits",
      input: spec({ containerEdits: { deviceNodes: [{ path: "/dev/foo", hostPath: "/x" }] } }),
      expected: "0.5.0",
    },
    {
      name: "empty hostPath needs nothing",
      input: deviceEdits({ deviceNodes: [{ path: "/dev/foo", hostPath: "" }] }),
      expected: "0.3.0",
    },
    {
      name: "mount type",
      input: deviceEdits({ mounts: [{ hostPath: "/a", containerPath: "/a", type: "bind" }] }),
      expected: "0.4.0",
    },
    {
      name: "mount type in the spec's own edits",
      input: spec({
        containerEdits: { mounts: [{ hostPath: "tmpfs", containerPath: "/t", type: "tmpfs" }] },
      }),
      expected: "0.4.0",
    },
    {
      name: "mount options alone need nothing",
      input: deviceEdits({ mounts: [{ hostPath: "/a", containerPath: "/a", options: ["ro"] }] }),
      expected: "0.3.0",
    },
    {
      name: "annotations, hostPath and mount type: the newest wins",
      input: spec({
        annotations: { key: "value" },
        devices: [{
          name: "device0",
          containerEdits: {
            deviceNodes: [{ path: "/dev/foo", hostPath: "/dev/foo" }],
            mounts: [{ hostPath: "/a", containerPath: "/a", type: "bind" }],
          },
        }],
      }),
      expected: "0.6.0",
    },
    {
      name: 'device name "0"',
      input: spec({ devices: [{ name: "0", containerEdits: { env: ["FOO=BAR"] } }] }),
      expected: "0.5.0",
    },
    {
      name: 'device name "device0"',
      input: spec({ devices: [{ name: "device0", containerEdits: { env: ["FOO=BAR"] } }] }),
      expected: "0.3.0",
    },
    {
      name: "spec annotations",
      input: spec({ annotations: { key: "value" } }),
      expected: "0.6.0",
    },
    {
      name: "empty spec annotations need nothing",
      input: spec({ annotations: {} }),
      expected: "0.3.0",
    },
    {
      name: "device annotations",
      input: spec({
        devices: [{
          name: "device0",
          annotations: { key: "value" },
          containerEdits: { env: ["FOO=BAR"] },
        }],
      }),
      expected: "0.6.0",
    },
    {
      name: 'kind "vendor.com/class.sub"',
      input: spec({ kind: "vendor.com/class.sub" }),
      expected: "0.6.0",
    },
    {
      name: "a dot in the vendor only needs nothing",
      input: spec({ kind: "vendor.com/class" }),
      expected: "0.3.0",
    },
    {
      name: "intelRdt in the spec's edits (even empty)",
      input: spec({ containerEdits: { intelRdt: {} } }),
      expected: "0.7.0",
    },
    {
      name: "intelRdt in a device",
      input: deviceEdits({ intelRdt: { closID: "foo" } }),
      expected: "0.7.0",
    },
    {
      name: "additionalGids in the spec's edits",
      input: spec({ containerEdits: { additionalGids: [5] } }),
      expected: "0.7.0",
    },
    {
      name: "additionalGids in a device",
      input: deviceEdits({ additionalGids: [5] }),
      expected: "0.7.0",
    },
    {
      name: "empty additionalGids need nothing",
      input: deviceEdits({ env: ["A=1"], additionalGids: [] }),
      expected: "0.3.0",
    },
    {
      name: "intelRdt schemata",
      input: deviceEdits({ intelRdt: { schemata: ["L3:0=ff"] } }),
      expected: "1.1.0",
    },
    {
      name: "intelRdt enableMonitoring",
      input: spec({ containerEdits: { intelRdt: { enableMonitoring: true } } }),
      expected: "1.1.0",
    },
    {
      name: "intelRdt enableMonitoring false is only intelRdt",
      input: spec({ containerEdits: { intelRdt: { enableMonitoring: false } } }),
      expected: "0.7.0",
    },
    {
      name: "netDevices",
      input: deviceEdits({ netDevices: [{ hostInterfaceName: "eth0", name: "net0" }] }),
      expected: "1.1.0",
    },
    {
      name: "hooks, env and device node details need nothing",
      input: deviceEdits({
        env: ["A=1"],
        hooks: [{ hookName: "poststop", path: "/bin/true" }],
        deviceNodes: [{ path: "/dev/foo", type: "c", major: 1, minor: 2, permissions: "rw" }],
      }),
      expected: "0.3.0",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(minimumCdiVersion(c.input), c.expected));
  }
});

Deno.test("cdiVersionProblem", async (t) => {
  const cases: { name: string; input: CdiSpec; expected: RegExp | undefined }[] = [
    { name: '"0.3.0" for a plain spec', input: spec({ cdiVersion: "0.3.0" }), expected: undefined },
    { name: '"1.1.0" is current', input: spec({ cdiVersion: "1.1.0" }), expected: undefined },
    {
      name: 'every known version from "0.3.0" is accepted ("0.8.0")',
      input: spec({ cdiVersion: "0.8.0" }),
      expected: undefined,
    },
    {
      name: '"1.0.0" is accepted',
      input: spec({ cdiVersion: "1.0.0" }),
      expected: undefined,
    },
    {
      name: '"0.1.0" is known but too old',
      input: spec({ cdiVersion: "0.1.0" }),
      expected: /"0\.1\.0" is older than the earliest supported 0\.3\.0/,
    },
    {
      name: '"0.2.0" is known but too old',
      input: spec({ cdiVersion: "0.2.0" }),
      expected: /"0\.2\.0" is older than the earliest supported 0\.3\.0/,
    },
    {
      name: '"0.0.0" is not a CDI version',
      input: spec({ cdiVersion: "0.0.0" }),
      expected: /"0\.0\.0" is not a supported CDI version/,
    },
    {
      name: '"1.3.0" is not a CDI version',
      input: spec({ cdiVersion: "1.3.0" }),
      expected: /"1\.3\.0" is not a supported CDI version/,
    },
    {
      name: '"not-a-version"',
      input: spec({ cdiVersion: "not-a-version" }),
      expected: /"not-a-version" is not a supported CDI version/,
    },
    {
      name: '"" (missing)',
      input: spec({ cdiVersion: "" }),
      expected: /"" is not a supported CDI version/,
    },
    {
      name: "a newline and a quote in the value are escaped: the message stays one line",
      input: spec({ cdiVersion: '0.5.0\n"x' }),
      expected: /^cdiVersion "0\.5\.0\\n\\"x" is not a supported CDI version/,
    },
    {
      name: '"v0.5.0": the leading v is optional',
      input: spec({
        cdiVersion: "v0.5.0",
        devices: [{ name: "0", containerEdits: { env: ["A=1"] } }],
      }),
      expected: undefined,
    },
    {
      name: '"v1.1.0" with netDevices',
      input: spec({
        cdiVersion: "v1.1.0",
        containerEdits: { netDevices: [{ hostInterfaceName: "eth0", name: "net0" }] },
      }),
      expected: undefined,
    },
    {
      name: 'declared "0.3.0" but a device named "0" needs 0.5.0',
      input: spec({
        cdiVersion: "0.3.0",
        devices: [{ name: "0", containerEdits: { env: ["A=1"] } }],
      }),
      expected: /"0\.3\.0" is too old for the content: it needs at least 0\.5\.0/,
    },
    {
      name: 'declared "0.6.0" but additionalGids need 0.7.0',
      input: { ...deviceEdits({ additionalGids: [44] }), cdiVersion: "0.6.0" },
      expected: /"0\.6\.0" is too old for the content: it needs at least 0\.7\.0/,
    },
    {
      name: 'declared "1.0.0" but netDevices need 1.1.0',
      input: spec({
        cdiVersion: "1.0.0",
        containerEdits: { netDevices: [{ hostInterfaceName: "eth0", name: "net0" }] },
      }),
      expected: /"1\.0\.0" is too old for the content: it needs at least 1\.1\.0/,
    },
    {
      name: 'a newer known version than needed is fine ("1.1.0" with additionalGids)',
      input: spec({ cdiVersion: "1.1.0", containerEdits: { additionalGids: [5] } }),
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const problem = cdiVersionProblem(c.input);
      if (c.expected === undefined) strictEqual(problem, undefined);
      else match(problem ?? "<no problem>", c.expected);
    });
  }
});
