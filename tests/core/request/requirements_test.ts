import assert from "node:assert/strict";
import { isTruthy } from "../../../src/core/text/truthy.ts";
import { UsageError } from "../../../src/core/errors.ts";
import {
  collectRequirements,
  type Constraint,
  firstUnmetRequirement,
  type HostFacts,
  parseRequirement,
} from "../../../src/core/request/requirements.ts";
import { assertThrowsError } from "../../helpers/assert_error.ts";

Deno.test("isTruthy follows Go's strconv.ParseBool true values", async (t) => {
  const cases: { name: string; input: string | undefined; expected: boolean }[] = [
    { name: "1", input: "1", expected: true },
    { name: "t", input: "t", expected: true },
    { name: "T", input: "T", expected: true },
    { name: "true", input: "true", expected: true },
    { name: "TRUE", input: "TRUE", expected: true },
    { name: "True", input: "True", expected: true },
    { name: "surrounding spaces", input: " true ", expected: true },
    { name: "mixed case tRuE", input: "tRuE", expected: false },
    { name: "yes", input: "yes", expected: false },
    { name: "0", input: "0", expected: false },
    { name: "false", input: "false", expected: false },
    { name: "empty", input: "", expected: false },
    { name: "unset", input: undefined, expected: false },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(isTruthy(c.input), c.expected));
  }
});

Deno.test("collectRequirements reads XPU_REQUIRE_* in variable-name order", async (t) => {
  const cases: {
    name: string;
    input: { env: Record<string, string>; disabledByConfig?: boolean };
    expected: string[];
  }[] = [
    {
      name: "sorted by variable name, other variables ignored",
      input: {
        env: {
          XPU_REQUIRE_B: "driver>=2.0",
          XPU_VISIBLE_DEVICES: "all",
          XPU_REQUIRE_A: "arch=x86_64",
          REQUIRE_X: "driver>=9",
          XPU_REQUIRE_C1: "driver<3",
        },
      },
      expected: ["arch=x86_64", "driver>=2.0", "driver<3"],
    },
    {
      name: "empty and blank values dropped, others trimmed",
      input: {
        env: { XPU_REQUIRE_A: "", XPU_REQUIRE_B: "   ", XPU_REQUIRE_C: "  driver>=1 " },
      },
      expected: ["driver>=1"],
    },
    {
      name: "XPU_DISABLE_REQUIRE=true disables",
      input: { env: { XPU_REQUIRE_A: "driver>=1", XPU_DISABLE_REQUIRE: "true" } },
      expected: [],
    },
    {
      name: "XPU_DISABLE_REQUIRE=1 disables",
      input: { env: { XPU_REQUIRE_A: "driver>=1", XPU_DISABLE_REQUIRE: "1" } },
      expected: [],
    },
    {
      name: "XPU_DISABLE_REQUIRE=false keeps them and is not collected itself",
      input: { env: { XPU_DISABLE_REQUIRE: "false", XPU_REQUIRE_A: "driver>=1" } },
      expected: ["driver>=1"],
    },
    {
      name: "config disable-require disables",
      input: { env: { XPU_REQUIRE_A: "driver>=1" }, disabledByConfig: true },
      expected: [],
    },
    { name: "no requirements", input: { env: { HOME: "/root" } }, expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepStrictEqual(
        collectRequirements(new Map(Object.entries(c.input.env)), {
          disabledByConfig: c.input.disabledByConfig ?? false,
        }),
        c.expected,
      );
    });
  }
});

Deno.test("parseRequirement splits alternatives (spaces) and constraints (commas)", async (t) => {
  const cases: { name: string; input: string; expected: Constraint[][] }[] = [
    {
      name: "one constraint",
      input: "driver>=1.0",
      expected: [[{ key: "driver", op: ">=", value: "1.0" }]],
    },
    {
      name: "two alternatives, the first with two constraints",
      input: "driver>=1,driver<2 arch=x86_64",
      expected: [
        [{ key: "driver", op: ">=", value: "1" }, { key: "driver", op: "<", value: "2" }],
        [{ key: "arch", op: "=", value: "x86_64" }],
      ],
    },
    {
      name: "every operator",
      input: "driver>=1,driver<=2,driver!=3,driver==4,driver>5,driver<6,driver=7",
      expected: [[
        { key: "driver", op: ">=", value: "1" },
        { key: "driver", op: "<=", value: "2" },
        { key: "driver", op: "!=", value: "3" },
        { key: "driver", op: "==", value: "4" },
        { key: "driver", op: ">", value: "5" },
        { key: "driver", op: "<", value: "6" },
        { key: "driver", op: "=", value: "7" },
      ]],
    },
    {
      name: "extra whitespace between and around alternatives",
      input: "  driver>=1   arch=aarch64 ",
      expected: [
        [{ key: "driver", op: ">=", value: "1" }],
        [{ key: "arch", op: "=", value: "aarch64" }],
      ],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepStrictEqual(parseRequirement(c.input), c.expected));
  }
});

