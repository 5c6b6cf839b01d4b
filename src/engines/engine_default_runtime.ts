/**
 * Which low-level runtime an engine runs containers with by default, read from its config: what
 * the installed shim should run underneath (first in `[xpu-container-runtime] runtimes`) and what
 * the runtime wrappers fall back to when the driver is not loaded. Pure over the config's text.
 *
 * @module
 */

import { configVersion, CRI_PLUGIN, parseContainerdConfig } from "./containerd.ts";
import { parseCrioConfig } from "./crio.ts";
import { parseDaemonJson } from "./docker.ts";
import type { Engine } from "./restart.ts";
import { getAt, isTable } from "../core/text/toml_table.ts";

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The engine's default low-level runtime (a name looked up in PATH, or a path), or `undefined`
 * when the config does not say, or its default is one of `ours` (the toolkit's own handlers).
 *
 * @param text the engine's main config (`null`: missing, so the engine's built-in default)
 * @throws {ConfigError} when the config does not parse
 * @example
 * ```ts
 * engineDefaultRuntime("docker", '{"default-runtime": "crun", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}',
 *   "/etc/docker/daemon.json", ["xpu"]); // "/usr/bin/crun"
 * ```
 */
export function engineDefaultRuntime(
  engine: Engine,
  text: string | null,
  path: string,
  ours: readonly string[],
): string | undefined {
  const pick = (name: string, program: string | undefined) =>
    ours.includes(name) ? undefined : program;
  switch (engine) {
    case "docker": {
      // dockerd runs "runc" unless told otherwise; other runtimes are declared with a path.
      const doc = text === null ? {} : parseDaemonJson(text, path);
      const name = nonEmpty(doc["default-runtime"]) ?? "runc";
      const declared = nonEmpty(getAt(doc, ["runtimes", name, "path"]));
      const builtin = name === "runc" || name === "io.containerd.runc.v2" ? "runc" : undefined;
      return pick(name, declared ?? builtin);
    }
    case "containerd": {
      const doc = text === null ? {} : parseContainerdConfig(text, path);
      const cri = CRI_PLUGIN[configVersion(doc, path)];
      const name = nonEmpty(getAt(doc, [...cri, "containerd", "default_runtime_name"])) ?? "runc";
      const runtime = getAt(doc, [...cri, "containerd", "runtimes", name]);
      const binary = nonEmpty(getAt(runtime, ["options", "BinaryName"]));
      const type = getAt(runtime, ["runtime_type"]);
      // The runc shim runs "runc" unless told otherwise; an undeclared default is not known.
      if (name !== "runc" && !isTable(runtime)) return undefined;
      const runcCompatible = type === undefined || type === "io.containerd.runc.v2";
      return pick(name, binary ?? (runcCompatible ? "runc" : undefined));
    }
    case "crio": {
      // cri-o's built-in default changed between releases (runc, then crun): only what is written.
      if (text === null) return undefined;
      const runtime = getAt(parseCrioConfig(text, path), ["crio", "runtime"]);
      const name = nonEmpty(getAt(runtime, ["default_runtime"]));
      if (name === undefined) return undefined;
      return pick(name, nonEmpty(getAt(runtime, ["runtimes", name, "runtime_path"])) ?? name);
    }
  }
}
