/**
 * Files for the engine adapters' plans in memory: a {@link FileState} over given texts and
 * memories (a path not given is a missing file without memory), the state a plan's changes leave,
 * and the target of each engine at its default paths.
 *
 * @module
 */

import type { EngineTarget, FileState } from "../../src/engines/engine_adapter.ts";
import type { FileChange } from "../../src/engines/file_change.ts";
import type { RevertMemory } from "../../src/engines/revert_memory.ts";

/** One file as a plan finds it. */
export interface FileEntry {
  text: string | null;
  memory?: RevertMemory;
}

/** Files by path. */
export type Files = Readonly<Record<string, FileEntry>>;

/** A file state over `files`. */
export function fileState(files: Files): FileState {
  return {
    text: (path) => Object.hasOwn(files, path) ? files[path].text : null,
    memory: (path) => Object.hasOwn(files, path) ? files[path].memory : undefined,
  };
}

/** The files once `changes` are written, each with its new memory. */
export function afterChanges(files: Files, changes: readonly FileChange[]): Files {
  const next: Record<string, FileEntry> = { ...files };
  for (const change of changes) next[change.path] = { text: change.after, memory: change.memory };
  return next;
}

/** A target of the engine's config files: `config`, and `dropIn` (`""`: none). */
export function configTarget(config: string, dropIn = ""): EngineTarget {
  return { config, dropIn, configMode: "config", hookFile: "", hookPath: "" };
}
