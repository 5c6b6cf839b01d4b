/**
 * Where a hook finds the container's rootfs: the OCI state on stdin names the bundle, the bundle's
 * `config.json` names the root (relative paths are relative to the bundle).
 *
 * @module
 */

import { describePosition, SpecError } from "../core/errors.ts";
import { findJsonSyntaxError } from "../core/json_syntax.ts";
import { isJsonObject, parseOciSpec, specRootfs } from "../core/oci_spec.ts";

/** Reads what the hooks need from OCI state JSON: the bundle directory. */
export function parseOciState(text: string, cwd: string): { bundle: string; pid?: number } {
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
 * The container's rootfs as a host path.
 *
 * @throws {SpecError} when the state or the bundle's spec cannot be read
 */
export function containerRootFromState(
  stateText: string,
  options: { cwd: string; readTextFile?: (path: string) => string },
): string {
  const { bundle } = parseOciState(stateText, options.cwd);
  const specPath = `${bundle.replace(/\/+$/, "")}/config.json`;
  let text: string;
  try {
    text = (options.readTextFile ?? Deno.readTextFileSync)(specPath);
  } catch (error) {
    throw new SpecError(
      `Cannot read OCI spec "${specPath}": ${error instanceof Error ? error.message : error}: ` +
        `run this hook from an OCI runtime`,
      { path: specPath },
      { cause: error },
    );
  }
  const rootfs = specRootfs(parseOciSpec(text, specPath), bundle);
  if (rootfs === undefined) {
    throw new SpecError(
      `Cannot find the container's rootfs: "${specPath}" has no root.path: ` +
        `run this hook from an OCI runtime`,
      { path: specPath },
    );
  }
  return rootfs;
}
