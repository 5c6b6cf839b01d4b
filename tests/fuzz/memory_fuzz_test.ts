/**
 * Fuzzing what xpu-ctk reads back from its state dir: revert memories and change journals,
 * mutated from real ones (a configure's own output), plus hand edits seen in the field.
 */

import assert from "node:assert/strict";
import { configureContainerd } from "../../src/engines/containerd.ts";
import { configureDocker } from "../../src/engines/docker.ts";
import { journalText, orderWrites } from "../../src/engines/change_journal.ts";
import { memoryText } from "../../src/engines/revert_memory.ts";
import { describeFailures, fuzz, type FuzzTarget } from "../helpers/fuzz.ts";

const targets = import.meta.resolve("./memory_targets.ts");
const request = {
  handlers: [{ name: "xpu", path: "/usr/bin/xpu-container-runtime" }],
  defaultRuntime: "xpu",
  cdi: true,
};

function read(path: string): string {
  return Deno.readTextFileSync(new URL(`../../fixtures/engines/${path}`, import.meta.url));
}

function dockerMemories(): string[] {
  return ["existing-default", "features-present", "unrelated-keys"].map((name) => {
    const change = configureDocker(
      "/etc/docker/daemon.json",
      read(`docker/${name}/input.json`),
      request,
      undefined,
    );
    return memoryText(change.memory!);
  });
}

function containerdMemories(): string[] {
  return ["v2-in-place", "v1-in-place", "default-not-runc"].map((name) => {
    const [change] = configureContainerd(
      { config: "/etc/containerd/config.toml", dropIn: "" },
      { config: read(`containerd/${name}/input.toml`), dropIn: null },
      request,
    );
    return memoryText(change.memory!);
  });
}

async function check(target: FuzzTarget, seeds: string[], regressions: string[] = []) {
  const report = await fuzz(target, { seeds, budgetMs: 6_000 }, regressions);
  assert.equal(report.failures.length, 0, describeFailures(report.failures));
  assert.ok(report.cases > seeds.length, "the fuzzer ran");
}

Deno.test("fuzz: a docker unconfigure reads a mutated revert memory", async () => {
  const seeds = dockerMemories();
  const memory = JSON.parse(seeds[0]);
  await check({ module: targets, exportName: "dockerMemory" }, seeds, [
    JSON.stringify({ ...memory, changes: [{ path: ["runtimes", "xpu"], had: true, value: 1 }] }),
    JSON.stringify({ ...memory, created: [["runtimes", "xpu", "path"]] }),
    JSON.stringify({ ...memory, after: "{" }),
    JSON.stringify({ ...memory, request: { handlers: [], cdi: true } }),
  ]);
});

Deno.test("fuzz: a containerd unconfigure reads a mutated revert memory", async () => {
  const seeds = containerdMemories();
  const memory = JSON.parse(seeds[0]);
  await check({ module: targets, exportName: "containerdMemory" }, seeds, [
    JSON.stringify({ ...memory, changes: [{ path: ["version"], had: true, value: "[" }] }),
    JSON.stringify({ ...memory, changes: [{ path: ["a", "b"], had: true, value: "1 # c" }] }),
    JSON.stringify({ ...memory, after: "version = 2\n[x\n" }),
  ]);
});

Deno.test("fuzz: recovery reads a mutated change journal", async () => {
  const writes = orderWrites([
    {
      path: "/etc/containerd/conf.d/99-xpu.toml",
      before: null,
      after: "x = 1\n",
      memory: undefined,
      mode: 0o644,
    },
    {
      path: "/etc/containerd/config.toml",
      before: "version = 2\n",
      after: "version = 2\nimports = []\n",
      memory: undefined,
    },
  ], [{ role: "memory", path: "/state/m.json", before: null, after: "{}\n", mode: 0o600 }]);
  const seeds = [journalText({ version: 1, command: "xpu-ctk runtime configure", writes })];
  await check({ module: targets, exportName: "journal" }, seeds, [
    '{"version": 1, "command": "x", "writes": [{"role": "engine", "path": "rel", "before": null, "after": ""}]}',
    '{"version": 1, "command": "x", "writes": [{"role": "engine", "path": "/a\\u0000b", "before": null, "after": ""}]}',
    '{"version": 1, "command": "x", "writes": [{"role": "engine", "path": "/a", "before": null, "after": "", "mode": 1e9}]}',
  ]);
});
