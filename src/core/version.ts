/**
 * The toolkit's version, shared by every executable's `--version`.
 *
 * It is on the runtime shim's pass-through path: it imports nothing.
 *
 * @module
 */

/** The release version. */
export const VERSION = "0.1.0";

/**
 * The first line of every tool's `--version` output, without a line break.
 *
 * @example
 * ```ts
 * versionLine("xpu-ctk"); // "xpu-ctk version 0.1.0"
 * ```
 */
export function versionLine(tool: string): string {
  return `${tool} version ${VERSION}`;
}
