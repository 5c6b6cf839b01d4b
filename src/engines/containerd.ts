/**
 * containerd's `config.toml` (versions 1, 2 and 3): the runtime handlers with `runtime_type`,
 * `options.BinaryName` and the options of the current default runtime, `default_runtime_name`,
 * `enable_cdi`.
 *
 * Two ways to write them, chosen so `containerd config dump` shows the old config plus exactly
 * our keys and the user's file keeps its comments and layout:
 * - in place (`--drop-in-config ""`, and always for version 1): our keys are edited into the
 *   user's file, byte-preserving everything else;
 * - a drop-in (default for versions 2 and 3): our file, listed in the main file's `imports`.
 *   containerd 1.6 lets an imported file replace a plugin's whole section, so the drop-in
 *   carries the main file's complete CRI plugin section with our keys added.
 *
 * @module
 */

import { parse, stringify, TomlError } from "smol-toml";
import { ConfigError, describePosition } from "../core/errors.ts";
import {
  type ConfigureRequest,
  type FileChange,
  mergeRequests,
  type RuntimeHandler,
  type UnconfigureRequest,
  withoutHandlers,
} from "./engine_edit.ts";
import { beginMemory, rememberChange, type RevertMemory } from "./revert_memory.ts";
import {
  readTomlLayout,
  removeEmptyTomlTable,
  removeTomlValue,
  setTomlValue,
  tomlValue,
  tomlValueText,
} from "./toml_edit.ts";
import { getAt, isTable, type Table, tomlErrorDetail } from "../core/toml_table.ts";

/** containerd's config file. */
export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
/** Our drop-in. */
export const CONTAINERD_DROP_IN = "/etc/containerd/conf.d/99-xpu.toml";

/** The CRI plugin's table by config version. */
export const CRI_PLUGIN: Readonly<Record<1 | 2 | 3, readonly string[]>> = {
  1: ["plugins", "cri"],
  2: ["plugins", "io.containerd.grpc.v1.cri"],
  3: ["plugins", "io.containerd.cri.v1.runtime"],
};

/** The runtime type of runc-compatible handlers. */
export const RUNC_V2 = "io.containerd.runc.v2";

const DROP_IN_HEADER =
  "# Written by xpu-ctk runtime configure; xpu-ctk runtime unconfigure removes it.\n";

/**
 * Parses a containerd config.
 *
 * @throws {ConfigError} with line and column for a syntax error
 */
export function parseContainerdConfig(text: string, file: string): Table {
  try {
    return parse(text) as Table;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const where = { path: file, line: error.line, column: error.column };
    const detail = tomlErrorDetail(error);
    throw new ConfigError(
      `Cannot parse ${describePosition(where)}: ${detail}: fix the TOML (containerd rejects it ` +
        `too) and re-run`,
      where,
      { cause: error },
    );
  }
}

/**
 * The config version (a file without `version` is version 1).
 *
 * @throws {ConfigError} for a version this toolkit does not know
 */
export function configVersion(doc: Table, file: string): 1 | 2 | 3 {
  const version = doc.version ?? 1;
  if (version === 1 || version === 2 || version === 3) return version;
  throw new ConfigError(
    `Cannot update "${file}": config version ${JSON.stringify(version)} is not 1, 2 or 3: ` +
      `migrate it with "containerd config migrate" and re-run`,
    { path: file },
  );
}

/** The table a handler gets: the default runtime's settings (then runc's, then crun's), ours on top. */
export function runtimeTable(
  doc: Table,
  cri: readonly string[],
  handler: RuntimeHandler,
  ours: readonly string[],
): Table {
  const runtimes = getAt(doc, [...cri, "containerd", "runtimes"]);
  const all = isTable(runtimes) ? runtimes : {};
  const defaultName = getAt(doc, [...cri, "containerd", "default_runtime_name"]);
  const candidates = [typeof defaultName === "string" ? defaultName : "runc", "runc", "crun"];
  const source = candidates
    .filter((name) => !ours.includes(name))
    .map((name) => all[name])
    .find((t): t is Table =>
      isTable(t) && (t.runtime_type === undefined || t.runtime_type === RUNC_V2)
    );
  const copy = structuredClone(source ?? {});
  const options = isTable(copy.options) ? copy.options : {};
  return { ...copy, runtime_type: RUNC_V2, options: { ...options, BinaryName: handler.path } };
}

