/**
 * engineDefaultRuntime per engine: what a missing file means (dockerd and containerd run runc,
 * cri-o's built-in default is not guessed), a declared default with its program, a default the
 * config names but does not locate, a default that is one of ours (undefined), and parse errors
 * as ConfigErrors naming the file and line.
 */

import { strictEqual } from "node:assert/strict";
import { ConfigError } from "../../src/core/errors.ts";
import { engineDefaultRuntime } from "../../src/engines/engine_default_runtime.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const OURS = ["xpu", "xpu-cdi", "xpu-legacy"] as const;
const DAEMON_JSON = "/etc/docker/daemon.json";
const CONTAINERD = "/etc/containerd/config.toml";
const CRIO = "/etc/crio/crio.conf";

const V2 = `plugins."io.containerd.grpc.v1.cri"`;
const V3 = `plugins."io.containerd.cri.v1.runtime"`;

interface Case {
  name: string;
  input: string | null;
  expected: string | undefined;
}

Deno.test("engineDefaultRuntime: docker", async (t) => {
  const cases: Case[] = [
    { name: "missing daemon.json: runc", input: null, expected: "runc" },
    { name: "empty object: runc", input: "{}", expected: "runc" },
    {
      name: "other keys only: runc",
      input: '{"log-level": "debug", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}',
      expected: "runc",
    },
    {
      name: "crun declared with its path",
      input: JSON.stringify({
        "default-runtime": "crun",
        runtimes: { crun: { path: "/usr/bin/crun" } },
      }),
      expected: "/usr/bin/crun",
    },
    {
      name: "explicit runc",
      input: '{"default-runtime": "runc"}',
      expected: "runc",
    },
    {
      name: "runc's containerd shim name",
      input: '{"default-runtime": "io.containerd.runc.v2"}',
      expected: "runc",
    },
    {
      name: "an undeclared non-runc default",
      input: '{"default-runtime": "crun"}',
      expected: undefined,
    },
    {
      name: "a default declared without a path",
      input: '{"default-runtime": "crun", "runtimes": {"crun": {"runtimeArgs": []}}}',
      expected: undefined,
    },
    {
      name: "an empty default: runc",
      input: '{"default-runtime": ""}',
      expected: "runc",
    },
    {
      name: "the default is ours",
      input: JSON.stringify({
        "default-runtime": "xpu",
        runtimes: { xpu: { path: "/usr/local/xpu/toolkit/xpu-container-runtime" } },
      }),
      expected: undefined,
    },
    {
      name: "another of ours",
      input: JSON.stringify({
        "default-runtime": "xpu-legacy",
        runtimes: { "xpu-legacy": { path: "/usr/bin/xpu-container-runtime.legacy" } },
      }),
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(engineDefaultRuntime("docker", c.input, DAEMON_JSON, OURS), c.expected);
    });
  }

  await t.step("malformed JSON: a ConfigError naming the file and line", () => {
    const text = '{\n  "default-runtime": "crun",\n  "runtimes": {,}\n}\n';
    const error = assertThrowsError(
      () => engineDefaultRuntime("docker", text, DAEMON_JSON, OURS),
      ConfigError,
      `"${DAEMON_JSON}", line 3`,
    );
    strictEqual(error.path, DAEMON_JSON);
    strictEqual(error.line, 3);
  });

  await t.step("runtimes not an object: a ConfigError", () => {
    assertThrowsError(
      () => engineDefaultRuntime("docker", '{"runtimes": []}', DAEMON_JSON, OURS),
      ConfigError,
      DAEMON_JSON,
    );
  });
});

