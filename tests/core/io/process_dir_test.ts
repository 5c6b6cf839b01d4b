/**
 * A held /proc directory answers for its process only: once that process has exited, reads
 * through it fail instead of reading whoever has the pid now.
 */

import assert from "node:assert/strict";
import { readLiveCgroup } from "../../../src/core/device/live_cgroup.ts";
import { OsCallError } from "../../../src/core/io/libc.ts";
import { containerRootIds, holdMountNamespace } from "../../../src/core/io/mount_namespace.ts";
import { closeFd } from "../../../src/core/io/fs.ts";
import {
  closeProcessDir,
  openProcessDir,
  readProcessLink,
  readProcessText,
} from "../../../src/core/io/process_dir.ts";

Deno.test("a held /proc directory reads its process, and nothing once it has exited", async () => {
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  const dir = openProcessDir(child.pid);
  try {
    assert.equal(
      readProcessText(dir, "cgroup"),
      Deno.readTextFileSync(`/proc/${child.pid}/cgroup`),
    );
    assert.match(readProcessLink(dir, "ns/user"), /^user:\[\d+\]$/);
    assert.equal(containerRootIds(dir), undefined);
    assert.deepEqual(readLiveCgroup(dir), readLiveCgroup(child.pid));
    closeFd(holdMountNamespace(dir));
    child.kill("SIGKILL");
    await child.status;
    for (const read of [() => readProcessText(dir, "cgroup"), () => holdMountNamespace(dir)]) {
      assert.throws(read, (e: unknown) => e instanceof OsCallError);
    }
  } finally {
    closeProcessDir(dir);
  }
  assert.throws(() => openProcessDir(child.pid), (e: unknown) => e instanceof OsCallError);
});
