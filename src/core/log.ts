/**
 * Logging in runc's format, appended to files (the engine's `--log` file, the config's `debug`
 * file). Nothing here ever writes to stdout: a runtime's stdout belongs to the engine.
 *
 * @module
 */

import type { LogLevel } from "./config.ts";

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
  /** Appends text to a file; failures are the caller's to ignore. */
  append?: (path: string, text: string) => void;
  now?: () => Date;
}

function appendToFile(path: string, text: string): void {
  Deno.writeTextFileSync(path, text, { append: true, create: true });
}

/**
 * A logger writing to every sink. A sink that cannot be written is skipped: losing a log line
 * must never fail a container.
 */
export function createLogger(options: LoggerOptions): Logger {
  const append = options.append ?? appendToFile;
  const now = options.now ?? (() => new Date());
  const threshold = SEVERITY[options.level];
  const enabled = (level: LogLevel) => options.sinks.length > 0 && SEVERITY[level] >= threshold;
  const write = (level: "debug" | "info" | "warning" | "error", message: string) => {
    if (!enabled(level)) return;
    const time = now();
    for (const sink of options.sinks) {
      try {
        append(sink.path, formatLogLine(sink.format, { level, message, time }));
      } catch {
        // A broken log file must not break the container start; the error is reported elsewhere.
      }
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
