/**
 * A cgroup v2 container's device program, as data. On cgroup v2 the runtime attaches an eBPF
 * program (`BPF_PROG_TYPE_CGROUP_DEVICE`) to the container's cgroup; it returns 1 to allow an
 * access (type, major, minor, access bits in `struct bpf_cgroup_dev_ctx`) and 0 to deny. Programs
 * attached together must all allow, so a device is added by replacing the runtime's program with
 * one that first decides our devices (allowed when attached, denied when detached but allowed by
 * the runtime's rules), then runs the runtime's own instructions unchanged:
 *
 * ```
 * r0 = MARKER; r0 = <n>                    ; recognise and strip the prologue again
 * r2 = ctx.access_type & 0xffff; r4 = ctx.major; r5 = ctx.minor
 * per device: if r2 != type goto next; if r4 != major goto next; if r5 != minor goto next;
 *             goto allow (or deny)
 * goto runtime                              ; none matched
 * allow: r0 = 1; exit
 * deny: r0 = 0; exit
 * runtime: the runtime's instructions, r1 (the context) untouched
 * ```
 *
 * Jumps are relative, so the runtime's program works the same after the prologue. Also here: an
 * interpreter of the instructions such programs use, so what a program allows can be shown
 * (`device list`) and tested without a kernel.
 *
 * @module
 */

/** One eBPF instruction. */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** A device the prologue decides, for every access: allowed, or denied. */
export interface DeviceDecision {
  type: "c" | "b";
  major: number;
  minor: number;
  allow: boolean;
}

/** `bpf_cgroup_dev_ctx` as the program sees it. */
export interface DeviceAccess {
  type: "c" | "b";
  major: number;
  minor: number;
  /** `BPF_DEVCG_ACC_*`: mknod 1, read 2, write 4. */
  access: number;
}

const MARKER = 0x58505531; // "XPU1"
const TYPE_CODE = { b: 1, c: 2 } as const;

// Opcode classes and fields (linux/bpf_common.h, linux/bpf.h).
const LDX = 0x01;
const ALU = 0x04;
const JMP = 0x05;
const JMP32 = 0x06;
const ALU64 = 0x07;
const MEM = 0x60;
const K = 0x00;
const X = 0x08;
const W = 0x00;
const H = 0x08;
const B = 0x10;
const MOV = 0xb0;
const AND = 0x50;
const JA = 0x00;
const JNE = 0x50;
const EXIT = 0x90;

const mov32 = (dst: number, imm: number): Insn => ({
  code: ALU | MOV | K,
  dst,
  src: 0,
  off: 0,
  imm,
});
const ldxw = (dst: number, off: number): Insn => ({
  code: LDX | MEM | W,
  dst,
  src: 1,
  off,
  imm: 0,
});
const jne = (dst: number, imm: number, off: number): Insn => ({
  code: JMP | JNE | K,
  dst,
  src: 0,
  off,
  imm,
});
const ja = (off: number): Insn => ({ code: JMP | JA, dst: 0, src: 0, off, imm: 0 });
const exit = (): Insn => ({ code: JMP | EXIT, dst: 0, src: 0, off: 0, imm: 0 });

