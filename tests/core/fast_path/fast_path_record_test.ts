import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  decodeFastPathRecord,
  encodeFastPathRecord,
  type FastPathInput,
  fastPathOffReason,
  sameBytes,
} from "../../../src/core/fast_path/fast_path_record.ts";

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);
const base: FastPathInput = {
  configPath: "/etc/xpu-container-runtime/config.toml",
  configBytes: new TextEncoder().encode('[xpu-container-runtime]\nruntimes = ["crun"]\n'),
  runtimes: ["crun"],
  logLevel: "info",
};

Deno.test("encodeFastPathRecord: the header, a NUL, the config's bytes", async (t) => {
  const cases: { name: string; input: FastPathInput; expected: string | undefined }[] = [
    {
      name: "a present config",
      input: base,
      expected: "xpu-container-runtime fast path 1\non\n/etc/xpu-container-runtime/config.toml\n" +
        'present\ncrun\n\0[xpu-container-runtime]\nruntimes = ["crun"]\n',
    },
    {
      name: "an absent config: the defaults",
      input: { ...base, configBytes: undefined, runtimes: ["runc", "crun"] },
      expected: "xpu-container-runtime fast path 1\non\n/etc/xpu-container-runtime/config.toml\n" +
        "absent\nrunc\ncrun\n\0",
    },
    {
      name: "empty runtime names are left out (never found)",
      input: { ...base, runtimes: ["", "runc", ""] },
      expected: "xpu-container-runtime fast path 1\non\n/etc/xpu-container-runtime/config.toml\n" +
        'present\nrunc\n\0[xpu-container-runtime]\nruntimes = ["crun"]\n',
    },
    {
      name: "log-level debug: off, no runtimes",
      input: { ...base, logLevel: "debug" },
      expected: "xpu-container-runtime fast path 1\n" +
        "off: log-level is debug: the shim logs every hand-over\n" +
        "/etc/xpu-container-runtime/config.toml\n" +
        'present\n\0[xpu-container-runtime]\nruntimes = ["crun"]\n',
    },
    {
      name: "a runtime with a line break: off",
      input: { ...base, runtimes: ["run\nc"] },
      expected: "xpu-container-runtime fast path 1\n" +
        'off: the runtime "run\\nc" holds a line break or NUL\n' +
        "/etc/xpu-container-runtime/config.toml\n" +
        'present\n\0[xpu-container-runtime]\nruntimes = ["crun"]\n',
    },
    {
      name: "a NUL in the config: no record",
      input: { ...base, configBytes: new Uint8Array([0x61, 0, 0x62]) },
      expected: undefined,
    },
    {
      name: "a line break in the config path: no record",
      input: { ...base, configPath: "/etc/x\n/config.toml" },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(text(encodeFastPathRecord(c.input)), c.expected));
  }
});

Deno.test("fastPathOffReason: only debug logging and unwritable names turn it off", () => {
  deepStrictEqual(
    ["info", "warning", "error", "debug"].map((logLevel) =>
      fastPathOffReason({ ...base, logLevel }) !== undefined
    ),
    [false, false, false, true],
  );
});

Deno.test("sameBytes", () => {
  deepStrictEqual(
    [
      sameBytes(undefined, undefined),
      sameBytes(new Uint8Array([1]), undefined),
      sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])),
      sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])),
      sameBytes(new Uint8Array([1]), new Uint8Array([1, 2])),
    ],
    [true, false, true, false, false],
  );
});

Deno.test("decodeFastPathRecord: what encode wrote, or undefined for anything else", async (t) => {
  await t.step("round trips", () => {
    deepStrictEqual(decodeFastPathRecord(text(encodeFastPathRecord(base))!), {
      offReason: undefined,
      configPath: base.configPath,
      present: true,
      runtimes: ["crun"],
      configText: '[xpu-container-runtime]\nruntimes = ["crun"]\n',
    });
    const absent = { ...base, configBytes: undefined, runtimes: ["runc", "/opt/crun"] };
    deepStrictEqual(decodeFastPathRecord(text(encodeFastPathRecord(absent))!), {
      offReason: undefined,
      configPath: base.configPath,
      present: false,
      runtimes: ["runc", "/opt/crun"],
      configText: "",
    });
    const debug = { ...base, logLevel: "debug" };
    strictEqual(
      decodeFastPathRecord(text(encodeFastPathRecord(debug))!)?.offReason,
      "log-level is debug: the shim logs every hand-over",
    );
  });
  await t.step("not a record", () => {
    const good = text(encodeFastPathRecord(base))!;
    for (
      const bad of [
        "",
        good.replace("fast path 1", "fast path 2"),
        good.replace("\non\n", "\nmaybe\n"),
        good.replace("\npresent\n", "\nhere\n"),
        good.replace("\n\0", "\n"),
        good.replace("/etc/xpu-container-runtime/config.toml", ""),
        good.slice(0, 20),
      ]
    ) {
      strictEqual(decodeFastPathRecord(bad), undefined, JSON.stringify(bad));
    }
  });
});
