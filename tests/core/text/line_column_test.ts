import { deepStrictEqual } from "node:assert/strict";
import { lineColumn } from "../../../src/core/text/line_column.ts";

Deno.test("lineColumn gives the 1-based line and column of an offset", async (t) => {
  const cases: { name: string; text: string; offset: number; expected: [number, number] }[] = [
    { name: "the first character", text: "abc", offset: 0, expected: [1, 1] },
    { name: "on the first line", text: "abc", offset: 2, expected: [1, 3] },
    { name: "the end of the text", text: "abc", offset: 3, expected: [1, 4] },
    { name: "after a line feed", text: '{\n  "a": ,\n}', offset: 9, expected: [2, 8] },
    { name: "the line feed itself", text: "a\nb", offset: 1, expected: [1, 2] },
    {
      name: "CRLF: the \\r is the line's last column",
      text: "a\r\nb",
      offset: 3,
      expected: [2, 1],
    },
    { name: "UTF-16 code units", text: "\u{1F600}x", offset: 2, expected: [1, 3] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { line, column } = lineColumn(c.text, c.offset);
      deepStrictEqual([line, column], c.expected);
    });
  }
});
