/**
 * Fuzz targets for the documents the tools read: an OCI `config.json` (as the shim reads and
 * rewrites it on `create`), the OCI state on a hook's stdin, CDI specs in JSON and YAML (as
 * `xpu-ctk cdi validate` and the registry read them), CSV mount specs, and the JSON syntax
 * scanner. Each target returns or throws a tool error; it throws {@link InvariantError} when the
 * output breaks a property the input promised (an edited spec that does not re-parse as intended,
 * a scanner that disagrees with `JSON.parse`, a message on two lines).
 *
 * @module
 */

import { REPO_ROOT } from "../helpers/container_lab.ts";
import { resolveCdiDevices, toContainerEdits } from "../../src/core/cdi/cdi_inject.ts";
import { buildCdiRegistry, devicesOfKind } from "../../src/core/cdi/cdi_registry.ts";
import {
  cdiSpecProblem,
  formatCdiSpec,
  hooksWithoutEnv,
  hookWithoutEnvWarning,
  parseCdiSpec,
} from "../../src/core/cdi/cdi_spec.ts";
import {
  applyContainerEdits,
  type ContainerEdits,
  removeHooksNamed,
} from "../../src/core/oci/container_edits.ts";
import { RequestError, SpecError } from "../../src/core/errors.ts";
import { findJsonSyntaxError } from "../../src/core/text/json_syntax.ts";
import {
  isPrivileged,
  type OciSpec,
  parseOciSpec,
  serializeOciSpec,
  specAnnotations,
  specEnv,
  specMounts,
  specRootfs,
  spliceOciSpecScanned,
} from "../../src/core/oci/oci_spec.ts";
import { parseOciState, readBundleSpec } from "../../src/core/oci/oci_state.ts";
import { csvContainerEdits } from "../../src/runtime/csv_edits.ts";
import { deviceRequestEdits } from "../helpers/device_request_edits.ts";
import { CSV_ENTRY_TYPES, parseCsvMountSpec } from "../../src/runtime/csv_mount_spec.ts";
import { fixtureHostFs } from "../helpers/fixture_fs.ts";
import { InvariantError } from "../helpers/fuzz.ts";

const SPEC_PATH = "/run/containerd/bundle/config.json";

/**
 * The bytes of a fuzz input: UTF-8, except that a lone surrogate U+DC80…U+DCFF stands for the raw
 * byte 0x80…0xFF (as Python's "surrogateescape" does), so string inputs can carry invalid UTF-8.
 */
