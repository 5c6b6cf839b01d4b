import assert from "node:assert/strict";
import { type Config, defaultConfig } from "../../src/core/config/config.ts";
import { RequestError } from "../../src/core/errors.ts";
import type { OciSpec } from "../../src/core/oci/oci_spec.ts";
import {
  decidePrestart,
  DIRECT_INVOCATION_ERROR,
  type PrestartDecision,
} from "../../src/hook/prestart_plan.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";

const ROOTFS = "/b/rootfs";
const PID = 42;
const UUID = "XPU-6b1e5a3c-0d2f-4c1e-9a8b-7f6e5d4c3b2a";

/** What the engine would write: the parts of config.json the hook reads, as a raw object. */
function makeSpec(
  env: string[],
  options: { bounding?: string[]; mounts?: { destination: string; source: string }[] } = {},
): OciSpec {
  return {
    ociVersion: "1.0.2",
    process: {
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...env],
      capabilities: { bounding: options.bounding ?? ["CAP_CHOWN", "CAP_KILL"] },
    },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      ...(options.mounts ?? []).map((m) => ({ ...m, type: "bind", options: ["rbind", "ro"] })),
    ],
    root: { path: "rootfs" },
  };
}

/** A copy of the defaults with `edit` applied. */
function configWith(edit?: (config: Config) => void): Config {
  const config = defaultConfig();
  edit?.(config);
  return config;
}

interface DecisionCase {
  name: string;
  input: {
    env: string[];
    bounding?: string[];
    mounts?: { destination: string; source: string }[];
    config?: (config: Config) => void;
    csvPlatform?: boolean;
  };
  expected: { decision: PrestartDecision; platformChecks: number };
}

const NO_XPU = "the container asks for no XPU";

