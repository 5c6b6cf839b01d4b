import assert from "node:assert/strict";
import { SpecError } from "../../../src/core/errors.ts";
import { ERRNO, OsCallError } from "../../../src/core/io/libc.ts";
import { containerRootFromState, parseOciState } from "../../../src/core/oci/oci_state.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

/**
 * Case inputs name paths with `{dir}` for the temp dir: `bundle` is created with `config` as its
 * config.json (none when `config` is undefined), `cwd` is the hook's working directory.
 */
interface RootCase {
  name: string;
  input: { state: string; bundle: string; config?: string; cwd: string };
  expected: string | { error: typeof SpecError; message: string; path?: string };
}

const SPEC = JSON.stringify({ ociVersion: "1.2.0", root: { path: "rootfs", readonly: true } });

Deno.test("containerRootFromState finds the rootfs from the OCI state", async (t) => {
  const cases: RootCase[] = [
    {
      name: "bundle with a relative root.path",
      input: {
        state: '{"bundle": "{dir}/bundle", "pid": 42}',
        bundle: "{dir}/bundle",
        config: SPEC,
        cwd: "/",
      },
      expected: "{dir}/bundle/rootfs",
    },
    {
      name: "bundle with a trailing slash",
      input: {
        state: '{"bundle": "{dir}/bundle/"}',
        bundle: "{dir}/bundle",
        config: SPEC,
        cwd: "/",
      },
      expected: "{dir}/bundle/rootfs",
    },
    {
      name: "absolute root.path kept",
      input: {
        state: '{"bundle": "{dir}/bundle"}',
        bundle: "{dir}/bundle",
        config: '{"root": {"path": "/var/lib/containers/abc/merged"}}',
        cwd: "/",
      },
      expected: "/var/lib/containers/abc/merged",
    },
    {
      name: "bundlePath fallback (older runtimes)",
      input: {
        state: '{"bundlePath": "{dir}/bundle"}',
        bundle: "{dir}/bundle",
        config: SPEC,
        cwd: "/",
      },
      expected: "{dir}/bundle/rootfs",
    },
    {
      name: "bundle wins over bundlePath",
      input: {
        state: '{"bundle": "{dir}/bundle", "bundlePath": "{dir}/other"}',
        bundle: "{dir}/bundle",
        config: SPEC,
        cwd: "/",
      },
      expected: "{dir}/bundle/rootfs",
    },
    {
      name: "no bundle: the working directory is the bundle",
      input: { state: '{"pid": 42}', bundle: "{dir}/bundle", config: SPEC, cwd: "{dir}/bundle" },
      expected: "{dir}/bundle/rootfs",
    },
    {
      name: "relative bundle is taken from the working directory",
      input: { state: '{"bundle": "bundle"}', bundle: "{dir}/bundle", config: SPEC, cwd: "{dir}" },
      expected: "{dir}/bundle/rootfs",
    },
    {
      name: "malformed state JSON",
      input: { state: '{"bundle": ', bundle: "{dir}/bundle", config: SPEC, cwd: "/" },
      expected: { error: SpecError, message: '"<stdin>"', path: "<stdin>" },
    },
    {
      name: "state that is not an object",
      input: { state: '["{dir}/bundle"]', bundle: "{dir}/bundle", config: SPEC, cwd: "/" },
      expected: { error: SpecError, message: '"<stdin>"', path: "<stdin>" },
    },
    {
      name: "bundle without config.json",
      input: { state: '{"bundle": "{dir}/bundle"}', bundle: "{dir}/bundle", cwd: "/" },
      expected: {
        error: SpecError,
        message: '"{dir}/bundle/config.json"',
        path: "{dir}/bundle/config.json",
      },
    },
    {
      name: "malformed config.json",
      input: {
        state: '{"bundle": "{dir}/bundle"}',
        bundle: "{dir}/bundle",
        config: '{"root": ',
        cwd: "/",
      },
      expected: {
        error: SpecError,
        message: '"{dir}/bundle/config.json"',
        path: "{dir}/bundle/config.json",
      },
    },
    {
      name: "config.json without root.path",
      input: {
        state: '{"bundle": "{dir}/bundle"}',
        bundle: "{dir}/bundle",
        config: '{"root": {}}',
        cwd: "/",
      },
      expected: { error: SpecError, message: "has no root.path", path: "{dir}/bundle/config.json" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        const fill = (text: string) => text.replaceAll("{dir}", dir);
        const bundle = fill(c.input.bundle);
        Deno.mkdirSync(bundle, { recursive: true });
        if (c.input.config !== undefined) {
          Deno.writeTextFileSync(`${bundle}/config.json`, c.input.config);
        }
        const run = () => containerRootFromState(fill(c.input.state), { cwd: fill(c.input.cwd) });
        if (typeof c.expected === "string") {
          assert.equal(run(), fill(c.expected));
        } else {
          const error = assertThrowsError(run, c.expected.error, fill(c.expected.message));
          if (c.expected.path !== undefined) assert.equal(error.path, fill(c.expected.path));
        }
      });
    });
  }
});

Deno.test("parseOciState reads the bundle and pid", async (t) => {
  const cases = [
    {
      name: "bundle and pid",
      input: '{"bundle": "/b", "pid": 7}',
      expected: { bundle: "/b", pid: 7 },
    },
    { name: "no pid", input: '{"bundle": "/b"}', expected: { bundle: "/b" } },
    {
      name: "empty bundle falls back to bundlePath",
      input: '{"bundle": "", "bundlePath": "/p"}',
      expected: { bundle: "/p" },
    },
    { name: "neither: the working directory", input: "{}", expected: { bundle: "/cwd" } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(parseOciState(c.input, "/cwd"), c.expected));
  }
});

