/**
 * The closed set of errors the tools raise. Each carries what the entry module needs to report it
 * once (the message) and to exit (the exit code); parse errors also carry the file position.
 *
 * Messages follow one rule: the action first, values and paths in double quotes, a colon before
 * the detail, then the fix.
 *
 * @module
 */

import { isOsError } from "./io/fs.ts";

/** Where in a file an error was found (1-based). */
export interface FilePosition {
  path: string;
  line?: number;
  column?: number;
}

/** Base class of every error a tool reports to its user. */
export abstract class ToolError extends Error {
  /** Exit status of the process that fails with this error. */
  abstract readonly exitCode: number;
}

/** Bad command-line usage: unknown command, missing flag value, wrong argument count. */
export class UsageError extends ToolError {
  readonly exitCode = 2;
  override readonly name = "UsageError";
}

/** An error about a file's content: where it is, down to the line and column when known. */
export abstract class FileError extends ToolError {
  readonly exitCode = 1;
  readonly path: string;
  readonly line?: number;
  readonly column?: number;

  constructor(message: string, where: FilePosition, options?: ErrorOptions) {
    super(message, options);
    this.path = where.path;
    this.line = where.line;
    this.column = where.column;
  }
}

/** An invalid or unreadable config file: config.toml, an engine's, a revert memory or journal. */
export class ConfigError extends FileError {
  override readonly name = "ConfigError";
}

/** An invalid or unreadable input document: OCI config.json, OCI state, CSV or CDI spec. */
export class SpecError extends FileError {
  override readonly name = "SpecError";
}

/** A container's device request that cannot be served (unknown device, unsupported mode). */
export class RequestError extends ToolError {
  readonly exitCode = 1;
  override readonly name = "RequestError";
}

/** A program that could not be found or started (the low-level runtime, ldconfig). */
export class ExecError extends ToolError {
  readonly exitCode = 1;
  override readonly name = "ExecError";
}

/** Another process holds what this one needs (the installer's pid file lock). */
export class ConflictError extends ToolError {
  readonly exitCode = 1;
  override readonly name = "ConflictError";
}

/** Formats `"path", line L, column C` for messages; omits what is unknown. */
export function describePosition(where: FilePosition): string {
  let text = quoted(where.path);
  if (where.line !== undefined) text += `, line ${where.line}`;
  if (where.column !== undefined) text += `, column ${where.column}`;
  return text;
}

/** The message of any thrown value, for the one place that reports it. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The exit status for any thrown value: the tool error's code, 1 for anything unexpected. */
export function exitCodeOf(error: unknown): number {
  return error instanceof ToolError ? error.exitCode : 1;
}

/**
 * A file that could not be written or removed (full or read-only file system, permissions); the
 * message says whether anything was changed.
 */
export class WriteError extends FileError {
  override readonly name = "WriteError";
}

/** Values longer than this are shortened in messages (a huge argument stays a readable line). */
const QUOTED_MAX = 1024;

/**
 * Characters that would break a message's one line or disguise it: C0 and C1 controls, DEL, the
 * Unicode line and paragraph separators and the bidirectional overrides. JSON.stringify escapes
 * the C0 ones (and lone surrogates) by itself.
 */
const DISGUISING =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeDisguising(text: string): string {
  return text.replace(DISGUISING, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/**
 * A user's value for a message: in double quotes, with JSON-style escapes for quotes,
 * backslashes, control characters, line separators and lone surrogates, so that a message that
 * echoes it stays one line and shows exactly what was given. A value longer than 1,024
 * characters is cut, and its length said.
 *
 * @example
 * ```ts
 * quoted("a\nb"); // '"a\\nb"'
 * ```
 */
export function quoted(value: string): string {
  const shown = value.length > QUOTED_MAX ? value.slice(0, QUOTED_MAX) : value;
  const text = escapeDisguising(JSON.stringify(shown));
  return value.length > QUOTED_MAX ? `${text.slice(0, -1)}…" (${value.length} characters)` : text;
}

/**
 * The one line an entry module prints after `<tool>: ` for anything thrown: a tool error's
 * message; an operating-system error (full disk, permissions…) as `unexpected system error: …`;
 * anything else (a bug) as `internal error: <name>: …`. Never a stack trace; line breaks and
 * control characters that reached a message are escaped, so it stays one line whatever it quotes.
 */
export function failureMessage(error: unknown): string {
  if (error instanceof ToolError) return escapeDisguising(error.message);
  if (!(error instanceof Error)) return `internal error: ${escapeDisguising(String(error))}`;
  const code = (error as { code?: unknown }).code;
  const osError = isOsError(error) || (typeof code === "string" && /^E[A-Z0-9]+$/.test(code));
  const message = escapeDisguising(error.message);
  return osError
    ? `unexpected system error: ${message}`
    : `internal error: ${error.name}: ${message}`;
}

/**
 * The reason of an operating-system error without Deno's `: readfile '<path>'` suffix (the
 * caller names the file itself, quoted) and without the errno number: `No such file or
 * directory`.
 */
export function osErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return escapeDisguising(
    message.replace(/: [a-z_]+ '[\s\S]*'$/, "").replace(/ \(os error \d+\)$/, ""),
  );
}
