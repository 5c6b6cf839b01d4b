/**
 * The planned change of one file: its text before and after, and the revert memory to keep beside
 * it. An engine adapter plans these (pure); `config_transaction.ts` writes them.
 *
 * @module
 */

import type { RevertMemory } from "./revert_memory.ts";

/** The planned change of one file (`null` text: the file does not exist / is removed). */
export interface FileChange {
  /** The file. */
  path: string;
  /** Its text now. */
  before: string | null;
  /** Its text once the change is written. */
  after: string | null;
  /** The memory to keep beside the file; `undefined` removes it. */
  memory: RevertMemory | undefined;
  /** File mode for a file that is created. */
  mode?: number;
  /**
   * The line that reports the change once it is written, where the plan has more to say than
   * `Created`/`Updated`/`Removed "path"` (what was kept and why); not for a dry run.
   */
  report?: string;
}
