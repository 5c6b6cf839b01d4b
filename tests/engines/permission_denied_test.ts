/** isPermissionDenied: EACCES and EPERM, also wrapped as a cause; nothing else. */

import { strictEqual } from "node:assert/strict";
import { isPermissionDenied } from "../../src/engines/permission_denied.ts";
import { OsCallError } from "../../src/core/io/libc.ts";

Deno.test("isPermissionDenied", async (t) => {
  const cases: { name: string; input: unknown; expected: boolean }[] = [
    {
      name: "Deno's PermissionDenied (EACCES)",
      input: new Deno.errors.PermissionDenied("Permission denied (os error 13): mkdir '/etc/x'"),
      expected: true,
    },
    { name: "a failed call with EACCES", input: new OsCallError("open", 13), expected: true },
    { name: "a failed call with EPERM", input: new OsCallError("fchown", 1), expected: true },
    {
      name: "an atomic write's error wrapping EACCES",
      input: new Error('Cannot write "/etc/x": open: …', { cause: new OsCallError("open", 13) }),
      expected: true,
    },
    { name: "a full disk", input: new OsCallError("write", 28), expected: false },
    { name: "a missing file", input: new Deno.errors.NotFound("x"), expected: false },
    { name: "no error at all", input: "EACCES", expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(isPermissionDenied(c.input), c.expected));
  }
});
