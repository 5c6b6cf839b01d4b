/**
 * Golden CDI specs: each fixture driver root (`fixtures/driver-root/<profile>/` with its
 * `<profile>.nodes.json`) generates `fixtures/cdi/<profile>.yaml` and `.json`, byte for byte.
 * `XPU_UPDATE_GOLDEN=1 deno test -A tests/core/cdi/cdi_generate_test.ts` rewrites them.
 */

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { REPO_ROOT } from "../../helpers/container_lab.ts";
import { generateCdiSpec, generateManagementCdiSpec } from "../../../src/core/cdi/cdi_generate.ts";
import { formatCdiSpec, parseCdiSpec } from "../../../src/core/cdi/cdi_spec.ts";
import { BUILTIN_PROFILES } from "../../../src/core/device/device_profile.ts";
import { RequestError } from "../../../src/core/errors.ts";
import { fixtureHostFs } from "../../helpers/fixture_fs.ts";

const KINDS: Record<string, string> = {
  xpu: "xpu.dev/xpu",
  nvidia: "nvidia.com/gpu",
  amd: "amd.com/gpu",
  intel: "intel.com/gpu",
};
const UPDATE = Deno.env.get("XPU_UPDATE_GOLDEN") === "1";

function generate(profile: string) {
  return generateCdiSpec({
    profile: BUILTIN_PROFILES[profile],
    fs: fixtureHostFs(profile),
    driverRoot: "/",
    kind: KINDS[profile],
    ctkPath: "/usr/bin/xpu-ctk",
  });
}

Deno.test("cdi generate matches the golden specs of every built-in profile", async (t) => {
  for (const profile of Object.keys(KINDS)) {
    for (const format of ["yaml", "json"] as const) {
      await t.step(`${profile}.${format}`, async () => {
        const text = await formatCdiSpec(generate(profile), format);
        const golden = `${REPO_ROOT}/fixtures/cdi/${profile}.${format}`;
        if (UPDATE) Deno.writeTextFileSync(golden, text);
        strictEqual(text, Deno.readTextFileSync(golden));
        // What is generated reads back as a valid spec, equal to what was generated.
        deepStrictEqual(await parseCdiSpec(text, golden), generate(profile));
      });
    }
  }
});

Deno.test("generated specs: devices, versions and groups per profile", async (t) => {
  await t.step("xpu: index, UUID and all devices; 0.5.0 for names starting with a digit", () => {
    const spec = generate("xpu");
    deepStrictEqual(spec.devices.map((d) => d.name), [
      "0",
      "1",
      "XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000000",
      "XPU-0b5e6f8a-1c2d-4e3f-8a9b-000000000001",
      "all",
    ]);
    strictEqual(spec.cdiVersion, "0.5.0");
    deepStrictEqual(spec.containerEdits?.deviceNodes, [{ path: "/dev/xpuctl" }]);
    ok(spec.containerEdits?.mounts?.every((m) => m.options?.join(",") === "ro,nosuid,nodev,bind"));
  });
  await t.step("nvidia: UUIDs from /proc/driver/nvidia/gpus/*/information", () => {
    const names = generate("nvidia").devices.map((d) => d.name);
    ok(names.includes("GPU-6a3bd6c2-4c7e-43a6-9d0e-3f1ad2a2b001"));
    match(
      JSON.stringify(generate("nvidia").containerEdits?.deviceNodes),
      /nvidiactl.*nvidia-uvm".*nvidia-uvm-tools.*nvidia-modeset/,
    );
  });
  await t.step("amd: group-only nodes add their group, which needs 0.7.0", () => {
    const spec = generate("amd");
    strictEqual(spec.cdiVersion, "0.7.0");
    deepStrictEqual(spec.devices[0].containerEdits.additionalGids, [105]);
    deepStrictEqual(spec.containerEdits?.additionalGids, [105]);
  });
  await t.step("intel: card and render node per device, no UUIDs", () => {
    const spec = generate("intel");
    deepStrictEqual(spec.devices.map((d) => d.name), ["0", "all"]);
    deepStrictEqual(spec.devices[0].containerEdits.deviceNodes, [
      { path: "/dev/dri/card0" },
      { path: "/dev/dri/renderD128" },
    ]);
    deepStrictEqual(spec.devices[0].containerEdits.additionalGids, [44, 105]);
  });
  await t.step("no device found is an error naming the profile and the dev root", () => {
    throws(
      () =>
        generateCdiSpec({
          profile: BUILTIN_PROFILES.nvidia,
          fs: fixtureHostFs("xpu"),
          driverRoot: "/",
          kind: "nvidia.com/gpu",
          ctkPath: "/usr/bin/xpu-ctk",
        }),
      (e: unknown) =>
        e instanceof RequestError && /"nvidia" profile finds no device under "\/"/.test(e.message),
    );
  });
});

Deno.test('the management spec: one device "all" with every node, shared driver edits', async () => {
  const spec = generateManagementCdiSpec({
    profile: BUILTIN_PROFILES.xpu,
    fs: fixtureHostFs("xpu"),
    driverRoot: "/",
    kind: "management.xpu.dev/xpu",
    ctkPath: "/usr/local/xpu/toolkit/xpu-ctk",
  });
  const text = await formatCdiSpec(spec, "yaml");
  const golden = `${REPO_ROOT}/fixtures/cdi/xpu.management.yaml`;
  if (UPDATE) Deno.writeTextFileSync(golden, text);
  strictEqual(text, Deno.readTextFileSync(golden));
  deepStrictEqual(await parseCdiSpec(text, golden), spec);
  deepStrictEqual(spec.devices.map((d) => d.name), ["all"]);
  const regular = generate("xpu").containerEdits!;
  deepStrictEqual(spec.containerEdits?.deviceNodes, regular.deviceNodes);
  deepStrictEqual(spec.containerEdits?.mounts, regular.mounts);
  ok(spec.containerEdits?.hooks?.every((h) => h.path === "/usr/local/xpu/toolkit/xpu-ctk"));
});
