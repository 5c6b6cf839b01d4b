/**
 * missingPrograms: one warning per program a configure points the engine at that is missing or
 * not executable — the handlers' runtimes, or the hook file's program and the cli it runs.
 */

import { deepStrictEqual } from "node:assert/strict";
import { missingPrograms, type ProgramTargets } from "../../src/engines/missing_programs.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

/** A toolkit config with every default (an empty file). */
const DEFAULTS = Deno.makeTempFileSync({ prefix: "xpu-ctk-test-", suffix: ".toml" });
const NO_CONFIG = { XPU_CTK_CONFIG_FILE_PATH: DEFAULTS };
const RUNTIME = "/usr/bin/xpu-container-runtime";
const HOOK = "/usr/bin/xpu-container-runtime-hook";

function configureOf(paths: string[]): ProgramTargets {
  return {
    action: "configure",
    handlers: paths.map((path, i) => ({ name: i === 0 ? "xpu" : `xpu${i}`, path })),
    hookPath: HOOK,
  };
}

Deno.test("missingPrograms", async (t) => {
  try {
    await cases(t);
  } finally {
    Deno.removeSync(DEFAULTS);
  }
});

async function cases(t: Deno.TestContext): Promise<void> {
  const cases: {
    name: string;
    input: {
      targets: ProgramTargets;
      hookFile?: boolean;
      executable: string[];
      present?: string[];
    };
    expected: string[];
  }[] = [
    {
      name: "the handler's runtime is there: no warning",
      input: { targets: configureOf([RUNTIME]), executable: [RUNTIME] },
      expected: [],
    },
    {
      name: "configure: a missing runtime, the fix names --runtime-path",
      input: { targets: configureOf([RUNTIME]), executable: [] },
      expected: [
        `the runtime "${RUNTIME}" of handler "xpu" does not exist: install it there, or pass ` +
        `--runtime-path with where it is; until then containers on "xpu" fail to start`,
      ],
    },
    {
      name: "a runtime that is not executable",
      input: { targets: configureOf(["/opt/x"]), executable: [], present: ["/opt/x"] },
      expected: [
        `the runtime "/opt/x" of handler "xpu" is not an executable file: make it executable ` +
        `(chmod +x), or pass --runtime-path with where it is; until then containers on "xpu" ` +
        "fail to start",
      ],
    },
    {
      name: "setup: one line per missing handler, the fix names RUNTIME_DIR",
      input: {
        targets: {
          action: "setup",
          handlers: [
            { name: "xpu", path: "/t/xpu-container-runtime" },
            { name: "xpu-cdi", path: "/t/xpu-container-runtime.cdi" },
          ],
          hookPath: "/t/xpu-container-runtime-hook",
        },
        executable: ["/t/xpu-container-runtime"],
      },
      expected: [
        `the runtime "/t/xpu-container-runtime.cdi" of handler "xpu-cdi" does not exist: ` +
        "install it there, or pass the RUNTIME_DIR the toolkit is installed in; until then " +
        `containers on "xpu-cdi" fail to start`,
      ],
    },
    {
      name: "there under the host root (the installer's /host): no warning",
      input: {
        targets: { ...configureOf([RUNTIME]), hostRoot: "/host" },
        executable: [`/host${RUNTIME}`],
      },
      expected: [],
    },
    {
      name: "hook file: the handlers do not count; the hook and the cli beside it are there",
      input: {
        targets: configureOf(["/missing"]),
        hookFile: true,
        executable: [HOOK, "/usr/bin/xpu-container-cli"],
      },
      expected: [],
    },
    {
      name: "hook file: a missing hook and no cli on the hook's PATH, a line each",
      input: { targets: configureOf([RUNTIME]), hookFile: true, executable: [] },
      expected: [
        `the hook program "${HOOK}" does not exist: install it there, or pass --hook-path with ` +
        "where it is; until then the hook cannot run",
        `the program the hook runs, xpu-container-cli (in "/usr/bin" or the standard PATH ` +
        "dirs), is not there: install xpu-container-cli beside the hook, or name it in " +
        "[xpu-container-cli] path of the toolkit's config; until then the hook fails for every " +
        "container that asks for XPUs",
      ],
    },
    {
      name: "hook file: the cli in a standard dir is found as the hook finds it",
      input: {
        targets: { ...configureOf([]), hookPath: "/opt/t/xpu-container-runtime-hook" },
        hookFile: true,
        executable: ["/opt/t/xpu-container-runtime-hook", "/usr/local/bin/xpu-container-cli"],
      },
      expected: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const executable = new Set(c.input.executable);
      const present = new Set([...c.input.executable, ...(c.input.present ?? [])]);
      deepStrictEqual(
        missingPrograms(c.input.targets, {
          hookFile: c.input.hookFile ?? false,
          env: NO_CONFIG,
          isExecutable: (p) => executable.has(p),
          exists: (p) => present.has(p),
        }),
        c.expected,
      );
    });
  }
  await t.step("the cli the toolkit's config names is looked for there", async () => {
    await withTempDir((dir) => {
      const config = `${dir}/config.toml`;
      Deno.writeTextFileSync(config, '[xpu-container-cli]\npath = "/opt/cli/xpu-container-cli"\n');
      const check = (executable: string[]) =>
        missingPrograms(configureOf([]), {
          hookFile: true,
          env: { XPU_CTK_CONFIG_FILE_PATH: config },
          isExecutable: (p) => [HOOK, ...executable].includes(p),
        });
      deepStrictEqual(check(["/opt/cli/xpu-container-cli"]), []);
      deepStrictEqual(check(["/usr/bin/xpu-container-cli"]), [
        'the program the hook runs, "/opt/cli/xpu-container-cli" ([xpu-container-cli] path), ' +
        "is not there: install xpu-container-cli beside the hook, or name it in " +
        "[xpu-container-cli] path of the toolkit's config; until then the hook fails for every " +
        "container that asks for XPUs",
      ]);
    });
  });
  await t.step("the real file system: a file without the execute bit", async () => {
    await withTempDir((dir) => {
      Deno.writeTextFileSync(`${dir}/rt`, "#!/bin/sh\n");
      const warnings = () =>
        missingPrograms(configureOf([`${dir}/rt`]), { hookFile: false, env: NO_CONFIG });
      deepStrictEqual(warnings().map((w) => w.split(": ")[0]), [
        `the runtime "${dir}/rt" of handler "xpu" is not an executable file`,
      ]);
      Deno.chmodSync(`${dir}/rt`, 0o755);
      deepStrictEqual(warnings(), []);
    });
  });
}
