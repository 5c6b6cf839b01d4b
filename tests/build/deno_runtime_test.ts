/** Where the bundled artefact's Deno runtime comes from, per target. */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  chooseRuntimeSource,
  integrityOf,
  packageMetadataUrl,
  type RuntimeChoice,
  runtimePackage,
} from "../../scripts/build/deno_runtime.ts";

const BASE: RuntimeChoice = {
  target: "aarch64-unknown-linux-gnu",
  hostTarget: "x86_64-unknown-linux-gnu",
  denoVersion: "2.9.6",
  denoPath: "/usr/bin/deno",
  env: {},
};

Deno.test("chooseRuntimeSource", async (t) => {
  const cases: { name: string; input: Partial<RuntimeChoice>; expected: unknown }[] = [
    {
      name: "another target: Deno's npm package of the same version from the registry",
      input: {},
      expected: {
        kind: "registry",
        url: "https://registry.npmjs.org/@deno%2flinux-arm64-glibc/2.9.6",
        from: "@deno/linux-arm64-glibc@2.9.6 from https://registry.npmjs.org",
      },
    },
    {
      name: "the host's target: the build's own deno",
      input: { target: "x86_64-unknown-linux-gnu" },
      expected: {
        kind: "file",
        path: "/usr/bin/deno",
        from: "the build's own deno (/usr/bin/deno)",
      },
    },
    {
      name: "NPM_CONFIG_REGISTRY names a mirror",
      input: { env: { NPM_CONFIG_REGISTRY: "http://npm.local:4873/" } },
      expected: {
        kind: "registry",
        url: "http://npm.local:4873/@deno%2flinux-arm64-glibc/2.9.6",
        from: "@deno/linux-arm64-glibc@2.9.6 from http://npm.local:4873",
      },
    },
    {
      name: "DENO_RUNTIME_AARCH64: a .tgz wins over everything",
      input: { env: { DENO_RUNTIME_AARCH64: "/srv/deno-arm.tgz", NPM_CONFIG_REGISTRY: "x" } },
      expected: {
        kind: "tarball",
        path: "/srv/deno-arm.tgz",
        from: "DENO_RUNTIME_AARCH64=/srv/deno-arm.tgz",
      },
    },
    {
      name: "DENO_RUNTIME_X86_64: a binary, even for the host's target",
      input: { target: "x86_64-unknown-linux-gnu", env: { DENO_RUNTIME_X86_64: "/srv/deno" } },
      expected: { kind: "file", path: "/srv/deno", from: "DENO_RUNTIME_X86_64=/srv/deno" },
    },
    {
      name: "the other target's variable does not count",
      input: { env: { DENO_RUNTIME_X86_64: "/srv/deno" } },
      expected: {
        kind: "registry",
        url: "https://registry.npmjs.org/@deno%2flinux-arm64-glibc/2.9.6",
        from: "@deno/linux-arm64-glibc@2.9.6 from https://registry.npmjs.org",
      },
    },
  ];
  for (const c of cases) {
    await t.step(
      c.name,
      () => deepStrictEqual(chooseRuntimeSource({ ...BASE, ...c.input }), c.expected),
    );
  }
});

Deno.test("runtimePackage and packageMetadataUrl", () => {
  strictEqual(runtimePackage("x86_64-unknown-linux-gnu"), "@deno/linux-x64-glibc");
  strictEqual(runtimePackage("aarch64-unknown-linux-gnu"), "@deno/linux-arm64-glibc");
  strictEqual(
    packageMetadataUrl("https://r.example//", "@a/b", "1.0.0"),
    "https://r.example/@a%2fb/1.0.0",
  );
});

Deno.test("integrityOf writes npm's sha512 form", async () => {
  // sha512 of the empty input.
  strictEqual(
    await integrityOf(new Uint8Array()),
    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
  );
});
