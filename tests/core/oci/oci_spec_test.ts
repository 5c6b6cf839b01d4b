import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { applyContainerEdits } from "../../../src/core/oci/container_edits.ts";
import { SpecError } from "../../../src/core/errors.ts";
import { MAX_JSON_DEPTH } from "../../../src/core/text/json_depth.ts";
import { deviceRequestEdits } from "../../helpers/device_request_edits.ts";
import {
  hasUserNamespace,
  isJsonObject,
  isPrivileged,
  type OciSpec,
  parseOciSpec,
  serializeOciSpec,
  specEnv,
  specRootfs,
  specRootIds,
  spliceOciSpecScanned,
} from "../../../src/core/oci/oci_spec.ts";

const PATH = "/run/bundle/config.json";

/** Reformats a JSON text the way an engine would write it. */
function pretty(value: unknown, indent: string | number = 2): string {
  return JSON.stringify(value, null, indent);
}

Deno.test("parseOciSpec keeps unknown fields", () => {
  const text = pretty({
    ociVersion: "1.2.0",
    process: { env: ["A=1"], "x-vendor": { nested: [1, "two", null, true] } },
    "org.future.field": { list: [{ a: 1.5 }], empty: {} },
  }) + "\n";
  const spec = parseOciSpec(text, PATH);
  deepStrictEqual((spec["org.future.field"] as OciSpec).list, [{ a: 1.5 }]);
  strictEqual(serializeOciSpec(spec, text), text);
});

Deno.test("integers beyond 2^53 survive parse and serialize digit for digit", async (t) => {
  const cases: { name: string; input: string; expected: string[] }[] = [
    {
      name: "unsigned 64-bit max and signed 64-bit max in linux.resources",
      input: [
        "{",
        '  "ociVersion": "1.0.2",',
        '  "linux": {',
        '    "resources": {',
        '      "memory": {',
        '        "limit": 9223372036854775807,',
        '        "swap": 18446744073709551615,',
        '        "reservation": 1024',
        "      },",
        '      "pids": { "limit": -9223372036854775808 }',
        "    }",
        "  },",
        '  "process": {',
        '    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1048576 }]',
        "  }",
        "}",
        "",
      ].join("\n"),
      expected: ["9223372036854775807", "18446744073709551615", "-9223372036854775808"],
    },
    {
      name: "2^53 + 1",
      input: '{"linux":{"resources":{"memory":{"limit":9007199254740993}}}}',
      expected: ["9007199254740993"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = parseOciSpec(c.input, PATH);
      const serialized = serializeOciSpec(spec, c.input);
      for (const digits of c.expected) {
        ok(serialized.includes(`: ${digits}`) || serialized.includes(`:${digits}`), serialized);
      }
      // After an edit elsewhere the numbers are still written exactly.
      spec.annotations = { "x": "y" };
      const written = serializeOciSpec(spec, c.input);
      for (const digits of c.expected) {
        ok(written.includes(digits), `${digits} missing from ${written}`);
      }
      const again = parseOciSpec(written, PATH);
      strictEqual(serializeOciSpec(again, written), written);
    });
  }
  for (const [name, indent] of [["2-space", "  "], ["tab", "\t"]]) {
    await t.step(`the ${name} pretty form round-trips byte for byte`, () => {
      const text = [
        "{",
        '"linux": {',
        '"resources": {',
        '"memory": {',
        '"limit": 18446744073709551615,',
        '"swap": 9223372036854775807',
        "}",
        "}",
        "},",
        '"ociVersion": "1.0.2"',
        "}",
      ].map((line, i) => indent.repeat([0, 1, 2, 3, 4, 4, 3, 2, 1, 1, 0][i]) + line).join("\n") +
        "\n";
      strictEqual(serializeOciSpec(parseOciSpec(text, PATH), text), text);
    });
  }
  await t.step("safe integers and fractions stay numbers", () => {
    const spec = parseOciSpec('{"a":1234567890123456,"b":0.12345678901234567,"c":1}', PATH);
    strictEqual(spec.a, 1234567890123456);
    strictEqual(typeof spec.b, "number");
    strictEqual(spec.c, 1);
  });
});

