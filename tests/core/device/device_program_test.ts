/**
 * The device program prologue: what the combined program allows, run through the interpreter
 * (checked against runc's real programs in the e2e tests), and that the prologue is found and
 * replaced again.
 */

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  decodeProgram,
  type DeviceAccess,
  encodeProgram,
  type Insn,
  programAllows,
  ProgramError,
  splitProgram,
  withDecisions,
} from "../../../src/core/device/device_program.ts";
import { insn } from "../../helpers/bpf_insn.ts";

const i = insn;

/**
 * A runtime program shaped like runc's: the context in r2..r5, then one block per rule,
 * default deny. Rules: `c 1:3 rwm`, `c *:* m` (mknod of any char device).
 */
const RUNTIME: Insn[] = [
  i(0x61, 2, 1, 0, 0), // r2 = *(u32 *)(r1 + 0)
  i(0x54, 2, 0, 0, 0xffff), // w2 &= 0xffff
  i(0x61, 3, 1, 0, 0), // r3 = access_type
  i(0x74, 3, 0, 0, 16), // w3 >>= 16
  i(0x61, 4, 1, 4, 0), // r4 = major
  i(0x61, 5, 1, 8, 0), // r5 = minor
  i(0x55, 2, 0, 4, 2), // c 1:3: if r2 != 2 goto +4
  i(0x55, 4, 0, 3, 1), // if r4 != 1 goto +3
  i(0x55, 5, 0, 2, 3), // if r5 != 3 goto +2
  i(0xb4, 0, 0, 0, 1), // w0 = 1
  i(0x95, 0, 0, 0, 0), // exit
  i(0x55, 2, 0, 5, 2), // c *:* m: if r2 != 2 goto +5
  i(0xbc, 0, 3, 0, 0), // w0 = w3
  i(0x54, 0, 0, 0, -2), // w0 &= ~1
  i(0x55, 0, 0, 2, 0), // if r0 != 0 goto +2
  i(0xb4, 0, 0, 0, 1), // w0 = 1
  i(0x95, 0, 0, 0, 0), // exit
  i(0xb4, 0, 0, 0, 0), // w0 = 0
  i(0x95, 0, 0, 0, 0), // exit
];

const RW = 6;
const access = (type: "c" | "b", major: number, minor: number, bits = RW): DeviceAccess => ({
  type,
  major,
  minor,
  access: bits,
});

Deno.test("programAllows runs a runc-shaped program", async (t) => {
  const cases: { name: string; input: DeviceAccess; expected: boolean }[] = [
    { name: "c 1:3 read/write is allowed", input: access("c", 1, 3), expected: true },
    { name: "c 240:0 read/write is denied", input: access("c", 240, 0), expected: false },
    { name: "mknod of any char device is allowed", input: access("c", 240, 0, 1), expected: true },
    { name: "b 1:3 is denied", input: access("b", 1, 3), expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(programAllows(RUNTIME, c.input), c.expected));
  }
});

Deno.test("withDecisions: attach and detach on top of the runtime's program", async (t) => {
  const XPU0 = { type: "c" as const, major: 240, minor: 0 };
  const NULL = { type: "c" as const, major: 1, minor: 3 };
  const cases: {
    name: string;
    input: { type: "c"; major: number; minor: number; allow: boolean }[];
    expected: Record<string, boolean>;
  }[] = [
    {
      name: "an attached device is allowed, the runtime's rules still hold",
      input: [{ ...XPU0, allow: true }],
      expected: { "c 240:0": true, "c 240:1": false, "c 1:3": true, "b 240:0": false },
    },
    {
      name: "a detached device the runtime allowed is denied",
      input: [{ ...NULL, allow: false }],
      expected: { "c 1:3": false, "c 1:5": false, "c 240:0": false },
    },
    {
      name: "several devices, each its own decision",
      input: [{ ...XPU0, allow: true }, { ...XPU0, minor: 1, allow: true }, {
        ...NULL,
        allow: false,
      }],
      expected: { "c 240:0": true, "c 240:1": true, "c 240:2": false, "c 1:3": false },
    },
    {
      name: "no decision: the runtime's program as it was",
      input: [],
      expected: { "c 1:3": true, "c 240:0": false },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const program = withDecisions(RUNTIME, c.input);
      for (const [device, allowed] of Object.entries(c.expected)) {
        const [type, numbers] = device.split(" ");
        const [major, minor] = numbers.split(":").map(Number);
        strictEqual(
          programAllows(program, access(type as "c", major, minor)),
          allowed,
          device,
        );
      }
      // Through the kernel's byte form and back, the prologue is found again.
      const decoded = decodeProgram(encodeProgram(program));
      deepStrictEqual(decoded, program);
      deepStrictEqual(splitProgram(decoded), { decisions: c.input, runtime: RUNTIME });
    });
  }
  await t.step("a second change replaces the prologue, it does not stack", () => {
    const once = withDecisions(RUNTIME, [{ ...XPU0, allow: true }]);
    const twice = withDecisions(once, [{ ...XPU0, allow: false }]);
    deepStrictEqual(splitProgram(twice), {
      decisions: [{ ...XPU0, allow: false }],
      runtime: RUNTIME,
    });
    strictEqual(twice.length, once.length);
  });
  await t.step("a program that only starts like ours is the runtime's", () => {
    const lookalike = [i(0xb4, 0, 0, 0, 0x58505531), ...RUNTIME];
    deepStrictEqual(splitProgram(lookalike), { decisions: [], runtime: lookalike });
  });
});

Deno.test("programAllows refuses what a device program does not do", () => {
  throws(
    () => programAllows([i(0x85, 0, 0, 0, 1), i(0x95, 0, 0, 0, 0)], access("c", 1, 3)),
    ProgramError,
  );
  throws(() => programAllows([i(0xb4, 0, 0, 0, 1)], access("c", 1, 3)), /past its end/);
  throws(() => programAllows([i(0x05, 0, 0, -1, 0)], access("c", 1, 3)), /does not end/);
  // A register beyond r10.
  throws(
    () => programAllows([i(0xb7, 12, 0, 0, 1), i(0x95, 0, 0, 0, 0)], access("c", 1, 3)),
    ProgramError,
  );
  // movsx (mov with an offset of 8, 16 or 32) is not a plain mov.
  throws(
    () => programAllows([i(0xbf, 0, 1, 8, 0), i(0x95, 0, 0, 0, 0)], access("c", 1, 3)),
    ProgramError,
  );
});

Deno.test("programAllows follows gotol by its immediate, ja by its offset", () => {
  // gotol +1 skips `r0 = 0; exit` and lands on `r0 = 1; exit`; its offset field is ignored.
  const program = (code: number, off: number, imm: number) => [
    i(code, 0, 0, off, imm),
    i(0xb4, 0, 0, 0, 0),
    i(0x95, 0, 0, 0, 0),
    i(0xb4, 0, 0, 0, 1),
    i(0x95, 0, 0, 0, 0),
  ];
  strictEqual(programAllows(program(0x06, 0, 2), access("c", 1, 3)), true);
  strictEqual(programAllows(program(0x06, 2, 0), access("c", 1, 3)), false);
  strictEqual(programAllows(program(0x05, 2, 0), access("c", 1, 3)), true);
});
