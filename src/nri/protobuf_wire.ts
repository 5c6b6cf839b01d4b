/**
 * The protocol buffers wire format, as much of it as the NRI messages need: a writer for
 * varints (64-bit through `bigint`), length-delimited strings, bytes and nested messages, and a
 * strict reader that walks a message's fields and skips the ones a decoder does not know, of
 * every wire type (groups included).
 *
 * The reader never trusts its input: a varint longer than ten bytes, a length running past the
 * end, a field number 0, a wire type 6 or 7, an unmatched group end, groups nested deeper than
 * {@link MAX_GROUP_DEPTH} and messages over {@link MAX_MESSAGE_BYTES} are {@link WireError}s.
 * Every step consumes at least one byte, so no input makes it loop.
 *
 * ```ts
 * const w = new ProtoWriter();
 * w.string(1, "xpu");
 * for (const field of readFields(w.finish())) console.log(field.number, fieldString(field));
 * ```
 *
 * @module
 */

/** The largest message accepted or written: ttrpc's own limit (4 MiB). */
export const MAX_MESSAGE_BYTES = 4 << 20;

/** How deep unknown groups may nest before the input is refused. */
export const MAX_GROUP_DEPTH = 32;

/** The wire types of the format. */
export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

/** A wire type a field can carry a value in (groups are skipped, never yielded). */
export type ValueWireType = 0 | 1 | 2 | 5;

/** Input that is not a well-formed protobuf message, or a value that cannot be encoded. */
export class WireError extends Error {
  override readonly name = "WireError";
}

const TWO_POW_32 = 0x1_0000_0000;
const MAX_FIELD_NUMBER = 0x1fff_ffff;

/** Accumulates an encoded message. Scalar writers omit proto3 defaults (0, "", false). */
export class ProtoWriter {
  #buffer = new Uint8Array(64);
  #length = 0;

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed > MAX_MESSAGE_BYTES) {
      throw new WireError(`message exceeds ${MAX_MESSAGE_BYTES} bytes`);
    }
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  #byte(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }

  /** Writes `value` as an unsigned varint; a negative value as its 64-bit two's complement. */
  varint(value: number | bigint): void {
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
      let v = value;
      while (v >= 0x80) {
        this.#byte((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.#byte(v);
      return;
    }
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new WireError(`cannot encode ${value} as an integer`);
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.#byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#byte(Number(v));
  }

  /** Writes a field's tag. */
  tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD_NUMBER) {
      throw new WireError(`field number ${field} is out of range`);
    }
    this.varint(field * 8 + wireType);
  }

  /** Raw bytes, no tag. */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** An integer field (int32, int64, uint32, uint64, enum); 0 is omitted. */
  int(field: number, value: number | bigint): void {
    if (value === 0 || value === 0n) return;
    this.tag(field, WireType.VARINT);
    this.varint(value);
  }

  /** A bool field; false is omitted. */
  bool(field: number, value: boolean): void {
    if (!value) return;
    this.tag(field, WireType.VARINT);
    this.varint(1);
  }

  /** A string field; "" is omitted. */
  string(field: number, value: string): void {
    if (value === "") return;
    this.bytes(field, new TextEncoder().encode(value));
  }

  /** A bytes field (also every element of a repeated string or message: written even when empty). */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WireType.LEN);
    this.varint(value.length);
    this.raw(value);
  }

  /** Every element of a repeated string field, empty ones too. */
  strings(field: number, values: readonly string[]): void {
    for (const value of values) this.bytes(field, new TextEncoder().encode(value));
  }

  /** A nested message field, present even when its encoding is empty. */
  message(field: number, encode: (writer: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    encode(inner);
    this.bytes(field, inner.finish());
  }

  /** A `map<string, string>` field, entries in the record's order. */
  stringMap(field: number, map: Readonly<Record<string, string>>): void {
    for (const [key, value] of Object.entries(map)) {
      this.message(field, (entry) => {
        entry.string(1, key);
        entry.string(2, value);
      });
    }
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

/** One field of a message, as read: a varint value, or the bytes of a fixed or length-delimited one. */
export interface WireField {
  number: number;
  wireType: ValueWireType;
  /** The value of a varint field. */
  varint: bigint;
  /** The payload of a length-delimited (2) or fixed-size (1, 5) field. */
  bytes: Uint8Array;
}

/** Reads a varint at `pos`; returns it and the position after it. */
export function readVarint(bytes: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= bytes.length) throw new WireError("truncated varint");
    const b = bytes[pos + i];
    if (i === 9 && b > 1) throw new WireError("varint overflows 64 bits");
    result |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [result, pos + i + 1];
  }
  throw new WireError("varint longer than 10 bytes");
}

/** A varint that must be a small count (a tag or a length): at most 2^32 - 1. */
function readSmallVarint(bytes: Uint8Array, pos: number, what: string): [number, number] {
  // Fast path for the common one-byte case.
  if (pos < bytes.length && bytes[pos] < 0x80) return [bytes[pos], pos + 1];
  const [value, next] = readVarint(bytes, pos);
  if (value >= BigInt(TWO_POW_32)) throw new WireError(`${what} ${value} is too large`);
  return [Number(value), next];
}

