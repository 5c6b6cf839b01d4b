/**
 * The closed set of errors the tools raise. Each carries what the entry module needs to report it
 * once (the message) and to exit (the exit code); parse errors also carry the file position.
 *
 * Messages follow one rule: the action first, values and paths in double quotes, a colon before
 * the detail, then the fix.
 *
 * @module
 */

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

/** An invalid or unreadable configuration file (config.toml). */
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
  let text = `"${where.path}"`;
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
