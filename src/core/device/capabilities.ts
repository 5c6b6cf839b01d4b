/**
 * Driver capabilities: which groups of driver files a container asks for
 * (`XPU_DRIVER_CAPABILITIES`) and which the host supports (config `supported-driver-capabilities`).
 *
 * @module
 */

/** Every capability name the toolkit knows, in canonical order. */
export const CAPABILITIES = [
  "compat32",
  "compute",
  "display",
  "graphics",
  "utility",
  "video",
] as const;

/** One driver capability. */
export type Capability = typeof CAPABILITIES[number];

/** Capabilities a container gets when it does not say (`XPU_DRIVER_CAPABILITIES` unset or empty). */
export const DEFAULT_CAPABILITIES: readonly Capability[] = ["compute", "utility"];

/** Whether `name` is a known capability. */
export function isCapability(name: string): name is Capability {
  return (CAPABILITIES as readonly string[]).includes(name);
}

/** Splits a comma list into trimmed, non-empty, de-duplicated names, keeping first occurrence. */
export function splitCommaList(value: string): string[] {
  const seen = new Set<string>();
  for (const part of value.split(",")) {
    const name = part.trim();
    if (name !== "") seen.add(name);
  }
  return [...seen];
}

/** Result of reading `XPU_DRIVER_CAPABILITIES`: the capabilities, or the names that are not allowed. */
export type CapabilityParse =
  | { ok: true; capabilities: Capability[] }
  | { ok: false; unknown: string[]; unsupported: string[] };

/**
 * Decides the capabilities a container asked for.
 *
 * Unset or empty means the defaults (bounded by `supported`); `all` means every supported one;
 * a name the toolkit does not know is reported in `unknown`, a known one the host does not
 * support in `unsupported`.
 *
 * @example
 * ```ts
 * parseDriverCapabilities("compute,video", ["compute", "utility", "video"]);
 * // { ok: true, capabilities: ["compute", "video"] }
 * ```
 */
export function parseDriverCapabilities(
  value: string | undefined,
  supported: readonly Capability[],
): CapabilityParse {
  const names = value === undefined ? [] : splitCommaList(value);
  if (names.length === 0) {
    return { ok: true, capabilities: DEFAULT_CAPABILITIES.filter((c) => supported.includes(c)) };
  }
  if (names.includes("all")) return { ok: true, capabilities: canonicalOrder(supported) };
  const unknown = names.filter((n) => !isCapability(n));
  const unsupported = names.filter((n) => isCapability(n) && !supported.includes(n));
  if (unknown.length > 0 || unsupported.length > 0) return { ok: false, unknown, unsupported };
  return { ok: true, capabilities: canonicalOrder(names as Capability[]) };
}

function canonicalOrder(capabilities: readonly Capability[]): Capability[] {
  return CAPABILITIES.filter((c) => capabilities.includes(c));
}
