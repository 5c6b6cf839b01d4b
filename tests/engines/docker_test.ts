/**
 * daemon.json golden cases (`fixtures/engines/docker/<case>/`): `input.json` (absent: no file),
 * `case.json` (the request), `configure.json` and `unconfigure.json` (absent: the file is gone).
 */

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { DOCKER } from "../../src/engines/docker.ts";
import type { ConfigureRequest, UnconfigureRequest } from "../../src/engines/engine_edit.ts";
import type { FileChange } from "../../src/engines/file_change.ts";
import type { RevertMemory } from "../../src/engines/revert_memory.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { assertGolden, readFixture } from "../helpers/golden.ts";
import { configTarget, fileState } from "./engine_files.ts";

const DIR = `${REPO_ROOT}/fixtures/engines/docker`;
const FILE = "/etc/docker/daemon.json";
const TARGET = configTarget(FILE);

/** The adapter's configure of daemon.json holding `text` (`null`: no file). */
function configure(
  text: string | null,
  request: ConfigureRequest,
  memory: RevertMemory | undefined,
): FileChange {
  const changes = DOCKER.plan(fileState({ [FILE]: { text, memory } }), {
    target: TARGET,
    configure: request,
    host: undefined,
  });
  strictEqual(changes.length, 1, "one file: daemon.json");
  return changes[0];
}

/** The adapter's unconfigure of daemon.json holding `text`. */
function unconfigure(
  text: string | null,
  request: UnconfigureRequest,
  memory: RevertMemory | undefined,
): FileChange {
  const changes = DOCKER.unplan(fileState({ [FILE]: { text, memory } }), {
    target: TARGET,
    unconfigure: request,
    host: undefined,
  });
  strictEqual(changes.length, 1, "one file: daemon.json");
  return changes[0];
}

interface Case {
  handlers: { name: string; path: string }[];
  defaultRuntime?: string;
  cdi?: boolean;
  error?: string;
  unconfigureOnly?: boolean;
  editBeforeUnconfigure?: [string, string];
}

