/**
 * `deno task package`: a Debian package per built target, `xpu-container-toolkit_<version>_<arch>.deb`
 * (`dpkg-deb`), from `dist/<target>/` as `deno task build` left it, of either kind:
 *
 * - compiled executables go to `/usr/bin`, but the runtime shim's, which goes to
 *   `/usr/lib/xpu-container-toolkit/` behind a bash launcher in `/usr/bin` with the pass-through
 *   fast path;
 * - the bundled artefact goes to `/usr/lib/xpu-container-toolkit/` (launchers, `lib/deno`,
 *   `lib/js/`), its launchers linked from `/usr/bin`; the runtime's launcher is rendered here,
 *   with the package's record path.
 *
 * The bundled launchers keep Deno's cache (what it learnt of each module's imports) in
 * `/var/cache/xpu-container-toolkit` (0700): filled on first use, emptied when the package goes.
 *
 * Either way the fast path's record is `/var/lib/xpu-container-toolkit/runtime.fast-path`: a cache
 * the shim writes on its first call and rewrites when the config changes, not a file of the
 * package (removing the package removes it).
 *
 * Either way `/usr/bin` also gets the hook's second name (`xpu-container-toolkit`) and the shim's
 * mode-pinned names (`xpu-container-runtime.legacy`, `.csv`, `.cdi`), and
 * `/etc/xpu-container-runtime/config.toml` (`xpu-ctk config default`) is a conffile, and the
 * runtime server's systemd unit ships disabled. Nothing runs
 * against an engine when the package is installed: wiring docker, containerd or cri-o stays the
 * operator's `xpu-ctk runtime configure`. Removing it while an engine still names the shim leaves
 * that engine config as it is, and says so; purging also removes the revert memories.
 *
 *   deno task package                        # every target in dist/
 *   deno task package --dist /tmp/xpu-dist --out /tmp
 *
 * @module
 */

import type { Target } from "../../build.ts";
import { shellQuote } from "../../src/core/text/shell_quote.ts";
import {
  BUNDLE_DIR,
  renderCompiledRuntimeLauncher,
  renderLauncher,
  RUNTIME_PATH,
  RUNTIME_TOOL,
} from "./launcher.ts";

/** The package's name. */
export const PACKAGE = "xpu-container-toolkit";
/** Where the bundled artefact lives once installed. */
export const BUNDLED_PREFIX = "/usr/lib/xpu-container-toolkit";
/** The conffile. */
export const CONFIG_FILE = "/etc/xpu-container-runtime/config.toml";
/** The revert memories `xpu-ctk runtime configure` keeps (src/engines/revert_memory.ts). */
export const STATE_DIR = "/etc/xpu-container-runtime/revert";
/** The dir of the runtime launcher's fast-path record, which the shim keeps current. */
export const FAST_PATH_DIR = "/var/lib/xpu-container-toolkit";
/** The bundled launchers' cache dir (`DENO_DIR`), the package's own, 0700. */
export const DEB_CACHE_DIR = "/var/cache/xpu-container-toolkit";
/** The fast-path record the package's runtime launcher reads. */
export const FAST_PATH_RECORD_PATH = `${FAST_PATH_DIR}/runtime.fast-path`;

/** The executables every build has. */
export const TOOLS = [
  "xpu-container-cli",
  "xpu-container-runtime",
  "xpu-container-runtime-hook",
  "xpu-ctk",
  "xpu-ctk-installer",
] as const;

/** Other names in /usr/bin, and what they link to. */
export const ALIASES: Readonly<Record<string, string>> = {
  "xpu-container-toolkit": "xpu-container-runtime-hook",
  "xpu-container-runtime.legacy": "xpu-container-runtime",
  "xpu-container-runtime.csv": "xpu-container-runtime",
  "xpu-container-runtime.cdi": "xpu-container-runtime",
};

/** Debian's name of a target's architecture. */
export function debArch(target: Target): "amd64" | "arm64" {
  return target.startsWith("aarch64") ? "arm64" : "amd64";
}

/** One entry of the package's tree. */
export type DebEntry =
  | { kind: "copy"; from: string; to: string; mode: number }
  | { kind: "tree"; from: string; to: string }
  | { kind: "link"; target: string; to: string }
  | { kind: "text"; text: string; to: string; mode: number }
  | { kind: "dir"; to: string; mode: number };

