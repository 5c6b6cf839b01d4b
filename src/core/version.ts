/**
 * The toolkit's version, shared by every executable's `--version`.
 *
 * @module
 */

/** The release version. */
export const VERSION = "0.1.0";
