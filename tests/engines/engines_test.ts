/**
 * The engine list: every registered adapter complete (its defaults as xpu-ctk has always used
 * them), names looked up and listed from the list alone, and — read from the source — no module
 * but `engines.ts` and an engine's own modules naming an engine or importing one.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { UsageError } from "../../src/core/errors.ts";
import { RESTART_MODES } from "../../src/engines/engine_adapter.ts";
import {
  DEFAULT_ENGINE,
  engineChoices,
  ENGINES,
  findEngine,
  memoryValuesOf,
} from "../../src/engines/engines.ts";
import { resolveRuntimeSettings } from "../../src/engines/runtime_command.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { REPO_ROOT } from "../helpers/container_lab.ts";

Deno.test("engines: each adapter's defaults, restart and memory format", async (t) => {
  const cases = [
    {
      name: "docker",
      expected: {
        defaults: {
          config: "/etc/docker/daemon.json",
          dropIn: "",
          socket: "/var/run/docker.sock",
          restartMode: "signal",
          systemdUnit: "docker",
          processName: "dockerd",
        },
        signal: { advised: true },
        memoryValues: "json",
      },
    },
    {
      name: "containerd",
      expected: {
        defaults: {
          config: "/etc/containerd/config.toml",
          dropIn: "/etc/containerd/conf.d/99-xpu.toml",
          socket: "/run/containerd/containerd.sock",
          restartMode: "systemd",
          systemdUnit: "containerd",
          processName: "containerd",
        },
        signal: {
          refusal: "Cannot restart containerd with a signal: SIGHUP stops containerd instead of " +
            "reloading it: use --restart-mode systemd or none",
          advised: false,
        },
        memoryValues: "toml",
      },
    },
    {
      name: "crio",
      expected: {
        defaults: {
          config: "/etc/crio/crio.conf",
          dropIn: "/etc/crio/crio.conf.d/99-xpu.toml",
          socket: "/var/run/crio/crio.sock",
          restartMode: "systemd",
          systemdUnit: "crio",
          processName: "crio",
        },
        signal: { advised: false },
        memoryValues: "json",
      },
    },
  ];
  deepStrictEqual(ENGINES.map((e) => e.name), cases.map((c) => c.name), "registered, in order");
  for (const c of cases) {
    await t.step(c.name, () => {
      const engine = findEngine(c.name)!;
      const { defaults, signal, memoryValues } = engine;
      deepStrictEqual({ defaults, signal, memoryValues }, c.expected);
    });
  }
});

Deno.test("engines: every registered adapter is complete", async (t) => {
  for (const engine of ENGINES) {
    await t.step(engine.name, () => {
      // The name is also the prefix of the engine's variables (DOCKER_CONFIG, …).
      ok(/^[a-z][a-z0-9]*$/.test(engine.name), engine.name);
      const d = engine.defaults;
      for (const path of [d.config, d.socket]) ok(path.startsWith("/"), `absolute: ${path}`);
      ok(d.dropIn === "" || d.dropIn.startsWith("/"), `absolute or none: ${d.dropIn}`);
      ok((RESTART_MODES as readonly string[]).includes(d.restartMode), d.restartMode);
      ok(/^[\w@.-]+$/.test(d.systemdUnit), `a systemd unit: ${d.systemdUnit}`);
      // /proc/<pid>/comm holds at most 15 characters.
      ok(d.processName.length > 0 && d.processName.length <= 15, d.processName);
      if (engine.signal.refusal !== undefined) {
        ok(d.restartMode !== "signal", "the default restart works");
        ok(!engine.signal.advised, "a refused signal is not advised");
        ok(engine.signal.refusal.startsWith(`Cannot restart ${engine.name} with a signal: `));
      }
      ok(["json", "toml"].includes(engine.memoryValues), engine.memoryValues);
      for (const method of ["lockFile", "plan", "unplan", "defaultRuntime"] as const) {
        strictEqual(typeof engine[method], "function", method);
      }
      strictEqual(memoryValuesOf(engine.name), engine.memoryValues);
      // Resolved with nothing given, the settings are the adapter's defaults.
      const settings = resolveRuntimeSettings("configure", { runtime: engine.name }, {});
      deepStrictEqual(
        {
          config: settings.config,
          dropIn: settings.dropIn,
          socket: settings.socket,
          restartMode: settings.restartMode,
        },
        { config: d.config, dropIn: d.dropIn, socket: d.socket, restartMode: d.restartMode },
      );
    });
  }
});

Deno.test("engines: names are looked up and listed from the list", async (t) => {
  await t.step("findEngine", () => {
    for (const engine of ENGINES) strictEqual(findEngine(engine.name), engine);
    for (const name of ["", "podman", "Docker", "constructor", "__proto__"]) {
      strictEqual(findEngine(name), undefined, name);
    }
  });
  await t.step("engineChoices, and the messages that list the choice", () => {
    strictEqual(engineChoices(), "docker, containerd or crio");
    const error = assertThrowsError(
      () => resolveRuntimeSettings("configure", { runtime: "podman" }, {}),
      UsageError,
      "",
    );
    strictEqual(
      error.message,
      'Cannot configure: unknown runtime "podman": pass --runtime docker, containerd or crio',
    );
  });
  await t.step("the installer's default and an unknown engine's memories", () => {
    strictEqual(DEFAULT_ENGINE.name, "docker");
    strictEqual(memoryValuesOf("lxc"), "json");
  });
});

const SRC = join(REPO_ROOT, "src");
const ENGINES_DIR = join(SRC, "engines");

function sourceFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : [];
  }).sort();
}

/** An engine's own modules: `src/engines/<name>.ts` and `src/engines/<name>_*.ts`. */
function ownerOf(file: string): string | undefined {
  if (dirname(file) !== ENGINES_DIR) return undefined;
  const base = file.slice(ENGINES_DIR.length + 1, -".ts".length);
  return ENGINES.find((e) => base === e.name || base.startsWith(`${e.name}_`))?.name;
}

