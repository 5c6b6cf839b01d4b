/**
 * cri-o golden cases (`fixtures/engines/crio/<case>/`): the hooks.d file (`hook.json`) or the
 * drop-in (`dropin.toml`) written from `input.conf` (crio.conf, read only); unconfigure removes it.
 */

import { match, ok, strictEqual, throws } from "node:assert/strict";
import { REPO_ROOT } from "../../scripts/container_lab.ts";
import { ConfigError } from "../../src/core/errors.ts";
import {
  configureCrioDropIn,
  configureCrioHook,
  renderCrioDropIn,
  unconfigureCrioDropIn,
  unconfigureCrioHook,
} from "../../src/engines/crio.ts";
import { assertGolden, readFixture } from "../helpers/golden.ts";

const DIR = `${REPO_ROOT}/fixtures/engines/crio`;

interface Case {
  mode: "hook" | "config";
  hookPath?: string;
  handlers?: { name: string; path: string }[];
  defaultRuntime?: string;
  error?: string;
}

Deno.test("cri-o: hook file and drop-in golden cases", async (t) => {
  for (const name of [...Deno.readDirSync(DIR)].map((e) => e.name).sort()) {
    await t.step(name, () => {
      const dir = `${DIR}/${name}`;
      const c: Case = JSON.parse(Deno.readTextFileSync(`${dir}/case.json`));
      if (c.mode === "hook") {
        const file = "/usr/share/containers/oci/hooks.d/oci-xpu-hook.json";
        const configured = configureCrioHook(file, null, c.hookPath!, undefined);
        assertGolden(`${dir}/hook.json`, configured.after);
        strictEqual(
          configureCrioHook(file, configured.after, c.hookPath!, configured.memory).after,
          configured.after,
        );
        strictEqual(unconfigureCrioHook(file, configured.after, configured.memory)?.after, null);
        // Without memory, a hook file of ours is still recognised; someone else's is left alone.
        strictEqual(unconfigureCrioHook(file, configured.after, undefined)?.after, null);
        strictEqual(unconfigureCrioHook(file, '{"hook":{"args":["other"]}}', undefined), undefined);
        return;
      }
      const main = readFixture(`${dir}/input.conf`);
      const request = { handlers: c.handlers!, defaultRuntime: c.defaultRuntime, cdi: false };
      if (c.error) {
        throws(() => renderCrioDropIn(main, "/etc/crio/crio.conf", request), (e: unknown) => {
          ok(e instanceof ConfigError);
          match(e.message, new RegExp(c.error!));
          return true;
        });
        return;
      }
      const file = "/etc/crio/crio.conf.d/99-xpu.toml";
      const crioConf = { path: "/etc/crio/crio.conf", text: main };
      const configured = configureCrioDropIn(file, null, crioConf, request, undefined);
      assertGolden(`${dir}/dropin.toml`, configured.after);
      const names = { names: request.handlers.map((h) => h.name) };
      strictEqual(
        unconfigureCrioDropIn(file, configured.after, crioConf, names, configured.memory)?.after,
        null,
      );
    });
  }
});
