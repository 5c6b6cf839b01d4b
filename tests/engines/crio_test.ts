/**
 * cri-o golden cases (`fixtures/engines/crio/<case>/`): the hooks.d file (`hook.json`) or the
 * drop-in (`dropin.toml`) written from `input.conf` (crio.conf, read only); unconfigure removes it.
 */

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { parse } from "smol-toml";
import { REPO_ROOT } from "../helpers/container_lab.ts";
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

Deno.test("cri-o drop-in: the user's values and names as they are", async (t) => {
  const file = "/etc/crio/crio.conf.d/99-xpu.toml";
  const cases = [
    {
      name: "a handler named __proto__ is a key like any other",
      main: "",
      handler: { name: "__proto__", path: "/usr/bin/xpu-container-runtime" },
      expected: { runtime_path: "/usr/bin/xpu-container-runtime", runtime_type: "oci" },
    },
    {
      name: "a local date, inf and nan of the default runtime keep their form",
      main: "[crio.runtime.runtimes.runc]\nd = 1979-05-27\nt = 07:32:00\ni = inf\n",
      handler: { name: "xpu", path: "/x" },
      expected: {
        d: "1979-05-27",
        t: "07:32:00.000",
        i: "inf",
        runtime_path: "/x",
        runtime_type: "oci",
      },
    },
    {
      name: "a default runtime called constructor is not Object's",
      main: '[crio.runtime]\ndefault_runtime = "constructor"\n',
      handler: { name: "xpu", path: "/x" },
      expected: { runtime_path: "/x", runtime_type: "oci" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const change = configureCrioDropIn(
        file,
        null,
        { path: "/etc/crio/crio.conf", text: c.main },
        { handlers: [c.handler], cdi: false },
        undefined,
      );
      const doc = parse(change.after!) as Record<string, Record<string, Record<string, unknown>>>;
      const runtimes = doc.crio.runtime.runtimes as Record<string, Record<string, unknown>>;
      ok(Object.hasOwn(runtimes, c.handler.name), "the handler is an own key");
      const written = Object.fromEntries(
        Object.entries(runtimes[c.handler.name]).map(([k, v]) => [
          k,
          v instanceof Date
            ? v.toISOString()
            : typeof v === "number"
            ? String(v).replace("Infinity", "inf")
            : v,
        ]),
      );
      deepStrictEqual(written, c.expected);
    });
  }
});
