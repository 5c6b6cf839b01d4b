/**
 * The engine test roots' pure parts: the mirror read from the host's apt sources, and the entry
 * script (binds, the cgroup v2 variant, pivot_root last) run inside `unshare -m`.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { entryScript, hostMirror } from "../scripts/engine_roots.ts";

Deno.test("hostMirror: deb822 and one-line sources", async (t) => {
  const cases: { name: string; text: string; expected: string | undefined }[] = [
    {
      name: "deb822 (Debian 12's debian.sources)",
      text: "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n",
      expected: "http://deb.debian.org/debian",
    },
    {
      name: "a one-line entry with options",
      text:
        "# mirror\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n",
      expected: "http://mirror.example/debian",
    },
    { name: "nothing", text: "# empty\n", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(hostMirror(c.text), c.expected));
  }
});

Deno.test("entryScript: binds at the same paths, then pivot_root; cgroup v2 on request", () => {
  const plain = entryScript("/r/sid", "sid", ["/work/main", "/it's/here"], "/usr/bin/deno", false);
  const lines = plain.split("\n");
  ok(lines.includes(`mount --rbind '/work/main' "$R"'/work/main'`), plain);
  // A quote in a path is quoted, not a way out of the script.
  ok(lines.includes(`mount --rbind '/it'\\''s/here' "$R"'/it'\\''s/here'`), plain);
  ok(lines.includes(`mount --bind '/usr/bin/deno' "$R/usr/local/bin/deno"`), plain);
  ok(lines.includes("export XPU_ENGINE_SET='sid'"), plain);
  ok(!plain.includes("cgroup2"), "no cgroup v2 mount unless asked");
  deepStrictEqual(lines.slice(-7, -3), [
    'cd "$R"',
    "pivot_root . .oldroot",
    "cd /",
    "umount -l /.oldroot",
  ]);
  strictEqual(lines.at(-1), 'exec "$@"');
  const v2 = entryScript("/r/sid", "sid-cgroup2", [], "/usr/bin/deno", true);
  ok(v2.includes('mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"'), v2);
  ok(v2.indexOf("cgroup2 cgroup2") < v2.indexOf("pivot_root"), "mounted before pivot_root");
});
