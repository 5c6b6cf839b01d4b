/**
 * Renders a configuration as `config.toml` text, every key in {@link CONFIG_KEYS} order, grouped
 * into sections, each with its comment.
 *
 * @module
 */

import { type Config, CONFIG_KEYS, getField } from "./config.ts";

/**
 * Renders `config` as TOML.
 *
 * @example
 * ```ts
 * renderConfigToml(defaultConfig()); // 'disable-require = false\n...'
 * ```
 */
export function renderConfigToml(config: Config): string {
  const sections = new Map<string, string[]>();
  for (const spec of CONFIG_KEYS) {
    const dot = spec.key.lastIndexOf(".");
    const section = dot < 0 ? "" : spec.key.slice(0, dot);
    const name = spec.key.slice(dot + 1);
    let value = getField(config, spec.field);
    if (spec.type.kind === "capabilities") value = (value as string[]).join(",");
    const comment = spec.comment ? `  # ${spec.comment}` : "";
    const lines = sections.get(section) ?? [];
    lines.push(`${name} = ${tomlValue(value)}${comment}`);
    sections.set(section, lines);
  }
  const blocks = [...sections].map(([section, lines]) =>
    (section ? `[${section}]\n` : "") + lines.join("\n") + "\n"
  );
  return blocks.join("\n");
}

function tomlValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  return String(value);
}
