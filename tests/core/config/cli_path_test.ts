/** Where the legacy hook finds xpu-container-cli, for each way the config and PATH say it. */

import assert from "node:assert/strict";
import { resolveCliPath } from "../../../src/core/config/cli_path.ts";
import { type Config, defaultConfig } from "../../../src/core/config/config.ts";

function configWith(edit?: (config: Config) => void): Config {
  const config = defaultConfig();
  edit?.(config);
  return config;
}

Deno.test("resolveCliPath finds xpu-container-cli", async (t) => {
  const cases: {
    name: string;
    input: { config?: (config: Config) => void; path?: string; executables: string[] };
    expected: string;
  }[] = [
    {
      name: "absolute config path is used as is",
      input: {
        config: (c) => void (c.cli.path = "/opt/xpu/bin/xpu-container-cli"),
        path: "/usr/bin",
        executables: ["/usr/bin/xpu-container-cli"],
      },
      expected: "/opt/xpu/bin/xpu-container-cli",
    },
    {
      name: "bare config name is looked up in PATH",
      input: {
        config: (c) => void (c.cli.path = "my-xpu-cli"),
        path: "/opt/a:/opt/b",
        executables: ["/opt/b/my-xpu-cli", "/usr/bin/xpu-container-cli"],
      },
      expected: "/opt/b/my-xpu-cli",
    },
    {
      name: "empty path: first PATH dir under the driver root that has it",
      input: {
        config: (c) => void (c.cli.root = "/drv"),
        path: "/usr/local/bin:/usr/bin",
        executables: ["/drv/usr/bin/xpu-container-cli", "/usr/local/bin/xpu-container-cli"],
      },
      expected: "/drv/usr/bin/xpu-container-cli",
    },
    {
      name: "empty path, root /: PATH order decides",
      input: {
        path: "/usr/local/bin:/usr/bin",
        executables: ["/usr/bin/xpu-container-cli", "/usr/local/bin/xpu-container-cli"],
      },
      expected: "/usr/local/bin/xpu-container-cli",
    },
    {
      name: "nothing found: /usr/bin/xpu-container-cli",
      input: {
        config: (c) => void (c.cli.root = "/drv"),
        path: "/usr/local/bin:/usr/bin",
        executables: [],
      },
      expected: "/usr/bin/xpu-container-cli",
    },
    {
      name: "no PATH at all: /usr/bin/xpu-container-cli",
      input: { executables: [] },
      expected: "/usr/bin/xpu-container-cli",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const executables = new Set(c.input.executables);
      assert.equal(
        resolveCliPath(configWith(c.input.config), {
          path: c.input.path,
          isExecutable: (p) => executables.has(p),
        }),
        c.expected,
      );
    });
  }
});
