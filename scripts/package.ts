/**
 * `deno task package`: the Debian package of each target `deno task build` left in `dist/`
 * (see `scripts/build/deb.ts` for what is in it).
 *
 * ```sh
 * deno task build && deno task package                 # dist/xpu-container-toolkit_<v>_<arch>.deb
 * deno task package --dist /tmp/xpu-dist --out /tmp --target x86_64-unknown-linux-gnu
 * ```
 *
 * @module
 */

import { type Target, TARGETS } from "../build.ts";
import { defaultConfig } from "../src/core/config/config.ts";
import { renderConfigToml } from "../src/core/config/config_render.ts";
import { VERSION } from "../src/core/version.ts";
import {
  CONFIG_FILE,
  debArch,
  debControl,
  type DebEntry,
  debFileName,
  debPostrm,
  debPrerm,
  debTree,
  TOOLS,
} from "./build/deb.ts";

/** Reads `--dist DIR`, `--out DIR` and `--target T` (repeatable). */
export function parsePackageArgs(
  args: readonly string[],
): { dist: string; out: string | undefined; targets: Target[] } {
  let dist = "dist";
  let out: string | undefined;
  const targets: Target[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const value = inline ?? args[++i];
    if (flag === "--dist" && value) dist = value;
    else if (flag === "--out" && value) out = value;
    else if (flag === "--target" && (TARGETS as readonly string[]).includes(value ?? "")) {
      targets.push(value as Target);
    } else if (flag === "--target") {
      throw new Error(
        `Cannot package: unknown target "${value}": use one of ${TARGETS.join(", ")}`,
      );
    } else {
      throw new Error(
        `Cannot package: unknown argument "${arg}": use --dist DIR, --out DIR or ` +
          `--target ${TARGETS.join("|")}`,
      );
    }
  }
  return { dist, out, targets };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function sh(program: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `Cannot package: ${program} ${args.join(" ")} failed: ` +
        `${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/** Writes `entries` under `root`. */
async function materialize(root: string, entries: readonly DebEntry[]): Promise<void> {
  for (const entry of entries) {
    const path = `${root}${entry.to}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o755 });
    if (entry.kind === "dir") {
      Deno.mkdirSync(path, { mode: entry.mode });
      Deno.chmodSync(path, entry.mode);
    } else if (entry.kind === "copy") {
      Deno.copyFileSync(entry.from, path);
      Deno.chmodSync(path, entry.mode);
    } else if (entry.kind === "tree") {
      await sh("cp", ["-R", "--no-preserve=ownership", entry.from, path]);
    } else if (entry.kind === "link") {
      Deno.symlinkSync(entry.target, path);
    } else {
      Deno.writeTextFileSync(path, entry.text);
      Deno.chmodSync(path, entry.mode);
    }
  }
}

/** The size of the tree under `root` in KiB, as dpkg counts it (`du -sk`). */
async function sizeKiB(root: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-sk", root], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).split("\t")[0]);
}

/** Packages `dist/<target>` into `outDir`; returns the .deb's path. */
export async function packageTarget(
  target: Target,
  options: { dist: string; outDir: string },
): Promise<{ path: string; kind: "compiled" | "bundled" }> {
  const distDir = `${options.dist}/${target}`;
  const missing = TOOLS.filter((tool) => !exists(`${distDir}/${tool}`));
  if (missing.length > 0) {
    throw new Error(
      `Cannot package ${target}: ${distDir} has no ${missing.join(", ")}: run ` +
        `"deno task build --target ${target}" first`,
    );
  }
  const kind = exists(`${distDir}/lib/deno`) ? "bundled" : "compiled";
  const stage = Deno.makeTempDirSync({ prefix: "xpu-deb-" });
  try {
    const root = `${stage}/root`;
    await materialize(
      root,
      debTree(kind, { distDir, configText: renderConfigToml(defaultConfig()) }),
    );
    const arch = debArch(target);
    Deno.mkdirSync(`${root}/DEBIAN`, { mode: 0o755 });
    Deno.writeTextFileSync(
      `${root}/DEBIAN/control`,
      debControl({ version: VERSION, arch, installedSizeKiB: await sizeKiB(root) }),
    );
    Deno.writeTextFileSync(`${root}/DEBIAN/conffiles`, `${CONFIG_FILE}\n`);
    Deno.writeTextFileSync(`${root}/DEBIAN/prerm`, debPrerm(), { mode: 0o755 });
    Deno.writeTextFileSync(`${root}/DEBIAN/postrm`, debPostrm(), { mode: 0o755 });
    Deno.chmodSync(`${root}/DEBIAN/prerm`, 0o755);
    Deno.chmodSync(`${root}/DEBIAN/postrm`, 0o755);
    Deno.mkdirSync(options.outDir, { recursive: true });
    const path = `${options.outDir}/${debFileName(VERSION, arch)}`;
    await sh("dpkg-deb", ["--root-owner-group", "--build", root, path]);
    return { path, kind };
  } finally {
    Deno.removeSync(stage, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    const { dist, out, targets } = parsePackageArgs(Deno.args);
    const chosen = targets.length > 0 ? targets : TARGETS.filter((t) => exists(`${dist}/${t}`));
    if (chosen.length === 0) {
      throw new Error(`Cannot package: no build in "${dist}": run "deno task build" first`);
    }
    for (const target of chosen) {
      const { path, kind } = await packageTarget(target, { dist, outDir: out ?? dist });
      console.error(`packaged ${path} (${kind} ${target})`);
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
