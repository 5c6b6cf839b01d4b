/**
 * The bundled launchers' module cache: the lines that give Deno the toolkit's own cache dir
 * (`DENO_DIR`), reading that dir back out of a launcher's text for `xpu-ctk doctor`, and the
 * rule for which dirs are fit for it.
 *
 * What Deno keeps there decides which modules it loads, so the dir is as trusted as the toolkit's
 * code. A launcher uses it only when it is a directory, no link, owned by the caller's user; bash
 * cannot read a mode, so that no one else may write it is for the build, the installer and the
 * package (they make it 0700), and for `doctor` to check.
 *
 * @module
 */

import { shellQuote } from "../text/shell_quote.ts";

/** What a launcher gives Deno without a cache dir: a path under a character device. */
export const NO_DENO_DIR = "/dev/null/xpu-container-toolkit";

/** What a launcher tells Deno besides its cache dir: no `package.json` lookup, no update check. */
export const DENO_SETTINGS: Readonly<Record<string, string>> = {
  DENO_NO_PACKAGE_JSON: "1",
  DENO_NO_UPDATE_CHECK: "1",
};

/** The launcher's variable for the cache dir. */
const CACHE_VARIABLE = "cache";

/**
 * The launcher's lines that choose the cache dir and export it, with Deno's other settings.
 *
 * @param cacheDir the dir as a shell word (`"$here/lib/cache"`, or a quoted absolute path)
 */
export function renderCacheDirLines(cacheDir: string): string[] {
  const c = CACHE_VARIABLE;
  return [
    `${c}=${cacheDir}`,
    // Only a dir of the caller's own: what Deno reads there decides which modules it loads.
    `[ -d "$${c}" ] && [ ! -L "$${c}" ] && [ -O "$${c}" ] || ${c}=${shellQuote(NO_DENO_DIR)}`,
    `export DENO_DIR="$${c}" ${
      Object.entries(DENO_SETTINGS).map(([name, value]) => `${name}=${value}`).join(" ")
    }`,
  ];
}

/**
 * The path a launcher's shell word names: a quoted literal, or `"$here/…"` with `here` as the
 * launcher sets it (a quoted dir in the script, else the dir of the file itself); `undefined`
 * for any other word.
 *
 * @param resolvedPath the launcher's file once links are followed
 */
export function launcherWordPath(
  text: string,
  word: string,
  resolvedPath: string,
): string | undefined {
  const literal = /^'((?:[^']|'\\'')*)'$/.exec(word);
  if (literal) return literal[1].replaceAll("'\\''", "'");
  const beside = /^"\$here\/([^"$`\\]+)"$/.exec(word);
  if (beside === null) return undefined;
  const named = /^here='((?:[^']|'\\'')*)'$/m.exec(text);
  const dir = named
    ? named[1].replaceAll("'\\''", "'")
    : resolvedPath.slice(0, resolvedPath.lastIndexOf("/"));
  return `${dir}/${beside[1]}`;
}

/**
 * The cache dir the launcher script `text` gives Deno: `null` when it has no such line (not a
 * bundled launcher), `undefined` when it has one this cannot read.
 */
export function launcherCacheDir(text: string, resolvedPath: string): string | null | undefined {
  const line = new RegExp(`^${CACHE_VARIABLE}=(.+)$`, "m").exec(text);
  if (line === null || !text.startsWith("#!/bin/bash\n")) return null;
  return launcherWordPath(text, line[1], resolvedPath);
}

/** What is at a cache dir's path, as `lstat` tells it. */
export interface CacheDirInfo {
  kind: string;
  uid: number;
  /** Permission bits. */
  mode: number;
}

/** What {@link cacheDirProblem} finds wrong. */
export interface CacheDirProblem {
  kind: "missing" | "unused" | "unsafe";
  detail: string;
}

/**
 * Why the dir at `info` is no cache dir for a launcher run as `uid`, or why it is one nobody
 * should trust; `undefined` when it is fit.
 *
 * @returns `missing` or `unused` problems (the launcher passes the dir by: only the time is lost)
 *   or `unsafe` ones (the launcher uses it, and others may write what Deno loads)
 */
export function cacheDirProblem(
  info: CacheDirInfo | undefined,
  uid: number,
): CacheDirProblem | undefined {
  if (info === undefined) return { kind: "missing", detail: "it does not exist" };
  if (info.kind === "symlink") return { kind: "unused", detail: "it is a symbolic link" };
  if (info.kind !== "dir") return { kind: "unused", detail: `it is no directory (${info.kind})` };
  if (info.uid !== uid) {
    return { kind: "unused", detail: `it belongs to uid ${info.uid}, not ${uid}` };
  }
  if ((info.mode & 0o022) !== 0) {
    const who = (info.mode & 0o002) !== 0 ? "every user" : "its group";
    return {
      kind: "unsafe",
      detail: `${who} may write it (mode ${(info.mode & 0o7777).toString(8).padStart(4, "0")})`,
    };
  }
  return undefined;
}
