/**
 * The installed toolkit's layout and config.toml: the golden config (`fixtures/installer/
 * config.toml`) reads back as the same config, and the low-level runtimes and CDI dir land where
 * the shim looks for them.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { parseConfig } from "../../src/core/config/config_file.ts";
import { renderConfigToml } from "../../src/core/config/config_render.ts";
import {
  INSTALLED_CONFIG,
  installedConfig,
  toolkitLayout,
} from "../../src/installer/toolkit_layout.ts";
import { assertGolden } from "../helpers/golden.ts";

const OPTIONS = {
  toolkitDir: "/usr/local/xpu/toolkit/",
  driverRoot: "/run/xpu/driver",
  profile: "xpu",
  lowLevelRuntimes: ["/usr/bin/crun"],
  cdiSpecDir: "/var/run/cdi",
};

Deno.test("the installed config.toml matches its golden and reads back unchanged", () => {
  const config = installedConfig(OPTIONS);
  const text = renderConfigToml(config);
  assertGolden(`${REPO_ROOT}/fixtures/installer/config.toml`, text);
  const parsed = parseConfig(text, INSTALLED_CONFIG);
  deepStrictEqual(parsed.warnings, []);
  deepStrictEqual(parsed.config, config);
  strictEqual(config.cli.path, "/usr/local/xpu/toolkit/xpu-container-cli");
  strictEqual(config.cli.root, "/run/xpu/driver");
  strictEqual(config.hook.path, "/usr/local/xpu/toolkit/xpu-container-runtime-hook");
  strictEqual(config.hook.skipModeDetection, true);
  strictEqual(config.ctk.path, "/usr/local/xpu/toolkit/xpu-ctk");
  deepStrictEqual(config.runtime.runtimes, ["/usr/bin/crun", "runc", "crun"]);
});

Deno.test("the engine's runtime goes first, without repeating a default", () => {
  const runc = installedConfig({ ...OPTIONS, lowLevelRuntimes: ["runc"] });
  deepStrictEqual(runc.runtime.runtimes, ["runc", "crun"]);
  const crun = installedConfig({ ...OPTIONS, lowLevelRuntimes: ["crun"] });
  deepStrictEqual(crun.runtime.runtimes, ["crun", "runc"]);
  const none = installedConfig({ ...OPTIONS, lowLevelRuntimes: [] });
  deepStrictEqual(none.runtime.runtimes, ["runc", "crun"]);
});

Deno.test("a CDI output dir the shim does not read yet is added to its spec dirs", () => {
  const config = installedConfig({ ...OPTIONS, cdiSpecDir: "/run/xpu/cdi/" });
  deepStrictEqual(config.runtime.modes.cdi.specDirs, ["/etc/cdi", "/var/run/cdi", "/run/xpu/cdi"]);
  const without = installedConfig({ ...OPTIONS, cdiSpecDir: undefined });
  deepStrictEqual(without.runtime.modes.cdi.specDirs, ["/etc/cdi", "/var/run/cdi"]);
});

Deno.test("the layout: four copies, one runtime binary under three names, the hook's alias", () => {
  const layout = toolkitLayout({ kernelModule: "xpu", fallbackRuntime: "runc" });
  deepStrictEqual(layout.copies.map((c) => c.file), [
    "xpu-container-runtime.real",
    "xpu-container-runtime-hook.real",
    "xpu-container-cli.real",
    "xpu-ctk.real",
  ]);
  deepStrictEqual(layout.links, [
    { link: "xpu-container-runtime.cdi.real", target: "xpu-container-runtime.real" },
    { link: "xpu-container-runtime.legacy.real", target: "xpu-container-runtime.real" },
    { link: "xpu-container-toolkit", target: "xpu-container-runtime-hook" },
  ]);
  deepStrictEqual(
    layout.wrappers.filter((w) => w.moduleCheck).map((w) => w.name),
    ["xpu-container-runtime", "xpu-container-runtime.cdi", "xpu-container-runtime.legacy"],
  );
  const unchecked = toolkitLayout({ kernelModule: "", fallbackRuntime: "runc" });
  deepStrictEqual(unchecked.wrappers.filter((w) => w.moduleCheck), []);
});
