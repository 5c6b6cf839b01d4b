import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  fieldBool,
  fieldInt32,
  fieldInt64,
  fieldMapEntry,
  fieldString,
  fieldUint32,
  fieldUint64,
  MAX_GROUP_DEPTH,
  MAX_MESSAGE_BYTES,
  ProtoWriter,
  readFields,
  readVarint,
  WireError,
} from "../../src/nri/protobuf_wire.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("protobuf varints: encoding, by hand from the format's rules", async (t) => {
  const cases: { name: string; input: number | bigint; expected: number[] }[] = [
    { name: "0", input: 0, expected: [0x00] },
    { name: "1", input: 1, expected: [0x01] },
    { name: "127: the last one-byte value", input: 127, expected: [0x7f] },
    { name: "128: low 7 bits first, continuation bit set", input: 128, expected: [0x80, 0x01] },
    { name: "300 (the format's own example)", input: 300, expected: [0xac, 0x02] },
    {
      name: "2^32 - 1",
      input: 0xffff_ffff,
      expected: [0xff, 0xff, 0xff, 0xff, 0x0f],
    },
    {
      name: "2^53 - 1 (largest safe number)",
      input: Number.MAX_SAFE_INTEGER,
      expected: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
    },
    {
      name: "2^64 - 1 as a bigint: ten bytes",
      input: 0xffff_ffff_ffff_ffffn,
      expected: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    },
    {
      name: "-1: the 64-bit two's complement, ten bytes",
      input: -1,
      expected: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    },
    {
      name: "-2 as a bigint",
      input: -2n,
      expected: [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const w = new ProtoWriter();
      w.varint(c.input);
      deepStrictEqual([...w.finish()], c.expected);
      const [value, next] = readVarint(new Uint8Array(c.expected), 0);
      strictEqual(value, BigInt.asUintN(64, BigInt(c.input)));
      strictEqual(next, c.expected.length);
    });
  }
});

Deno.test("protobuf fields: written as the format says", async (t) => {
  const cases: { name: string; input: (w: ProtoWriter) => void; expected: number[] }[] = [
    { name: "string field 1", input: (w) => w.string(1, "ab"), expected: [0x0a, 2, 0x61, 0x62] },
    { name: "empty string is omitted", input: (w) => w.string(1, ""), expected: [] },
    { name: "int field 2 = 150", input: (w) => w.int(2, 150), expected: [0x10, 0x96, 0x01] },
    { name: "int 0 is omitted", input: (w) => w.int(2, 0), expected: [] },
    { name: "bool true", input: (w) => w.bool(3, true), expected: [0x18, 1] },
    { name: "bool false is omitted", input: (w) => w.bool(3, false), expected: [] },
    {
      name: "repeated strings keep empty elements",
      input: (w) => w.strings(4, ["a", ""]),
      expected: [0x22, 1, 0x61, 0x22, 0],
    },
    {
      name: "an empty nested message is still written",
      input: (w) => w.message(5, () => {}),
      expected: [0x2a, 0],
    },
    {
      name: "a map entry is a message { key 1, value 2 }",
      input: (w) => w.stringMap(6, { k: "v" }),
      expected: [0x32, 6, 0x0a, 1, 0x6b, 0x12, 1, 0x76],
    },
    {
      name: "field 16 takes a two-byte tag",
      input: (w) => w.int(16, 1),
      expected: [0x80, 0x01, 1],
    },
    {
      name: "UTF-8 strings count bytes, not characters",
      input: (w) => w.string(1, "é"),
      expected: [0x0a, 2, 0xc3, 0xa9],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const w = new ProtoWriter();
      c.input(w);
      deepStrictEqual([...w.finish()], c.expected);
    });
  }
});

Deno.test("protobuf reader: values and skipped fields of every wire type", async (t) => {
  await t.step("scalars read back by kind", () => {
    const input = bytes(
      0x08,
      0x96,
      0x01, // 1: 150
      0x10,
      ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 2: -1
      0x18,
      1, // 3: true
      0x22,
      3,
      0x78,
      0x70,
      0x75, // 4: "xpu"
    );
    const fields = [...readFields(input)];
    deepStrictEqual(fields.map((f) => f.number), [1, 2, 3, 4]);
    strictEqual(fieldUint32(fields[0]), 150);
    strictEqual(fieldInt32(fields[1]), -1);
    strictEqual(fieldInt64(fields[1]), -1);
    strictEqual(fieldUint64(fields[1]), 0xffff_ffff_ffff_ffffn);
    strictEqual(fieldBool(fields[2]), true);
    strictEqual(fieldString(fields[3]), "xpu");
  });
  await t.step("fixed32, fixed64 and groups are stepped over", () => {
    const input = bytes(
      0x0d,
      1,
      2,
      3,
      4, // 1: fixed32
      0x11,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // 2: fixed64
      0x1b, // 3: start group
      0x08,
      5, //   1: 5
      0x23, //   4: nested start group
      0x24, //   4: nested end group
      0x1c, // 3: end group
      0x2a,
      1,
      0x41, // 5: "A"
    );
    const fields = [...readFields(input)];
    deepStrictEqual(fields.map((f) => [f.number, f.wireType]), [[1, 5], [2, 1], [5, 2]]);
    strictEqual(fieldString(fields[2]), "A");
  });
  await t.step('a map entry without its value reads as ""', () => {
    const [field] = [...readFields(bytes(0x0a, 3, 0x0a, 1, 0x6b))];
    deepStrictEqual(fieldMapEntry(field), ["k", ""]);
  });
});

