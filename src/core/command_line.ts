/**
 * Running a commander program (xpu-ctk, xpu-container-cli) so that help and version exit 0 and
 * every parsing mistake becomes one usage error.
 *
 * @module
 */

import { type Command, CommanderError } from "commander";
import { UsageError } from "./errors.ts";
import type { ToolIo } from "./tool_io.ts";

/** Routes a commander program's output through `io` and makes it throw instead of exiting. */
export function attachIo(program: Command, io: ToolIo): Command {
  return program.exitOverride().configureOutput({
    writeOut: (s) => io.stdout(s),
    writeErr: (s) => io.stderr(s),
    outputError: () => {},
  });
}

/**
 * Parses `args` (without argv[0]) with `program` and runs the chosen action.
 *
 * @returns 0 (also for `--help` and `--version`)
 * @throws {UsageError} for command-line mistakes, pointing at `<name> --help`; the actions' errors
 */
export async function runProgram(program: Command, args: readonly string[]): Promise<number> {
  try {
    await program.parseAsync([...args], { from: "user" });
    return 0;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return 0;
    throw new UsageError(
      `${error.message.replace(/^error: /, "")}: see "${program.name()} --help"`,
      { cause: error },
    );
  }
}
