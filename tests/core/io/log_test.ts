import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import type { LogLevel } from "../../../src/core/config/config.ts";
import {
  appendToLog,
  createLogger,
  formatLogLine,
  type LogSink,
} from "../../../src/core/io/log.ts";
import { FileKindError } from "../../../src/core/io/fs.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const TIME = new Date("2024-05-06T07:08:09.123Z");

Deno.test("formatLogLine", async (t) => {
  const cases: {
    name: string;
    input: Parameters<typeof formatLogLine>;
    expected: string;
  }[] = [
    {
      name: "json",
      input: ["json", { level: "info", message: "Running create", time: TIME }],
      expected: '{"level":"info","msg":"Running create","time":"2024-05-06T07:08:09.123Z"}\n',
    },
    {
      name: "json escapes quotes and newlines",
      input: ["json", { level: "error", message: 'bad "x"\nnext', time: TIME }],
      expected: '{"level":"error","msg":"bad \\"x\\"\\nnext","time":"2024-05-06T07:08:09.123Z"}\n',
    },
    {
      name: "text",
      input: ["text", { level: "info", message: "Running create", time: TIME }],
      expected: 'time="2024-05-06T07:08:09.123Z" level=info msg="Running create"\n',
    },
    {
      name: "text escapes quotes in msg",
      input: ["text", { level: "warning", message: 'say "hi"', time: TIME }],
      expected: 'time="2024-05-06T07:08:09.123Z" level=warning msg="say \\"hi\\""\n',
    },
    {
      name: "text keeps one line for a multi-line message",
      input: ["text", { level: "debug", message: "a\nb", time: TIME }],
      expected: 'time="2024-05-06T07:08:09.123Z" level=debug msg="a\\nb"\n',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => strictEqual(formatLogLine(...c.input), c.expected));
  }
  await t.step("json has exactly the keys level, msg, time", () => {
    const line = formatLogLine("json", { level: "debug", message: "m", time: TIME });
    const parsed = JSON.parse(line);
    deepStrictEqual(Object.keys(parsed).sort(), ["level", "msg", "time"]);
    deepStrictEqual(parsed, { level: "debug", msg: "m", time: TIME.toISOString() });
  });
});

/** A logger whose appends are recorded. */
function recording(level: LogLevel, sinks: LogSink[], fail: string[] = []) {
  const written: [string, string][] = [];
  const logger = createLogger({
    level,
    sinks,
    now: () => TIME,
    append: (path, text) => {
      if (fail.includes(path)) throw new Error(`cannot write ${path}`);
      written.push([path, text]);
    },
  });
  return { logger, written };
}

const JSON_SINK: LogSink = { path: "/b/log.json", format: "json" };
const TEXT_SINK: LogSink = { path: "/var/log/xpu.log", format: "text" };

function levelsOf(written: [string, string][]): string[] {
  return written.map(([, text]) => JSON.parse(text).level);
}

Deno.test("createLogger", async (t) => {
  const cases: { name: string; input: LogLevel; expected: string[] }[] = [
    { name: "info drops debug", input: "info", expected: ["info", "warning", "error"] },
    { name: "debug keeps debug", input: "debug", expected: ["debug", "info", "warning", "error"] },
    {
      name: "trace keeps everything",
      input: "trace",
      expected: ["debug", "info", "warning", "error"],
    },
    { name: "warning keeps warn and error", input: "warning", expected: ["warning", "error"] },
    { name: "warn is warning", input: "warn", expected: ["warning", "error"] },
    { name: "error keeps only error", input: "error", expected: ["error"] },
    { name: "panic drops all four", input: "panic", expected: [] },
  ];
  for (const c of cases) {
    await t.step(`level filtering: ${c.name}`, () => {
      const { logger, written } = recording(c.input, [JSON_SINK]);
      logger.debug("d");
      logger.info("i");
      logger.warn("w");
      logger.error("e");
      deepStrictEqual(levelsOf(written), c.expected);
    });
  }

  await t.step('warn is written as level "warning" in both formats', () => {
    const { logger, written } = recording("info", [JSON_SINK, TEXT_SINK]);
    logger.warn("careful");
    deepStrictEqual(written, [
      [JSON_SINK.path, formatLogLine("json", { level: "warning", message: "careful", time: TIME })],
      [TEXT_SINK.path, 'time="2024-05-06T07:08:09.123Z" level=warning msg="careful"\n'],
    ]);
  });

  await t.step("a throwing append does not throw and other sinks still get the line", () => {
    const { logger, written } = recording("info", [TEXT_SINK, JSON_SINK], [TEXT_SINK.path]);
    logger.error("boom");
    logger.info("after");
    deepStrictEqual(written.map(([path]) => path), [JSON_SINK.path, JSON_SINK.path]);
    deepStrictEqual(levelsOf(written), ["error", "info"]);
  });

  await t.step("enabled follows the level", () => {
    const { logger } = recording("info", [JSON_SINK]);
    strictEqual(logger.enabled("debug"), false);
    strictEqual(logger.enabled("info"), true);
    strictEqual(logger.enabled("error"), true);
  });

  await t.step("no sinks: enabled() is false and nothing is appended", () => {
    const { logger, written } = recording("trace", []);
    strictEqual(logger.enabled("error"), false);
    strictEqual(logger.enabled("debug"), false);
    logger.error("lost");
    deepStrictEqual(written, []);
  });
});

