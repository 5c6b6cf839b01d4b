/**
 * Fuzz targets for the files xpu-ctk keeps for itself: a revert memory (hand-edited, truncated)
 * read and acted on by an unconfigure, and a change journal read by the next run's recovery.
 * Either works or gives a one-line tool error; nothing else.
 *
 * @module
 */

import { unconfigureContainerd } from "../../src/engines/containerd.ts";
import { unconfigureDocker } from "../../src/engines/docker.ts";
import { parseJournal, recoveryOf } from "../../src/engines/change_journal.ts";
import { parseMemory } from "../../src/engines/revert_memory.ts";
import { InvariantError } from "../helpers/fuzz.ts";

/** A docker unconfigure of the file the memory describes, acting on the memory. */
export function dockerMemory(input: string): void {
  const memory = parseMemory(input, "/state/daemon.json.json");
  const text = memory.after ?? memory.before;
  unconfigureDocker("/etc/docker/daemon.json", text, { names: ["xpu"] }, memory);
}

/** A containerd unconfigure (in place) acting on the memory. */
export function containerdMemory(input: string): void {
  const memory = parseMemory(input, "/state/config.toml.json");
  unconfigureContainerd(
    { config: "/etc/containerd/config.toml", dropIn: "" },
    { config: memory.after ?? memory.before, dropIn: null, configMemory: memory },
    { names: ["xpu"] },
  );
}

/** A journal read by recovery: every file as before, then every file as after. */
export function journal(input: string): void {
  const parsed = parseJournal(input, "/state/lock.journal");
  const before = recoveryOf(parsed, (p) => parsed.writes.find((w) => w.path === p)!.before);
  if (before.action === "finish" && parsed.writes.every((w) => w.before !== w.after)) {
    // Only a path listed twice can make "all before" look started.
    const paths = new Set(parsed.writes.map((w) => w.path));
    if (paths.size === parsed.writes.length) {
      throw new InvariantError("every file as before, yet recovery would finish the change");
    }
  }
  recoveryOf(parsed, (p) => parsed.writes.find((w) => w.path === p)!.after);
}
