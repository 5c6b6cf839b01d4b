/**
 * The fast path as bash: the lines a launcher in front of the runtime shim runs first. A call
 * where no argument is `create` (nor `--version` or `--debug`, which the shim answers or logs
 * itself) is handed straight to the low-level runtime the shim would choose, by `exec`, with the
 * same argv, environment, stdio and PID; every other call falls through to the lines after it.
 *
 * The choice follows the shim's exactly:
 * - the config file is the one the shim loads (`$XPU_CTK_CONFIG_FILE_PATH`, else the system
 *   file; a set `XDG_CONFIG_HOME` goes to the shim), and the fast-path record (see
 *   `fast_path_record.ts`) is used only while that file holds the bytes the record was made from;
 * - the runtimes are the record's list, and each is looked up on every call as `lookPath` does:
 *   a name with a slash as given, a bare name in `PATH`, then the standard dirs; the first
 *   regular file with an execute bit wins.
 *
 * The shim hands the runtime an empty signal mask and default signal dispositions whatever its
 * caller had; bash cannot unblock a signal nor un-ignore one it was started with, so a caller
 * that blocks or ignores a signal (bash's own `/proc/self/status`) is left to the shim. Two
 * exceptions: glibc's internal signals 32 and 33, which children of some programs start with
 * ignored (Deno's both, containerd's shim's 32), and which glibc takes over when it uses them
 * (runc and crun, Go or C, run the same either way); and SIGQUIT, which bash
 * ignores itself, so a caller's own ignoring of it cannot be seen: the runtime then gets SIGQUIT
 * ignored, as it would from that caller directly.
 *
 * When the record is missing, was made from other bytes, or is not owned by the caller, the
 * launcher names it in `XPU_FAST_PATH_RECORD` and leaves the call to the shim, which rewrites
 * it; a launcher that finds the variable already set leaves the call to the shim too (an outer
 * launcher looked first). Everything runs in bash builtins: no process is forked.
 *
 * @module
 */

import { CONFIG_PATH_ENV, SYSTEM_CONFIG_PATH } from "../config/config_file.ts";
import { STANDARD_BIN_DIRS } from "../io/executable_lookup.ts";
import { shellQuote } from "../text/shell_quote.ts";
import { FAST_PATH_FORMAT, FAST_PATH_RECORD_ENV } from "./fast_path_record.ts";
import { launcherWordPath } from "./launcher_cache.ts";

/** The function a launcher with the fast path defines. */
const FAST_PATH_FUNCTION = "xpu_fast_path() {";

/**
 * The fast-path lines for a bash launcher; `record` is the record's path as a shell word (quote
 * a literal path; `"$here/lib/…"` works too). The lines define and call a function, and return to
 * the script when the call is not for the fast path.
 *
 * @example
 * ```ts
 * renderFastPath("'/usr/local/xpu/toolkit/xpu-container-runtime.fast-path'").join("\n");
 * // "xpu_fast_path() {\n  …\n}\nxpu_fast_path \"$@\"\nunset -f xpu_fast_path"
 * ```
 */
