/**
 * Boolean strings as Go's `strconv.ParseBool` reads them — what images and operators already
 * write in environment variables.
 *
 * @module
 */

/** Whether a value is true (`1`, `t`, `T`, `true`, `TRUE`, `True`). */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ["1", "t", "T", "true", "TRUE", "True"].includes(value.trim());
}

/** Whether a value is false (`0`, `f`, `F`, `false`, `FALSE`, `False`). */
export function isFalsy(value: string | undefined): boolean {
  return value !== undefined && ["0", "f", "F", "false", "FALSE", "False"].includes(value.trim());
}
