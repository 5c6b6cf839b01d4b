import { deepStrictEqual } from "node:assert/strict";
import {
  CAPABILITIES,
  type Capability,
  type CapabilityParse,
  parseDriverCapabilities,
  splitCommaList,
} from "../../../src/core/device/capabilities.ts";

const ALL: readonly Capability[] = CAPABILITIES;

Deno.test("parseDriverCapabilities", async (t) => {
  const cases: {
    name: string;
    input: { value: string | undefined; supported: readonly Capability[] };
    expected: CapabilityParse;
  }[] = [
    {
      name: "unset: compute,utility",
      input: { value: undefined, supported: ALL },
      expected: { ok: true, capabilities: ["compute", "utility"] },
    },
    {
      name: "empty: the default",
      input: { value: "", supported: ALL },
      expected: { ok: true, capabilities: ["compute", "utility"] },
    },
    {
      name: "only commas and spaces: the default",
      input: { value: " , ,", supported: ALL },
      expected: { ok: true, capabilities: ["compute", "utility"] },
    },
    {
      name: "all: every supported capability in canonical order",
      input: { value: "all", supported: ALL },
      expected: {
        ok: true,
        capabilities: ["compat32", "compute", "display", "graphics", "utility", "video"],
      },
    },
    {
      name: "all with a smaller, unordered supported list",
      input: { value: "all", supported: ["video", "utility", "compute"] },
      expected: { ok: true, capabilities: ["compute", "utility", "video"] },
    },
    {
      name: "all next to other names",
      input: { value: "video,all", supported: ["compute", "video"] },
      expected: { ok: true, capabilities: ["compute", "video"] },
    },
    {
      name: 'subset "video,compute" in canonical order',
      input: { value: "video,compute", supported: ALL },
      expected: { ok: true, capabilities: ["compute", "video"] },
    },
    {
      name: "whitespace and duplicates",
      input: { value: " utility , compute,utility ", supported: ALL },
      expected: { ok: true, capabilities: ["compute", "utility"] },
    },
    {
      name: "an unknown name",
      input: { value: "compute,bogus", supported: ALL },
      expected: { ok: false, unknown: ["bogus"], unsupported: [] },
    },
    {
      name: "names are case-sensitive",
      input: { value: "Compute", supported: ALL },
      expected: { ok: false, unknown: ["Compute"], unsupported: [] },
    },
    {
      name: "a known but unsupported name",
      input: { value: "compute,video", supported: ["compute", "utility"] },
      expected: { ok: false, unknown: [], unsupported: ["video"] },
    },
    {
      name: "unknown and unsupported together",
      input: { value: "graphics,nope,display", supported: ["compute"] },
      expected: { ok: false, unknown: ["nope"], unsupported: ["graphics", "display"] },
    },
    {
      name: "defaults are bounded by the supported list",
      input: { value: undefined, supported: ["utility", "video"] },
      expected: { ok: true, capabilities: ["utility"] },
    },
    {
      name: "defaults with no default supported: none",
      input: { value: "", supported: ["video"] },
      expected: { ok: true, capabilities: [] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(parseDriverCapabilities(c.input.value, c.input.supported), c.expected);
    });
  }
});

Deno.test("splitCommaList", async (t) => {
  const cases: { name: string; input: string; expected: string[] }[] = [
    { name: "empty", input: "", expected: [] },
    { name: "spaces only", input: "   ", expected: [] },
    { name: "one name", input: "a", expected: ["a"] },
    { name: "trimmed", input: " a , b ", expected: ["a", "b"] },
    { name: "empty parts dropped", input: ",a,,b,", expected: ["a", "b"] },
    { name: "duplicates keep the first occurrence", input: "b,a,b,a", expected: ["b", "a"] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(splitCommaList(c.input), c.expected));
  }
});