Deno.test("serializeOciSpec keeps the file's layout", async (t) => {
  const value = {
    ociVersion: "1.0.2",
    process: { env: ["PATH=/bin"], args: ["sh"] },
    root: { path: "rootfs" },
    mounts: [],
  };
  const cases: { name: string; input: string; expected: string }[] = [
    {
      name: "tab indentation",
      input: pretty(value, "\t") + "\n",
      expected: pretty(value, "\t") + "\n",
    },
    {
      name: "2-space indentation",
      input: pretty(value, 2) + "\n",
      expected: pretty(value, 2) + "\n",
    },
    {
      name: "4-space indentation",
      input: pretty(value, 4) + "\n",
      expected: pretty(value, 4) + "\n",
    },
    { name: "compact", input: JSON.stringify(value), expected: JSON.stringify(value) },
    {
      name: "compact with a trailing newline",
      input: JSON.stringify(value) + "\n",
      expected: JSON.stringify(value) + "\n",
    },
    {
      name: "indented without a trailing newline",
      input: pretty(value, 2),
      expected: pretty(value, 2),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(serializeOciSpec(parseOciSpec(c.input, PATH), c.input), c.expected);
    });
  }
  await t.step("an edited spec is written in the original indentation", () => {
    const original = pretty(value, "\t") + "\n";
    const spec = parseOciSpec(original, PATH);
    (spec.process as { env: string[] }).env.push("XPU_VISIBLE_DEVICES=0");
    strictEqual(
      serializeOciSpec(spec, original),
      pretty({
        ...value,
        process: { env: ["PATH=/bin", "XPU_VISIBLE_DEVICES=0"], args: ["sh"] },
      }, "\t") + "\n",
    );
  });
});

Deno.test("parseOciSpec rejects malformed documents", async (t) => {
  const cases: {
    name: string;
    input: string;
    expected: { line?: number; column?: number; fragment: string };
  }[] = [
    {
      name: "unquoted key on line 3",
      input: '{\n  "ociVersion": "1.0.2",\n  process: {}\n}\n',
      expected: { line: 3, column: 3, fragment: "Cannot parse OCI spec" },
    },
    {
      name: "missing value on line 3",
      input: '{\n  "ociVersion": "1.0.2",\n  "process": ,\n  "root": {}\n}\n',
      expected: { line: 3, column: 14, fragment: "Cannot parse OCI spec" },
    },
    {
      name: "missing comma on line 3",
      input: '{\n  "ociVersion": "1.0.2"\n  "process": {}\n}\n',
      expected: { line: 3, column: 3, fragment: "Cannot parse OCI spec" },
    },
    {
      name: "truncated file",
      input: '{"ociVersion":',
      expected: { line: 1, column: 15, fragment: "Cannot parse OCI spec" },
    },
    {
      name: "empty file",
      input: "",
      expected: { line: 1, column: 1, fragment: "Cannot parse OCI spec" },
    },
    {
      name: "a JSON array",
      input: '[{"ociVersion": "1.0.2"}]',
      expected: { fragment: "not a JSON object" },
    },
    { name: "JSON null", input: "null\n", expected: { fragment: "not a JSON object" } },
    { name: "a JSON string", input: '"{}"', expected: { fragment: "not a JSON object" } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      throws(() => parseOciSpec(c.input, PATH), (error: unknown) => {
        ok(error instanceof SpecError, `expected SpecError, got ${error}`);
        strictEqual(error.path, PATH);
        strictEqual(error.line, c.expected.line, `line; message: ${error.message}`);
        strictEqual(error.column, c.expected.column, `column; message: ${error.message}`);
        ok(error.message.includes(`"${PATH}"`), error.message);
        ok(error.message.includes(c.expected.fragment), error.message);
        if (c.expected.line !== undefined) {
          ok(error.message.includes(`line ${c.expected.line}, column ${c.expected.column}`));
        }
        ok(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
        return true;
      });
    });
  }
});

Deno.test("specEnv", async (t) => {
  const cases: { name: string; input: OciSpec; expected: [string, string][] }[] = [
    { name: "no process", input: {}, expected: [] },
    { name: "env not an array", input: { process: { env: "A=1" } }, expected: [] },
    {
      name: "later entries win",
      input: { process: { env: ["A=1", "B=2", "A=3"] } },
      expected: [["A", "3"], ["B", "2"]],
    },
    {
      name: "values keep their own =",
      input: { process: { env: ["OPTS=a=b,c=d", "EMPTY="] } },
      expected: [["OPTS", "a=b,c=d"], ["EMPTY", ""]],
    },
    {
      name: "malformed entries are skipped",
      input: { process: { env: ["NOEQUALS", "=nokey", 5, null, "OK=1"] } },
      expected: [["OK", "1"]],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual([...specEnv(c.input)], c.expected));
  }
});