Deno.test("engineDefaultRuntime: containerd", async (t) => {
  const cases: Case[] = [
    { name: "missing config.toml: runc", input: null, expected: "runc" },
    { name: "empty file: runc", input: "", expected: "runc" },
    {
      name: "version 2, crun with its BinaryName",
      input: `version = 2
[${V2}.containerd]
  default_runtime_name = "crun"
[${V2}.containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"
[${V2}.containerd.runtimes.crun.options]
  BinaryName = "/usr/bin/crun"
`,
      expected: "/usr/bin/crun",
    },
    {
      name: "version 3, crun with its BinaryName",
      input: `version = 3
[${V3}.containerd]
  default_runtime_name = "crun"
[${V3}.containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"
[${V3}.containerd.runtimes.crun.options]
  BinaryName = "/usr/bin/crun"
`,
      expected: "/usr/bin/crun",
    },
    {
      name: "version 1 (no version key), crun with its BinaryName",
      input: `[plugins.cri.containerd]
  default_runtime_name = "crun"
[plugins.cri.containerd.runtimes.crun.options]
  BinaryName = "/usr/bin/crun"
`,
      expected: "/usr/bin/crun",
    },
    {
      name: "version 3 reads only its own plugin table",
      input: `version = 3
[${V2}.containerd]
  default_runtime_name = "crun"
[${V2}.containerd.runtimes.crun.options]
  BinaryName = "/usr/bin/crun"
`,
      expected: "runc",
    },
    {
      name: "version 2 without default_runtime_name: runc",
      input: `version = 2
[${V2}.containerd]
  snapshotter = "overlayfs"
[${V2}.containerd.runtimes.crun.options]
  BinaryName = "/usr/bin/crun"
`,
      expected: "runc",
    },
    {
      name: "runc declared with a BinaryName",
      input: `version = 2
[${V2}.containerd]
  default_runtime_name = "runc"
[${V2}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${V2}.containerd.runtimes.runc.options]
  BinaryName = "/opt/runc/bin/runc"
`,
      expected: "/opt/runc/bin/runc",
    },
    {
      name: "runc declared without a BinaryName",
      input: `version = 2
[${V2}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`,
      expected: "runc",
    },
    {
      name: "the default is ours",
      input: `version = 2
[${V2}.containerd]
  default_runtime_name = "xpu"
[${V2}.containerd.runtimes.xpu]
  runtime_type = "io.containerd.runc.v2"
[${V2}.containerd.runtimes.xpu.options]
  BinaryName = "/usr/local/xpu/toolkit/xpu-container-runtime"
`,
      expected: undefined,
    },
    {
      name: "kata without a BinaryName",
      input: `version = 2
[${V2}.containerd]
  default_runtime_name = "kata"
[${V2}.containerd.runtimes.kata]
  runtime_type = "io.containerd.kata.v2"
`,
      expected: undefined,
    },
    {
      name: "runc of another runtime type",
      input: `version = 2
[${V2}.containerd.runtimes.runc]
  runtime_type = "io.containerd.kata.v2"
`,
      expected: undefined,
    },
    {
      name: "another name of the runc shim without a BinaryName runs runc",
      input: `version = 2
[${V2}.containerd]
  default_runtime_name = "secure"
[${V2}.containerd.runtimes.secure]
  runtime_type = "io.containerd.runc.v2"
  privileged_without_host_devices = true
`,
      expected: "runc",
    },
    {
      name: "a default that is not declared",
      input: `version = 2
[${V2}.containerd]
  default_runtime_name = "crun"
`,
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(engineDefaultRuntime("containerd", c.input, CONTAINERD, OURS), c.expected);
    });
  }

  await t.step("bad TOML: a ConfigError naming the file and line", () => {
    const text = `version = 2\n[${V2}.containerd]\n  default_runtime_name = = "crun"\n`;
    const error = assertThrowsError(
      () => engineDefaultRuntime("containerd", text, CONTAINERD, OURS),
      ConfigError,
      `"${CONTAINERD}", line 3`,
    );
    strictEqual(error.path, CONTAINERD);
    strictEqual(error.line, 3);
  });

  await t.step("an unknown config version: a ConfigError", () => {
    assertThrowsError(
      () => engineDefaultRuntime("containerd", "version = 4\n", CONTAINERD, OURS),
      ConfigError,
      "config version 4",
    );
  });
});

Deno.test("engineDefaultRuntime: cri-o", async (t) => {
  const cases: Case[] = [
    { name: "missing crio.conf: not guessed", input: null, expected: undefined },
    { name: "empty file", input: "", expected: undefined },
    {
      name: "no default_runtime",
      input: `[crio.runtime]
  log_level = "info"
[crio.runtime.runtimes.crun]
  runtime_path = "/usr/libexec/crio/crun"
`,
      expected: undefined,
    },
    {
      name: "crun with its runtime_path",
      input: `[crio.runtime]
  default_runtime = "crun"
[crio.runtime.runtimes.crun]
  runtime_path = "/usr/libexec/crio/crun"
`,
      expected: "/usr/libexec/crio/crun",
    },
    {
      name: "a default without a runtimes entry: the name",
      input: `[crio.runtime]
  default_runtime = "crun"
`,
      expected: "crun",
    },
    {
      name: "a runtimes entry without runtime_path: the name",
      input: `[crio.runtime]
  default_runtime = "runc"
[crio.runtime.runtimes.runc]
  runtime_type = "oci"
`,
      expected: "runc",
    },
    {
      name: "the default is ours",
      input: `[crio.runtime]
  default_runtime = "xpu-cdi"
[crio.runtime.runtimes.xpu-cdi]
  runtime_path = "/usr/local/xpu/toolkit/xpu-container-runtime.cdi"
`,
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(engineDefaultRuntime("crio", c.input, CRIO, OURS), c.expected);
    });
  }

  await t.step("bad TOML: a ConfigError naming the file and line", () => {
    const text = `[crio.runtime]\n  default_runtime = "crun"\n[crio.runtime.runtimes.crun\n`;
    const error = assertThrowsError(
      () => engineDefaultRuntime("crio", text, CRIO, OURS),
      ConfigError,
      `"${CRIO}", line 3`,
    );
    strictEqual(error.path, CRIO);
    strictEqual(error.line, 3);
  });
});
