import assert from "node:assert/strict";
import {
  allowsDevice,
  type DeviceRule,
  devicesNotAllowed,
  type NeededDevice,
  specDeviceRules,
} from "../../src/cli/device_rules.ts";
import { parseOciSpec } from "../../src/core/oci/oci_spec.ts";

const XPU0: NeededDevice = { type: "c", major: 1, minor: 11 };
const XPU1: NeededDevice = { type: "c", major: 240, minor: 0 };

/** `runc spec`'s first rule: deny everything. */
const DENY_ALL: DeviceRule = { allow: false, type: "a", access: "rwm" };
const rule = (r: Partial<DeviceRule> & { allow: boolean }): DeviceRule => ({
  type: "c",
  access: "rwm",
  ...r,
});

Deno.test("allowsDevice: the last rule that decides wins", async (t) => {
  const cases: {
    name: string;
    input: { rules: DeviceRule[]; device: NeededDevice };
    expected: boolean;
  }[] = [
    { name: "no rules: denied", input: { rules: [], device: XPU1 }, expected: false },
    { name: "deny all only: denied", input: { rules: [DENY_ALL], device: XPU1 }, expected: false },
    {
      name: "the exact device allowed rwm (what the shim adds)",
      input: { rules: [DENY_ALL, rule({ allow: true, major: 240, minor: 0 })], device: XPU1 },
      expected: true,
    },
    {
      name: "another device allowed",
      input: { rules: [DENY_ALL, rule({ allow: true, major: 240, minor: 1 })], device: XPU1 },
      expected: false,
    },
    {
      name: "rw is enough: the node is made from outside, mknod is not needed",
      input: {
        rules: [DENY_ALL, rule({ allow: true, major: 240, minor: 0, access: "rw" })],
        device: XPU1,
      },
      expected: true,
    },
    {
      name: "partial access: r only",
      input: {
        rules: [DENY_ALL, rule({ allow: true, major: 240, minor: 0, access: "r" })],
        device: XPU1,
      },
      expected: false,
    },
    {
      name: "partial access: m only (what runc adds for every char device)",
      input: { rules: [DENY_ALL, rule({ allow: true, access: "m" })], device: XPU1 },
      expected: false,
    },
    {
      name: "r and w from two rules: one open checks both against one rule",
      input: {
        rules: [
          DENY_ALL,
          rule({ allow: true, major: 240, access: "r" }),
          rule({ allow: true, major: 240, minor: 0, access: "w" }),
        ],
        device: XPU1,
      },
      expected: false,
    },
    {
      name: "wildcard minor",
      input: { rules: [DENY_ALL, rule({ allow: true, major: 240 })], device: XPU1 },
      expected: true,
    },
    {
      name: "wildcard major and minor of one type",
      input: { rules: [DENY_ALL, rule({ allow: true })], device: XPU1 },
      expected: true,
    },
    {
      name: "wildcard major with a minor",
      input: { rules: [DENY_ALL, rule({ allow: true, minor: 0 })], device: XPU1 },
      expected: true,
    },
    {
      name: "allow all (a privileged container)",
      input: { rules: [DENY_ALL, { allow: true, type: "a", access: "rwm" }], device: XPU1 },
      expected: true,
    },
    {
      name: "block rule does not allow a char device",
      input: { rules: [DENY_ALL, rule({ allow: true, type: "b", major: 240 })], device: XPU1 },
      expected: false,
    },
    {
      name: "char rule does not allow a block device",
      input: {
        rules: [DENY_ALL, rule({ allow: true, major: 8, minor: 16 })],
        device: { type: "b", major: 8, minor: 16 },
      },
      expected: false,
    },
    {
      name: "block rule allows the block device",
      input: {
        rules: [DENY_ALL, rule({ allow: true, type: "b", major: 8, minor: 16 })],
        device: { type: "b", major: 8, minor: 16 },
      },
      expected: true,
    },
    {
      name: "deny after allow: the deny wins",
      input: {
        rules: [
          DENY_ALL,
          rule({ allow: true, major: 240, minor: 0 }),
          rule({ allow: false, major: 240 }),
        ],
        device: XPU1,
      },
      expected: false,
    },
    {
      name: "allow after deny: the allow wins",
      input: {
        rules: [
          DENY_ALL,
          rule({ allow: false, major: 240 }),
          rule({ allow: true, major: 240, minor: 0 }),
        ],
        device: XPU1,
      },
      expected: true,
    },
    {
      name: "a later deny of w alone takes the device away",
      input: {
        rules: [
          DENY_ALL,
          rule({ allow: true, major: 240, minor: 0 }),
          rule({ allow: false, major: 240, minor: 0, access: "w" }),
        ],
        device: XPU1,
      },
      expected: false,
    },
    {
      name: "a later deny of m alone leaves read and write",
      input: {
        rules: [
          DENY_ALL,
          rule({ allow: true, major: 240, minor: 0 }),
          rule({ allow: false, major: 240, minor: 0, access: "m" }),
        ],
        device: XPU1,
      },
      expected: true,
    },
    {
      name: "a later deny of another device changes nothing",
      input: {
        rules: [
          DENY_ALL,
          rule({ allow: true, major: 240 }),
          rule({ allow: false, major: 240, minor: 1 }),
        ],
        device: XPU1,
      },
      expected: true,
    },
    {
      name: "deny all after the allow resets it",
      input: { rules: [rule({ allow: true, major: 240, minor: 0 }), DENY_ALL], device: XPU1 },
      expected: false,
    },
    {
      name: "a type a deny denies everything whatever its access (runc resets on it)",
      input: {
        rules: [rule({ allow: true, major: 240, minor: 0 }), {
          allow: false,
          type: "a",
          access: "m",
        }],
        device: XPU1,
      },
      expected: false,
    },
    {
      name: "allow all, then a deny of the major",
      input: {
        rules: [{ allow: true, type: "a", access: "rwm" }, rule({ allow: false, major: 240 })],
        device: XPU1,
      },
      expected: false,
    },
    {
      name: "allow all, then a deny of another major",
      input: {
        rules: [{ allow: true, type: "a", access: "rwm" }, rule({ allow: false, major: 195 })],
        device: XPU1,
      },
      expected: true,
    },
    {
      name: "a type a allow of r only is not read and write",
      input: { rules: [{ allow: true, type: "a", access: "r" }], device: XPU1 },
      expected: false,
    },
  ];
  for (const c of cases) {
    await t.step(
      c.name,
      () => assert.equal(allowsDevice(c.input.rules, c.input.device), c.expected),
    );
  }
});