Deno.test("isPrivileged", async (t) => {
  const cases: { name: string; input: OciSpec; expected: boolean }[] = [
    { name: "no process", input: {}, expected: false },
    { name: "no capabilities", input: { process: {} }, expected: false },
    {
      name: "CAP_SYS_ADMIN in bounding",
      input: { process: { capabilities: { bounding: ["CAP_CHOWN", "CAP_SYS_ADMIN"] } } },
      expected: true,
    },
    {
      name: "default docker set",
      input: { process: { capabilities: { bounding: ["CAP_CHOWN", "CAP_NET_RAW"] } } },
      expected: false,
    },
    {
      name: "CAP_SYS_ADMIN only in effective",
      input: { process: { capabilities: { effective: ["CAP_SYS_ADMIN"], bounding: [] } } },
      expected: false,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(isPrivileged(c.input), c.expected));
  }
});

Deno.test("specRootfs", async (t) => {
  const cases: {
    name: string;
    input: { spec: OciSpec; bundle: string };
    expected: string | undefined;
  }[] = [
    {
      name: "relative root joined with the bundle",
      input: { spec: { root: { path: "rootfs" } }, bundle: "/run/b" },
      expected: "/run/b/rootfs",
    },
    {
      name: "bundle with a trailing slash",
      input: { spec: { root: { path: "rootfs" } }, bundle: "/run/b/" },
      expected: "/run/b/rootfs",
    },
    {
      name: "absolute root kept",
      input: { spec: { root: { path: "/var/lib/x/merged" } }, bundle: "/run/b" },
      expected: "/var/lib/x/merged",
    },
    { name: "no root", input: { spec: {}, bundle: "/run/b" }, expected: undefined },
    {
      name: "empty root path",
      input: { spec: { root: { path: "" } }, bundle: "/run/b" },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(specRootfs(c.input.spec, c.input.bundle), c.expected));
  }
});

/** Bytes from text pieces (UTF-8) and raw byte lists, in order. */
function bytesOf(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : p);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Hex of two byte strings when they differ, for a readable failure. */
function sameBytes(actual: Uint8Array, expected: Uint8Array): void {
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  strictEqual(new TextDecoder().decode(actual), new TextDecoder().decode(expected));
  strictEqual(hex(actual), hex(expected));
}