/** The code of a file: comments taken out (line comments and JSDoc or block comment lines). */
function codeLines(text: string): [number, string][] {
  return text.split("\n").flatMap((line, i): [number, string][] => {
    const code = line.replace(/\/\/.*$/, "");
    return /^\s*(\*|\/\*)/.test(code) ? [] : [[i + 1, code]];
  });
}

/** Relative imports of a file, resolved. */
function importsOf(file: string, text: string): string[] {
  const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.\.?\/[^"']+)\1/gm;
  return [...text.matchAll(specifier)].map((m) => resolve(dirname(file), m[2]));
}

Deno.test("engines: only engines.ts and an engine's own modules name or import an engine", () => {
  const registry = join(ENGINES_DIR, "engines.ts");
  const names = ENGINES.map((e) => e.name);
  const literal = new RegExp(`(["'\`])(${names.join("|")})\\1`);
  const found: string[] = [];
  const files = sourceFiles(SRC);
  for (const file of files) {
    const owner = ownerOf(file);
    if (file === registry) continue;
    const text = Deno.readTextFileSync(file);
    const where = relative(REPO_ROOT, file);
    for (const target of importsOf(file, text)) {
      const imported = ownerOf(target);
      if (imported !== undefined && imported !== owner) {
        found.push(`${where} imports ${relative(REPO_ROOT, target)}`);
      }
    }
    if (owner !== undefined) continue;
    for (const [line, code] of codeLines(text)) {
      if (literal.test(code)) found.push(`${where}:${line} names an engine: ${code.trim()}`);
    }
  }
  deepStrictEqual(found, []);
  // The scan sees what it looks for: runtime_command.ts reaches the engines through the list.
  const command = join(ENGINES_DIR, "runtime_command.ts");
  const imports = importsOf(command, Deno.readTextFileSync(command));
  ok(imports.includes(registry), "runtime_command.ts imports engines.ts");
  ok(files.some((f) => ownerOf(f) === "containerd" && f.endsWith("containerd_version.ts")));
  ok(literal.test('  if (engine === "crio") {'), "a literal is found");
});