/** Every leaf of a table as [path, value]; arrays are leaves. */
function leaves(table: Table, prefix: readonly string[]): [string[], unknown][] {
  return Object.entries(table).flatMap(([key, value]) =>
    isTable(value)
      ? leaves(value, [...prefix, key])
      : [[[...prefix, key], value] as [string[], unknown]]
  );
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The keys a configure sets, for a config document of `version`. */
function desiredKeys(
  doc: Table,
  version: 1 | 2 | 3,
  request: ConfigureRequest,
): [string[], unknown][] {
  const cri = CRI_PLUGIN[version];
  const ours = request.handlers.map((h) => h.name);
  const keys: [string[], unknown][] = request.handlers.flatMap((handler) =>
    leaves(runtimeTable(doc, cri, handler, ours), [...cri, "containerd", "runtimes", handler.name])
  );
  if (request.defaultRuntime) {
    keys.push([[...cri, "containerd", "default_runtime_name"], request.defaultRuntime]);
  }
  if (request.cdi) keys.push([[...cri, "enable_cdi"], true]);
  return keys;
}

/** Edits `keys` into `text` in place, remembering what each held. */
function editInPlace(
  file: string,
  text: string,
  keys: [string[], unknown][],
  memory: RevertMemory,
): string {
  let result = text;
  const current = parseContainerdConfig(text, file);
  for (const [path, value] of keys) {
    const existing = getAt(current, path);
    if (sameValue(existing, value)) continue;
    rememberChange(memory, {
      path,
      had: existing !== undefined,
      value: existing === undefined
        ? undefined
        : tomlValueText(result, path) ?? tomlValue(existing),
    });
    const edited = setTomlValue(result, path, tomlValue(value), { file });
    result = edited.text;
    memory.created.push(...edited.createdTables);
  }
  // The edit must read back as exactly what was meant.
  const check = parseContainerdConfig(result, file);
  for (const [path, value] of keys) {
    if (!sameValue(getAt(check, path), value)) {
      throw new ConfigError(
        `Cannot update "${file}" safely: "${path.join(".")}" would not read back as ` +
          `${tomlValue(value)}: nothing was written; edit the file by hand or report this`,
        { path: file },
      );
    }
  }
  return result;
}

/** Options of the containerd planners. */
export interface ContainerdFiles {
  /** The main config file. */
  config: string;
  /** The drop-in, or `""` to edit the main file in place. */
  dropIn: string;
}

/** Whether `imports` already covers `path` (exactly, or by a `*` glob). */
function importsCover(imports: unknown, path: string): boolean {
  if (!Array.isArray(imports)) return false;
  return imports.some((item) =>
    typeof item === "string" &&
    (item === path ||
      new RegExp(`^${item.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`).test(path))
  );
}

/**
 * Plans a configure: the changed files (main config, and the drop-in when one is used).
 *
 * @param texts current contents (`null`: missing) and memories of the main file and the drop-in
 */
export function configureContainerd(
  files: ContainerdFiles,
  texts: ContainerdTexts,
  request: ConfigureRequest,
): FileChange[] {
  const mainText = texts.config;
  const doc = mainText === null ? { version: 2 } : parseContainerdConfig(mainText, files.config);
  const version = mainText === null ? 2 : configVersion(doc, files.config);
  // Everything configured so far: a drop-in is rebuilt from all of it.
  const effective = mergeRequests(
    texts.dropInMemory?.request ?? texts.configMemory?.request,
    request,
  );
  const keys = desiredKeys(
    doc,
    version,
    files.dropIn === "" || version === 1 ? request : effective,
  );
  const mainMemory = beginMemory(texts.configMemory, {
    engine: "containerd",
    file: files.config,
    before: mainText,
  });

  if (files.dropIn === "" || version === 1) {
    const start = mainText ?? setTomlValue("", ["version"], "2", { file: files.config }).text;
    const after = editInPlace(files.config, start, keys, mainMemory);
    if (after === mainText) {
      const kept = texts.configMemory ? { ...texts.configMemory, request: effective } : undefined;
      return [{ path: files.config, before: mainText, after: mainText, memory: kept }];
    }
    mainMemory.after = after;
    mainMemory.request = effective;
    return [{ path: files.config, before: mainText, after, memory: mainMemory, mode: 0o644 }];
  }

  // The drop-in: the main file's whole CRI plugin section and our keys, as one document
  // (containerd 1.6 lets an imported plugin section replace the main file's entirely).
  const cri = CRI_PLUGIN[version];
  const section = structuredClone(getAt(doc, cri));
  const merged: Table = { version };
  let target: Table = merged;
  for (const key of cri.slice(0, -1)) target = (target[key] = {}) as Table;
  target[cri[cri.length - 1]] = isTable(section) ? section : {};
  for (const [path, value] of keys) {
    let at: Table = merged;
    for (const key of path.slice(0, -1)) {
      at = (isTable(at[key]) ? at[key] : (at[key] = {})) as Table;
    }
    at[path[path.length - 1]] = value;
  }
  const dropInText = DROP_IN_HEADER + stringify(merged).replace(/\n*$/, "\n");
  const changes: FileChange[] = [];
  const dropInMemory = beginMemory(texts.dropInMemory, {
    engine: "containerd",
    file: files.dropIn,
    before: texts.dropIn,
  });
  dropInMemory.request = effective;
  if (dropInText !== texts.dropIn) {
    dropInMemory.after = dropInText;
    changes.push({
      path: files.dropIn,
      before: texts.dropIn,
      after: dropInText,
      memory: dropInMemory,
      mode: 0o644,
    });
  } else if (texts.dropInMemory) {
    changes.push({
      path: files.dropIn,
      before: texts.dropIn,
      after: texts.dropIn,
      memory: dropInMemory,
    });
  }
  if (!importsCover(doc.imports, files.dropIn)) {
    const imports = Array.isArray(doc.imports) ? [...doc.imports, files.dropIn] : [files.dropIn];
    const start = mainText ?? "version = 2\n";
    const after = editInPlace(files.config, start, [[["imports"], imports]], mainMemory);
    mainMemory.after = after;
    changes.push({ path: files.config, before: mainText, after, memory: mainMemory, mode: 0o644 });
  }
  return changes;
}

/** The current texts and memories of the main file and the drop-in. */
export interface ContainerdTexts {
  config: string | null;
  dropIn: string | null;
  configMemory?: RevertMemory;
  dropInMemory?: RevertMemory;
}

/**
 * Plans an unconfigure of `names`. Handlers other configures added stay: everything we added is
 * reverted, then what remains is configured again.
 */
export function unconfigureContainerd(
  files: ContainerdFiles,
  texts: ContainerdTexts,
  request: UnconfigureRequest,
): FileChange[] {
  const configured = texts.dropInMemory?.request ?? texts.configMemory?.request;
  if (configured === undefined) return revertContainerd(files, texts, request);
  const all = [...new Set([...configured.handlers.map((h) => h.name), ...request.names])];
  const reverted = revertContainerd(files, texts, { names: all });
  const remaining = withoutHandlers(configured, request.names);
  if (remaining === undefined) return reverted;
  const after = (path: string, before: string | null) => {
    const change = reverted.find((c) => c.path === path);
    return change ? change.after : before;
  };
  const again = configureContainerd(files, {
    config: after(files.config, texts.config),
    dropIn: files.dropIn ? after(files.dropIn, texts.dropIn) : null,
  }, remaining);
  const paths = [...new Set([...reverted, ...again].map((c) => c.path))];
  return paths.map((path) => {
    const first = path === files.config ? texts.config : texts.dropIn;
    const change = again.find((c) => c.path === path) ?? reverted.find((c) => c.path === path)!;
    return { ...change, before: first };
  });
}

/**
 * Reverts our edits of `names` both ways: files we left untouched since come back byte for byte;
 * otherwise our keys are removed or restored, a default runtime that named a removed handler is
 * restored (or set to `runc`), and the drop-in is removed.
 */
function revertContainerd(
  files: ContainerdFiles,
  texts: {
    config: string | null;
    dropIn: string | null;
    configMemory?: RevertMemory;
    dropInMemory?: RevertMemory;
  },
  request: UnconfigureRequest,
): FileChange[] {
  const changes: FileChange[] = [];
  if (files.dropIn !== "" && texts.dropIn !== null) {
    const ours = texts.dropInMemory !== undefined || texts.dropIn.startsWith(DROP_IN_HEADER);
    if (ours) {
      const restore = texts.dropInMemory && texts.dropIn === texts.dropInMemory.after
        ? texts.dropInMemory.before
        : null;
      changes.push({ path: files.dropIn, before: texts.dropIn, after: restore, memory: undefined });
    }
  }
  const text = texts.config;
  const memory = texts.configMemory;
  if (text === null) {
    if (memory) changes.push({ path: files.config, before: null, after: null, memory: undefined });
    return changes;
  }
  if (memory && text === memory.after) {
    changes.push({ path: files.config, before: text, after: memory.before, memory: undefined });
    return changes;
  }
  let result = text;
  for (const change of [...(memory?.changes ?? [])].reverse()) {
    result = change.had
      ? setTomlValue(result, change.path, String(change.value), { file: files.config }).text
      : removeTomlValue(result, change.path);
  }
  const doc = parseContainerdConfig(result, files.config);
  const version = configVersion(doc, files.config);
  const cri = CRI_PLUGIN[version];
  // Whatever of our handlers is still there (a configure without memory) goes too.
  for (const name of request.names) {
    const prefix = [...cri, "containerd", "runtimes", name];
    const had = memory?.changes.some((c) => c.had && prefix.every((p, i) => c.path[i] === p));
    if (had) continue;
    for (
      const entry of readTomlLayout(result).entries.filter((e) =>
        prefix.every((p, i) => e.path[i] === p)
      )
    ) {
      result = removeTomlValue(result, entry.path);
    }
    result = removeEmptyTomlTable(result, [...prefix, "options"]);
    result = removeEmptyTomlTable(result, prefix);
  }
  const defaultPath = [...cri, "containerd", "default_runtime_name"];
  const current = getAt(parseContainerdConfig(result, files.config), defaultPath);
  if (typeof current === "string" && request.names.includes(current)) {
    result = setTomlValue(result, defaultPath, tomlValue("runc"), { file: files.config }).text;
  }
  for (const table of [...(memory?.created ?? [])].sort((a, b) => b.length - a.length)) {
    result = removeEmptyTomlTable(result, table, { evenWithSubTables: true });
  }
  if (result !== text) {
    changes.push({ path: files.config, before: text, after: result, memory: undefined });
  } else if (memory) {
    changes.push({ path: files.config, before: text, after: text, memory: undefined });
  }
  return changes;
}
