import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { ConfigError } from "../../../src/core/errors.ts";
import {
  findTomlKeyLine,
  parseTomlDocument,
  type TomlDocumentOptions,
} from "../../../src/core/text/toml_table.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";

const PATH = "/etc/x.toml";

/** smol-toml's tables have a null prototype; compare plain data. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

Deno.test("parseTomlDocument reads a document", () => {
  deepStrictEqual(plain(parseTomlDocument('a = 1\n[b]\nc = "d"\n', PATH)), { a: 1, b: { c: "d" } });
});

Deno.test("parseTomlDocument: each caller's message, whole", async (t) => {
  const cases: { name: string; options: TomlDocumentOptions; expected: string }[] = [
    {
      name: "defaults (config.toml)",
      options: {},
      expected: `Cannot parse "${PATH}", line 2, column 5: invalid value: ` +
        `fix the TOML syntax and re-run`,
    },
    {
      name: "another fix (containerd)",
      options: {
        fix: "fix the TOML (containerd rejects it too)",
        check: `check the file with "containerd config dump"`,
      },
      expected: `Cannot parse "${PATH}", line 2, column 5: invalid value: ` +
        `fix the TOML (containerd rejects it too) and re-run`,
    },
    {
      name: "another action (cri-o)",
      options: {
        action: "Cannot read",
        fix: "fix the TOML (cri-o rejects it too)",
        check: `check the file with "crio config"`,
      },
      expected: `Cannot read "${PATH}", line 2, column 5: invalid value: ` +
        `fix the TOML (cri-o rejects it too) and re-run`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => parseTomlDocument("a = 1\nb = = 2\n", PATH, c.options),
        ConfigError,
        "",
      );
      strictEqual(error.message, c.expected);
      deepStrictEqual([error.path, error.line, error.column], [PATH, 2, 5]);
    });
  }
});

Deno.test("parseTomlDocument: the parser failing otherwise names the file and the check", async (t) => {
  // Not a string: smol-toml fails with a TypeError of its own, not a TomlError.
  const notText = null as unknown as string;
  const failed = "the TOML parser failed (TypeError: Cannot read properties of null";
  const cases: { name: string; options: TomlDocumentOptions; expected: string }[] = [
    {
      name: "defaults",
      options: {},
      expected: `Cannot parse "${PATH}": ${failed} (reading 'charCodeAt')): ` +
        `check the file's syntax and re-run`,
    },
    {
      name: "another check (cri-o)",
      options: { action: "Cannot read", check: `check the file with "crio config"` },
      expected: `Cannot read "${PATH}": ${failed} (reading 'charCodeAt')): ` +
        `check the file with "crio config" and re-run`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => parseTomlDocument(notText, PATH, c.options),
        ConfigError,
        "",
      );
      strictEqual(error.message, c.expected);
      deepStrictEqual([error.path, error.line], [PATH, undefined]);
      strictEqual((error.cause as Error).name, "TypeError");
    });
  }
});

Deno.test("findTomlKeyLine reads the statements of the text, whatever their quoting", async (t) => {
  const cases: { name: string; input: string; key: string; expected: number | undefined }[] = [
    { name: "a key in a table", input: "[a]\nb = 1\n", key: "a.b", expected: 2 },
    { name: "a header", input: "x = 1\n[a.b]\n", key: "a.b", expected: 2 },
    {
      name: "a header with an escaped quote and a ]",
      input: '[profiles."a\\"b]"]\nkernel-module = "m"\n',
      key: 'profiles.a"b].kernel-module',
      expected: 2,
    },
    {
      name: "a quoted key with an escaped quote",
      input: '[a]\n"x\\"y" = 1\n',
      key: 'a.x"y',
      expected: 2,
    },
    { name: "a \\U escape in a key", input: '"\\U0001F600" = 1\n', key: "\u{1F600}", expected: 1 },
    {
      name: "a byte-order mark before the first key",
      input: "\uFEFFa = 1\n",
      key: "a",
      expected: 1,
    },
    {
      name: "a header inside a multi-line string is not one",
      input: 'a = """\n[b]\nc = 1\n"""\n[b]\nc = 2\n',
      key: "b.c",
      expected: 6,
    },
    { name: "CRLF line endings", input: "a = 1\r\n[b]\r\nc = 2\r\n", key: "b.c", expected: 3 },
    {
      name: "the n-th table of an array of tables",
      input: "[[p.d]]\nx = 1\n[[p.d]]\nx = 2\n",
      key: "p.d.1.x",
      expected: 4,
    },
    {
      name: "a dotted key under the one asked for",
      input: "[a]\nb.c = 1\n",
      key: "a.b",
      expected: 2,
    },
    { name: "absent", input: "a = 1\n", key: "b", expected: undefined },
    {
      name: "not TOML: ends all the same",
      input: '[a."\n"b = \n\\',
      key: "a",
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(findTomlKeyLine(c.input, c.key), c.expected));
  }
});
