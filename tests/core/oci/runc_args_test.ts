import { match, ok, strictEqual } from "node:assert/strict";
import { parseRuncArgs, type RuncArgs } from "../../../src/core/oci/runc_args.ts";

/**
 * The fields a case pins down. A key present with `undefined` asserts the field is unset; a
 * RegExp asserts a string field matches it. Fields a case leaves out are not checked.
 */
type Expected = { [K in keyof RuncArgs]?: RuncArgs[K] | RegExp };

interface Case {
  name: string;
  input: string[];
  expected: Expected;
}

const DOCKER_CREATE = [
  "--root",
  "/run/x/moby",
  "--log",
  "/b/log.json",
  "--log-format",
  "json",
  "create",
  "--bundle",
  "/b",
  "--pid-file",
  "/b/init.pid",
  "id",
];

const cases: Case[] = [
  {
    name: "[] has no command, no bundle",
    input: [],
    expected: {
      command: undefined,
      isCreate: false,
      bundle: undefined,
      bundleError: undefined,
      debug: false,
    },
  },
  {
    name: '["create"] is create with the working directory as bundle',
    input: ["create"],
    expected: { command: "create", isCreate: true, bundle: undefined, bundleError: undefined },
  },
  {
    name: '["--bundle"] without a value sets bundleError',
    input: ["--bundle"],
    expected: { isCreate: false, bundle: undefined, bundleError: /"--bundle"/ },
  },
  {
    name: '["-b"] without a value sets bundleError',
    input: ["-b"],
    expected: { isCreate: false, bundle: undefined, bundleError: /"-b"/ },
  },
  {
    name: '["create", "--bundle"] without a value sets bundleError',
    input: ["create", "--bundle"],
    expected: { isCreate: true, bundle: undefined, bundleError: /"--bundle"/ },
  },
  {
    name: '["--bundle", "/a"]',
    input: ["--bundle", "/a"],
    expected: { bundle: "/a", isCreate: false, bundleError: undefined },
  },
  {
    name: '["-bundle", "/a"] (single dash long form)',
    input: ["-bundle", "/a"],
    expected: { bundle: "/a", isCreate: false },
  },
  {
    name: '["--bundle=/a"]',
    input: ["--bundle=/a"],
    expected: { bundle: "/a", isCreate: false },
  },
  {
    name: '["-b=/a"]',
    input: ["-b=/a"],
    expected: { bundle: "/a", isCreate: false },
  },
  {
    name: '["-b", "/a"]',
    input: ["-b", "/a"],
    expected: { bundle: "/a", isCreate: false },
  },
  {
    name: '["create", "-b", "/a"]',
    input: ["create", "-b", "/a"],
    expected: { command: "create", isCreate: true, bundle: "/a" },
  },
  {
    name: '["-b=/a/=b"] splits on the first "=" only',
    input: ["-b=/a/=b"],
    expected: { bundle: "/a/=b", isCreate: false },
  },
  {
    name: '["--not-bundle", "/a"] is not a bundle flag',
    input: ["--not-bundle", "/a"],
    expected: { bundle: undefined, isCreate: false },
  },
  {
    name: '["--"] has no command',
    input: ["--"],
    expected: { command: undefined, bundle: undefined, isCreate: false },
  },
  {
    name: '["create", "--", "-b"]: after "--" a flag-like token is positional',
    input: ["create", "--", "-b"],
    expected: { command: "create", isCreate: true, bundle: undefined, bundleError: undefined },
  },
  {
    name: '["-b", "create", "create"]: the first "create" is the bundle',
    input: ["-b", "create", "create"],
    expected: { bundle: "create", command: "create", isCreate: true },
  },
  {
    name: '["--bundle=create"] is not create',
    input: ["--bundle=create"],
    expected: { bundle: "create", command: undefined, isCreate: false },
  },
  {
    name: '["--bundle", "create"] is not create',
    input: ["--bundle", "create"],
    expected: { bundle: "create", command: undefined, isCreate: false },
  },
  {
    name: "the last bundle flag wins",
    input: ["create", "--bundle", "/a", "-b=/c"],
    expected: { bundle: "/c", isCreate: true },
  },
  {
    name: "docker's real create argv",
    input: DOCKER_CREATE,
    expected: {
      command: "create",
      isCreate: true,
      bundle: "/b",
      log: "/b/log.json",
      logFormat: "json",
      debug: false,
      bundleError: undefined,
    },
  },
  {
    name: "global flags in = form",
    input: ["--log=/l.json", "--log-format=text", "--root=/r", "start", "id"],
    expected: { command: "start", isCreate: false, log: "/l.json", logFormat: "text" },
  },
  {
    name: '["--debug", "state", "id"]',
    input: ["--debug", "state", "id"],
    expected: { debug: true, command: "state", isCreate: false, bundle: undefined },
  },
  {
    name: '["--debug=false", "state", "id"]',
    input: ["--debug=false", "state", "id"],
    expected: { debug: false, command: "state", isCreate: false },
  },
  {
    name: '["delete", "create"]: a container named create is not create',
    input: ["delete", "create"],
    expected: { command: "delete", isCreate: false },
  },
  {
    name: '["--root", "create", "state", "x"]: "create" is the value of --root',
    input: ["--root", "create", "state", "x"],
    expected: { command: "state", isCreate: false },
  },
  {
    name: '["--log", "create", "kill", "x"]: "create" is the value of --log',
    input: ["--log", "create", "kill", "x"],
    expected: { command: "kill", isCreate: false, log: "create" },
  },
  {
    name: '["--version"] has no command',
    input: ["--version"],
    expected: { command: undefined, isCreate: false },
  },
];

Deno.test("parseRuncArgs", async (t) => {
  for (const c of cases) {
    await t.step(c.name, () => {
      const actual = parseRuncArgs(c.input);
      for (const [key, want] of Object.entries(c.expected)) {
        const got = actual[key as keyof RuncArgs];
        if (want instanceof RegExp) {
          ok(typeof got === "string", `${key} should be a string, got ${String(got)}`);
          match(got, want);
        } else {
          strictEqual(got, want, `field "${key}"`);
        }
      }
    });
  }
});

Deno.test("parseRuncArgs does not modify its argv", () => {
  const argv = [...DOCKER_CREATE];
  parseRuncArgs(argv);
  strictEqual(JSON.stringify(argv), JSON.stringify(DOCKER_CREATE));
});
