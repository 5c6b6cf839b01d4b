/**
 * Sending a signal to another process (SIGHUP to an engine's daemon, so it reloads its config).
 *
 * @module
 */

/** A signal's name, as `kill -l` spells it with the `SIG` prefix. */
export type SignalName = Deno.Signal;

/**
 * Sends `signal` to the process `pid`.
 *
 * @throws the OS error when the process is gone or may not be signalled
 */
export function sendSignal(pid: number, signal: SignalName): void {
  Deno.kill(pid, signal);
}