Deno.test("docker daemon.json: configure and unconfigure golden cases", async (t) => {
  for (const name of [...Deno.readDirSync(DIR)].map((e) => e.name).sort()) {
    await t.step(name, () => {
      const dir = `${DIR}/${name}`;
      const c: Case = JSON.parse(Deno.readTextFileSync(`${dir}/case.json`));
      const input = readFixture(`${dir}/input.json`);
      const request = {
        handlers: c.handlers,
        defaultRuntime: c.defaultRuntime,
        cdi: c.cdi ?? false,
      };
      const names = c.handlers.map((h) => h.name);
      if (c.error) {
        throws(() => configure(input, request, undefined), (e: unknown) => {
          ok(e instanceof ConfigError);
          match(e.message, new RegExp(c.error!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
          strictEqual(e.path, FILE);
          return true;
        });
        return;
      }
      if (c.unconfigureOnly) {
        assertGolden(
          `${dir}/unconfigure.json`,
          unconfigure(input, { names }, undefined).after,
        );
        return;
      }
      const configured = configure(input, request, undefined);
      assertGolden(`${dir}/configure.json`, configured.after);
      // A second configure changes nothing.
      const again = configure(configured.after, request, configured.memory);
      strictEqual(again.after, configured.after);
      const edit = c.editBeforeUnconfigure;
      const current = edit ? configured.after!.replace(edit[0], edit[1]) : configured.after;
      const reverted = unconfigure(current, { names }, configured.memory);
      assertGolden(`${dir}/unconfigure.json`, reverted.after);
      const implicitDefault = c.defaultRuntime !== undefined &&
        !(input ?? "").includes('"default-runtime"');
      const hadRuntimes = input !== null && /"runtimes"/.test(input);
      if (!edit && !implicitDefault && hadRuntimes) {
        strictEqual(reverted.after, input, "an untouched file comes back byte for byte");
      }
      if (!edit && !implicitDefault && !hadRuntimes) {
        // dockerd's reload keeps its runtime table when the key is absent: an empty one is left.
        const added = input === null || input.trim() === "" ? "{}" : input;
        deepStrictEqual(JSON.parse(reverted.after!), { ...JSON.parse(added), runtimes: {} });
      }
      deepStrictEqual(
        Object.keys(JSON.parse(reverted.after ?? "{}").runtimes ?? {}).filter((n) =>
          names.includes(n)
        ),
        c.unconfigureOnly ? [] : names.filter((n) => (input ?? "").includes(`"${n}"`)),
        "every handler we added is gone",
      );
      if (implicitDefault) {
        // dockerd keeps a default whose key vanished: the revert names runc explicitly.
        strictEqual(JSON.parse(reverted.after!)["default-runtime"], "runc");
      }
      strictEqual(reverted.memory, undefined);
    });
  }
});

Deno.test("docker daemon.json: a key the edit touches may not appear twice", async (t) => {
  const request = {
    handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }],
    defaultRuntime: "xpu",
    cdi: true,
  };
  const cases: { name: string; input: string; expected: string }[] = [
    {
      name: "default-runtime: dockerd reads the last, --set-as-default would do nothing",
      input: '{\n  "default-runtime": "runc",\n  "debug": true,\n  "default-runtime": "crun"\n}\n',
      expected: `Cannot update "${FILE}": "default-runtime" appears twice, lines 2 and 4: ` +
        "dockerd reads the last, so an edit of the first would not count: remove one and re-run",
    },
    {
      name: "runtimes",
      input: '{\n  "runtimes": {},\n  "runtimes": {"crun": {"path": "/c"}}\n}\n',
      expected: '"runtimes" appears twice, lines 2 and 3',
    },
    {
      name: "the handler being configured",
      input: '{"runtimes": {"xpu": {"path": "/a"}, "xpu": {"path": "/b"}}}',
      expected: '"runtimes.xpu" appears twice, on line 1 (columns 15 and 38)',
    },
    {
      name: "features.cdi",
      input: '{\n  "features": {\n    "cdi": false,\n    "cdi": true\n  }\n}\n',
      expected: '"features.cdi" appears twice, lines 3 and 4',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      for (
        const plan of [
          () => configure(c.input, request, undefined),
          () => unconfigure(c.input, { names: ["xpu"] }, undefined),
        ]
      ) {
        const error = assertThrowsError(plan, ConfigError, c.expected);
        strictEqual(error.path, FILE);
        strictEqual(error.message.split("\n").length, 1);
      }
    });
  }
  await t.step("a duplicate the edit does not touch stays (dockerd reads it as before)", () => {
    const input = '{\n  "debug": true,\n  "debug": false\n}\n';
    const after = configure(input, request, undefined).after!;
    ok(after.startsWith('{\n  "debug": true,\n  "debug": false,\n'), after);
    strictEqual(JSON.parse(after).debug, false);
  });
  await t.step("a duplicate handler that is not being edited stays", () => {
    const input = '{"runtimes": {"crun": {"path": "/a"}, "crun": {"path": "/b"}}}';
    const after = configure(input, request, undefined).after!;
    strictEqual(JSON.parse(after).runtimes.crun.path, "/b");
  });
});