Deno.test("bytes the edits do not touch survive exactly, invalid UTF-8 included", async (t) => {
  const cases: {
    name: string;
    input: Uint8Array;
    edit: (spec: OciSpec) => void;
    expected: Uint8Array;
  }[] = [
    {
      name: "no edit: invalid UTF-8 in an annotation and an env entry, byte for byte",
      input: bytesOf(
        '{"ociVersion":"1.0.2","process":{"env":["LANG=',
        [0xe9, 0xff],
        '"]},"annotations":{"a":"',
        [0xc3, 0x28, 0x80],
        '"}}',
      ),
      edit: () => {},
      expected: bytesOf(
        '{"ociVersion":"1.0.2","process":{"env":["LANG=',
        [0xe9, 0xff],
        '"]},"annotations":{"a":"',
        [0xc3, 0x28, 0x80],
        '"}}',
      ),
    },
    {
      name: "an env entry appended: the invalid entry next to it keeps its bytes",
      input: bytesOf(
        '{\n\t"process": {\n\t\t"env": [\n\t\t\t"LANG=',
        [0xe9],
        '",\n\t\t\t"XPU_VISIBLE_DEVICES=0"\n\t\t],\n\t\t"args": ["sh"]\n\t},\n\t"annotations": {"a": "',
        [0xff],
        '"}\n}\n',
      ),
      edit: (spec) => (spec.process as { env: string[] }).env.push("NEW=é"),
      expected: bytesOf(
        '{\n\t"process": {\n\t\t"env": [\n\t\t\t"LANG=',
        [0xe9],
        '",\n\t\t\t"XPU_VISIBLE_DEVICES=0",\n\t\t\t"NEW=',
        // The inserted "é" is UTF-8; the original byte 0xe9 above stays one byte.
        [0xc3, 0xa9],
        '"\n\t\t],\n\t\t"args": ["sh"]\n\t},\n\t"annotations": {"a": "',
        [0xff],
        '"}\n}\n',
      ),
    },
    {
      name: "a hook added in a compact document: Go's escapes and number spellings kept",
      input: bytesOf(
        '{"process":{"env":["URL=a\\u0026b\\u003c"],"rlimit":1.50,"n":1e3},"x":"',
        [0xfe],
        '"}',
      ),
      edit: (spec) => {
        spec.hooks = { prestart: [{ path: "/usr/bin/xpu-container-runtime-hook" }] };
      },
      expected: bytesOf(
        '{"process":{"env":["URL=a\\u0026b\\u003c"],"rlimit":1.50,"n":1e3},"x":"',
        [0xfe],
        '","hooks":{"prestart":[{"path":"/usr/bin/xpu-container-runtime-hook"}]}}',
      ),
    },
    {
      name: "a hook removed from a list: the other hooks keep their bytes",
      input: bytesOf(
        '{\n  "hooks": {\n    "prestart": [\n      {"path": "/a", "args": ["',
        [0xff],
        '"]},\n      {"path": "/usr/bin/xpu-container-runtime-hook"},\n      {"path": "/b"}\n',
        "    ]\n  }\n}\n",
      ),
      edit: (spec) => {
        const hooks = (spec.hooks as { prestart: { path: string }[] }).prestart;
        hooks.splice(1, 1);
      },
      expected: bytesOf(
        '{\n  "hooks": {\n    "prestart": [\n      {"path": "/a", "args": ["',
        [0xff],
        '"]},\n      {"path": "/b"}\n',
        "    ]\n  }\n}\n",
      ),
    },
    {
      name: "a byte order mark, CRLF and a key with invalid UTF-8 survive an edit",
      input: bytesOf([0xef, 0xbb, 0xbf], '{\r\n  "k', [0xff], '": 1,\r\n  "linux": {}\r\n}\r\n'),
      edit: (spec) => void ((spec.linux as OciSpec).devices = []),
      expected: bytesOf(
        [0xef, 0xbb, 0xbf],
        '{\r\n  "k',
        [0xff],
        '": 1,\r\n  "linux": {\r\n    "devices": []\r\n  }\r\n}\r\n',
      ),
    },
    {
      name: "escaped quotes and backslashes at a string's end, escaped keys: found and kept",
      input: bytesOf(
        '{"a\\"b":"x\\\\","c":["q\\"","\\\\\\""],"k\\u0041":1,"d":{"e":"',
        [0xff],
        '\\\\"}}',
      ),
      edit: (spec) => {
        spec.kA = 2;
        (spec.d as OciSpec).f = "\\";
      },
      expected: bytesOf(
        '{"a\\"b":"x\\\\","c":["q\\"","\\\\\\""],"k\\u0041":2,"d":{"e":"',
        [0xff],
        '\\\\","f":"\\\\"}}',
      ),
    },
    {
      name: "a key starting with a byte order mark is its own key, not the one without it",
      input: bytesOf('{"x":1,"', [0xef, 0xbb, 0xbf], 'x":2}'),
      edit: (spec) => void (spec.x = 3),
      expected: bytesOf('{"x":3,"', [0xef, 0xbb, 0xbf], 'x":2}'),
    },
    {
      name: "a member set to undefined is left out, as JSON.stringify would",
      input: bytesOf('{"a":"', [0xff], '","b":{"c":1}}'),
      edit: (spec) => void (spec.b = undefined),
      expected: bytesOf('{"a":"', [0xff], '"}'),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = parseOciSpec(c.input, PATH);
      c.edit(spec);
      sameBytes(serializeOciSpec(spec, c.input), c.expected);
      // Written again without edits, the result is a fixed point.
      sameBytes(serializeOciSpec(parseOciSpec(c.expected, PATH), c.expected), c.expected);
    });
  }
});

Deno.test("values read from a spec with invalid bytes elsewhere are the UTF-8 text", () => {
  const input = bytesOf(
    '{"process":{"env":["BAD=',
    [0xff, 0xfe],
    '","XPU_VISIBLE_DEVICES=0,1","NAME=café"]},"annotations":{"x":"',
    [0x80],
    '"}}',
  );
  const env = specEnv(parseOciSpec(input, PATH));
  strictEqual(env.get("XPU_VISIBLE_DEVICES"), "0,1");
  strictEqual(env.get("NAME"), "café");
  strictEqual(env.get("BAD"), "\uFFFD\uFFFD");
});