Deno.test("protobuf reader: hostile and truncated input is a WireError", async (t) => {
  const deepGroups = [
    ...Array.from({ length: MAX_GROUP_DEPTH + 2 }, () => 0x0b),
    ...Array.from({ length: MAX_GROUP_DEPTH + 2 }, () => 0x0c),
  ];
  const cases: { name: string; input: Uint8Array; expected: string }[] = [
    { name: "a tag cut short", input: bytes(0x80), expected: "truncated varint" },
    { name: "a varint cut short", input: bytes(0x08, 0x96), expected: "truncated varint" },
    {
      name: "an 11-byte varint",
      input: bytes(0x08, ...Array(10).fill(0x80), 0x01),
      expected: "varint",
    },
    {
      name: "a 10th varint byte above 1 overflows 64 bits",
      input: bytes(0x08, ...Array(9).fill(0xff), 0x02),
      expected: "overflows 64 bits",
    },
    { name: "field number 0", input: bytes(0x00, 0x01), expected: "field number 0" },
    { name: "wire type 6", input: bytes(0x0e), expected: "wire type 6" },
    { name: "wire type 7", input: bytes(0x0f), expected: "wire type 7" },
    { name: "a length past the end", input: bytes(0x0a, 5, 0x61), expected: "truncated" },
    {
      name: "a huge length (2^32 - 1)",
      input: bytes(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f),
      expected: "truncated",
    },
    {
      name: "a length beyond 32 bits",
      input: bytes(0x0a, 0xff, 0xff, 0xff, 0xff, 0x1f),
      expected: "too large",
    },
    { name: "a fixed64 cut short", input: bytes(0x09, 1, 2, 3), expected: "truncated" },
    { name: "a fixed32 cut short", input: bytes(0x0d, 1), expected: "truncated" },
    { name: "a group never closed", input: bytes(0x0b, 0x08, 1), expected: "truncated group" },
    { name: "a group end without start", input: bytes(0x0c), expected: "without a start" },
    { name: "a mismatched group end", input: bytes(0x0b, 0x14), expected: "does not match" },
    { name: "groups nested too deeply", input: new Uint8Array(deepGroups), expected: "deeply" },
    {
      name: "a message over the size bound",
      input: new Uint8Array(MAX_MESSAGE_BYTES + 1),
      expected: "exceeds",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertThrowsError(() => [...readFields(c.input)], WireError, c.expected);
    });
  }
  await t.step("invalid UTF-8 in a string", () => {
    const [field] = [...readFields(bytes(0x0a, 1, 0xff))];
    assertThrowsError(() => fieldString(field), WireError, "UTF-8");
  });
  await t.step("a string field sent as a varint", () => {
    const [field] = [...readFields(bytes(0x0a - 2, 1))];
    assertThrowsError(() => fieldString(field), WireError, "wire type 0, expected 2");
  });
  await t.step("an int64 beyond 2^53 is refused, not rounded", () => {
    const [field] = [...readFields(bytes(0x08, ...Array(8).fill(0xff), 0x7f))];
    assertThrowsError(() => fieldInt64(field), WireError, "too large");
  });
  await t.step("every random byte string ends (no endless loop, only WireErrors)", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let i = 0; i < 2000; i++) {
      const input = new Uint8Array(1 + (i % 40)).map(random);
      try {
        for (const field of readFields(input)) {
          if (field.wireType === 2) [...readFields(field.bytes)];
        }
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
      }
    }
  });
});

Deno.test("protobuf writer: out-of-range values are WireErrors", async (t) => {
  await t.step("field number 0", () => {
    assertThrowsError(() => new ProtoWriter().int(0, 1), WireError, "field number 0");
  });
  await t.step("a fractional number", () => {
    assertThrowsError(() => new ProtoWriter().int(1, 1.5), WireError, "1.5");
  });
});
