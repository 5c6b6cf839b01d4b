/**
 * makeDirs: the directory gets its own mode, each parent it creates 0755, and a directory that
 * exists keeps its mode — whatever the umask.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { makeDirs } from "../../src/engines/make_dirs.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o7777;
}

Deno.test("makeDirs: modes of what it creates, and of what was there", async (t) => {
  const cases: {
    name: string;
    input: { existing: [string, number][]; dir: string; mode?: number; umask?: number };
    expected: { created: string[]; modes: [string, number][] };
  }[] = [
    {
      name: "a private dir: it is 0700, the parents made for it 0755",
      input: { existing: [], dir: "/etc/xpu-container-runtime/revert", mode: 0o700 },
      expected: {
        created: ["/etc", "/etc/xpu-container-runtime", "/etc/xpu-container-runtime/revert"],
        modes: [
          ["/etc", 0o755],
          ["/etc/xpu-container-runtime", 0o755],
          ["/etc/xpu-container-runtime/revert", 0o700],
        ],
      },
    },
    {
      name: "an existing parent keeps its mode (0750)",
      input: { existing: [["/etc", 0o750]], dir: "/etc/xpu/revert", mode: 0o700 },
      expected: {
        created: ["/etc/xpu", "/etc/xpu/revert"],
        modes: [["/etc", 0o750], ["/etc/xpu", 0o755], ["/etc/xpu/revert", 0o700]],
      },
    },
    {
      name: "an existing dir keeps its mode (0711), nothing created",
      input: { existing: [["/etc", 0o755], ["/etc/state", 0o711]], dir: "/etc/state", mode: 0o700 },
      expected: { created: [], modes: [["/etc/state", 0o711]] },
    },
    {
      name: "no mode: 0755, also under a umask of 077",
      input: { existing: [], dir: "/etc/containerd/conf.d", umask: 0o077 },
      expected: {
        created: ["/etc", "/etc/containerd", "/etc/containerd/conf.d"],
        modes: [["/etc", 0o755], ["/etc/containerd", 0o755], ["/etc/containerd/conf.d", 0o755]],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        for (const [path, mode] of c.input.existing) {
          Deno.mkdirSync(dir + path);
          Deno.chmodSync(dir + path, mode);
        }
        const umask = c.input.umask === undefined ? undefined : Deno.umask(c.input.umask);
        try {
          const options = c.input.mode === undefined ? {} : { mode: c.input.mode };
          deepStrictEqual(
            makeDirs(dir + c.input.dir, options),
            c.expected.created.map((p) => dir + p),
          );
        } finally {
          if (umask !== undefined) Deno.umask(umask);
        }
        for (const [path, mode] of c.expected.modes) {
          strictEqual(modeOf(dir + path).toString(8), mode.toString(8), path);
        }
      });
    });
  }
});
