import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { RequestError, UsageError } from "../../src/core/errors.ts";
import {
  parseTarget,
  pidFromAnswer,
  pidQuery,
  type TargetName,
} from "../../src/ctk/device_target.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

Deno.test("parseTarget", async (t) => {
  const cases: {
    name: string;
    input: { flags: Record<string, string>; operands: string[]; required?: boolean };
    expected: { target: TargetName; devices: string[] } | { usage: string };
  }[] = [
    {
      name: "--pid: every operand is a device",
      input: { flags: { pid: "4242" }, operands: ["0", "XPU-1"] },
      expected: { target: { by: "pid", pid: 4242 }, devices: ["0", "XPU-1"] },
    },
    {
      name: "--runtime-root: the first operand is the id",
      input: { flags: { runtimeRoot: "/run/runc" }, operands: ["web", "1"] },
      expected: { target: { by: "runtime", root: "/run/runc", id: "web" }, devices: ["1"] },
    },
    {
      name: "--engine containerd with its namespace",
      input: { flags: { engine: "containerd", namespace: "k8s.io" }, operands: ["abc", "0"] },
      expected: {
        target: { by: "engine", engine: "containerd", id: "abc", namespace: "k8s.io" },
        devices: ["0"],
      },
    },
    {
      name: "list needs no device",
      input: { flags: { engine: "docker" }, operands: ["web"], required: false },
      expected: {
        target: { by: "engine", engine: "docker", id: "web", namespace: "default" },
        devices: [],
      },
    },
    {
      name: "no target",
      input: { flags: {}, operands: ["0"] },
      expected: {
        usage: "Cannot tell which container: no target was given: use --pid PID, " +
          "--runtime-root DIR ID, or --engine docker|containerd|podman ID",
      },
    },
    {
      name: "two targets",
      input: { flags: { pid: "5", engine: "docker" }, operands: ["x", "0"] },
      expected: {
        usage: "Cannot tell which container: give only one target: use --pid PID, " +
          "--runtime-root DIR ID, or --engine docker|containerd|podman ID",
      },
    },
    {
      name: "pid 1 is the host's init, not a container's",
      input: { flags: { pid: "1" }, operands: ["0"] },
      expected: { usage: `Cannot use --pid "1": expected the pid of a container's process` },
    },
    {
      name: "an engine we do not know",
      input: { flags: { engine: "lxd" }, operands: ["x", "0"] },
      expected: {
        usage: `Cannot use --engine "lxd": use one of "docker", "containerd", "podman" (or ` +
          "--runtime-root with the runtime's state dir, or --pid)",
      },
    },
    {
      name: "a relative state dir",
      input: { flags: { runtimeRoot: "run/runc" }, operands: ["x", "0"] },
      expected: {
        usage: `Cannot use --runtime-root "run/runc": expected an absolute path ` +
          `(the runtime's --root, e.g. /run/runc)`,
      },
    },
    {
      name: "no device for attach",
      input: { flags: { runtimeRoot: "/run/runc" }, operands: ["x"] },
      expected: {
        usage: "Cannot tell which devices: name at least one (an index, a UUID or a CDI name)",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const run = () =>
        parseTarget(c.input.flags, c.input.operands, {
          devicesRequired: c.input.required ?? true,
        });
      if ("usage" in c.expected) assertThrowsError(run, UsageError, c.expected.usage);
      else deepStrictEqual(run(), c.expected);
    });
  }
});

Deno.test("pidQuery and pidFromAnswer", async (t) => {
  const runtime: TargetName = { by: "runtime", root: "/run/runc", id: "web" };
  const docker: TargetName = { by: "engine", engine: "docker", id: "web", namespace: "default" };
  const ctr: TargetName = { by: "engine", engine: "containerd", id: "web", namespace: "k8s.io" };
  await t.step("the programs asked", () => {
    deepStrictEqual(pidQuery(runtime, "/usr/bin/runc"), {
      program: "/usr/bin/runc",
      args: ["--root", "/run/runc", "state", "web"],
    });
    deepStrictEqual(pidQuery(docker, "runc"), {
      program: "docker",
      args: ["inspect", "--type", "container", "--format", "{{.State.Pid}}", "web"],
    });
    deepStrictEqual(pidQuery(ctr, "runc"), {
      program: "ctr",
      args: ["--namespace", "k8s.io", "task", "ls"],
    });
    deepStrictEqual(pidQuery({ ...docker, engine: "podman" }, "runc"), {
      program: "podman",
      args: ["inspect", "--type", "container", "--format", "{{.State.Pid}}", "web"],
    });
  });
  const ok = (stdout: string) => ({ code: 0, stdout, stderr: "" });
  const cases: {
    name: string;
    input: { target: TargetName; answer: { code: number; stdout: string; stderr: string } };
    expected: number | string;
  }[] = [
    {
      name: "runc state of a running container",
      input: { target: runtime, answer: ok('{"id":"web","pid":321,"status":"running"}') },
      expected: 321,
    },
    {
      name: "runc state of a stopped container",
      input: { target: runtime, answer: ok('{"id":"web","pid":0,"status":"stopped"}') },
      expected: `Cannot use container "web" of "/run/runc": it is "stopped", not running: ` +
        "start it first",
    },
    {
      name: "runc does not know the id",
      input: {
        target: runtime,
        answer: { code: 1, stdout: "", stderr: "container does not exist\n" },
      },
      expected: `Cannot find container "web" of "/run/runc": container does not exist: ` +
        "check the id (and the state dir or namespace)",
    },
    { name: "docker inspect", input: { target: docker, answer: ok("4711\n") }, expected: 4711 },
    {
      name: "docker: a stopped container has pid 0",
      input: { target: docker, answer: ok("0\n") },
      expected: `Cannot use docker container "web": it has no running process: check the id, ` +
        "and that it runs",
    },
    {
      name: "ctr task ls",
      input: {
        target: ctr,
        answer: ok("TASK    PID     STATUS\nother   10      RUNNING\nweb     20      RUNNING\n"),
      },
      expected: 20,
    },
    {
      name: "ctr: no such task",
      input: { target: ctr, answer: ok("TASK    PID     STATUS\n") },
      expected: `Cannot use containerd container "web": namespace "k8s.io" has no task of ` +
        "that id: check the id, and that it runs",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const run = () => pidFromAnswer(c.input.target, c.input.answer);
      if (typeof c.expected === "number") strictEqual(run(), c.expected);
      else assertThrowsError(run, RequestError, c.expected);
    });
  }
});