export function fuzzBytes(input: string): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const match of input.matchAll(/(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g)) {
    parts.push(encoder.encode(input.slice(last, match.index)));
    parts.push(Uint8Array.of(match[0].charCodeAt(0) - 0xdc00));
    last = match.index + 1;
  }
  parts.push(encoder.encode(input.slice(last)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A value as JSON text (raw big integers as their digits): equal texts, equal documents. */
function canonical(value: unknown): string {
  return JSON.stringify(value) ?? "undefined";
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Throws an {@link InvariantError} when a tool's message is not one line. */
function assertOneLine(what: string, text: string, breaks = /[\n\r]/): void {
  if (breaks.test(text)) {
    throw new InvariantError(`${what} is not one line: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/**
 * (a) An OCI `config.json` as the shim reads it on `create` (bytes, parsed keeping big integers);
 * for a valid one, the readers the request uses, the edits of a device request, and their
 * serialisation: it must re-parse equal to the edited spec, and an unedited spec must serialise
 * to the very bytes it came from.
 */
export function ociSpecTarget(input: string): void {
  const original = fuzzBytes(input);
  const spec = parseOciSpec(original, SPEC_PATH);
  if (!sameBytes(serializeOciSpec(spec, original), original)) {
    throw new InvariantError("an unedited spec does not serialise to its own bytes");
  }
  specEnv(spec);
  specMounts(spec);
  specAnnotations(spec);
  specRootfs(spec, "/run/containerd/bundle");
  isPrivileged(spec);
  editAndCheck(original, (edited) => {
    removeHooksNamed(edited, "prestart", ["xpu-container-runtime-hook"]);
    applyContainerEdits(edited, deviceRequestEdits());
  });
}

const STATE_CWD = "/run/hook-cwd";
const BUNDLE_SPEC = new TextEncoder().encode(
  '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"env":["A=1"]}}',
);

/**
 * (b) The OCI state on a hook's stdin, as the prestart hook and `xpu-ctk hook …` read it, then
 * the bundle's spec (a fixed one) and the rootfs from it.
 */
export function ociStateTarget(input: string): void {
  const state = parseOciState(input, STATE_CWD);
  if (!state.bundle.startsWith("/") || state.bundle.includes("\0")) {
    throw new InvariantError(`the bundle ${JSON.stringify(state.bundle)} is not an absolute path`);
  }
  if (state.pid !== undefined && !(Number.isSafeInteger(state.pid) && state.pid > 0)) {
    throw new InvariantError(`the pid ${state.pid} is not a process id`);
  }
  const { spec } = readBundleSpec(state.bundle, () => BUNDLE_SPEC);
  const rootfs = specRootfs(spec, state.bundle);
  if (rootfs === undefined || !rootfs.startsWith("/")) {
    throw new InvariantError(`the rootfs ${rootfs} is not an absolute path`);
  }
}

const RUNC_SPEC = Deno.readFileSync(`${REPO_ROOT}/fixtures/oci/runc-spec.json`);

/**
 * Edits `config.json` bytes and checks that the result re-parses as the edited spec.
 *
 * @returns whether the edits applied (a part they touch may have the wrong type)
 */
function editAndCheck(original: Uint8Array, edit: (spec: OciSpec) => void): boolean {
  const spec = parseOciSpec(original, SPEC_PATH);
  try {
    edit(spec);
  } catch (error) {
    // A spec whose parts the edits touch have the wrong type: the create step reports it.
    if (error instanceof SpecError) {
      assertOneLine("an edit's error", error.message);
      return false;
    }
    throw error;
  }
  const written = serializeOciSpec(spec, original);
  if (!sameBytes(written, spliceOciSpecScanned(spec, original))) {
    throw new InvariantError("the spec is written otherwise than the splice of a scan writes it");
  }
  let reparsed: unknown;
  try {
    reparsed = parseOciSpec(written, SPEC_PATH);
  } catch (error) {
    throw new InvariantError(`the edited spec does not re-parse: ${error}`);
  }
  if (canonical(reparsed) !== canonical(spec)) {
    throw new InvariantError("the edited spec re-parses to another document than the edited one");
  }
  const again = serializeOciSpec(parseOciSpec(written, SPEC_PATH), written);
  if (!sameBytes(again, written)) {
    throw new InvariantError("the written spec does not serialise to its own bytes");
  }
  return true;
}

/**
 * A CDI spec through `parseCdiSpec` (the reader of `cdi validate` and the registry, validation
 * included), then what the tools do with a valid one: the warnings, the registry, a round trip
 * through `formatCdiSpec`, and injecting every device into runc's spec on the fixture XPU host.
 */
async function cdiTarget(input: string, format: "json" | "yaml"): Promise<void> {
  const path = `/etc/cdi/fuzz.${format}`;
  const spec = await parseCdiSpec(input, path);
  const problem = cdiSpecProblem(spec);
  if (problem !== undefined) {
    throw new InvariantError(`a spec that loaded has a problem: ${problem.message}`);
  }
  for (const hook of hooksWithoutEnv(spec)) {
    assertOneLine("a warning", hookWithoutEnvWarning(path, hook));
  }
  const registry = buildCdiRegistry(["/etc/cdi"], [{ path, priority: 0, spec }]);
  for (const error of registry.errors) assertOneLine("a registry error", error.message);
  devicesOfKind(registry, spec.kind);
  const text = await formatCdiSpec(spec, format);
  let again: unknown;
  try {
    again = await parseCdiSpec(text, path);
  } catch (error) {
    throw new InvariantError(`a loaded spec, written again, does not load: ${error}`);
  }
  if (canonical(again) !== canonical(spec)) {
    throw new InvariantError("a loaded spec, written again, loads as another spec");
  }
  const resolution = resolveCdiDevices(registry, [...registry.devices.keys()]);
  if (!resolution.ok) throw new InvariantError("a device of the registry does not resolve");
  let edits: ContainerEdits;
  try {
    edits = toContainerEdits(resolution.edits, { fs: fixtureHostFs("xpu"), user: {} });
  } catch (error) {
    // A device node that is not on the host: the create step reports it.
    // cdi_inject.ts quotes the node's path as it is, a carriage return included (reported); a
    // newline there would be caught by the fuzz worker all the same.
    if (error instanceof RequestError) {
      return assertOneLine("a request error", error.message, /\n/);
    }
    throw error;
  }
  editAndCheck(RUNC_SPEC, (oci) => applyContainerEdits(oci, edits));
}

/** (c) A CDI spec in JSON. */
export function cdiJsonTarget(input: string): Promise<void> {
  return cdiTarget(input, "json");
}

/** (d) A CDI spec in YAML. */
export function cdiYamlTarget(input: string): Promise<void> {
  return cdiTarget(input, "yaml");
}

const CSV_PATH = "/etc/xpu-container-runtime/host-files-for-container.d/fuzz.csv";

/**
 * (e) A CSV mount spec as csv mode reads it: the parser, the debug lines for skipped lines, and
 * the edits its entries give on the fixture XPU host.
 */
export function csvTarget(input: string): void {
  const { entries, skipped } = parseCsvMountSpec(input);
  for (const entry of entries) {
    if (!(CSV_ENTRY_TYPES as readonly string[]).includes(entry.type)) {
      throw new InvariantError(`an entry has type ${JSON.stringify(entry.type)}`);
    }
    if (!entry.path.startsWith("/") || entry.path.includes("\0")) {
      throw new InvariantError(`an entry has path ${JSON.stringify(entry.path)}`);
    }
  }
  for (const s of skipped) {
    // As create logs it.
    assertOneLine(
      "a skipped line's log",
      `Skipping line ${s.line} of "${CSV_PATH}": ${s.reason}: ${JSON.stringify(s.text)}`,
    );
  }
  csvContainerEdits(entries, {
    fs: fixtureHostFs("xpu"),
    driverRoot: "/",
    includeDevices: true,
    ctkPath: () => "/usr/bin/xpu-ctk",
    hookEnv: ["PATH=/usr/bin:/bin"],
  });
}

/**
 * (f) The JSON syntax scanner: it finds an error exactly when `JSON.parse` fails (with
 * `uniqueKeys`, also for repeated keys), at a position inside the text, described on one line.
 */
export function jsonSyntaxTarget(input: string): void {
  let parses = true;
  try {
    JSON.parse(input);
  } catch {
    parses = false;
  }
  const found = findJsonSyntaxError(input);
  if ((found === undefined) !== parses) {
    throw new InvariantError(
      parses
        ? `JSON.parse accepts the text, the scanner reports ${JSON.stringify(found)}`
        : "JSON.parse rejects the text, the scanner finds no error",
    );
  }
  // With uniqueKeys, a repeated key before the first syntax error is reported instead.
  const strict = findJsonSyntaxError(input, { uniqueKeys: true });
  if (
    found !== undefined &&
    (strict === undefined || strict.line > found.line ||
      strict.line === found.line && strict.column > found.column)
  ) {
    throw new InvariantError(`with uniqueKeys the scanner reports ${JSON.stringify(strict)}`);
  }
  for (const error of [found, strict]) {
    if (error === undefined) continue;
    assertOneLine("the detail", error.detail);
    const lines = input.split("\n");
    if (
      error.line < 1 || error.line > lines.length || error.column < 1 ||
      error.column > lines[error.line - 1].length + 1
    ) {
      throw new InvariantError(`the position ${error.line}:${error.column} is outside the text`);
    }
  }
}