/** Decodes little-endian eBPF instructions (8 bytes each). */
export function decodeProgram(bytes: Uint8Array): Insn[] {
  if (bytes.length % 8 !== 0) throw new Error(`an eBPF program of ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const insns: Insn[] = [];
  for (let at = 0; at < bytes.length; at += 8) {
    const regs = view.getUint8(at + 1);
    insns.push({
      code: view.getUint8(at),
      dst: regs & 0x0f,
      src: regs >> 4,
      off: view.getInt16(at + 2, true),
      imm: view.getInt32(at + 4, true),
    });
  }
  return insns;
}

/** Encodes instructions for `BPF_PROG_LOAD`. */
export function encodeProgram(insns: readonly Insn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * 8);
  const view = new DataView(bytes.buffer);
  insns.forEach((insn, i) => {
    view.setUint8(i * 8, insn.code);
    view.setUint8(i * 8 + 1, (insn.src << 4) | (insn.dst & 0x0f));
    view.setInt16(i * 8 + 2, insn.off, true);
    view.setInt32(i * 8 + 4, insn.imm | 0, true);
  });
  return bytes;
}

/** The program split into our prologue's decisions and the runtime's own instructions. */
export interface SplitProgram {
  decisions: DeviceDecision[];
  runtime: Insn[];
}

function same(a: Insn, b: Insn): boolean {
  return a.code === b.code && a.dst === b.dst && a.src === b.src && a.off === b.off &&
    (a.imm | 0) === (b.imm | 0);
}

/** Splits a program into the decisions of our prologue (none without one) and the rest. */
export function splitProgram(insns: readonly Insn[]): SplitProgram {
  const none = { decisions: [], runtime: [...insns] };
  if (insns.length < 2 || !same(insns[0], mov32(0, MARKER))) return none;
  const count = insns[1].imm;
  if (insns[1].code !== (ALU | MOV | K) || count <= 0 || insns.length < 6 + 4 * count + 3) {
    return none;
  }
  const decisions: DeviceDecision[] = [];
  for (let i = 0; i < count; i++) {
    const at = 6 + 4 * i;
    // The block a device jumps to says what it decides: `r0 = 1` allows, `r0 = 0` denies.
    const block = insns[at + 3 + 1 + insns[at + 3].off];
    if (block === undefined || block.code !== (ALU | MOV | K) || block.dst !== 0) return none;
    decisions.push({
      type: insns[at].imm === TYPE_CODE.b ? "b" : "c",
      major: insns[at + 1].imm >>> 0,
      minor: insns[at + 2].imm >>> 0,
      allow: block.imm === 1,
    });
  }
  const expected = buildPrologue(decisions);
  if (insns.length < expected.length || !expected.every((insn, i) => same(insn, insns[i]))) {
    return none;
  }
  return { decisions, runtime: insns.slice(expected.length) };
}

/** The prologue for `decisions` (at least one). */
function buildPrologue(decisions: readonly DeviceDecision[]): Insn[] {
  const out: Insn[] = [
    mov32(0, MARKER),
    mov32(0, decisions.length),
    ldxw(2, 0),
    { code: ALU | AND | K, dst: 2, src: 0, off: 0, imm: 0xffff },
    ldxw(4, 4),
    ldxw(5, 8),
  ];
  const anyAllow = decisions.some((d) => d.allow);
  const blocksAt = 6 + 4 * decisions.length + 1;
  const allowAt = blocksAt;
  const denyAt = anyAllow ? blocksAt + 2 : blocksAt;
  for (const device of decisions) {
    const here = out.length;
    const to = device.allow ? allowAt : denyAt;
    out.push(
      jne(2, TYPE_CODE[device.type], 3),
      jne(4, device.major | 0, 2),
      jne(5, device.minor | 0, 1),
      ja(to - (here + 3) - 1),
    );
  }
  const blocks: Insn[] = [];
  if (anyAllow) blocks.push(mov32(0, 1), exit());
  if (decisions.some((d) => !d.allow)) blocks.push(mov32(0, 0), exit());
  out.push(ja(blocks.length), ...blocks);
  return out;
}

const key = (d: { type: string; major: number; minor: number }) =>
  `${d.type} ${d.major}:${d.minor}`;

/**
 * The runtime's program with our prologue deciding exactly `decisions` (a prologue already there
 * is replaced; none gives back the runtime's own program). A device named twice keeps its last
 * decision.
 */
export function withDecisions(
  insns: readonly Insn[],
  decisions: readonly DeviceDecision[],
): Insn[] {
  const { runtime } = splitProgram(insns);
  const last = new Map(decisions.map((d) => [key(d), d]));
  if (last.size === 0) return runtime;
  return [...buildPrologue([...last.values()]), ...runtime];
}

/**
 * The program that allows every access (`r0 = 1; exit`): the tail our prologue is put in front of
 * in a cgroup that had no device program, so that only the prologue's denials apply.
 */
export function allowAllProgram(): Insn[] {
  return [mov32(0, 1), exit()];
}

/** Thrown for an instruction the interpreter does not know. */
export class ProgramError extends Error {
  override readonly name = "ProgramError";
}

const MAX_STEPS = 1_000_000;

/**
 * Runs a device program on one access, the way the kernel would for the instructions device
 * programs use (loads from the context, 32/64-bit ALU with immediates or registers, conditional
 * jumps, exit).
 *
 * @returns whether the program allows the access
 * @throws {ProgramError} for an instruction it does not know, or a program that does not end
 */
export function programAllows(insns: readonly Insn[], access: DeviceAccess): boolean {
  const ctx = [
    ((access.access & 0xffff) << 16) | TYPE_CODE[access.type],
    access.major,
    access.minor,
  ]
    .map((v) => BigInt(v >>> 0));
  const regs = new Array<bigint>(11).fill(0n);
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  const u32 = (v: bigint) => BigInt.asUintN(32, v);
  let pc = 0;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const insn = insns[pc];
    if (insn === undefined) throw new ProgramError(`the program runs past its end at ${pc}`);
    // r0–r10 are all eBPF has; the kernel's verifier refuses any other.
    if (insn.dst > 10 || insn.src > 10) throw unknown(insn, pc);
    const cls = insn.code & 0x07;
    const op = insn.code & 0xf0;
    const source = insn.code & 0x08;
    if (cls === LDX) {
      if ((insn.code & 0xe0) !== MEM || insn.src !== 1) throw unknown(insn, pc);
      const size = insn.code & 0x18;
      const word = ctx[insn.off >> 2];
      if (word === undefined || insn.off % 4 + (size === W ? 4 : size === H ? 2 : 1) > 4) {
        throw unknown(insn, pc);
      }
      const shift = BigInt((insn.off % 4) * 8);
      const mask = size === W ? 0xffffffffn : size === H ? 0xffffn : size === B ? 0xffn : -1n;
      if (mask === -1n) throw unknown(insn, pc);
      regs[insn.dst] = (word >> shift) & mask;
      pc++;
    } else if (cls === ALU || cls === ALU64) {
      // A non-zero offset makes another instruction of the same opcode (`movsx`, `sdiv`, `smod`).
      if (insn.off !== 0) throw unknown(insn, pc);
      const wide = cls === ALU64;
      const operand = source === X
        ? regs[insn.src]
        : wide
        ? u64(BigInt(insn.imm))
        : u32(BigInt(insn.imm));
      const a = wide ? regs[insn.dst] : u32(regs[insn.dst]);
      const b = wide ? operand : u32(operand);
      let value: bigint;
      switch (op) {
        case 0x00:
          value = a + b;
          break; // add
        case 0x10:
          value = a - b;
          break; // sub
        case 0x40:
          value = a | b;
          break; // or
        case AND:
          value = a & b;
          break;
        case 0x60:
          value = a << (b & (wide ? 63n : 31n));
          break; // lsh
        case 0x70:
          value = a >> (b & (wide ? 63n : 31n));
          break; // rsh
        case 0xa0:
          value = a ^ b;
          break; // xor
        case MOV:
          value = b;
          break;
        default:
          throw unknown(insn, pc);
      }
      regs[insn.dst] = wide ? u64(value) : u32(value);
      pc++;
    } else if (cls === JMP || cls === JMP32) {
      if (op === EXIT && cls === JMP) return (regs[0] & 0xffffffffn) !== 0n;
      if (op === JA) {
        // `gotol` (JMP32 class) takes its offset from the immediate.
        pc += 1 + (cls === JMP32 ? insn.imm : insn.off);
        continue;
      }
      const narrow = cls === JMP32;
      const a = narrow ? u32(regs[insn.dst]) : regs[insn.dst];
      const raw = source === X ? regs[insn.src] : u64(BigInt(insn.imm));
      const b = narrow ? u32(raw) : raw;
      let taken: boolean;
      switch (op) {
        case 0x10:
          taken = a === b;
          break; // jeq
        case 0x20:
          taken = a > b;
          break; // jgt
        case 0x30:
          taken = a >= b;
          break; // jge
        case 0x40:
          taken = (a & b) !== 0n;
          break; // jset
        case JNE:
          taken = a !== b;
          break;
        case 0xa0:
          taken = a < b;
          break; // jlt
        case 0xb0:
          taken = a <= b;
          break; // jle
        default:
          throw unknown(insn, pc);
      }
      pc += 1 + (taken ? insn.off : 0);
    } else {
      throw unknown(insn, pc);
    }
  }
  throw new ProgramError(`the program does not end within ${MAX_STEPS} steps`);
}

function unknown(insn: Insn, pc: number): ProgramError {
  return new ProgramError(
    `instruction ${pc} (opcode 0x${insn.code.toString(16)}) is not one a device program uses`,
  );
}
