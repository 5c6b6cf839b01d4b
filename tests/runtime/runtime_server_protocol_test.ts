/** The shim–server protocol: every answer that is not exactly one becomes "do it yourself". */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  encodeAnswer,
  encodeRequest,
  parseAnswer,
  parseRequest,
  type PathInfo,
  RUNTIME_SERVER_SOCKET,
  type ServerAnswer,
  serverSocketPath,
  socketDistrust,
} from "../../src/runtime/runtime_server_protocol.ts";

const line = (bytes: Uint8Array) => new TextDecoder().decode(bytes).replace(/\n$/, "");

Deno.test("requests and answers round-trip through their lines", () => {
  const request = {
    args: ["--root", "/run/runc", "create", "--bundle", "b", "id"],
    env: { PATH: "/usr/bin", XPU_VISIBLE_DEVICES: "0\n1" },
    cwd: "/run/containerd/x",
    executableName: "xpu-container-runtime.cdi",
    version: "0.1.0",
    mountNamespace: "mnt:[4026531841]",
  };
  deepStrictEqual(parseRequest(line(encodeRequest(request))), request);
  const answers: ServerAnswer[] = [
    { kind: "exec", path: "/usr/sbin/runc", argv: ["/usr/sbin/runc", "create"], env: { A: "b" } },
    { kind: "failed", message: "xpu-container-runtime: Cannot …", code: 1 },
    { kind: "unavailable", reason: "only create is served" },
  ];
  for (const answer of answers) deepStrictEqual(parseAnswer(line(encodeAnswer(answer))), answer);
});

Deno.test("parseAnswer: anything but a well-formed answer is unavailable", () => {
  const cases: [string, string][] = [
    ["not JSON", "{"],
    ["another protocol", '{"protocol":2,"kind":"exec","path":"/x","argv":["/x"],"env":{}}'],
    ["no protocol", '{"kind":"exec","path":"/x","argv":["/x"],"env":{}}'],
    ["a relative program", '{"protocol":1,"kind":"exec","path":"x","argv":["x"],"env":{}}'],
    ["an empty argv", '{"protocol":1,"kind":"exec","path":"/x","argv":[],"env":{}}'],
    ["an env of numbers", '{"protocol":1,"kind":"exec","path":"/x","argv":["/x"],"env":{"A":1}}'],
    ["a failure with status 0", '{"protocol":1,"kind":"failed","message":"m","code":0}'],
    [
      "a failure the kernel would make 0",
      '{"protocol":1,"kind":"failed","message":"m","code":256}',
    ],
    ["a failure without message", '{"protocol":1,"kind":"failed","code":1}'],
    ["an unknown kind", '{"protocol":1,"kind":"maybe"}'],
    ["a list", "[1]"],
  ];
  for (const [name, text] of cases) {
    strictEqual(parseAnswer(text).kind, "unavailable", name);
  }
});

Deno.test("parseRequest: names what is wrong", () => {
  const base = {
    protocol: 1,
    args: ["create"],
    env: {},
    cwd: "/",
    executableName: "x",
    version: "0.1.0",
    mountNamespace: "mnt:[1]",
  };
  const cases: [string, unknown, string][] = [
    ["args not strings", { ...base, args: [1] }, "args is not a list of strings"],
    ["env a list", { ...base, env: ["A=b"] }, "env is not a map of strings"],
    ["relative cwd", { ...base, cwd: "run" }, "cwd is not absolute"],
    ["no name", { ...base, executableName: undefined }, "executableName is not a string"],
    ["old protocol", { ...base, protocol: 0 }, "not a protocol 1 JSON request"],
    ["no version", { ...base, version: 1 }, "version is not a string"],
    ["no namespace", { ...base, mountNamespace: null }, "mountNamespace is not a string"],
  ];
  for (const [name, value, invalid] of cases) {
    deepStrictEqual(parseRequest(JSON.stringify(value)), { invalid }, name);
  }
});

Deno.test("socketDistrust: only a socket of the shim's user, where no one else can put one", () => {
  const path = "/run/xpu-container-toolkit/runtime.sock";
  const root = { kind: "dir" as const, uid: 0, mode: 0o755 };
  const layout = {
    "/": root,
    "/run": root,
    "/run/xpu-container-toolkit": { kind: "dir" as const, uid: 0, mode: 0o700 },
    [path]: { kind: "socket" as const, uid: 0, mode: 0o600 },
  };
  type Layout = Record<string, PathInfo>;
  const cases: [string, Layout, string | undefined][] = [
    ["root's own", layout, undefined],
    ["a 0755 dir", { ...layout, "/run/xpu-container-toolkit": root }, undefined],
    ["a sticky /run, as /tmp", { ...layout, "/run": { ...root, mode: 0o1777 } }, undefined],
    [
      "a group-writable dir",
      { ...layout, "/run/xpu-container-toolkit": { ...root, mode: 0o770 } },
      '"/run/xpu-container-toolkit" is writable by others',
    ],
    [
      "a sticky world-writable dir",
      { ...layout, "/run/xpu-container-toolkit": { ...root, mode: 0o1777 } },
      '"/run/xpu-container-toolkit" is writable by others',
    ],
    [
      "a dir of another user",
      { ...layout, "/run/xpu-container-toolkit": { ...root, uid: 1000 } },
      "belongs to uid 1000",
    ],
    [
      "a world-writable /run",
      { ...layout, "/run": { ...root, mode: 0o777 } },
      '"/run" is writable',
    ],
    ["a /run of another user", { ...layout, "/run": { ...root, uid: 1000 } }, '"/run" belongs'],
    ["a /run that is a link", { ...layout, "/run": { ...root, kind: "other" } }, "not a directory"],
    [
      "a socket of another user",
      { ...layout, [path]: { kind: "socket", uid: 1000, mode: 0o600 } },
      "belongs to uid 1000",
    ],
    ["a file", { ...layout, [path]: { kind: "other", uid: 0, mode: 0o600 } }, "is not a socket"],
    ["a relative path", layout, "is not an absolute path"],
  ];
  for (const [name, paths, expected] of cases) {
    const socket = name === "a relative path" ? "runtime.sock" : path;
    const reason = socketDistrust(socket, (p) => paths[p], 0);
    if (expected === undefined) strictEqual(reason, undefined, name);
    else strictEqual(reason?.includes(expected), true, `${name}: ${reason}`);
  }
});

Deno.test("serverSocketPath: the default, the variable, or none", () => {
  strictEqual(serverSocketPath({}), RUNTIME_SERVER_SOCKET);
  strictEqual(serverSocketPath({ XPU_RUNTIME_SERVER_SOCKET: "/run/x.sock" }), "/run/x.sock");
  strictEqual(serverSocketPath({ XPU_RUNTIME_SERVER_SOCKET: "" }), undefined);
});