const decisionCases: DecisionCase[] = [
  // --- whether there is a request at all ---
  {
    name: "no XPU_VISIBLE_DEVICES: skip",
    input: { env: ["HOME=/root"] },
    expected: { decision: { action: "skip", reason: NO_XPU }, platformChecks: 0 },
  },
  {
    name: "XPU_VISIBLE_DEVICES=void: skip",
    input: { env: ["XPU_VISIBLE_DEVICES=void"] },
    expected: { decision: { action: "skip", reason: NO_XPU }, platformChecks: 0 },
  },
  {
    name: "XPU_VISIBLE_DEVICES empty: skip",
    input: { env: ["XPU_VISIBLE_DEVICES="] },
    expected: { decision: { action: "skip", reason: NO_XPU }, platformChecks: 0 },
  },
  // --- devices ---
  {
    name: "all with the defaults (root / omitted)",
    input: { env: ["XPU_VISIBLE_DEVICES=all"] },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=all",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "none: no --device flag, capabilities still present",
    input: { env: ["XPU_VISIBLE_DEVICES=none"] },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "index list 0,1",
    input: { env: ["XPU_VISIBLE_DEVICES=0,1"] },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0,1",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "a UUID",
    input: { env: [`XPU_VISIBLE_DEVICES=${UUID}`] },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          `--device=${UUID}`,
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  // --- capabilities ---
  {
    name: "capabilities all: every supported one in canonical order",
    input: { env: ["XPU_VISIBLE_DEVICES=0", "XPU_DRIVER_CAPABILITIES=all"] },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compat32",
          "--compute",
          "--display",
          "--graphics",
          "--utility",
          "--video",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "capabilities video,compute: canonical order",
    input: { env: ["XPU_VISIBLE_DEVICES=0", "XPU_DRIVER_CAPABILITIES=video,compute"] },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--video",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "capabilities all bounded by supported-driver-capabilities",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0", "XPU_DRIVER_CAPABILITIES=all"],
      config: (c) => void (c.supportedDriverCapabilities = ["utility", "compute"]),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  // --- requirements ---
  {
    name: "XPU_REQUIRE_* collected sorted by variable name",
    input: {
      env: [
        "XPU_VISIBLE_DEVICES=0",
        "XPU_REQUIRE_B=driver>=2.0",
        "XPU_REQUIRE_A=arch=x86_64",
      ],
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--require=arch=x86_64",
          "--require=driver>=2.0",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "XPU_DISABLE_REQUIRE=true: no --require",
    input: {
      env: [
        "XPU_VISIBLE_DEVICES=0",
        "XPU_REQUIRE_B=driver>=2.0",
        "XPU_REQUIRE_A=arch=x86_64",
        "XPU_DISABLE_REQUIRE=true",
      ],
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "config disable-require: no --require",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0", "XPU_REQUIRE_A=arch=x86_64"],
      config: (c) => void (c.disableRequire = true),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  // --- config flags ---
  {
    name: "driver root: --root first",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      config: (c) => void (c.cli.root = "/run/xpu/driver"),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--root=/run/xpu/driver",
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "load-kmods false: no --load-kmods",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      config: (c) => void (c.cli.loadKmods = false),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "no-cgroups: --no-cgroups after --ldconfig",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      config: (c) => void (c.cli.noCgroups = true),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--no-cgroups",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "every global flag, empty ldconfig omitted",
    input: {
      env: ["XPU_VISIBLE_DEVICES=1"],
      config: (c) => {
        c.cli.root = "/run/xpu/driver";
        c.cli.debug = "/var/log/cli.log";
        c.cli.ldcache = "/etc/ld.so.cache";
        c.cli.user = "1000:44";
        c.cli.ldconfig = "";
        c.cli.noCgroups = true;
      },
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--root=/run/xpu/driver",
          "--load-kmods",
          "--debug=/var/log/cli.log",
          "--ldcache=/etc/ld.so.cache",
          "--user=1000:44",
          "configure",
          "--no-cgroups",
          "--device=1",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  // --- privileged / unprivileged ---
  {
    name: "unprivileged container when the envvar is not accepted unprivileged: skip",
    input: {
      env: ["XPU_VISIBLE_DEVICES=all"],
      config: (c) => void (c.acceptEnvvarUnprivileged = false),
    },
    expected: {
      decision: {
        action: "skip",
        reason: "Ignoring devices requested by XPU_VISIBLE_DEVICES in an unprivileged " +
          "container: accept-xpu-visible-devices-envvar-when-unprivileged is false",
      },
      platformChecks: 0,
    },
  },
  {
    name: "privileged container (CAP_SYS_ADMIN) when the envvar is not accepted unprivileged",
    input: {
      env: ["XPU_VISIBLE_DEVICES=all"],
      bounding: ["CAP_CHOWN", "CAP_SYS_ADMIN"],
      config: (c) => void (c.acceptEnvvarUnprivileged = false),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=all",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  // --- volume-mount requests ---
  {
    name: "volume-mount request when accepted",
    input: {
      env: [],
      mounts: [{ destination: "/var/run/xpu-container-devices/1", source: "/dev/null" }],
      config: (c) => void (c.acceptVolumeMounts = true),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=1",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "volume-mount request wins over the envvar when accepted",
    input: {
      env: ["XPU_VISIBLE_DEVICES=all"],
      mounts: [{ destination: "/var/run/xpu-container-devices/1", source: "/dev/null" }],
      config: (c) => void (c.acceptVolumeMounts = true),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=1",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 1,
    },
  },
  {
    name: "volume-mount request ignored by default",
    input: {
      env: [],
      mounts: [{ destination: "/var/run/xpu-container-devices/1", source: "/dev/null" }],
    },
    expected: { decision: { action: "skip", reason: NO_XPU }, platformChecks: 0 },
  },
  // --- mode check ---
  {
    name: "configured mode csv: refuse with 'Using requested mode'",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      config: (c) => void (c.runtime.mode = "csv"),
    },
    expected: {
      decision: {
        action: "refuse",
        lines: ["Using requested mode 'csv'", DIRECT_INVOCATION_ERROR],
      },
      platformChecks: 0,
    },
  },
  {
    name: "configured mode cdi: refuse",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      config: (c) => void (c.runtime.mode = "cdi"),
    },
    expected: {
      decision: {
        action: "refuse",
        lines: ["Using requested mode 'cdi'", DIRECT_INVOCATION_ERROR],
      },
      platformChecks: 0,
    },
  },
  {
    name: "configured mode legacy: configure without looking at the platform",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      csvPlatform: true,
      config: (c) => void (c.runtime.mode = "legacy"),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 0,
    },
  },
  {
    name: "auto on a CSV platform: refuse with 'Auto-detected mode as csv'",
    input: { env: ["XPU_VISIBLE_DEVICES=0"], csvPlatform: true },
    expected: {
      decision: {
        action: "refuse",
        lines: ["Auto-detected mode as 'csv'", DIRECT_INVOCATION_ERROR],
      },
      platformChecks: 1,
    },
  },
  {
    name: "auto on a CSV platform with skip-mode-detection: configure",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      csvPlatform: true,
      config: (c) => void (c.hook.skipModeDetection = true),
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 0,
    },
  },
  {
    name: "configured csv with skip-mode-detection: configure",
    input: {
      env: ["XPU_VISIBLE_DEVICES=0"],
      config: (c) => {
        c.runtime.mode = "csv";
        c.hook.skipModeDetection = true;
      },
    },
    expected: {
      decision: {
        action: "configure",
        args: [
          "--load-kmods",
          "configure",
          "--ldconfig=@/sbin/ldconfig",
          "--device=0",
          "--compute",
          "--utility",
          "--pid=42",
          "/b/rootfs",
        ],
      },
      platformChecks: 0,
    },
  },
  {
    name: "auto with only CDI names: refuse with 'Auto-detected mode as cdi'",
    input: { env: ["XPU_VISIBLE_DEVICES=xpu.dev/xpu=0"] },
    expected: {
      decision: {
        action: "refuse",
        lines: ["Auto-detected mode as 'cdi'", DIRECT_INVOCATION_ERROR],
      },
      platformChecks: 0,
    },
  },
  {
    name: "absent request on a CSV platform: skip without looking at the platform",
    input: { env: [], csvPlatform: true },
    expected: { decision: { action: "skip", reason: NO_XPU }, platformChecks: 0 },
  },
];

Deno.test("decidePrestart decides skip, refuse or the exact cli command line", async (t) => {
  for (const c of decisionCases) {
    await t.step(c.name, () => {
      let platformChecks = 0;
      const decision = decidePrestart({
        spec: makeSpec(c.input.env, { bounding: c.input.bounding, mounts: c.input.mounts }),
        rootfs: ROOTFS,
        pid: PID,
        config: configWith(c.input.config),
        isCsvPlatform: () => {
          platformChecks++;
          return c.input.csvPlatform ?? false;
        },
      });
      assert.deepStrictEqual(decision, c.expected.decision);
      assert.equal(platformChecks, c.expected.platformChecks, "isCsvPlatform calls");
    });
  }
});

Deno.test("decidePrestart on a cgroup v2 host: --bundle before --pid, for the cli's spec check", () => {
  const decision = decidePrestart({
    spec: makeSpec(["XPU_VISIBLE_DEVICES=0"]),
    rootfs: ROOTFS,
    bundle: "/b",
    pid: PID,
    config: configWith(),
    isCsvPlatform: () => false,
  });
  assert.equal(decision.action, "configure");
  const args = decision.action === "configure" ? decision.args : [];
  assert.deepStrictEqual(args.slice(-3), ["--bundle=/b", `--pid=${PID}`, ROOTFS]);
});

Deno.test("decidePrestart rejects capabilities the host does not offer", async (t) => {
  const cases: {
    name: string;
    input: { env: string[]; config?: (config: Config) => void };
    expected: { fragments: string[] };
  }[] = [
    {
      name: "unknown capability foo",
      input: { env: ["XPU_VISIBLE_DEVICES=0", "XPU_DRIVER_CAPABILITIES=compute,foo"] },
      expected: { fragments: ['"foo"', "XPU_DRIVER_CAPABILITIES"] },
    },
    {
      name: "known capability video the config does not support",
      input: {
        env: ["XPU_VISIBLE_DEVICES=0", "XPU_DRIVER_CAPABILITIES=video"],
        config: (c) => void (c.supportedDriverCapabilities = ["compute", "utility"]),
      },
      expected: { fragments: ['"video"', "XPU_DRIVER_CAPABILITIES"] },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = assertThrowsError(
        () =>
          decidePrestart({
            spec: makeSpec(c.input.env),
            rootfs: ROOTFS,
            pid: PID,
            config: configWith(c.input.config),
            isCsvPlatform: () => false,
          }),
        RequestError,
        c.expected.fragments[0],
      );
      for (const fragment of c.expected.fragments) {
        assert.ok(error.message.includes(fragment), `"${error.message}" names ${fragment}`);
      }
    });
  }
});