const HOST_FILE = "root:x:0:0:the host's own file\n";

Deno.test("appendToLog never follows a final symbolic link", async (t) => {
  const cases: { name: string; input: string; expected: string }[] = [
    { name: "a link to a host file", input: "/host/passwd", expected: "/host/passwd" },
    {
      name: "a dangling link: its target is not created",
      input: "/host/cron",
      expected: "/host/cron",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((dir) => {
        Deno.mkdirSync(`${dir}/host`);
        Deno.writeTextFileSync(`${dir}/host/passwd`, HOST_FILE);
        Deno.symlinkSync(dir + c.input, `${dir}/log.json`);
        assertThrowsError(
          () => appendToLog(`${dir}/log.json`, "line\n"),
          FileKindError,
          `it is a symbolic link (to "${dir}${c.expected}")`,
        );
        strictEqual(Deno.readTextFileSync(`${dir}/host/passwd`), HOST_FILE);
        deepStrictEqual([...Deno.readDirSync(`${dir}/host`)].map((e) => e.name), ["passwd"]);
      });
    });
  }
  await t.step("a regular file is appended to, a missing one created", async () => {
    await withTempDir((dir) => {
      appendToLog(`${dir}/log.json`, "one\n");
      appendToLog(`${dir}/log.json`, "two\n");
      strictEqual(Deno.readTextFileSync(`${dir}/log.json`), "one\ntwo\n");
    });
  });
  await t.step("a FIFO nobody reads is refused at once", async () => {
    await withTempDir((dir) => {
      strictEqual(new Deno.Command("mkfifo", { args: [`${dir}/log`] }).outputSync().code, 0);
      assertThrowsError(() => appendToLog(`${dir}/log`, "x\n"), FileKindError, "FIFO");
    });
  });
});

Deno.test("a logger with a linked sink: the container goes on, the refusal is said once", async () => {
  await withTempDir((dir) => {
    Deno.mkdirSync(`${dir}/host`);
    Deno.writeTextFileSync(`${dir}/host/passwd`, HOST_FILE);
    Deno.symlinkSync(`${dir}/host/passwd`, `${dir}/debug.log`);
    const reported: string[] = [];
    const logger = createLogger({
      level: "info",
      sinks: [{ path: `${dir}/debug.log`, format: "text" }, {
        path: `${dir}/log.json`,
        format: "json",
      }],
      now: () => TIME,
      report: (line) => void reported.push(line),
    });
    logger.info("first");
    logger.error("second");
    strictEqual(reported.length, 1, reported.join("\n"));
    strictEqual(
      reported[0],
      `Cannot log to "${dir}/debug.log": it is a symbolic link (to "${dir}/host/passwd"): ` +
        `log files are never opened through a link; point the log setting at the file itself`,
    );
    strictEqual(Deno.readTextFileSync(`${dir}/host/passwd`), HOST_FILE);
    ok(Deno.lstatSync(`${dir}/debug.log`).isSymlink);
    const lines = Deno.readTextFileSync(`${dir}/log.json`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    deepStrictEqual(lines.map((l) => [l.level, l.msg]), [
      ["info", "first"],
      ["warning", reported[0]],
      ["error", "second"],
    ]);
  });
});

Deno.test("the default report is one line on stderr", async () => {
  await withTempDir(async (dir) => {
    Deno.symlinkSync("/etc/hostname", `${dir}/log`);
    const module = new URL("../../../src/core/io/log.ts", import.meta.url).href;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { createLogger } from ${JSON.stringify(module)};\n` +
        `const logger = createLogger({ level: "info", sinks: [{ path: ${
          JSON.stringify(`${dir}/log`)
        }, format: "text" }] });\n` +
        `logger.info("a"); logger.info("b");`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(out.code, 0);
    strictEqual(new TextDecoder().decode(out.stdout), "");
    const stderr = new TextDecoder().decode(out.stderr);
    match(
      stderr,
      /^Cannot log to ".*\/log": it is a symbolic link \(to "\/etc\/hostname"\): .*\n$/,
    );
  });
});
