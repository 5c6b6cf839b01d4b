import { strictEqual } from "node:assert/strict";
import { encodeFastPathRecord } from "../../src/core/fast_path/fast_path_record.ts";
import { refreshFastPathRecord, type RefreshIo } from "../../src/runtime/fast_path_refresh.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const encoder = new TextEncoder();

/** An in-memory file system that counts writes. */
function memoryIo(files: Record<string, string | Uint8Array>): RefreshIo & { writes: string[] } {
  const store = new Map(
    Object.entries(files).map(([k, v]) => [k, typeof v === "string" ? encoder.encode(v) : v]),
  );
  const writes: string[] = [];
  return {
    writes,
    readFile: (path) => store.get(path),
    writeFile(path, bytes) {
      writes.push(path);
      store.set(path, bytes);
    },
  };
}

const CONFIG = "/t/config.toml";
const RECORD = "/t/runtime.fast-path";
const TEXT = '[xpu-container-runtime]\nruntimes = ["crun", "runc"]\n';

Deno.test("refreshFastPathRecord: writes the record for the file as it is, once", async (t) => {
  await t.step("a missing record is written, then found current", () => {
    const io = memoryIo({ [CONFIG]: TEXT });
    const env = { XPU_CTK_CONFIG_FILE_PATH: CONFIG };
    strictEqual(
      refreshFastPathRecord(RECORD, env, io),
      `Wrote the fast-path record "${RECORD}" for "${CONFIG}"`,
    );
    strictEqual(
      new TextDecoder().decode(io.readFile(RECORD)),
      `xpu-container-runtime fast path 1\non\n${CONFIG}\npresent\ncrun\nrunc\n\0${TEXT}`,
    );
    strictEqual(
      refreshFastPathRecord(RECORD, env, io),
      `The fast-path record "${RECORD}" is current`,
    );
    strictEqual(io.writes.length, 1);
  });
  await t.step("a record made from other bytes is rewritten", () => {
    const old = encodeFastPathRecord({
      configPath: CONFIG,
      configBytes: encoder.encode("# old\n"),
      runtimes: ["runc", "crun"],
      logLevel: "info",
    })!;
    const io = memoryIo({ [CONFIG]: TEXT, [RECORD]: old });
    refreshFastPathRecord(RECORD, { XPU_CTK_CONFIG_FILE_PATH: CONFIG }, io);
    strictEqual(io.writes.length, 1);
    strictEqual(new TextDecoder().decode(io.readFile(RECORD)).split("\n")[4], "crun");
  });
  await t.step("the named config missing: nothing written (the shim says why)", () => {
    const io = memoryIo({});
    strictEqual(
      refreshFastPathRecord(RECORD, { XPU_CTK_CONFIG_FILE_PATH: CONFIG }, io),
      "Not writing the fast-path record: XPU_CTK_CONFIG_FILE_PATH names a missing file",
    );
    strictEqual(io.writes.length, 0);
  });
  await t.step("the system file missing: an absent record with the default runtimes", () => {
    const io = memoryIo({});
    refreshFastPathRecord(RECORD, {}, io);
    strictEqual(
      new TextDecoder().decode(io.readFile(RECORD)),
      "xpu-container-runtime fast path 1\non\n/etc/xpu-container-runtime/config.toml\n" +
        "absent\nrunc\ncrun\n\0",
    );
  });
  await t.step("XDG_CONFIG_HOME, a relative record path: nothing written", () => {
    const io = memoryIo({ [CONFIG]: TEXT });
    refreshFastPathRecord(RECORD, { XDG_CONFIG_HOME: "/x" }, io);
    refreshFastPathRecord("record", { XPU_CTK_CONFIG_FILE_PATH: CONFIG }, io);
    strictEqual(io.writes.length, 0);
  });
});

Deno.test("refreshFastPathRecord: the config is decoded as the shim reads it (a BOM kept)", async () => {
  await withTempDir((dir) => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode("# c\n"), 0xff, 0x0a]);
    Deno.writeFileSync(`${dir}/c.toml`, bytes);
    // The shim parses Deno.readTextFileSync's text: the refresh must see the same text.
    const shimText = Deno.readTextFileSync(`${dir}/c.toml`);
    const refreshText = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    strictEqual(refreshText, shimText);
  });
});

Deno.test("refreshFastPathRecord: only a *.fast-path file that is absent or a record", () => {
  const env = { XPU_CTK_CONFIG_FILE_PATH: CONFIG };
  const io = memoryIo({ [CONFIG]: TEXT, "/etc/passwd": "root:x:0:0::/root:/bin/sh\n" });
  strictEqual(
    refreshFastPathRecord("/etc/passwd", env, io),
    'Not writing the fast-path record "/etc/passwd": its name does not end in .fast-path',
  );
  const other = memoryIo({ [CONFIG]: TEXT, "/t/x.fast-path": "something else\n" });
  strictEqual(
    refreshFastPathRecord("/t/x.fast-path", env, other),
    'Not writing the fast-path record "/t/x.fast-path": the file there is no record',
  );
  const newer = memoryIo({
    [CONFIG]: TEXT,
    "/t/x.fast-path": "xpu-container-runtime fast path 0\n",
  });
  strictEqual(
    refreshFastPathRecord("/t/x.fast-path", env, newer),
    `Wrote the fast-path record "/t/x.fast-path" for "${CONFIG}"`,
  );
  const empty = memoryIo({ [CONFIG]: TEXT, "/t/x.fast-path": "" });
  strictEqual(
    refreshFastPathRecord("/t/x.fast-path", env, empty),
    `Wrote the fast-path record "/t/x.fast-path" for "${CONFIG}"`,
  );
  strictEqual(io.writes.length + other.writes.length, 0);
});
