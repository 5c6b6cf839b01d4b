/**
 * The OCI state a runtime gives its hooks on stdin, and what hooks derive from it: the bundle, the
 * bundle's `config.json`, the container's rootfs (relative paths are relative to the bundle).
 *
 * @module
 */

import { describePosition, SpecError } from "../errors.ts";
import { findDepthExcess, MAX_JSON_DEPTH } from "../text/json_depth.ts";
import { findJsonSyntaxError } from "../text/json_syntax.ts";
import { isJsonObject, type OciSpec, parseOciSpec, specRootfs } from "./oci_spec.ts";
import { FileKindError } from "../io/fs.ts";
import { readRegularFile } from "../io/regular_file.ts";

/** What hooks read from the OCI state. */
export interface OciState {
  /** Absolute bundle directory (`bundle`, else the older `bundlePath`, else the working dir). */
  bundle: string;
  /** The container's init process, when the runtime gives it. */
  pid?: number;
}

/**
 * Reads what the hooks need from OCI state JSON: the bundle directory and the pid.
 *
 * @throws {SpecError} on `"<stdin>"` for a text that is not a JSON object (nested deeper than
 *   {@link MAX_JSON_DEPTH} levels included), a bundle with a NUL byte, or a pid that is not one
 */
export function parseOciState(text: string, cwd: string): OciState {
  const fix = "run this hook from an OCI runtime";
  const deep = findDepthExcess(text, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    const where = { path: "<stdin>", line: deep.line, column: deep.column };
    throw new SpecError(
      `Cannot parse the OCI state on ${describePosition(where)}: the document nests deeper ` +
        `than ${deep.limit} levels: ${fix}`,
      where,
    );
  }
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch (error) {
    const found = findJsonSyntaxError(text);
    const where = { path: "<stdin>", line: found?.line, column: found?.column };
    const detail = found?.detail ?? (error instanceof Error ? error.message.split("\n")[0] : error);
    throw new SpecError(
      `Cannot parse the OCI state on ${describePosition(where)}: ${detail}: ${fix}`,
      where,
      { cause: error },
    );
  }
  const invalid = (detail: string) =>
    new SpecError(`Cannot parse the OCI state on "<stdin>": ${detail}: ${fix}`, {
      path: "<stdin>",
    });
  if (!isJsonObject(state)) throw invalid("it is not a JSON object");
  const field = typeof state.bundle === "string" && state.bundle !== ""
    ? "bundle"
    : typeof state.bundlePath === "string" && state.bundlePath !== ""
    ? "bundlePath"
    : undefined;
  const named = field === undefined ? cwd : state[field] as string;
  // The C library would read the path only up to the NUL: another file than the one named.
  if (field !== undefined && named.includes("\0")) {
    throw invalid(`"${field}" ${JSON.stringify(named)} contains a NUL byte`);
  }
  const bundle = named.startsWith("/") ? named : `${cwd}/${named}`;
  // A stopped container's state may carry pid 0: no process.
  if (state.pid === undefined || state.pid === null || state.pid === 0) return { bundle };
  if (!(Number.isSafeInteger(state.pid) && (state.pid as number) > 0)) {
    const shown = typeof state.pid === "number" ? String(state.pid) : JSON.stringify(state.pid);
    throw invalid(`"pid" is ${shown}, not a process id`);
  }
  return { bundle, pid: state.pid as number };
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
      `Cannot read OCI spec ${JSON.stringify(path)}: ${detail}: run this hook from an OCI runtime`,
      { path },
      { cause: error },
    );
  }
  return { spec: parseOciSpec(text, path), path };
}

function denied(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && "code" in cause && cause.code === "EACCES";
}

/**
 * The container's rootfs as a host path.
 *
 * @throws {SpecError} when the state or the bundle's spec cannot be read
 */
export function containerRootFromState(
  stateText: string,
  options: {
    cwd: string;
    readTextFile?: (path: string) => string | Uint8Array;
    /** Whether a directory is the root of a mount (see below). */
    isMountPoint?: (path: string) => boolean;
  },
): string {
  const { bundle } = parseOciState(stateText, options.cwd);
  let read: { spec: OciSpec; path: string };
  try {
    read = readBundleSpec(bundle, options.readTextFile);
  } catch (error) {
    // A createContainer hook of a container with its own user namespace runs as the container's
    // root, which may not read the engine's bundle (podman keeps it 0700). runc runs it in the
    // rootfs, which it has bind-mounted onto itself: a working directory that is a mount root
    // and not the bundle is that rootfs. Writes there still go through the rootfs fd.
    const cwd = options.cwd.replace(/\/+$/, "");
    if (
      denied(error) && cwd !== "" && cwd !== bundle.replace(/\/+$/, "") &&
      options.isMountPoint?.(cwd) === true
    ) {
      return cwd;
    }
    throw error;
  }
  const { spec, path } = read;
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