function readTag(bytes: Uint8Array, pos: number): [number, number, number] {
  const [tag, next] = readSmallVarint(bytes, pos, "tag");
  const number = Math.floor(tag / 8);
  const wireType = tag % 8;
  if (number === 0) throw new WireError(`field number 0 at byte ${pos}`);
  if (wireType > 5) throw new WireError(`wire type ${wireType} at byte ${pos} does not exist`);
  return [number, wireType, next];
}

function take(bytes: Uint8Array, pos: number, length: number, what: string): number {
  if (length > bytes.length - pos) {
    throw new WireError(`truncated ${what}: ${length} bytes announced, ${bytes.length - pos} left`);
  }
  return pos + length;
}

/** Skips the rest of a group opened by field `number`; returns the position after its end tag. */
function skipGroup(bytes: Uint8Array, start: number, number: number): number {
  const open: number[] = [number];
  let pos = start;
  while (open.length > 0) {
    if (open.length > MAX_GROUP_DEPTH) throw new WireError("groups nested too deeply");
    if (pos >= bytes.length) throw new WireError("truncated group");
    const [n, wireType, next] = readTag(bytes, pos);
    pos = next;
    switch (wireType) {
      case WireType.VARINT:
        pos = readVarint(bytes, pos)[1];
        break;
      case WireType.I64:
        pos = take(bytes, pos, 8, "fixed64");
        break;
      case WireType.I32:
        pos = take(bytes, pos, 4, "fixed32");
        break;
      case WireType.LEN: {
        const [length, after] = readSmallVarint(bytes, pos, "length");
        pos = take(bytes, after, length, "length-delimited field");
        break;
      }
      case WireType.SGROUP:
        open.push(n);
        break;
      case WireType.EGROUP:
        if (open.pop() !== n) throw new WireError(`group end ${n} does not match its start`);
        break;
    }
  }
  return pos;
}

/**
 * The fields of the message `bytes`, in order; groups are skipped (they carry nothing NRI uses).
 *
 * @throws {WireError} on malformed or oversized input
 */
export function* readFields(bytes: Uint8Array): Generator<WireField> {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new WireError(`message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  }
  let pos = 0;
  while (pos < bytes.length) {
    const [number, wireType, next] = readTag(bytes, pos);
    pos = next;
    switch (wireType) {
      case WireType.VARINT: {
        const [value, after] = readVarint(bytes, pos);
        pos = after;
        yield { number, wireType, varint: value, bytes: EMPTY };
        break;
      }
      case WireType.I64:
      case WireType.I32: {
        const start = pos;
        pos = take(bytes, pos, wireType === WireType.I64 ? 8 : 4, "fixed-size field");
        yield { number, wireType, varint: 0n, bytes: bytes.subarray(start, pos) };
        break;
      }
      case WireType.LEN: {
        const [length, after] = readSmallVarint(bytes, pos, "length");
        pos = take(bytes, after, length, "length-delimited field");
        yield { number, wireType, varint: 0n, bytes: bytes.subarray(after, pos) };
        break;
      }
      case WireType.SGROUP:
        pos = skipGroup(bytes, pos, number);
        break;
      case WireType.EGROUP:
        throw new WireError(`group end ${number} without a start`);
    }
  }
}

const EMPTY = new Uint8Array(0);
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function expect(field: WireField, wireType: ValueWireType, what: string): void {
  if (field.wireType !== wireType) {
    throw new WireError(
      `field ${field.number} has wire type ${field.wireType}, expected ${wireType} (${what})`,
    );
  }
}

/** A string field's value (UTF-8, checked as proto3 requires). */
export function fieldString(field: WireField): string {
  expect(field, WireType.LEN, "string");
  try {
    return UTF8.decode(field.bytes);
  } catch {
    throw new WireError(`field ${field.number} is not valid UTF-8`);
  }
}

/** A bytes or nested-message field's payload. */
export function fieldBytes(field: WireField): Uint8Array {
  expect(field, WireType.LEN, "bytes or message");
  return field.bytes;
}

/** An int32 or enum field's value (a negative one arrives sign-extended to 64 bits). */
export function fieldInt32(field: WireField): number {
  expect(field, WireType.VARINT, "int32");
  return Number(BigInt.asIntN(32, field.varint));
}

/** A uint32 field's value. */
export function fieldUint32(field: WireField): number {
  expect(field, WireType.VARINT, "uint32");
  return Number(BigInt.asUintN(32, field.varint));
}

/** An int64 field's value as a number; one beyond ±2^53 is refused rather than rounded. */
export function fieldInt64(field: WireField): number {
  expect(field, WireType.VARINT, "int64");
  const value = Number(BigInt.asIntN(64, field.varint));
  if (!Number.isSafeInteger(value)) {
    throw new WireError(`field ${field.number}: ${BigInt.asIntN(64, field.varint)} is too large`);
  }
  return value;
}

/** A uint64 field's value, whole. */
export function fieldUint64(field: WireField): bigint {
  expect(field, WireType.VARINT, "uint64");
  return field.varint;
}

/** A bool field's value. */
export function fieldBool(field: WireField): boolean {
  expect(field, WireType.VARINT, "bool");
  return field.varint !== 0n;
}

/** One entry of a `map<string, string>` field: its key and value ("" when absent). */
export function fieldMapEntry(field: WireField): [string, string] {
  let key = "";
  let value = "";
  for (const f of readFields(fieldBytes(field))) {
    if (f.number === 1) key = fieldString(f);
    else if (f.number === 2) value = fieldString(f);
  }
  return [key, value];
}