Deno.test("devicesNotAllowed returns the devices no rule allows, in order, as given", () => {
  const nodes = [
    { path: "/dev/xpu0", ...XPU0 },
    { path: "/dev/xpu1", ...XPU1 },
    { path: "/dev/xpuctl", type: "c" as const, major: 240, minor: 1 },
  ];
  const rules = [DENY_ALL, rule({ allow: true, major: 1, minor: 11 })];
  const missing = devicesNotAllowed(rules, nodes);
  assert.deepStrictEqual(missing.map((n) => n.path), ["/dev/xpu1", "/dev/xpuctl"]);
  assert.strictEqual(missing[0], nodes[1]);
  assert.deepStrictEqual(devicesNotAllowed([{ allow: true, type: "a", access: "rwm" }], nodes), []);
  assert.deepStrictEqual(devicesNotAllowed([], []), []);
});

Deno.test("specDeviceRules reads linux.resources.devices as the OCI spec defines it", async (t) => {
  const cases: { name: string; input: string; expected: DeviceRule[] }[] = [
    { name: "no linux", input: "{}", expected: [] },
    { name: "no resources", input: '{"linux": {}}', expected: [] },
    { name: "no devices", input: '{"linux": {"resources": {}}}', expected: [] },
    { name: "null devices", input: '{"linux": {"resources": {"devices": null}}}', expected: [] },
    {
      name: "runc spec's default, then a rule as the shim writes it",
      input: JSON.stringify({
        linux: {
          resources: {
            devices: [
              { allow: false, access: "rwm" },
              { allow: true, type: "c", major: 240, minor: 0, access: "rwm" },
            ],
          },
        },
      }),
      expected: [
        { allow: false, type: "a", major: undefined, minor: undefined, access: "rwm" },
        { allow: true, type: "c", major: 240, minor: 0, access: "rwm" },
      ],
    },
    {
      name: "absent, null and -1 numbers are wildcards; empty type is a; absent access is none",
      input: JSON.stringify({
        linux: {
          resources: {
            devices: [
              { allow: true, type: "c", major: null, minor: -1, access: "rw" },
              { allow: true, type: "", access: "" },
              { allow: true, type: "b", major: 8 },
            ],
          },
        },
      }),
      expected: [
        { allow: true, type: "c", major: undefined, minor: undefined, access: "rw" },
        { allow: true, type: "a", major: undefined, minor: undefined, access: "" },
        { allow: true, type: "b", major: 8, minor: undefined, access: "" },
      ],
    },
    {
      name: "an absent allow is a deny (the Go type's zero value)",
      input: '{"linux": {"resources": {"devices": [{"type": "c", "major": 1, "access": "rwm"}]}}}',
      expected: [{ allow: false, type: "c", major: 1, minor: undefined, access: "rwm" }],
    },
    {
      name: "unreadable entries deny everything",
      input: JSON.stringify({
        linux: {
          resources: {
            devices: [
              "c 240:0 rwm",
              { allow: true, type: "u", access: "rwm" },
              { allow: true, type: "c", major: "240", access: "rwm" },
              { allow: true, type: "c", major: 1.5, access: "rwm" },
              { allow: true, type: "c", access: "rwx" },
              { allow: true, type: "c", access: 7 },
            ],
          },
        },
      }),
      expected: Array(6).fill({ allow: false, type: "a", access: "rwm" }),
    },
    {
      name: "a major beyond 2^53 is unreadable",
      input: '{"linux": {"resources": {"devices": [{"allow": true, "type": "c", ' +
        '"major": 9007199254740993, "access": "rwm"}]}}}',
      expected: [{ allow: false, type: "a", access: "rwm" }],
    },
    {
      name: "devices that is not a list denies everything",
      input: '{"linux": {"resources": {"devices": {"allow": true}}}}',
      expected: [{ allow: false, type: "a", access: "rwm" }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepStrictEqual(specDeviceRules(parseOciSpec(c.input, "config.json")), c.expected);
    });
  }
});

Deno.test("a privileged podman spec allows the nodes; a default one does not", () => {
  const nodes = [{ path: "/dev/xpu1", ...XPU1 }];
  const privileged = parseOciSpec(
    JSON.stringify({ linux: { resources: { devices: [{ allow: true, access: "rwm" }] } } }),
    "config.json",
  );
  assert.deepStrictEqual(devicesNotAllowed(specDeviceRules(privileged), nodes), []);
  const plain = parseOciSpec(
    JSON.stringify({
      linux: {
        resources: {
          devices: [
            { allow: false, access: "rwm" },
            { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
          ],
        },
      },
    }),
    "config.json",
  );
  assert.deepStrictEqual(devicesNotAllowed(specDeviceRules(plain), nodes), nodes);
});
