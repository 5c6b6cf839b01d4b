/**
 * Telling a permission problem (EACCES, EPERM) from other failures, so that the message of an
 * operator who ran `xpu-ctk runtime` without root says what to do — run it as root — instead of
 * naming whichever internal file happened to be written first.
 *
 * The uid is never checked up front: what counts is whether the files can be written (tests and
 * operators point every path into directories of their own).
 *
 * @module
 */

/** The fix a permission error's message ends with. */
export const RUN_AS_ROOT = "run as root (sudo)";

/**
 * Whether `error`, or an error it wraps (`cause`), is a permission error: Deno's
 * `PermissionDenied`, or a failed system call with `EACCES` or `EPERM`.
 */
export function isPermissionDenied(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === "PermissionDenied" || code === "EACCES" || code === "EPERM") return true;
  }
  return false;
}