Deno.test("parseOciSpec refuses nesting deeper than the limit, before anything recurses", async (t) => {
  const cases: { name: string; input: string; expected: { line: number; column: number } }[] = [
    {
      name: "5,000 levels of arrays in annotations",
      input: `{"annotations": ${"[".repeat(5_000)}${"]".repeat(5_000)}}`,
      expected: { line: 1, column: 16 + MAX_JSON_DEPTH },
    },
    {
      name: "100,000 levels of objects",
      input: '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000),
      expected: { line: 1, column: 5 * MAX_JSON_DEPTH + 1 },
    },
    {
      name: "100,000 levels, unclosed, on line 2",
      input: '{\n "x": ' + "[".repeat(100_000),
      expected: { line: 2, column: 6 + MAX_JSON_DEPTH },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      throws(() => parseOciSpec(new TextEncoder().encode(c.input), PATH), (error: unknown) => {
        ok(error instanceof SpecError, `expected SpecError, got ${error}`);
        deepStrictEqual({ line: error.line, column: error.column }, c.expected);
        strictEqual(
          error.message,
          `Cannot parse OCI spec "${PATH}", line ${c.expected.line}, column ` +
            `${c.expected.column}: the document nests deeper than ${MAX_JSON_DEPTH} levels: ` +
            `the engine wrote an invalid config.json; recreate the container`,
        );
        return true;
      });
    });
  }
  await t.step("the limit itself is fine, and the spec is edited and written back", () => {
    const deep = "[".repeat(MAX_JSON_DEPTH - 2) + "]".repeat(MAX_JSON_DEPTH - 2);
    const text = `{"annotations": {"deep": ${deep}}, "process": {"env": []}}`;
    const spec = parseOciSpec(text, PATH);
    applyContainerEdits(spec, { env: ["A=1"] });
    const written = serializeOciSpec(spec, text);
    ok(written.includes(deep), "the deep value is copied");
    deepStrictEqual((parseOciSpec(written, PATH).process as OciSpec).env, ["A=1"]);
  });
});

Deno.test("an integer beyond 2^53 where config.json has an object or array is a SpecError", async (t) => {
  const BIG = "9007199254740993";
  const cases: { name: string; input: string; expected: string }[] = [
    { name: "process", input: `{"process": ${BIG}}`, expected: '"process" is not an object' },
    { name: "linux", input: `{"linux": ${BIG}}`, expected: '"linux" is not an object' },
    {
      name: "process.env",
      input: `{"process": {"env": ${BIG}}}`,
      expected: '"process.env" is not an array',
    },
    {
      name: "linux.resources.devices",
      input: `{"linux": {"resources": {"devices": ${BIG}}}}`,
      expected: '"linux.resources.devices" is not an array',
    },
  ];
  const edits = {
    env: ["A=1"],
    deviceNodes: [{ path: "/dev/xpu0", type: "c" as const, major: 1, minor: 11 }],
  };
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = parseOciSpec(c.input, PATH);
      throws(() => applyContainerEdits(spec, edits), (error: unknown) => {
        ok(error instanceof SpecError, `expected SpecError, got ${error}`);
        strictEqual(error.message, c.expected);
        return true;
      });
    });
  }
  await t.step("as the whole document", () => {
    throws(() => parseOciSpec(BIG, PATH), (error: unknown) => {
      ok(error instanceof SpecError && error.message.includes("not a JSON object"), `${error}`);
      return true;
    });
  });
  await t.step("isJsonObject: the raw integer is no object", () => {
    strictEqual(isJsonObject((parseOciSpec(`{"a": ${BIG}}`, PATH)).a), false);
    strictEqual(isJsonObject({}), true);
  });
  await t.step("where a number belongs, the spec is still edited, digits kept", () => {
    const text = `{"process": {"env": [], "rlimits": [{"hard": ${BIG}}]}}`;
    const spec = parseOciSpec(text, PATH);
    applyContainerEdits(spec, edits);
    const written = serializeOciSpec(spec, text);
    ok(written.includes(`"hard": ${BIG}`), written);
  });
});