Deno.test("parseRequirement rejects what it cannot check", async (t) => {
  const cases: { name: string; input: string; expected: { fragment: string } }[] = [
    { name: "unknown key cuda", input: "cuda>=1", expected: { fragment: '"cuda>=1"' } },
    { name: "key without an operator", input: "driver", expected: { fragment: '"driver"' } },
    {
      name: "bad constraint inside a longer expression",
      input: "driver>=1,brand=x",
      expected: { fragment: '"brand=x"' },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertThrowsError(() => parseRequirement(c.input), UsageError, c.expected.fragment);
    });
  }
});

Deno.test("firstUnmetRequirement evaluates expressions against the host", async (t) => {
  const host: HostFacts = { driver: "1.0.0", arch: "x86_64" };
  const cases: {
    name: string;
    input: { expressions: string[]; facts?: HostFacts };
    expected: string | undefined;
  }[] = [
    { name: "driver>=1.0 met", input: { expressions: ["driver>=1.0"] }, expected: undefined },
    { name: "driver>=2.0 unmet", input: { expressions: ["driver>=2.0"] }, expected: "driver>=2.0" },
    {
      name: "the first unmet of several, as written",
      input: { expressions: ["driver>=1.0", "driver>=2.0 ", "driver>=3.0"] },
      expected: "driver>=2.0 ",
    },
    {
      name: "OR: one alternative met",
      input: { expressions: ["driver>=2.0 driver<1.5"] },
      expected: undefined,
    },
    {
      name: "OR: no alternative met",
      input: { expressions: ["driver>=2.0 arch=aarch64"] },
      expected: "driver>=2.0 arch=aarch64",
    },
    {
      name: "AND: both needed",
      input: { expressions: ["driver>=1.0,driver<1.0"] },
      expected: "driver>=1.0,driver<1.0",
    },
    {
      name: "AND: both met",
      input: { expressions: ["driver>=1.0,driver<1.0.1"] },
      expected: undefined,
    },
    { name: "> unmet on equal", input: { expressions: ["driver>1"] }, expected: "driver>1" },
    { name: "<= met on equal", input: { expressions: ["driver<=1"] }, expected: undefined },
    { name: "!= met", input: { expressions: ["driver!=2"] }, expected: undefined },
    {
      name: "!= unmet on an equal version",
      input: { expressions: ["driver!=1.0"] },
      expected: "driver!=1.0",
    },
    { name: "= met", input: { expressions: ["driver=1"] }, expected: undefined },
    { name: "== met", input: { expressions: ["driver==1.0.0"] }, expected: undefined },
    {
      name: "= unmet",
      input: { expressions: ["driver=1.0.1"] },
      expected: "driver=1.0.1",
    },
    {
      name: "arch word equality met",
      input: { expressions: ["arch=x86_64"] },
      expected: undefined,
    },
    {
      name: "arch word equality unmet",
      input: { expressions: ["arch=aarch64"] },
      expected: "arch=aarch64",
    },
    {
      name: "arch is a word, not a version",
      input: { expressions: ["arch=x86_64"], facts: { driver: "1.0.0", arch: "x86" } },
      expected: "arch=x86_64",
    },
    { name: "arch != met", input: { expressions: ["arch!=aarch64"] }, expected: undefined },
    {
      name: "unknown driver version: unmet",
      input: { expressions: ["driver>=1.0"], facts: { arch: "x86_64" } },
      expected: "driver>=1.0",
    },
    {
      name: "unknown driver version: != is unmet too",
      input: { expressions: ["driver!=9"], facts: { driver: undefined, arch: "x86_64" } },
      expected: "driver!=9",
    },
    { name: "no expressions", input: { expressions: [] }, expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.equal(firstUnmetRequirement(c.input.expressions, c.input.facts ?? host), c.expected);
    });
  }

  await t.step("an expression that does not parse is a UsageError", () => {
    assertThrowsError(
      () => firstUnmetRequirement(["driver>=1.0", "bogus"], host),
      UsageError,
      '"bogus"',
    );
  });
});