export function renderFastPath(record: string): string[] {
  const env = FAST_PATH_RECORD_ENV;
  const searched = shellQuote(`:${STANDARD_BIN_DIRS.join(":")}:`);
  return [
    "# Fast path: a call that is not a create goes straight to the low-level runtime the shim",
    "# would choose (the record says which, while the config file is unchanged); see the README.",
    FAST_PATH_FUNCTION,
    "  local a h snap cur r d p st found=",
    `  [ -z "\${${env}+set}" ] || return 0`,
    '  for a in "$@"; do',
    "    case $a in create | --version | -version | --debug* | -debug*) return 0 ;; esac",
    "  done",
    "  # The shim hands the runtime an empty signal mask and default dispositions, which bash",
    "  # cannot do: a caller that blocks or ignores a signal goes to the shim. Bash itself",
    "  # unblocks SIGCHLD and ignores SIGQUIT (bit 4), and restores SIGQUIT before an exec; glibc's",
    "  # own 32 and 33 may come ignored, alone or together (see above).",
    "  { read -r -d '' st; :; } 2>/dev/null </proc/self/status",
    "  case $st in *$'\\nSigBlk:\\t0000000000000000\\n'*) ;; *) return 0 ;; esac",
    "  case $st in",
    "    *$'\\nSigIgn:\\t0000000'[01][08]'000000'[04]$'\\n'*) ;;",
    "    *) return 0 ;;",
    "  esac",
    `  local cfg=\${${CONFIG_PATH_ENV}-} rec=${record}`,
    '  if [ -z "$cfg" ]; then',
    '    [ -z "${XDG_CONFIG_HOME-}" ] || return 0',
    `    cfg=${shellQuote(SYSTEM_CONFIG_PATH)}`,
    "  fi",
    `  export ${env}=$rec`,
    '  [ -f "$rec" ] && [ -O "$rec" ] || return 0',
    "  { IFS=$'\\n' read -r -d '' -a h || return 0; IFS= read -r -d '' snap && return 0; :; } \\",
    '    2>/dev/null <"$rec" || return 0',
    `  [ "\${h[0]-}" = ${shellQuote(FAST_PATH_FORMAT)} ] && [ "\${h[2]-}" = "$cfg" ] || return 0`,
    "  case ${h[3]-} in",
    "    present)",
    '      [ -f "$cfg" ] || return 0',
    "      { IFS= read -r -d '' cur && return 0; :; } 2>/dev/null <\"$cfg\" || return 0",
    '      [ "$cur" = "$snap" ] || return 0 ;;',
    "    absent)",
    `      [ -z "\${${CONFIG_PATH_ENV}-}" ] && [ ! -e "$cfg" ] && [ ! -L "$cfg" ] || return 0 ;;`,
    "    *) return 0 ;;",
    "  esac",
    `  unset ${env}`,
    '  [ "${h[1]-}" = on ] || return 0',
    '  for r in "${h[@]:4}"; do',
    "    case $r in",
    '      */*) if [ -f "$r" ] && [ -x "$r" ]; then found=$r; fi ;;',
    "      *)",
    `        p=\${PATH-}${searched}`,
    '        while [ -n "$p" ]; do',
    "          d=${p%%:*} p=${p#*:}",
    '          [ -n "$d" ] || continue',
    '          while [ "${d%/}" != "$d" ]; do d=${d%/}; done',
    '          if [ -f "$d/$r" ] && [ -x "$d/$r" ]; then found=$d/$r; break; fi',
    "        done ;;",
    "    esac",
    '    if [ -n "$found" ]; then',
    "      shopt -s execfail",
    '      exec "$found" "$@"',
    "      shopt -u execfail",
    "      return 0",
    "    fi",
    "  done",
    "}",
    'xpu_fast_path "$@"',
    "unset -f xpu_fast_path",
  ];
}

/**
 * Where the launcher script `text` keeps its fast-path record: `null` when it has no fast path,
 * `undefined` when it has one whose record path this cannot tell. `path` is the launcher as an
 * engine starts it, `resolvedPath` the file it is once links are followed (the artefact's
 * launcher keeps its record in `lib/` beside the file itself).
 *
 * @example
 * ```ts
 * launcherRecordPath(renderedLauncher, "/usr/bin/xpu-container-runtime", "/opt/xpu/xpu-container-runtime");
 * // "/opt/xpu/lib/runtime.fast-path" (for the artefact's `"$here/lib/…"`)
 * ```
 */
export function launcherRecordPath(
  text: string,
  path: string,
  resolvedPath = path,
): string | null | undefined {
  if (!text.startsWith("#!/bin/bash\n") || !text.includes(`\n${FAST_PATH_FUNCTION}\n`)) {
    return null;
  }
  const line = new RegExp(`^ {2}local cfg=\\$\\{${CONFIG_PATH_ENV}-\\} rec=(.+)$`, "m").exec(text);
  if (line === null) return undefined;
  return launcherWordPath(text, line[1], resolvedPath);
}
