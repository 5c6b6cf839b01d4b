import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  isQualifiedName,
  kindProblem,
  parseQualifiedName,
  type QualifiedName,
} from "../../src/core/cdi_name.ts";

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
    { name: 'class with "."', input: "vendor.com/cl.ass=name", expected: undefined },
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
    { name: "empty vendor", input: "/xpu", expected: /vendor ""/ },
    { name: 'class with "."', input: "xpu.dev/x.pu", expected: /class "x.pu"/ },
    { name: "empty class", input: "xpu.dev/", expected: /class ""/ },
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
