/**
 * The outside world as the tools see it, passed in rather than read from Deno's globals so tests
 * can give fakes; the entry modules build the real one.
 *
 * @module
 */

/** The outside world as a tool sees it; entry modules build it from Deno's globals. */
export interface ToolIo {
  env: Readonly<Record<string, string>>;
  cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
  /** The whole of stdin (the OCI state, for hooks). */
  readStdin(): Promise<string>;
}

const encoder = new TextEncoder();

/** The real process's io, for the entry modules. */
export function processIo(): ToolIo {
  return {
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
    stdout: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
    stderr: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    readStdin: async () => await new Response(Deno.stdin.readable).text(),
  };
}
