/**
 * Running a commander program (xpu-ctk, xpu-container-cli, xpu-ctk-installer) so that help and
 * version exit 0 and every parsing mistake becomes one usage error of one line: commander's
 * "(Did you mean …?)" second line is folded into it, the help text it would print for a missing
 * subcommand is not printed (help is for `--help`), and every value from the command line is
 * quoted with escapes, so a flag with a line break in it cannot split or forge a message.
 *
 * @module
 */

import { type Command, CommanderError, InvalidArgumentError } from "commander";
import { quoted, UsageError } from "../errors.ts";
import type { ToolIo } from "../io/tool_io.ts";

/** Routes a commander program's output through `io` and makes it throw instead of exiting. */
export function attachIo(program: Command, io: ToolIo): Command {
  return program.exitOverride().configureOutput({
    writeOut: (s) => io.stdout(s),
    // Commander writes here only the help it shows with an error (a missing subcommand): the
    // usage error thrown for it lists the commands in its one line instead.
    writeErr: () => {},
    outputError: () => {},
  });
}

/**
 * Commander's argument parser for a path flag: a value that starts with `-` is the next flag
 * taken for the path (`--output --format json` would write a file named `--format`), refused.
 * With `previous` an array, the path is collected (a repeatable flag).
 */
export function pathValue(value: string, previous?: unknown): string & string[] {
  if (value.startsWith("-")) {
    throw new InvalidArgumentError("it looks like a flag, not a path: give the flag a path");
  }
  return (Array.isArray(previous) ? [...previous, value] : value) as string & string[];
}

/** The command's full name, `xpu-ctk runtime configure`. */
function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** `(did you mean "--config"?)` from commander's `\n(Did you mean --config?)` tail. */
function suggestion(tail: string | undefined): string {
  if (tail === undefined) return "";
  const names = tail.replace(/^one of /, "").split(", ").map(quoted);
  const choice = names.length === 1
    ? names[0]
    : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
  return ` (did you mean ${choice}?)`;
}

/** A list of names for a message: `"a", "b" or "c"`. */
function oneOf(names: readonly string[]): string {
  const shown = names.map(quoted);
  return shown.length <= 1
    ? shown.join("")
    : `${shown.slice(0, -1).join(", ")} or ${shown[shown.length - 1]}`;
}

/**
 * Commander's message for `error`, as one line with every value quoted. Commander quotes values
 * with `'…'` unescaped; the known shapes are matched whole (greedily, so a quote inside a value
 * does not end it), anything else is escaped as a whole.
 */
function describeCommanderError(
  error: CommanderError,
  command: Command,
  args: readonly string[],
): string {
  const text = error.message.replace(/^error: /, "");
  const shape = (pattern: RegExp) => pattern.exec(text) ?? undefined;
  switch (error.code) {
    case "commander.unknownOption": {
      const m = shape(/^unknown option '([\s\S]*)'(?:\n\(Did you mean ([\s\S]*)\?\))?$/);
      if (m) return `unknown option ${quoted(m[1])}${suggestion(m[2])}`;
      break;
    }
    case "commander.unknownCommand": {
      const m = shape(/^unknown command '([\s\S]*)'(?:\n\(Did you mean ([\s\S]*)\?\))?$/);
      if (m) return `unknown command ${quoted(m[1])}${suggestion(m[2])}`;
      break;
    }
    case "commander.optionMissingArgument": {
      const m = shape(/^option '([\s\S]*)' argument missing$/);
      if (m) return `option ${quoted(m[1])} needs a value`;
      break;
    }
    case "commander.missingMandatoryOptionValue": {
      const m = shape(/^required option '([\s\S]*)' not specified$/);
      if (m) return `required option ${quoted(m[1])} not specified`;
      break;
    }
    case "commander.missingArgument": {
      const m = shape(/^missing required argument '([\s\S]*)'$/);
      if (m) return `missing required argument ${quoted(m[1])}`;
      break;
    }
    case "commander.invalidArgument": {
      const m = shape(/^option '([\s\S]*)' argument '([\s\S]*)' is invalid\. ([^\n]*)$/);
      if (m) return `Cannot use ${quoted(m[1])} with ${quoted(m[2])}: ${m[3]}`;
      break;
    }
    case "commander.excessArguments": {
      const expected = command.registeredArguments.length;
      const extra = command.args.slice(expected);
      return `too many arguments for ${quoted(fullName(command))}: ${
        extra.map(quoted).join(", ")
      }` +
        `: it takes ${expected === 0 ? "none" : `at most ${expected}`}`;
    }
    case "commander.help": {
      // `help NAME` for a NAME that is no command, or a command group without its command.
      const asked = args[args.indexOf("help") + 1];
      if (command.parent === null && args.includes("help") && asked !== undefined) {
        return `unknown command ${quoted(asked)}: use ${
          oneOf(command.commands.map((c) => c.name()))
        }`;
      }
      return `${quoted(fullName(command))} needs a command: ${
        oneOf(command.commands.map((c) => c.name()))
      }`;
    }
  }
  return quoted(text).slice(1, -1);
}

/**
 * Parses `args` (without argv[0]) with `program` and runs the chosen action.
 *
 * @returns 0 (also for `--help` and `--version`)
 * @throws {UsageError} for command-line mistakes, one line pointing at `<command> --help`; the
 *   actions' errors as they are
 */
export async function runProgram(program: Command, args: readonly string[]): Promise<number> {
  // Which command failed, for "see … --help": each command tags the errors it raises.
  const raisedBy = new WeakMap<CommanderError, Command>();
  const tag = (command: Command) => {
    command.exitOverride((error) => {
      raisedBy.set(error, command);
      throw error;
    });
    command.commands.forEach(tag);
  };
  tag(program);
  try {
    await program.parseAsync([...args], { from: "user" });
    return 0;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return 0;
    const command = raisedBy.get(error) ?? program;
    throw new UsageError(
      `${describeCommanderError(error, command, args)}: see ${
        quoted(`${fullName(command)} --help`)
      }`,
      { cause: error },
    );
  }
}