Deno.test("a hook's config.json must be a regular file: a FIFO or a link fails at once", async (t) => {
  const cases: { name: string; input: (bundle: string) => void; expected: string }[] = [
    {
      name: "a FIFO",
      input: (bundle) => {
        const made = new Deno.Command("mkfifo", { args: [`${bundle}/config.json`] }).outputSync();
        assert.equal(made.code, 0);
      },
      expected: "it is a FIFO, not a regular file: run this hook from an OCI runtime",
    },
    {
      name: "a symbolic link",
      input: (bundle) => {
        Deno.writeTextFileSync(`${bundle}/other.json`, SPEC);
        Deno.symlinkSync(`${bundle}/other.json`, `${bundle}/config.json`);
      },
      expected: "it is a symbolic link (to ",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        Deno.mkdirSync(`${dir}/bundle`);
        c.input(`${dir}/bundle`);
        assertThrowsError(
          () => containerRootFromState(`{"bundle": "${dir}/bundle"}`, { cwd: "/" }),
          SpecError,
          `Cannot read OCI spec "${dir}/bundle/config.json": ${c.expected}`,
        );
      });
    });
  }
});

Deno.test("parseOciState refuses a state that is no OCI state, in one line", async (t) => {
  const cases: { name: string; input: string; expected: string }[] = [
    {
      name: "5,000 levels of nesting",
      input: `{"annotations": ${"[".repeat(5_000)}${"]".repeat(5_000)}}`,
      expected: '"<stdin>", line 1, column 528: the document nests deeper than 512 levels',
    },
    {
      name: "100,000 levels of nesting, unclosed",
      input: '{"a":'.repeat(100_000),
      expected: '"<stdin>", line 1, column 2561: the document nests deeper than 512 levels',
    },
    {
      name: 'an invalid "\\q" escape',
      input: '{"bundle": "/b\\q"}',
      expected: '"<stdin>", line 1, column 15: invalid escape "\\q"',
    },
    {
      name: "2^53+1 as the document",
      input: "9007199254740993",
      expected: '"<stdin>": it is not a JSON object',
    },
    {
      name: "a NUL in the bundle",
      input: '{"bundle": "/run/b\\u0000/../../etc", "pid": 1}',
      expected: '"bundle" "/run/b\\u0000/../../etc" contains a NUL byte',
    },
    {
      name: "a NUL in bundlePath",
      input: '{"bundlePath": "/b\\u0000"}',
      expected: '"bundlePath" "/b\\u0000" contains a NUL byte',
    },
    { name: "a fractional pid", input: '{"pid": 1.5}', expected: '"pid" is 1.5, not a process id' },
    { name: "a negative pid", input: '{"pid": -1}', expected: '"pid" is -1, not a process id' },
    {
      name: "a pid beyond 2^53",
      input: '{"pid": 9007199254740993}',
      expected: '"pid" is 9007199254740992, not a process id',
    },
    {
      name: "a pid too large for a double",
      input: '{"pid": 1e400}',
      expected: '"pid" is Infinity, not a process id',
    },
    {
      name: "a pid as a string",
      input: '{"pid": "12"}',
      expected: '"pid" is "12", not a process id',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(() => parseOciState(c.input, "/cwd"), SpecError, c.expected);
      assert.ok(error.message.startsWith("Cannot parse the OCI state on "), error.message);
      assert.ok(error.message.endsWith(": run this hook from an OCI runtime"), error.message);
      assert.ok(!error.message.includes("\n"), error.message);
      assert.equal(error.path, "<stdin>");
    });
  }
  await t.step("pid 0 (a stopped container) is no pid; the bundle is still read", () => {
    assert.deepEqual(parseOciState('{"pid": 0, "bundle": "/b"}', "/cwd"), { bundle: "/b" });
  });
});

Deno.test("containerRootFromState when the bundle cannot be read (a user-namespaced hook)", async (t) => {
  const denied = () => {
    throw new OsCallError("open", ERRNO.EACCES);
  };
  const missing = () => {
    throw new OsCallError("open", ERRNO.ENOENT);
  };
  const STATE = '{"bundle": "/run/podman/userdata", "pid": 1}';
  const cases: {
    name: string;
    input: {
      read: () => never;
      cwd: string;
      mountPoints: string[];
    };
    expected: string | RegExp;
  }[] = [
    {
      name: "runc's working dir, the rootfs bind-mounted onto itself, is the rootfs",
      input: { read: denied, cwd: "/var/lib/ctr/merged", mountPoints: ["/var/lib/ctr/merged"] },
      expected: "/var/lib/ctr/merged",
    },
    {
      name: "a working dir that is no mount root is not trusted",
      input: { read: denied, cwd: "/var/lib/ctr/merged", mountPoints: [] },
      expected:
        /Cannot read OCI spec "\/run\/podman\/userdata\/config.json": open: Permission denied/,
    },
    {
      name: "the bundle itself (crun's working dir) is not the rootfs",
      input: { read: denied, cwd: "/run/podman/userdata/", mountPoints: ["/run/podman/userdata"] },
      expected: /Permission denied/,
    },
    {
      name: "a missing config.json is an error whatever the working dir",
      input: { read: missing, cwd: "/var/lib/ctr/merged", mountPoints: ["/var/lib/ctr/merged"] },
      expected: /No such file or directory/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const run = () =>
        containerRootFromState(STATE, {
          cwd: c.input.cwd,
          readTextFile: c.input.read,
          isMountPoint: (path) => c.input.mountPoints.includes(path),
        });
      if (typeof c.expected === "string") assert.equal(run(), c.expected);
      else {assert.throws(run, (e: unknown) =>
          e instanceof SpecError && c.expected instanceof RegExp && c.expected.test(e.message));}
    });
  }
});
