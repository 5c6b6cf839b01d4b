/**
 * Image requirements on the host (`XPU_REQUIRE_*`): collected by the legacy hook, evaluated by
 * `xpu-container-cli` against what the host has.
 *
 * An expression is alternatives separated by spaces (OR), each a comma list of constraints (AND),
 * each `key op value`: `driver>=1.2,driver<2 driver>=3.0 arch=aarch64`.
 *
 * @module
 */

import { compareVersions } from "../text/dotted_version.ts";
import { UsageError } from "../errors.ts";
import { isTruthy } from "../text/truthy.ts";

/** Prefix of the variables that carry requirements. */
export const REQUIRE_PREFIX = "XPU_REQUIRE_";
/** The variable that turns requirement checks off. */
export const DISABLE_REQUIRE_ENV = "XPU_DISABLE_REQUIRE";

/**
 * The requirement expressions of a container environment, ordered by variable name; none when
 * `XPU_DISABLE_REQUIRE` is true or the config disables them.
 */
export function collectRequirements(
  env: ReadonlyMap<string, string>,
  options: { disabledByConfig: boolean },
): string[] {
  if (options.disabledByConfig || isTruthy(env.get(DISABLE_REQUIRE_ENV))) return [];
  return [...env.keys()]
    .filter((name) => name.startsWith(REQUIRE_PREFIX) && name !== DISABLE_REQUIRE_ENV)
    .sort()
    .map((name) => env.get(name)!.trim())
    .filter((value) => value !== "");
}

/** The comparison operators. */
const OPERATORS = [">=", "<=", "!=", "==", ">", "<", "="] as const;
type Operator = typeof OPERATORS[number];

/** One `key op value`. */
export interface Constraint {
  key: string;
  op: Operator;
  value: string;
}

/** What the host offers to requirements: `driver` (a version), `arch`. */
export type HostFacts = Readonly<Record<string, string | undefined>>;

/** Keys a requirement may test, and whether they compare as versions. */
const KEYS: Readonly<Record<string, "version" | "word">> = { driver: "version", arch: "word" };

/**
 * Parses one expression into alternatives of constraints.
 *
 * @throws {UsageError} naming the expression and the bad constraint
 */
export function parseRequirement(expression: string): Constraint[][] {
  return expression.trim().split(/\s+/).map((alternative) =>
    alternative.split(",").filter((c) => c !== "").map((text) => {
      const match = /^([a-z][a-z0-9_-]*)(>=|<=|!=|==|>|<|=)(.+)$/.exec(text);
      const key = match?.[1] ?? "";
      if (!match || !Object.hasOwn(KEYS, key)) {
        throw new UsageError(
          `Cannot check requirement "${expression}": "${text}" is not a known constraint: ` +
            `write key<op>value with key ${Object.keys(KEYS).map((k) => `"${k}"`).join(" or ")} ` +
            `and op one of ${OPERATORS.join(" ")}`,
        );
      }
      return { key, op: match[2] as Operator, value: match[3] };
    })
  );
}

function holds(constraint: Constraint, facts: HostFacts): boolean {
  const actual = facts[constraint.key];
  if (actual === undefined) return false;
  const order = KEYS[constraint.key] === "version"
    ? compareVersions(actual, constraint.value)
    : actual === constraint.value
    ? 0
    : Number.NaN;
  switch (constraint.op) {
    case ">=":
      return order >= 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case "<":
      return order < 0;
    case "=":
    case "==":
      return order === 0;
    case "!=":
      return order !== 0;
  }
}

/**
 * The first expression the host does not meet, or `undefined` when all are met.
 *
 * @throws {UsageError} for an expression that does not parse
 */
export function firstUnmetRequirement(
  expressions: readonly string[],
  facts: HostFacts,
): string | undefined {
  return expressions.find((expression) =>
    !parseRequirement(expression).some((all) => all.every((c) => holds(c, facts)))
  );
}
