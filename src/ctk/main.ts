/**
 * `xpu-ctk`, the administrator CLI: the CDI hooks runtimes call (`hook create-symlinks`,
 * `hook update-ldcache`) and the configuration commands (`config default`).
 *
 * @module
 */

import { Command } from "commander";
import { attachIo, runProgram } from "../core/command_line.ts";
import type { ToolIo } from "../core/tool_io.ts";
import { defaultConfig } from "../core/config.ts";
import { renderConfigToml } from "../core/config_render.ts";
import { VERSION } from "../core/version.ts";
import { containerRootFromState } from "../core/oci_state.ts";
import { createSymlinks, parseLinkArgument } from "./create_symlinks.ts";
import { updateLdcache } from "./update_ldcache.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

/** Builds the command tree; actions run against `io`. */
export function buildCtkProgram(io: ToolIo): Command {
  const program = new Command("xpu-ctk")
    .description("XPU Container Toolkit administration: hooks, configuration")
    .version(VERSION, "-v, --version");
  attachIo(program, io);

  const hook = program
    .command("hook")
    .description("hooks an OCI runtime runs for a container (OCI state on stdin)")
    .exitOverride();
  hook.on("command:*", (operands: string[]) => {
    io.stderr(`xpu-ctk: warning: unknown hook "${operands[0]}": ignoring it\n`);
  });

  hook
    .command("create-symlinks")
    .description("create symlinks in the container's rootfs")
    .option("--link <target::link>", "a symlink to create (repeatable)", collect, [])
    .exitOverride()
    .action(async (options: { link: string[] }) => {
      const links = options.link.map(parseLinkArgument);
      const rootfs = containerRootFromState(await io.readStdin(), { cwd: io.cwd });
      const outcome = createSymlinks(rootfs, links);
      for (const link of outcome.blocked) {
        io.stderr(`xpu-ctk: warning: not creating "${link}": a file is already there\n`);
      }
    });

  hook
    .command("update-ldcache")
    .description("refresh the container's ld cache for the given folders")
    .option("--folder <dir>", "a library folder in the container (repeatable)", collect, [])
    .exitOverride()
    .action(async (options: { folder: string[] }) => {
      const rootfs = containerRootFromState(await io.readStdin(), { cwd: io.cwd });
      await updateLdcache(rootfs, options.folder, { pathEnv: io.env.PATH });
    });

  const config = program
    .command("config")
    .description("the toolkit's config.toml")
    .exitOverride();
  config
    .command("default")
    .description("print the default configuration")
    .exitOverride()
    .action(() => io.stdout(renderConfigToml(defaultConfig())));

  return program;
}

/**
 * Runs `xpu-ctk` with `args` (without argv[0]).
 *
 * @returns the exit status for help and version output (0)
 * @throws {UsageError} for command-line mistakes; other tool errors from the actions
 */
export async function ctkMain(args: readonly string[], io: ToolIo): Promise<number> {
  return await runProgram(buildCtkProgram(io), args);
}