/** The tree of the package for a build of `kind` in `distDir`, with the default config's text. */
export function debTree(
  kind: "compiled" | "bundled",
  options: { distDir: string; configText: string },
): DebEntry[] {
  const entries: DebEntry[] = [];
  const record = shellQuote(FAST_PATH_RECORD_PATH);
  if (kind === "compiled") {
    for (const tool of TOOLS) {
      const program = tool === RUNTIME_TOOL ? `${BUNDLED_PREFIX}/${tool}` : `/usr/bin/${tool}`;
      entries.push({ kind: "copy", from: `${options.distDir}/${tool}`, to: program, mode: 0o755 });
    }
    entries.push({
      kind: "text",
      text: renderCompiledRuntimeLauncher(`${BUNDLED_PREFIX}/${RUNTIME_TOOL}`, record),
      to: `/usr/bin/${RUNTIME_TOOL}`,
      mode: 0o755,
    });
  } else {
    // The runtime and the bundle, not the rest of lib/: a dist that ran has filled its cache dir
    // (and maybe a fast-path record), which are that host's.
    entries.push(
      {
        kind: "copy",
        from: `${options.distDir}/${RUNTIME_PATH}`,
        to: `${BUNDLED_PREFIX}/${RUNTIME_PATH}`,
        mode: 0o755,
      },
      {
        kind: "tree",
        from: `${options.distDir}/${BUNDLE_DIR}`,
        to: `${BUNDLED_PREFIX}/${BUNDLE_DIR}`,
      },
      { kind: "dir", to: DEB_CACHE_DIR, mode: 0o700 },
    );
    const cacheDir = shellQuote(DEB_CACHE_DIR);
    for (const tool of TOOLS) {
      const to = `${BUNDLED_PREFIX}/${tool}`;
      if (tool === RUNTIME_TOOL) {
        // Run on every container operation: in /usr/bin itself, naming its lib/, so that neither
        // the fast path nor create pays for finding it through a link.
        const text = renderLauncher(tool, {
          fastPathRecord: record,
          home: BUNDLED_PREFIX,
          cacheDir,
        });
        entries.push(
          { kind: "text", text, to, mode: 0o755 },
          { kind: "text", text, to: `/usr/bin/${tool}`, mode: 0o755 },
        );
        continue;
      }
      entries.push(
        { kind: "text", text: renderLauncher(tool, { cacheDir }), to, mode: 0o755 },
        { kind: "link", target: `../lib/xpu-container-toolkit/${tool}`, to: `/usr/bin/${tool}` },
      );
    }
  }
  entries.push({ kind: "dir", to: FAST_PATH_DIR, mode: 0o755 });
  for (const [alias, target] of Object.entries(ALIASES)) {
    entries.push({ kind: "link", target, to: `/usr/bin/${alias}` });
  }
  entries.push({ kind: "text", text: options.configText, to: CONFIG_FILE, mode: 0o644 });
  entries.push({ kind: "text", text: runtimeServerUnit(), to: RUNTIME_SERVER_UNIT, mode: 0o644 });
  return entries;
}

/** The runtime server's systemd unit, shipped disabled (`systemctl enable --now` it). */
export const RUNTIME_SERVER_UNIT = "/lib/systemd/system/xpu-runtime-server.service";

/** The unit's text: `xpu-ctk runtime-server` on its default socket, before the engines. */
export function runtimeServerUnit(): string {
  return [
    "[Unit]",
    "Description=XPU Container Toolkit runtime server (warm creates for xpu-container-runtime)",
    "Before=docker.service containerd.service crio.service podman.service",
    "",
    "[Service]",
    "ExecStart=/usr/bin/xpu-ctk runtime-server",
    "Restart=always",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** `DEBIAN/control`. */
export function debControl(
  options: { version: string; arch: string; installedSizeKiB: number },
): string {
  return [
    `Package: ${PACKAGE}`,
    `Version: ${options.version}`,
    `Architecture: ${options.arch}`,
    "Maintainer: XPU Container Toolkit developers <xpu-container-toolkit@localhost>",
    `Installed-Size: ${options.installedSizeKiB}`,
    "Depends: libc6, libgcc-s1",
    "Recommends: runc | crun",
    "Section: admin",
    "Priority: optional",
    "Description: containers that use accelerators (GPUs, NPUs, any XPU), vendor-neutral",
    " An OCI runtime shim in front of runc or crun, a prestart hook, a device CLI, xpu-ctk",
    " (engine configuration for docker, containerd and cri-o, CDI specs) and an installer.",
    " Installing it changes no engine: run xpu-ctk runtime configure to wire one.",
    "",
  ].join("\n");
}

/**
 * `DEBIAN/prerm`: removing the shim while an engine names it is the operator's to undo; the
 * fast-path record (and any temp file of its atomic rewrite) and the launchers' cache go, so dpkg
 * can remove their dirs (an upgrade's new modules fill the cache again).
 */
export function debPrerm(): string {
  return [
    "#!/bin/sh",
    "set -e",
    `rm -f ${FAST_PATH_RECORD_PATH} ${FAST_PATH_DIR}/.runtime.fast-path.tmp-*`,
    `rm -rf ${DEB_CACHE_DIR}/*`,
    `if [ "$1" = remove ] && [ -d ${STATE_DIR} ] && [ -n "$(ls -A ${STATE_DIR} 2>/dev/null)" ]; then`,
    `  echo "${PACKAGE}: an engine may still be configured to use xpu-container-runtime (revert` +
    ` memories in ${STATE_DIR}): run 'xpu-ctk runtime unconfigure --runtime <engine>' before` +
    ` removing, or reinstall to do it later" >&2`,
    "fi",
    "exit 0",
    "",
  ].join("\n");
}

/**
 * `DEBIAN/postrm`: purge removes the revert memories, the config dir once empty, and whatever a
 * shim still running during the removal wrote to the fast-path dir or the cache dir.
 */
export function debPostrm(): string {
  return [
    "#!/bin/sh",
    "set -e",
    'if [ "$1" = purge ]; then',
    `  rm -rf ${STATE_DIR} ${FAST_PATH_DIR} ${DEB_CACHE_DIR}`,
    "  rmdir --ignore-fail-on-non-empty /etc/xpu-container-runtime 2>/dev/null || true",
    "fi",
    "exit 0",
    "",
  ].join("\n");
}

/** The package's file name. */
export function debFileName(version: string, arch: string): string {
  return `${PACKAGE}_${version}_${arch}.deb`;
}