Deno.test("docker daemon.json: hostile documents are one-line ConfigErrors, never crashes", async (t) => {
  const request = {
    handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }],
    defaultRuntime: "xpu",
    cdi: false,
  };
  const nested = (levels: number) => `{\n  "x": ${"[".repeat(levels)}${"]".repeat(levels)}\n}\n`;
  const cases: { name: string; input: string; expected: string }[] = [
    {
      name: "5,000 levels of nesting",
      input: nested(5_000),
      expected: `Cannot parse "${FILE}", line 2, column 519: the document nests deeper than 512 ` +
        "levels here",
    },
    { name: "100,000 levels", input: nested(100_000), expected: "nests deeper than 512 levels" },
    {
      name: "a byte-order mark (Go's encoding/json rejects it)",
      input: '\uFEFF{"debug": true}',
      expected:
        `Cannot parse "${FILE}", line 1, column 1: the file starts with a byte-order mark ` +
        "(U+FEFF), which Go's encoding/json rejects",
    },
    {
      name: "\\q escape",
      input: '{\n  "data-root": "/var/\\q"\n}\n',
      expected: "line 2, column 16: invalid escape character",
    },
    { name: "NUL in a string", input: '{"a": "\0"}', expected: "invalid character in a string" },
    {
      name: "1e999 (Go's float64 cannot hold it)",
      input: '{\n  "max-concurrent-downloads": 1e999\n}\n',
      expected: 'line 2, column 31: the number "1e999" is too large for dockerd',
    },
    {
      name: "2^53+1 where an object goes",
      input: '{"runtimes": 9007199254740993}',
      expected: '"runtimes" is a number, expected an object',
    },
    {
      name: "a handler that is a string, with a line break in its name",
      input: '{"runtimes": {"a\\nb": "x"}}',
      expected: '"runtimes.a\\nb" is a string, expected an object',
    },
    {
      name: "the document is an array",
      input: "[]",
      expected: "line 1, column 1: the document is an array, expected an object",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () => configure(c.input, request, undefined),
        ConfigError,
        c.expected,
      );
      strictEqual(error.message.split("\n").length, 1);
    });
  }
  await t.step(
    "blank: dockerd reads no settings; configure writes them, revert gives it back",
    () => {
      const configured = configure("\n", request, undefined);
      strictEqual(JSON.parse(configured.after!)["default-runtime"], "xpu");
      const reverted = unconfigure(configured.after, { names: ["xpu"] }, configured.memory);
      strictEqual(reverted.after, '{\n  "runtimes": {},\n  "default-runtime": "runc"\n}\n');
      strictEqual(unconfigure("\n", { names: ["xpu"] }, undefined).after, "\n");
    },
  );
  await t.step("2^53+1 elsewhere is kept byte for byte", () => {
    const input = '{\n  "max-file": 9007199254740993\n}\n';
    ok(configure(input, request, undefined).after!.includes("9007199254740993"));
  });
  await t.step("an empty runtimes map the file had comes back on revert", () => {
    const input = '{\n  "runtimes": {},\n  "debug": true\n}\n';
    const configured = configure(input, { ...request, defaultRuntime: undefined }, undefined);
    const edited = configured.after!.replace('"debug": true', '"debug": false');
    const reverted = unconfigure(edited, { names: ["xpu"] }, configured.memory);
    strictEqual(reverted.after, '{\n  "runtimes": {},\n  "debug": false\n}\n');
  });
  await t.step("a handler already as asked stays on revert, as before the configure", () => {
    const input =
      '{\n  "runtimes": {\n    "xpu": {\n      "path": "/usr/bin/xpu-container-runtime",\n' +
      '      "runtimeArgs": []\n    }\n  }\n}\n';
    const configured = configure(input, request, undefined);
    const reverted = unconfigure(configured.after, { names: ["xpu"] }, configured.memory);
    deepStrictEqual(JSON.parse(reverted.after!), {
      ...JSON.parse(input),
      "default-runtime": "runc",
    });
  });
  await t.step("a default named like an Object method is no runtime", () => {
    const input = '{"default-runtime": "constructor"}';
    const configured = configure(input, request, undefined);
    const reverted = unconfigure(configured.after + " ", { names: ["xpu"] }, configured.memory);
    strictEqual(JSON.parse(reverted.after!)["default-runtime"], "runc");
  });
});

Deno.test("docker startOnlyChanges: what dockerd's reload does not apply", async (t) => {
  const cases: { name: string; before: string | null; after: string | null; expected: string[] }[] =
    [
      {
        name: "runtimes and default-runtime only: a reload applies them",
        before: '{"debug": true}',
        after: '{"debug": true, "runtimes": {"xpu": {"path": "/x"}}, "default-runtime": "xpu"}',
        expected: [],
      },
      {
        name: "features.cdi turned on in a new file",
        before: null,
        after: '{"features": {"cdi": true}}',
        expected: ["features.cdi"],
      },
      {
        name: "features.cdi taken out, another feature kept",
        before: '{"features": {"cdi": true, "buildkit": true}}',
        after: '{"features": {"buildkit": true}}',
        expected: ["features.cdi"],
      },
      {
        name: "cdi-spec-dirs changed",
        before: '{"cdi-spec-dirs": ["/etc/cdi"]}',
        after: '{"cdi-spec-dirs": ["/etc/cdi", "/var/run/cdi"]}',
        expected: ["cdi-spec-dirs"],
      },
      { name: "a blank file and a removed one", before: "\n", after: null, expected: [] },
    ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const change = { path: FILE, before: c.before, after: c.after, memory: undefined };
      deepStrictEqual(DOCKER.startOnlyChanges?.(change), c.expected);
    });
  }
});

