/**
 * How the tests, the demo and the benchmark start the toolkit's executables: `deno run` of the
 * entry modules by default, or the compiled binaries in `$XPU_BIN_DIR`
 * (e.g. `XPU_BIN_DIR=dist/x86_64-unknown-linux-gnu`).
 *
 * @module
 */

import { REPO_ROOT } from "./container_lab.ts";

/** The tool names, as `bin/<name>.ts` and `dist/<target>/<name>`. */
export type ToolName =
  | "xpu-container-runtime"
  | "xpu-container-runtime-hook"
  | "xpu-container-cli"
  | "xpu-ctk"
  | "xpu-ctk-installer";

/** Directory of compiled binaries under test, if any. */
export const BIN_DIR = Deno.env.get("XPU_BIN_DIR");

/** `[program, ...args]` that runs a tool. */
export function toolArgv(name: ToolName): string[] {
  if (BIN_DIR) return [`${BIN_DIR.startsWith("/") ? BIN_DIR : `${REPO_ROOT}/${BIN_DIR}`}/${name}`];
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    "--no-prompt",
    "--config",
    `${REPO_ROOT}/deno.json`,
    `${REPO_ROOT}/bin/${name}.ts`,
  ];
}

/**
 * `[program, ...args]` that runs a tool under another executable name (argv[0]), through a symlink
 * `dir/<alias>` to the binary (or to deno): how `xpu-container-runtime.legacy` is installed.
 */
export function toolArgvAs(name: ToolName, alias: string, dir: string): string[] {
  const [program, ...args] = toolArgv(name);
  const link = `${dir}/${alias}`;
  Deno.symlinkSync(program, link);
  return [link, ...args];
}

/** Deno's cache dir, so wrappers run by hooks with a bare environment still find the modules. */
function denoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit;
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`;
  return `${cache}/deno`;
}

/**
 * Writes an executable `/bin/sh` wrapper `dir/<name>` that runs the tool, for hooks and engines
 * (which may run it with an empty environment).
 */
export function writeToolWrapper(name: ToolName, dir: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const path = `${dir}/${name}`;
  const lines = ["#!/bin/sh"];
  if (!BIN_DIR) lines.push(`export DENO_DIR=\${DENO_DIR:-${quote(denoDir())}}`);
  lines.push(`exec ${toolArgv(name).map(quote).join(" ")} "$@"`);
  Deno.writeTextFileSync(path, lines.join("\n") + "\n");
  Deno.chmodSync(path, 0o755);
  return path;
}

/** What a finished tool run printed. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs a tool to completion. */
export async function runTool(
  argv: readonly string[],
  options: { args?: string[]; env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<ToolRun> {
  const [program, ...lead] = argv;
  const child = new Deno.Command(program, {
    args: [...lead, ...(options.args ?? [])],
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    pid: child.pid,
  };
}
