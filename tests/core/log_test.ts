import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { LogLevel } from "../../src/core/config.ts";
import { createLogger, formatLogLine, type LogSink } from "../../src/core/log.ts";

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
