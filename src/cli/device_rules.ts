/**
 * A spec's device allow-list (`linux.resources.devices`) and whether it lets the container open
 * a device node. On a cgroup v2 host the runtime compiles this list into the eBPF program of the
 * container's cgroup before the prestart hooks run; it is the container's whole device access, and
 * a hook cannot add to it. So in hook mode the only honest choices are "the spec already allows
 * every node" and "refuse".
 *
 * Runtimes read the list slightly differently (runc replays it as cgroup v1 would, where a deny
 * removes only an exact match and any type `a` rule resets everything; youki checks it from the
 * last rule back). {@link allowsDevice} takes the stricter reading wherever they differ: when it
 * says "allowed", runc allows read and write; it may say "not allowed" for odd lists a runtime
 * would accept (and then the container is refused with a clear error instead of starting with a
 * node it cannot open).
 *
 * @module
 */

import { isJsonObject, type OciSpec } from "../core/oci/oci_spec.ts";

/** One entry of `linux.resources.devices`, read; an absent number is a wildcard. */
export interface DeviceRule {
  allow: boolean;
  /** `a` (every type) for an absent or empty type, as in the OCI spec. */
  type: "a" | "c" | "b";
  major?: number;
  minor?: number;
  /** The letters of `rwm` the rule covers (empty when absent). */
  access: string;
}

/** A device node the container needs, by type and numbers. */
export interface NeededDevice {
  type: "c" | "b";
  major: number;
  minor: number;
}

/** What an entry this module cannot read stands for: a denial of everything (the safe side). */
const UNREADABLE: DeviceRule = { allow: false, type: "a", access: "rwm" };

/** A rule's number: a wildcard when absent, null or negative (runc's -1); `null` when unreadable. */
function ruleNumber(value: unknown): number | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) return null;
  return value < 0 ? undefined : value;
}

/** Reads one entry; anything malformed becomes {@link UNREADABLE}. */
function readRule(entry: unknown): DeviceRule {
  if (!isJsonObject(entry)) return UNREADABLE;
  const type = entry.type === undefined || entry.type === null || entry.type === ""
    ? "a"
    : entry.type;
  if (type !== "a" && type !== "c" && type !== "b") return UNREADABLE;
  const major = ruleNumber(entry.major);
  const minor = ruleNumber(entry.minor);
  if (major === null || minor === null) return UNREADABLE;
  const access = entry.access === undefined || entry.access === null ? "" : entry.access;
  if (typeof access !== "string" || !/^[rwm]*$/.test(access)) return UNREADABLE;
  // The OCI spec's Go type makes an absent "allow" false: a denial.
  return { allow: entry.allow === true, type, major, minor, access };
}

/**
 * The spec's `linux.resources.devices`, in order. A missing list is empty (the runtime then
 * denies every device but its own defaults); an entry that cannot be read counts as denying every
 * device, since the runtime would have refused such a spec before any hook ran.
 */
export function specDeviceRules(spec: OciSpec): DeviceRule[] {
  const linux = spec.linux;
  if (!isJsonObject(linux) || !isJsonObject(linux.resources)) return [];
  const devices = linux.resources.devices;
  if (devices === undefined || devices === null) return [];
  if (!Array.isArray(devices)) return [UNREADABLE];
  return devices.map(readRule);
}

function covers(rule: DeviceRule, device: NeededDevice): boolean {
  return (rule.type === "a" || rule.type === device.type) &&
    (rule.major === undefined || rule.major === device.major) &&
    (rule.minor === undefined || rule.minor === device.minor);
}

/**
 * Whether the rules let a process open `device` for reading and writing (creating it, `m`, is
 * not needed: the node is made from outside the container).
 *
 * Read from the last rule back, the first one that decides wins: an allow rule covering the
 * device with both `r` and `w` (one rule must hold both, as the kernel checks an open's access
 * against each rule whole), or a deny rule covering it that takes `r` or `w` away. A deny of type
 * `a` denies everything whatever its numbers and access (runc and the kernel reset on it). No
 * deciding rule: not allowed.
 */
export function allowsDevice(rules: readonly DeviceRule[], device: NeededDevice): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i];
    if (rule.allow) {
      if (covers(rule, device) && rule.access.includes("r") && rule.access.includes("w")) {
        return true;
      }
    } else if (
      rule.type === "a" ||
      (covers(rule, device) && (rule.access.includes("r") || rule.access.includes("w")))
    ) {
      return false;
    }
  }
  return false;
}

/** The devices of `devices` the rules do not allow, in their order. */
export function devicesNotAllowed<T extends NeededDevice>(
  rules: readonly DeviceRule[],
  devices: readonly T[],
): T[] {
  return devices.filter((device) => !allowsDevice(rules, device));
}
