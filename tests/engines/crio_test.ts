/**
 * cri-o golden cases (`fixtures/engines/crio/<case>/`): the hooks.d file (`hook.json`) or the
 * drop-in (`dropin.toml`) written from `input.conf` (crio.conf, read only); unconfigure removes it.
 */

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { parse } from "smol-toml";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { CRIO, renderCrioDropIn } from "../../src/engines/crio.ts";
import type { EngineTarget } from "../../src/engines/engine_adapter.ts";
import { assertGolden, readFixture } from "../helpers/golden.ts";
import { configTarget, fileState } from "./engine_files.ts";

const DIR = `${REPO_ROOT}/fixtures/engines/crio`;
const CRIO_CONF = "/etc/crio/crio.conf";
const DROP_IN = "/etc/crio/crio.conf.d/99-xpu.toml";
const HOOK_FILE = "/usr/share/containers/oci/hooks.d/oci-xpu-hook.json";
const HANDLERS = [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }];

/** Hook mode's target: the hook file that runs `hookPath`. */
function hookTarget(hookPath: string): EngineTarget {
  return { config: CRIO_CONF, dropIn: DROP_IN, configMode: "hook", hookFile: HOOK_FILE, hookPath };
}

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
        const target = hookTarget(c.hookPath!);
        const configure = { handlers: HANDLERS, cdi: false };
        const unconfigure = { names: ["xpu"] };
        // The hook file is the only file hook mode plans.
        const [configured, ...others] = CRIO.plan(fileState({}), {
          target,
          configure,
          host: undefined,
        });
        deepStrictEqual(others, []);
        strictEqual(configured.path, HOOK_FILE);
        assertGolden(`${dir}/hook.json`, configured.after);
        const ours = fileState({
          [HOOK_FILE]: { text: configured.after, memory: configured.memory },
        });
        const again = CRIO.plan(ours, { target, configure, host: undefined });
        deepStrictEqual(again.map((ch) => ch.after), [configured.after]);
        const removed = CRIO.unplan(ours, { target, unconfigure, host: undefined });
        deepStrictEqual(removed.map((ch) => ch.after), [null]);
        // Without memory, a hook file of ours is still recognised; someone else's is left alone.
        const unremembered = fileState({ [HOOK_FILE]: { text: configured.after } });
        deepStrictEqual(
          CRIO.unplan(unremembered, { target, unconfigure, host: undefined }).map((ch) => ch.after),
          [null],
        );
        const someoneElses = fileState({ [HOOK_FILE]: { text: '{"hook":{"args":["other"]}}' } });
        deepStrictEqual(CRIO.unplan(someoneElses, { target, unconfigure, host: undefined }), []);
        return;
      }
      const main = readFixture(`${dir}/input.conf`);
      const request = { handlers: c.handlers!, defaultRuntime: c.defaultRuntime, cdi: false };
      if (c.error) {
        throws(() => renderCrioDropIn(main, CRIO_CONF, request), (e: unknown) => {
          ok(e instanceof ConfigError);
          match(e.message, new RegExp(c.error!));
          return true;
        });
        return;
      }
      const target = configTarget(CRIO_CONF, DROP_IN);
      const [configured, ...others] = CRIO.plan(fileState({ [CRIO_CONF]: { text: main } }), {
        target,
        configure: request,
        host: undefined,
      });
      deepStrictEqual(others, [], "crio.conf is never written");
      strictEqual(configured.path, DROP_IN);
      assertGolden(`${dir}/dropin.toml`, configured.after);
      const unconfigure = { names: request.handlers.map((h) => h.name) };
      const files = fileState({
        [CRIO_CONF]: { text: main },
        [DROP_IN]: { text: configured.after, memory: configured.memory },
      });
      deepStrictEqual(
        CRIO.unplan(files, { target, unconfigure, host: undefined }).map((ch) => ch.after),
        [null],
      );
    });
  }
});

Deno.test("cri-o drop-in: the user's values and names as they are", async (t) => {
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
      const [change] = CRIO.plan(fileState({ [CRIO_CONF]: { text: c.main } }), {
        target: configTarget(CRIO_CONF, DROP_IN),
        configure: { handlers: [c.handler], cdi: false },
        host: undefined,
      });
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
