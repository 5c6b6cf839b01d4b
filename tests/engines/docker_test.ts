/**
 * daemon.json golden cases (`fixtures/engines/docker/<case>/`): `input.json` (absent: no file),
 * `case.json` (the request), `configure.json` and `unconfigure.json` (absent: the file is gone).
 */

import { match, ok, strictEqual, throws } from "node:assert/strict";
import { REPO_ROOT } from "../../scripts/container_lab.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { configureDocker, unconfigureDocker } from "../../src/engines/docker.ts";
import { assertGolden, readFixture } from "../helpers/golden.ts";

const DIR = `${REPO_ROOT}/fixtures/engines/docker`;
const FILE = "/etc/docker/daemon.json";

interface Case {
  handlers: { name: string; path: string }[];
  defaultRuntime?: string;
  cdi?: boolean;
  error?: string;
  unconfigureOnly?: boolean;
  editBeforeUnconfigure?: [string, string];
}

Deno.test("docker daemon.json: configure and unconfigure golden cases", async (t) => {
  for (const name of [...Deno.readDirSync(DIR)].map((e) => e.name).sort()) {
    await t.step(name, () => {
      const dir = `${DIR}/${name}`;
      const c: Case = JSON.parse(Deno.readTextFileSync(`${dir}/case.json`));
      const input = readFixture(`${dir}/input.json`);
      const request = {
        handlers: c.handlers,
        defaultRuntime: c.defaultRuntime,
        cdi: c.cdi ?? false,
      };
      const names = c.handlers.map((h) => h.name);
      if (c.error) {
        throws(() => configureDocker(FILE, input, request, undefined), (e: unknown) => {
          ok(e instanceof ConfigError);
          match(e.message, new RegExp(c.error!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
          strictEqual(e.path, FILE);
          return true;
        });
        return;
      }
      if (c.unconfigureOnly) {
        assertGolden(
          `${dir}/unconfigure.json`,
          unconfigureDocker(FILE, input, { names }, undefined).after,
        );
        return;
      }
      const configured = configureDocker(FILE, input, request, undefined);
      assertGolden(`${dir}/configure.json`, configured.after);
      // A second configure changes nothing.
      const again = configureDocker(FILE, configured.after, request, configured.memory);
      strictEqual(again.after, configured.after);
      const edit = c.editBeforeUnconfigure;
      const current = edit ? configured.after!.replace(edit[0], edit[1]) : configured.after;
      const reverted = unconfigureDocker(FILE, current, { names }, configured.memory);
      assertGolden(`${dir}/unconfigure.json`, reverted.after);
      const implicitDefault = c.defaultRuntime !== undefined &&
        !(input ?? "").includes('"default-runtime"');
      if (!edit && !implicitDefault) {
        strictEqual(reverted.after, input, "an untouched file comes back byte for byte");
      }
      if (implicitDefault) {
        // dockerd keeps a default whose key vanished: the revert names runc explicitly.
        strictEqual(JSON.parse(reverted.after!)["default-runtime"], "runc");
      }
      strictEqual(reverted.memory, undefined);
    });
  }
});
