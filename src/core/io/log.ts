/**
 * Logging in runc's format, appended to files (the engine's `--log` file, the config's `debug`
 * file, the cli's `--debug` file). Nothing here ever writes to stdout: a runtime's stdout belongs
 * to the engine. A log file is never opened through a symbolic link.
 *
 * @module
 */

import type { LogLevel } from "../config/config.ts";
import { closeFd, FileKindError, openNoFollow, writeAll } from "./fs.ts";

/** How lines are written: runc's `--log-format`. */
export type LogFormat = "json" | "text";

/** A file that receives log lines. */
export interface LogSink {
  path: string;
  format: LogFormat;
}

/** Leveled logging. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Whether a message at `level` would be written anywhere. */
  enabled(level: LogLevel): boolean;
}

const SEVERITY: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  warn: 3,
  error: 4,
  fatal: 5,
  panic: 6,
};

/** Formats one log line (with its newline) as runc/logrus would. */
export function formatLogLine(
  format: LogFormat,
  entry: { level: "debug" | "info" | "warning" | "error"; message: string; time: Date },
): string {
  const time = entry.time.toISOString();
  if (format === "json") {
    return JSON.stringify({ level: entry.level, msg: entry.message, time }) + "\n";
  }
  return `time="${time}" level=${entry.level} msg=${JSON.stringify(entry.message)}\n`;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel;
  sinks: readonly LogSink[];
  /** Appends text to a file; failures are the caller's to ignore. Default: {@link appendToLog}. */
  append?: (path: string, text: string) => void;
  /** Where a refused log file is reported, once per file. Default: a line on stderr. */
  report?: (line: string) => void;
  now?: () => Date;
}

const encoder = new TextEncoder();

/**
 * Appends `text` to the log file at `path`, creating it (mode 0644), never through a symbolic
 * link and never waiting for a FIFO's reader.
 *
 * @throws {FileKindError} when `path` is a symbolic link (or a FIFO nobody reads)
 * @throws {OsCallError} when it cannot be opened or written
 */
export function appendToLog(path: string, text: string): void {
  const fd = openNoFollow(path, "append", 0o644);
  try {
    writeAll(fd, encoder.encode(text));
  } finally {
    closeFd(fd);
  }
}

function reportOnStderr(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // Nowhere left to say it.
  }
}

/** The one line that says a log file was refused. */
export function refusedLogMessage(error: FileKindError): string {
  const fix = error.kind === "symbolic link"
    ? "log files are never opened through a link; point the log setting at the file itself"
    : "point the log setting at a regular file";
  return `Cannot log to "${error.path}": ${error.detail}: ${fix}`;
}

/**
 * A logger writing to every sink. A sink that cannot be written is skipped: losing a log line
 * must never fail a container.
 *
 * A sink that is a symbolic link is refused, not followed. The paths come from the engine
 * (runc's `--log`, in the engine's own state dir) and the admin (the config's `debug`, the cli's
 * `--debug`), so a link there is a planted one or a mistake; either way failing the container for
 * it would turn a log setting into a way to stop containers. So the decision is: keep the
 * existing rule for a log that cannot be written (skip it, start the container) and, as the one
 * difference, say so loudly — once, on stderr (which the engine shows when it reports the
 * runtime's output) and as a warning in the other sinks — then drop that sink.
 */
export function createLogger(options: LoggerOptions): Logger {
  const append = options.append ?? appendToLog;
  const report = options.report ?? reportOnStderr;
  const now = options.now ?? (() => new Date());
  const threshold = SEVERITY[options.level];
  const sinks = [...options.sinks];
  const enabled = (level: LogLevel) => sinks.length > 0 && SEVERITY[level] >= threshold;
  const write = (level: "debug" | "info" | "warning" | "error", message: string) => {
    if (!enabled(level)) return;
    const time = now();
    const refused: FileKindError[] = [];
    for (const sink of [...sinks]) {
      try {
        append(sink.path, formatLogLine(sink.format, { level, message, time }));
      } catch (error) {
        // A broken log file must not break the container start; the error is reported elsewhere.
        if (error instanceof FileKindError) {
          sinks.splice(sinks.indexOf(sink), 1);
          refused.push(error);
        }
      }
    }
    for (const error of refused) {
      report(refusedLogMessage(error));
      write("warning", refusedLogMessage(error));
    }
  };
  return {
    debug: (m) => write("debug", m),
    info: (m) => write("info", m),
    warn: (m) => write("warning", m),
    error: (m) => write("error", m),
    enabled,
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ level: "panic", sinks: [] });