Deno.test("hasUserNamespace and specRootIds", async (t) => {
  const map = (containerID: number, hostID: number, size: number) => ({
    containerID,
    hostID,
    size,
  });
  const cases: {
    name: string;
    input: OciSpec;
    expected: { userns: boolean; root?: { uid: number; gid: number } };
  }[] = [
    { name: "no linux section", input: {}, expected: { userns: false } },
    {
      name: "no user namespace, mappings ignored",
      input: { linux: { namespaces: [{ type: "mount" }], uidMappings: [map(0, 1000, 1)] } },
      expected: { userns: false },
    },
    {
      // As runtime-tools' linux_uid_mappings builds it.
      name: "runtime-tools' mappings: root is host 1000:1000",
      input: {
        linux: {
          namespaces: [{ type: "user" }],
          uidMappings: [map(0, 1000, 2000)],
          gidMappings: [map(0, 1000, 3000)],
        },
      },
      expected: { userns: true, root: { uid: 1000, gid: 1000 } },
    },
    {
      name: "root found in a later range",
      input: {
        linux: {
          namespaces: [{ type: "user" }],
          uidMappings: [map(1, 200001, 65535), map(0, 100000, 1)],
          gidMappings: [map(0, 100000, 65536)],
        },
      },
      expected: { userns: true, root: { uid: 100000, gid: 100000 } },
    },
    {
      name: "a namespace joined by path has no mappings in the spec",
      input: { linux: { namespaces: [{ type: "user", path: "/proc/42/ns/user" }] } },
      expected: { userns: true },
    },
    {
      name: "root left unmapped",
      input: {
        linux: {
          namespaces: [{ type: "user" }],
          uidMappings: [map(1, 1000, 10)],
          gidMappings: [map(0, 1000, 10)],
        },
      },
      expected: { userns: true },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      strictEqual(hasUserNamespace(c.input), c.expected.userns);
      deepStrictEqual(specRootIds(c.input), c.expected.root);
    });
  }
});

Deno.test("serializeOciSpec writes what the splice of a scan writes, for originals as JSON.stringify writes them and any other", async (t) => {
  const runc = Deno.readTextFileSync(
    new URL("../../../fixtures/oci/runc-spec.json", import.meta.url),
  );
  const base = JSON.parse(runc);
  base.process.env.push("NAME=gr\u00fc\u00df \u{1F600}", 'Q=a "b" \\c');
  base.process.args = ["sh", "-c", "a && b < c"];
  const big = '{"linux":{"resources":{"memory":{"limit":18446744073709551615}}}}';
  const originals: { name: string; text: string | Uint8Array }[] = [
    { name: "runc's own, tab-indented", text: runc },
    { name: "2 spaces, a newline after", text: pretty(base) + "\n" },
    { name: "compact, as containerd writes it without & < >", text: JSON.stringify(base) },
    { name: "compact with an integer beyond 2^53", text: big },
    { name: "Go's \\u0026 escapes", text: JSON.stringify(base).replaceAll("&", "\\u0026") },
    {
      name: "a byte order mark",
      text: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(runc)]),
    },
    { name: "CRLF newlines", text: pretty(base).replaceAll("\n", "\r\n") },
    { name: "1.0 for 1", text: JSON.stringify(base).replace('"uid":0', '"uid":0.0') },
    { name: "duplicate keys", text: JSON.stringify(base).replace("{", '{"ociVersion":"0",') },
    { name: "two newlines after", text: pretty(base) + "\n\n" },
    {
      name: "invalid UTF-8 in a value",
      text: new Uint8Array([
        ...new TextEncoder().encode('{"hostname":"a'),
        0xff,
        ...new TextEncoder().encode('b","x":[1]}'),
      ]),
    },
  ];
  const edits: { name: string; edit: (spec: OciSpec) => void }[] = [
    { name: "none", edit: () => {} },
    {
      name: "a device request's edits",
      edit: (spec) => applyContainerEdits(spec, deviceRequestEdits()),
    },
    {
      name: "a member removed, one replaced, an array reordered",
      edit: (spec) => {
        delete spec.hostname;
        spec.root = { path: "other", readonly: false };
        if (Array.isArray(spec.mounts)) spec.mounts.reverse();
        if (isJsonObject(spec.process) && Array.isArray(spec.process.env)) spec.process.env.shift();
      },
    },
    { name: "emptied", edit: (spec) => void Object.keys(spec).forEach((k) => delete spec[k]) },
  ];
  for (const original of originals) {
    await t.step(original.name, () => {
      const bytes = typeof original.text === "string"
        ? new TextEncoder().encode(original.text)
        : original.text;
      for (const { name, edit } of edits) {
        const spec = parseOciSpec(bytes, PATH);
        edit(spec);
        deepStrictEqual(
          new TextDecoder().decode(serializeOciSpec(spec, bytes)),
          new TextDecoder().decode(spliceOciSpecScanned(spec, bytes)),
          name,
        );
        ok(
          serializeOciSpec(spec, bytes).every((b, i) => b === spliceOciSpecScanned(spec, bytes)[i]),
          name,
        );
      }
    });
  }
});
