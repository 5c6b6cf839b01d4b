/**
 * CDI specification versions: which `cdiVersion` values are supported, and the minimum version a
 * spec's content needs — each version's requirement as one row of a table, as the CDI reference
 * defines them.
 *
 * @module
 */

import type { CdiEdits, CdiSpec } from "./cdi_document.ts";

/** Versions this toolkit reads, oldest first. */
export const CDI_VERSIONS = [
  "0.3.0",
  "0.4.0",
  "0.5.0",
  "0.6.0",
  "0.7.0",
  "0.8.0",
  "1.0.0",
  "1.1.0",
] as const;

/** Released versions older than the earliest supported one. */
const TOO_OLD = ["0.1.0", "0.2.0"];

function allEdits(spec: CdiSpec): CdiEdits[] {
  return [spec.containerEdits ?? {}, ...(spec.devices ?? []).map((d) => d.containerEdits ?? {})];
}

/** What makes a spec need at least a version, newest first. */
const REQUIREMENTS: readonly { version: string; needs: (spec: CdiSpec) => boolean }[] = [
  {
    version: "1.1.0",
    needs: (spec) =>
      allEdits(spec).some((e) =>
        // A null field is an absent field (the shape check lets JSON null through).
        e.intelRdt?.schemata != null || e.intelRdt?.enableMonitoring === true ||
        (e.netDevices?.length ?? 0) > 0
      ),
  },
  {
    version: "0.7.0",
    needs: (spec) =>
      allEdits(spec).some((e) => e.intelRdt != null || (e.additionalGids?.length ?? 0) > 0),
  },
  {
    version: "0.6.0",
    needs: (spec) =>
      Object.keys(spec.annotations ?? {}).length > 0 ||
      (spec.devices ?? []).some((d) => Object.keys(d.annotations ?? {}).length > 0) ||
      (spec.kind?.includes("/") === true &&
        spec.kind.slice(spec.kind.indexOf("/") + 1).includes(".")),
  },
  {
    version: "0.5.0",
    needs: (spec) =>
      (spec.devices ?? []).some((d) => /^[0-9]/.test(d.name ?? "")) ||
      allEdits(spec).some((e) => (e.deviceNodes ?? []).some((n) => (n.hostPath ?? "") !== "")),
  },
  {
    version: "0.4.0",
    needs: (spec) =>
      allEdits(spec).some((e) => (e.mounts ?? []).some((m) => (m.type ?? "") !== "")),
  },
];

/** Compares two dotted versions. */
function compare(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/**
 * The lowest version that can express everything in `spec` (never below 0.3.0).
 *
 * @example
 * ```ts
 * minimumCdiVersion({ cdiVersion: "", kind: "a/b", devices: [{ name: "0", containerEdits: {} }] });
 * // "0.5.0" (a device name starting with a digit)
 * ```
 */
export function minimumCdiVersion(spec: CdiSpec): string {
  return REQUIREMENTS.find((r) => r.needs(spec))?.version ?? CDI_VERSIONS[0];
}

/** Normalises a `cdiVersion` value (an optional leading `v`). */
export function normalizeCdiVersion(value: string): string {
  return value.startsWith("v") ? value.slice(1) : value;
}

/** Whether the declared `cdiVersion` value (an optional leading `v`) is `version` or later. */
export function declaresAtLeast(value: string, version: string): boolean {
  return compare(normalizeCdiVersion(value), version) >= 0;
}

/**
 * Why a spec's `cdiVersion` is not acceptable, or `undefined` when it is: unknown, older than
 * 0.3.0, or lower than what the content needs.
 */
export function cdiVersionProblem(spec: CdiSpec): string | undefined {
  const declared = normalizeCdiVersion(spec.cdiVersion ?? "");
  // Quoted as in JSON, so that a value holding a newline keeps the message on one line.
  const shown = JSON.stringify(spec.cdiVersion ?? "");
  if (TOO_OLD.includes(declared)) {
    return `cdiVersion ${shown} is older than the earliest supported ${CDI_VERSIONS[0]}`;
  }
  if (!(CDI_VERSIONS as readonly string[]).includes(declared)) {
    return `cdiVersion ${shown} is not a supported CDI version ` +
      `(${CDI_VERSIONS[0]} to ${CDI_VERSIONS[CDI_VERSIONS.length - 1]})`;
  }
  const minimum = minimumCdiVersion(spec);
  if (compare(declared, minimum) < 0) {
    return `cdiVersion ${shown} is too old for the content: it needs at least ${minimum}`;
  }
  return undefined;
}
