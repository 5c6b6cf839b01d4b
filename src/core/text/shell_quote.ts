/**
 * Quoting for the shell: every script the toolkit writes (the installer's wrappers, the
 * artefact's launchers, the fast path) quotes its values with this one function.
 *
 * @module
 */

/** Quotes a value for `/bin/sh` and bash: `'…'`, with `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
