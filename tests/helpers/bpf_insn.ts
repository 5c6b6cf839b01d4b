/**
 * One eBPF instruction from its five fields, for tables of device programs in unit tests.
 *
 * @module
 */

import type { Insn } from "../../src/core/device/device_program.ts";

/** The instruction `code dst src off imm`, as `bpftool prog dump xlated` lists its fields. */
export const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});