Deno.test("docker unconfigure: what dockerd needs to apply the revert stays, and the line says so", async (t) => {
  const debug = '{\n  "debug": true\n}\n';
  const kept = (what: string) =>
    `Kept "${FILE}" as ${what} so dockerd's reload drops "xpu": delete it after the next ` +
    "dockerd restart (configure created it)";
  const cases: {
    name: string;
    input: {
      text: string | null;
      defaultRuntime?: string;
      fullRestart: boolean;
      names?: string[];
      edit?: [string, string];
    };
    expected: { after: string | null; report: string | undefined };
  }[] = [
    {
      name: "no file before, a reload: the two keys dockerd's reload needs, said as kept",
      input: { text: null, defaultRuntime: "xpu", fullRestart: false },
      expected: {
        after: '{\n  "runtimes": {},\n  "default-runtime": "runc"\n}\n',
        report: kept('{"runtimes": {}, "default-runtime": "runc"}'),
      },
    },
    {
      name: "no file before, no default, a reload: runtimes only",
      input: { text: null, fullRestart: false },
      expected: { after: '{\n  "runtimes": {}\n}\n', report: kept('{"runtimes": {}}') },
    },
    {
      name: "no file before, a restart (systemd): the file goes, said so",
      input: { text: null, defaultRuntime: "xpu", fullRestart: true },
      expected: {
        after: null,
        report: `Removed "${FILE}": configure created it and nothing else is in it`,
      },
    },
    {
      name: "no file before, a key added since, a restart: the key stays, ours go",
      input: {
        text: null,
        defaultRuntime: "xpu",
        fullRestart: true,
        edit: ['"default-runtime"', '"debug": true,\n  "default-runtime"'],
      },
      expected: { after: debug, report: undefined },
    },
    {
      name: "a file without our keys, a restart: byte for byte",
      input: { text: debug, defaultRuntime: "xpu", fullRestart: true },
      expected: { after: debug, report: undefined },
    },
    {
      name: "a file without our keys, edited since, a restart: the edit stays, ours go",
      input: {
        text: debug,
        defaultRuntime: "xpu",
        fullRestart: true,
        edit: ['"debug": true', '"debug": false'],
      },
      expected: { after: '{\n  "debug": false\n}\n', report: undefined },
    },
    {
      name: "a file without our keys, a reload: both kept, said so",
      input: { text: debug, defaultRuntime: "xpu", fullRestart: false },
      expected: {
        after: '{\n  "debug": true,\n  "runtimes": {},\n  "default-runtime": "runc"\n}\n',
        report: `Updated "${FILE}": kept "runtimes": {} and "default-runtime": "runc" so ` +
          `dockerd's reload drops "xpu": remove them after the next dockerd restart`,
      },
    },
    {
      name: "a file that had both keys, a reload: byte for byte, the plain line",
      input: {
        text: '{\n  "runtimes": {"crun": {"path": "/c"}},\n  "default-runtime": "crun"\n}\n',
        defaultRuntime: "xpu",
        fullRestart: false,
      },
      expected: {
        after: '{\n  "runtimes": {"crun": {"path": "/c"}},\n  "default-runtime": "crun"\n}\n',
        report: undefined,
      },
    },
    {
      name: "the operator's three handlers: each named",
      input: {
        text: null,
        defaultRuntime: "xpu",
        fullRestart: false,
        names: ["xpu", "xpu-cdi", "xpu-legacy"],
      },
      expected: {
        after: '{\n  "runtimes": {},\n  "default-runtime": "runc"\n}\n',
        report: `Kept "${FILE}" as {"runtimes": {}, "default-runtime": "runc"} so dockerd's ` +
          `reload drops "xpu", "xpu-cdi" and "xpu-legacy": delete it after the next dockerd ` +
          "restart (configure created it)",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const names = c.input.names ?? ["xpu"];
      const handlers = names.map((name) => ({ name, path: `/opt/xpu/${name}` }));
      const request = { handlers, defaultRuntime: c.input.defaultRuntime, cdi: false };
      const configured = configure(c.input.text, request, undefined);
      const edit = c.input.edit;
      const current = edit ? configured.after!.replace(edit[0], edit[1]) : configured.after;
      const reverted = unconfigure(
        current,
        { names, fullRestart: c.input.fullRestart },
        configured.memory,
      );
      deepStrictEqual({ after: reverted.after, report: reverted.report }, c.expected);
      strictEqual(reverted.memory, undefined);
    });
  }
  await t.step("a restart with other handlers left: they stay, ours and only ours go", () => {
    const a = { handlers: [{ name: "a1", path: "/opt/a1" }], defaultRuntime: "a1", cdi: false };
    const b = { handlers: [{ name: "a2", path: "/opt/a2" }], cdi: false };
    const first = configure(null, a, undefined);
    const second = configure(first.after, b, first.memory);
    const reverted = unconfigure(second.after, { names: ["a1"], fullRestart: true }, second.memory);
    deepStrictEqual(JSON.parse(reverted.after!), {
      runtimes: { a2: { path: "/opt/a2", runtimeArgs: [] } },
    });
  });
});
