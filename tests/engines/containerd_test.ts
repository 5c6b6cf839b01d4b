/**
 * containerd golden cases (`fixtures/engines/containerd/<case>/`): `input.toml` (absent: no file),
 * `case.json`, `configure.toml` / `configure.dropin.toml` (the main file and the drop-in after
 * configure) and `unconfigure.toml` (the main file after unconfigure; the drop-in is always gone).
 */

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { parse } from "smol-toml";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { CONTAINERD } from "../../src/engines/containerd.ts";
import type { FileChange } from "../../src/engines/file_change.ts";
import { assertGolden, readFixture } from "../helpers/golden.ts";
import { afterChanges, configTarget, type Files, fileState } from "./engine_files.ts";

const DIR = `${REPO_ROOT}/fixtures/engines/containerd`;
const CONFIG = "/etc/containerd/config.toml";

interface Case {
  dropIn: string;
  handlers: { name: string; path: string }[];
  defaultRuntime?: string;
  cdi?: boolean;
  error?: string;
  editBeforeUnconfigure?: [string, string];
}

function resultOf(changes: FileChange[], path: string, before: string | null) {
  const change = changes.find((c) => c.path === path);
  return { text: change ? change.after : before, memory: change?.memory };
}

Deno.test("containerd config.toml: configure and unconfigure golden cases", async (t) => {
  for (const name of [...Deno.readDirSync(DIR)].map((e) => e.name).sort()) {
    await t.step(name, () => {
      const dir = `${DIR}/${name}`;
      const c: Case = JSON.parse(Deno.readTextFileSync(`${dir}/case.json`));
      const input = readFixture(`${dir}/input.toml`);
      const target = configTarget(CONFIG, c.dropIn);
      const request = {
        handlers: c.handlers,
        defaultRuntime: c.defaultRuntime,
        cdi: c.cdi ?? false,
      };
      const plan = (files: Files) =>
        CONTAINERD.plan(fileState(files), { target, configure: request, host: {} });
      const start: Files = { [CONFIG]: { text: input } };
      if (c.error) {
        throws(() => plan(start), (e: unknown) => {
          ok(e instanceof ConfigError);
          match(e.message, new RegExp(c.error!));
          return true;
        });
        return;
      }
      const changes = plan(start);
      const configured = afterChanges(start, changes);
      const main = resultOf(changes, CONFIG, input);
      const dropIn = resultOf(changes, c.dropIn, null);
      assertGolden(`${dir}/configure.toml`, main.text);
      assertGolden(`${dir}/configure.dropin.toml`, c.dropIn ? dropIn.text : null);
      // Every file written parses, and the handler reads back with our binary.
      for (const text of [main.text, dropIn.text]) if (text !== null) parse(text);
      // A second configure changes nothing.
      const again = plan(configured);
      deepStrictEqual(again.filter((ch) => ch.before !== ch.after), []);
      const edit = c.editBeforeUnconfigure;
      const current = edit && main.text ? main.text.replace(edit[0], edit[1]) : main.text;
      const reverted = CONTAINERD.unplan(
        fileState({ ...configured, [CONFIG]: { text: current, memory: main.memory } }),
        { target, unconfigure: { names: c.handlers.map((h) => h.name) }, host: {} },
      );
      const revertedMain = resultOf(reverted, CONFIG, current);
      assertGolden(`${dir}/unconfigure.toml`, revertedMain.text);
      if (!edit) {
        strictEqual(revertedMain.text, input, "an untouched file comes back byte for byte");
      }
      if (c.dropIn) {
        strictEqual(resultOf(reverted, c.dropIn, dropIn.text).text, null, "the drop-in is removed");
      }
    });
  }
});
