/**
 * Seeing which calls of an installed runtime wrapper took the fast path: the runtime's source
 * wrapper (what the installer installs as `xpu-container-runtime.real`, the shim) logs every
 * call that reaches it, and a recording low-level runtime logs every call that reaches runc.
 *
 * @module
 */

import { ok } from "node:assert/strict";

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Makes the runtime's wrapper in `source` append its arguments to `log`, one line a call. */
export function logShimCalls(source: string, log: string): void {
  const path = `${source}/xpu-container-runtime`;
  const text = Deno.readTextFileSync(path);
  const at = text.lastIndexOf("\nexec ");
  ok(at >= 0, `no exec line in ${path}:\n${text}`);
  Deno.writeTextFileSync(
    path,
    `${text.slice(0, at + 1)}echo "$*" >> ${quote(log)}\n${text.slice(at + 1)}`,
  );
}

/** Writes `path`: a runtime that appends its arguments to `log`, then execs `runc`. */
export function writeRecordingRuntime(path: string, log: string, runc = "runc"): string {
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh\necho "$*" >> ${quote(log)}\nexec ${quote(runc)} "$@"\n`,
  );
  Deno.chmodSync(path, 0o755);
  return path;
}

/** The lines a {@link logShimCalls} or {@link writeRecordingRuntime} log holds (none yet: []). */
export function loggedCalls(log: string): string[] {
  try {
    return Deno.readTextFileSync(log).split("\n").filter((line) => line !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Whether a logged call's arguments hold `create` (the calls the shim must see). */
export function isCreate(line: string): boolean {
  return line.split(" ").includes("create");
}
