import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  isQualifiedName,
  kindProblem,
  parseQualifiedName,
  type QualifiedName,
} from "../../../src/core/cdi/cdi_name.ts";

Deno.test("parseQualifiedName", async (t) => {
  const cases: { name: string; input: string; expected: QualifiedName | undefined }[] = [
    {
      name: "vendor.com/class=name",
      input: "vendor.com/class=name",
      expected: { vendor: "vendor.com", class: "class", name: "name" },
    },
    {
      name: "xpu.dev/xpu=0",
      input: "xpu.dev/xpu=0",
      expected: { vendor: "xpu.dev", class: "xpu", name: "0" },
    },
    {
      name: "name with : . - _",
      input: "xpu.dev/xpu=XPU-1a:b.c_d",
      expected: { vendor: "xpu.dev", class: "xpu", name: "XPU-1a:b.c_d" },
    },
    {
      name: "vendor with - and _, class with - and _",
      input: "my-vendor_x.io/gpu_class-2=all",
      expected: { vendor: "my-vendor_x.io", class: "gpu_class-2", name: "all" },
    },
    {
      name: "one-letter parts",
      input: "a/b=c",
      expected: { vendor: "a", class: "b", name: "c" },
    },
    { name: 'no "="', input: "vendor.com/class", expected: undefined },
    { name: 'no "/"', input: "vendorclass=name", expected: undefined },
    { name: "a plain index", input: "0", expected: undefined },
    { name: "empty name", input: "vendor.com/class=", expected: undefined },
    { name: "empty vendor", input: "/class=name", expected: undefined },
    { name: "empty class", input: "vendor.com/=name", expected: undefined },
    { name: "vendor starting with a digit", input: "1vendor.com/class=name", expected: undefined },
    { name: "vendor ending with a dot", input: "vendor./class=name", expected: undefined },
    {
      name: 'class with "." (valid CDI; the spec then needs 0.6.0)',
      input: "vendor.com/cl.ass=name",
      expected: { vendor: "vendor.com", class: "cl.ass", name: "name" },
    },
    { name: 'class with "/"', input: "vendor.com/a/b=name", expected: undefined },
    { name: 'name starting with "-"', input: "vendor.com/class=-name", expected: undefined },
    { name: 'name ending with ":"', input: "vendor.com/class=name:", expected: undefined },
    { name: 'name with "="', input: "vendor.com/class=a=b", expected: undefined },
    { name: "name with a space", input: "vendor.com/class=a b", expected: undefined },
    { name: "empty string", input: "", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      deepStrictEqual(parseQualifiedName(c.input), c.expected);
      strictEqual(isQualifiedName(c.input), c.expected !== undefined);
    });
  }
});

Deno.test("kindProblem", async (t) => {
  const cases: { name: string; input: string; expected: RegExp | undefined }[] = [
    { name: "default kind is valid", input: "xpu.dev/xpu", expected: undefined },
    { name: "runtime kind is valid", input: "runtime.xpu.dev/xpu", expected: undefined },
    { name: "a.b/c is valid", input: "a.b/c", expected: undefined },
    {
      name: "no slash",
      input: "noslash",
      expected: /"noslash" must have the form "vendor\/class"/,
    },
    { name: "vendor starting with a digit", input: "1x.dev/xpu", expected: /vendor "1x.dev"/ },
    { name: "empty vendor", input: "/xpu", expected: /must have the form "vendor\/class"/ },
    { name: 'class with "."', input: "xpu.dev/x.pu", expected: undefined },
    { name: "empty class", input: "xpu.dev/", expected: /must have the form "vendor\/class"/ },
    {
      name: "no slash",
      input: "vendor1.comdevice",
      expected: /must have the form "vendor\/class"/,
    },
    {
      name: "vendor ending with '-'",
      input: "vendor.com-/device",
      expected: /vendor "vendor.com-"/,
    },
    { name: "class ending with '='", input: "vendor.com/device=", expected: /class "device="/ },
    { name: "two slashes", input: "xpu.dev/a/b", expected: /class "a\/b"/ },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const problem = kindProblem(c.input);
      if (c.expected === undefined) strictEqual(problem, undefined);
      else match(problem ?? "(valid)", c.expected);
    });
  }
});

// The CDI reference's qualified-name table (pkg/parser/parser_test.go), carried over as facts.
Deno.test("parseQualifiedName: the CDI reference table", async (t) => {
  const valid: [string, string, string, string][] = [
    ["vendor.com/class=dev", "vendor.com", "class", "dev"],
    ["a/b=c", "a", "b", "c"],
    ["aa/b=cc", "aa", "b", "cc"],
    ["a/bb=cc", "a", "bb", "cc"],
    ["vendor.com/class=0", "vendor.com", "class", "0"],
    ["vendor1.com/class1=dev1", "vendor1.com", "class1", "dev1"],
    ["vendor1.com/class.subclass=dev1", "vendor1.com", "class.subclass", "dev1"],
    ["other-vendor1.com/class_1=dev_1", "other-vendor1.com", "class_1", "dev_1"],
    [
      "yet_another-vendor2.com/c-lass_2=dev_1:2.3",
      "yet_another-vendor2.com",
      "c-lass_2",
      "dev_1:2.3",
    ],
  ];
  for (const [input, vendor, cls, name] of valid) {
    await t.step(`valid ${input}`, () => {
      deepStrictEqual(parseQualifiedName(input), { vendor, class: cls, name });
    });
  }
  const invalid = [
    "_invalid.com/class=dev",
    "invalid2.com-/class=dev",
    "invalid3.com/_class=dev",
    "invalid4.com/class_=dev",
    "invalid5.com/class=-dev",
    "invalid6.com/class=dev:",
    "*.com/*dev=*gpu*",
  ];
  for (const input of invalid) {
    await t.step(
      `invalid ${input}`,
      () => strictEqual(parseQualifiedName(input), undefined),
    );
  }
});
