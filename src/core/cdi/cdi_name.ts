/**
 * The grammar of CDI names: kinds (`vendor/class`) and fully-qualified device names
 * (`vendor/class=name`), as the Container Device Interface specification defines them.
 *
 * @module
 */

/** A parsed `vendor/class=name`. */
export interface QualifiedName {
  vendor: string;
  class: string;
  name: string;
}

const VENDOR = /^[A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
// Dots in a class are valid CDI (a spec using them needs cdiVersion 0.6.0).
const CLASS = /^[A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const DEVICE = /^[A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;

/** Why a vendor name is invalid, or `undefined` when it is valid. */
export function vendorNameProblem(vendor: string): string | undefined {
  return VENDOR.test(vendor) ? undefined : `vendor "${vendor}" must start with a letter, ` +
    `end with a letter or digit and hold only letters, digits, "-", "_" and "."`;
}

/** Why a class name is invalid, or `undefined` when it is valid. */
export function classNameProblem(cls: string): string | undefined {
  return CLASS.test(cls) ? undefined : `class "${cls}" must start with a letter, ` +
    `end with a letter or digit and hold only letters, digits, "-", "_" and "."`;
}

/** Why a device name is invalid, or `undefined` when it is valid. */
export function deviceNameProblem(name: string): string | undefined {
  return DEVICE.test(name) ? undefined : `device name "${name}" must start and end with a ` +
    `letter or digit and hold only letters, digits, "-", "_", "." and ":"`;
}

/** Why a kind (`vendor/class`) is invalid, or `undefined` when it is valid. */
export function kindProblem(kind: string): string | undefined {
  const slash = kind.indexOf("/");
  if (slash <= 0 || slash === kind.length - 1) {
    return `kind "${kind}" must have the form "vendor/class"`;
  }
  return vendorNameProblem(kind.slice(0, slash)) ?? classNameProblem(kind.slice(slash + 1));
}

/**
 * Parses `vendor/class=name`; returns `undefined` for anything that is not a valid qualified name.
 *
 * @example
 * ```ts
 * parseQualifiedName("xpu.dev/xpu=0"); // { vendor: "xpu.dev", class: "xpu", name: "0" }
 * parseQualifiedName("0"); // undefined
 * ```
 */
export function parseQualifiedName(text: string): QualifiedName | undefined {
  const eq = text.indexOf("=");
  if (eq < 0) return undefined;
  const kind = text.slice(0, eq);
  const name = text.slice(eq + 1);
  const slash = kind.indexOf("/");
  if (slash < 0) return undefined;
  const parsed = { vendor: kind.slice(0, slash), class: kind.slice(slash + 1), name };
  if (vendorNameProblem(parsed.vendor) || classNameProblem(parsed.class)) return undefined;
  if (deviceNameProblem(name)) return undefined;
  return parsed;
}

/** Whether a device id from a request is a fully-qualified CDI name. */
export function isQualifiedName(text: string): boolean {
  return parseQualifiedName(text) !== undefined;
}
