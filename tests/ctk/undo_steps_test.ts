import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { runEach, withUndoProblems } from "../../src/ctk/undo_steps.ts";
import { ExecError } from "../../src/core/errors.ts";

Deno.test("runEach tries every step, whatever the ones before did", () => {
  const ran: number[] = [];
  const problems = runEach([
    () => void ran.push(1),
    () => {
      ran.push(2);
      throw new Error("umount /dev/xpu1: EBUSY");
    },
    () => void ran.push(3),
    () => {
      throw "not an Error";
    },
  ]);
  deepStrictEqual(ran, [1, 2, 3]);
  deepStrictEqual(problems, ["umount /dev/xpu1: EBUSY", "not an Error"]);
  deepStrictEqual(runEach([]), []);
});

Deno.test("withUndoProblems", async (t) => {
  const cause = new Error("cannot make /dev/xpu1: EEXIST");
  await t.step("a complete undo reports the error itself", () => {
    strictEqual(withUndoProblems(cause, [], "pid 42"), cause);
  });
  await t.step("an incomplete one names both, what it left and what to do, in one line", () => {
    const error = withUndoProblems(cause, ["umount /dev/xpu0: EBUSY", "bpf: EPERM"], "pid 42");
    strictEqual(error instanceof ExecError, true);
    strictEqual(
      (error as Error).message,
      "cannot make /dev/xpu1: EEXIST; undoing it failed too (umount /dev/xpu0: EBUSY; bpf: EPERM): " +
        'pid 42 may hold part of the change: see "xpu-ctk device list" for it',
    );
    strictEqual((error as Error).cause, cause);
  });
});
