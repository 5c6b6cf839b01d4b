/**
 * The OCI state a runtime gives its hooks on stdin, and what hooks derive from it: the bundle, the
 * bundle's `config.json`, the container's rootfs (relative paths are relative to the bundle).
 *
 * @module
 */

import { describePosition, SpecError } from "./errors.ts";
import { findJsonSyntaxError } from "./json_syntax.ts";
import { isJsonObject, type OciSpec, parseOciSpec, specRootfs } from "./oci_spec.ts";
import { FileKindError } from "./open_no_follow.ts";
import { readRegularFile } from "./regular_file.ts";

/** What hooks read from the OCI state. */
export interface OciState {
  /** Absolute bundle directory (`bundle`, else the older `bundlePath`, else the working dir). */
  bundle: string;
  /** The container's init process, when the runtime gives it. */
  pid?: number;
}

/** Reads what the hooks need from OCI state JSON: the bundle directory and the pid. */
export function parseOciState(text: string, cwd: string): OciState {
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch (error) {
    const found = findJsonSyntaxError(text);
    const where = { path: "<stdin>", line: found?.line, column: found?.column };
    const detail = found?.detail ?? (error instanceof Error ? error.message.split("\n")[0] : error);
    throw new SpecError(
      `Cannot parse the OCI state on ${describePosition(where)}: ${detail}: ` +
        `run this hook from an OCI runtime`,
      where,
      { cause: error },
    );
  }
  if (!isJsonObject(state)) {
    throw new SpecError(
      `Cannot parse the OCI state on "<stdin>": it is not a JSON object: ` +
        `run this hook from an OCI runtime`,
      { path: "<stdin>" },
    );
  }
  const named = typeof state.bundle === "string" && state.bundle !== ""
    ? state.bundle
    : typeof state.bundlePath === "string" && state.bundlePath !== ""
    ? state.bundlePath
    : cwd;
  const bundle = named.startsWith("/") ? named : `${cwd}/${named}`;
  return typeof state.pid === "number" ? { bundle, pid: state.pid } : { bundle };
}

/**
 * Reads and parses `<bundle>/config.json`.
 *
 * @throws {SpecError} when it cannot be read or parsed
 */
export function readBundleSpec(
  bundle: string,
  readTextFile: (path: string) => string | Uint8Array = readRegularFile,
): { spec: OciSpec; path: string } {
  const path = `${bundle.replace(/\/+$/, "")}/config.json`;
  let text: string | Uint8Array;
  try {
    text = readTextFile(path);
  } catch (error) {
    const detail = error instanceof FileKindError
      ? error.detail
      : error instanceof Error
      ? error.message
      : error;
    throw new SpecError(
      `Cannot read OCI spec "${path}": ${detail}: run this hook from an OCI runtime`,
      { path },
      { cause: error },
    );
  }
  return { spec: parseOciSpec(text, path), path };
}

/**
 * The container's rootfs as a host path.
 *
 * @throws {SpecError} when the state or the bundle's spec cannot be read
 */
export function containerRootFromState(
  stateText: string,
  options: { cwd: string; readTextFile?: (path: string) => string | Uint8Array },
): string {
  const { bundle } = parseOciState(stateText, options.cwd);
  const { spec, path } = readBundleSpec(bundle, options.readTextFile);
  const rootfs = specRootfs(spec, bundle);
  if (rootfs === undefined) {
    throw new SpecError(
      `Cannot find the container's rootfs: "${path}" has no root.path: ` +
        `run this hook from an OCI runtime`,
      { path },
    );
  }
  return rootfs;
}
