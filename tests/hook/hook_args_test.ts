import assert from "node:assert/strict";
import { UsageError } from "../../src/core/errors.ts";
import { type HookArgs, parseHookArgs } from "../../src/hook/hook_args.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

Deno.test("parseHookArgs reads Go-style flags before the command", async (t) => {
  const cases: { name: string; input: string[]; expected: HookArgs }[] = [
    {
      name: "prestart",
      input: ["prestart"],
      expected: { command: "prestart", debug: false, version: false, help: false },
    },
    {
      name: "-config /x prestart",
      input: ["-config", "/x", "prestart"],
      expected: {
        command: "prestart",
        configPath: "/x",
        debug: false,
        version: false,
        help: false,
      },
    },
    {
      name: "--config=/x prestart",
      input: ["--config=/x", "prestart"],
      expected: {
        command: "prestart",
        configPath: "/x",
        debug: false,
        version: false,
        help: false,
      },
    },
    {
      name: "-debug prestart",
      input: ["-debug", "prestart"],
      expected: { command: "prestart", debug: true, version: false, help: false },
    },
    {
      name: "-debug=false prestart",
      input: ["-debug=false", "prestart"],
      expected: { command: "prestart", debug: false, version: false, help: false },
    },
    {
      name: "-version",
      input: ["-version"],
      expected: { debug: false, version: true, help: false },
    },
    {
      name: "--version (two dashes, as Go's flag package reads them)",
      input: ["--version"],
      expected: { debug: false, version: true, help: false },
    },
    {
      name: "-help",
      input: ["-help"],
      expected: { debug: false, version: false, help: true },
    },
    {
      name: "flags after the command are not parsed",
      input: ["prestart", "-debug"],
      expected: { command: "prestart", debug: false, version: false, help: false },
    },
    {
      name: "-debug=1 and -debug=F as Go's ParseBool reads them",
      input: ["-debug=1", "-debug=F", "-debug=t", "prestart"],
      expected: { command: "prestart", debug: true, version: false, help: false },
    },
    {
      name: "a lone - is the command, as in Go",
      input: ["-"],
      expected: { command: "-", debug: false, version: false, help: false },
    },
    {
      name: "no args: no command",
      input: [],
      expected: { debug: false, version: false, help: false },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepStrictEqual(parseHookArgs(c.input), c.expected));
  }
});

Deno.test("parseHookArgs rejects bad flags with a UsageError", async (t) => {
  const cases: { name: string; input: string[]; expected: { fragment: string } }[] = [
    { name: "-config without a value", input: ["-config"], expected: { fragment: '"-config"' } },
    {
      name: "-config= with an empty value",
      input: ["-config=", "prestart"],
      expected: { fragment: '"-config="' },
    },
    { name: "unknown flag -frob", input: ["-frob", "prestart"], expected: { fragment: '"-frob"' } },
    {
      name: "an upper-case flag is a flag, not the command",
      input: ["-CONFIG", "/x", "prestart"],
      expected: { fragment: 'flag "-CONFIG": unknown flag' },
    },
    { name: "---x: bad flag syntax", input: ["---x"], expected: { fragment: "bad flag syntax" } },
    { name: "-=x: bad flag syntax", input: ["-=x"], expected: { fragment: "bad flag syntax" } },
    {
      name: "-debug=yes is no boolean",
      input: ["-debug=yes", "prestart"],
      expected: { fragment: '"yes" is not a boolean' },
    },
    {
      name: "a flag with a line break is quoted with escapes, one line",
      input: ["-fr\nob", "prestart"],
      expected: { fragment: 'flag "-fr\\nob": unknown flag' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertThrowsError(() => parseHookArgs(c.input), UsageError, c.expected.fragment);
    });
  }
});

Deno.test("parseHookArgs: -- ends the flags", () => {
  const parsed = parseHookArgs(["-debug", "--", "prestart"]);
  assert.strictEqual(parsed.command, "prestart");
  assert.strictEqual(parsed.debug, true);
});
