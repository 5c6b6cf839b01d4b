/**
 * `xpu-ctk doctor` on a simulated host (root, for the device nodes): the lab's driver root and
 * config, a CDI spec written by `xpu-ctk cdi generate`, a daemon.json configured by
 * `xpu-ctk runtime configure --runtime docker` (no dockerd needed). The host is ready: every line
 * OK or WARN, exit 0, and `--json` says healthy. Then a device node goes and the handler is taken
 * out of daemon.json by hand: the CDI spec is stale and the engine's handler is missing, each a FIX
 * line with its fix, and one error line says how many, exit 1.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { XPU_PROFILE } from "../../src/core/device/device_profile.ts";
import { type Lab, labTest, presentKernelModule } from "../helpers/lab.ts";
import { runTool, toolArgv, writeToolWrapper } from "../helpers/toolkit_commands.ts";

const ORIGINAL = `{
  "log-level": "warn",
  "debug": false
}
`;

/**
 * The xpu profile as a config-defined one whose kernel module is one this machine has, so the
 * module check can pass on a host without the xpu driver.
 */
function profileToml(module: string): string {
  const p = XPU_PROFILE;
  const lines = [
    "[profiles.xpu]",
    `kernel-module = ${JSON.stringify(module)}`,
    `device-nodes = ${JSON.stringify(p.deviceNodes)}`,
    `index-from = ${JSON.stringify(p.indexFrom)}`,
    `control-nodes = ${JSON.stringify(p.controlNodes)}`,
    `uuid-file = ${JSON.stringify(p.identity.uuid)}`,
    `name-file = ${JSON.stringify(p.identity.name)}`,
    `version-library = ${JSON.stringify(p.versionLibrary)}`,
  ];
  for (const group of p.driverFiles) {
    lines.push(
      "[[profiles.xpu.driver-files]]",
      `capabilities = ${JSON.stringify(group.capabilities)}`,
      `dirs = ${JSON.stringify(group.dirs)}`,
      `patterns = ${JSON.stringify(group.patterns)}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The report's lines as `[status, check, rest]`. */
function reportLines(stdout: string): [string, string, string][] {
  return stdout.split("\n").filter((l) => l !== "").map((line) => {
    const m = /^(OK|WARN|FIX) +([^:]+): (.*)$/.exec(line);
    ok(m, `a report line: ${line}`);
    return [m[1], m[2], m[3]];
  });
}

function ctk(lab: Lab, args: string[]) {
  return runTool(toolArgv("xpu-ctk"), { args, env: lab.env });
}

const MODULE = presentKernelModule();

await labTest(
  "doctor: a simulated host with docker configured is ready; a stale spec and a lost handler are FIX lines",
  ["root", "runc"],
  { mode: "auto", extra: profileToml(MODULE) },
  async (lab) => {
    const spec = `${lab.cdiDir}/xpu.yaml`;
    const generated = await ctk(lab, ["cdi", "generate", "--output", spec]);
    strictEqual(generated.code, 0, generated.stderr);

    const daemonJson = `${lab.dir}/daemon.json`;
    Deno.writeTextFileSync(daemonJson, ORIGINAL);
    const stateDir = `${lab.dir}/revert`;
    const shim = writeToolWrapper("xpu-container-runtime", `${lab.dir}/tools`);
    const engine = ["--runtime", "docker", "--config", daemonJson, "--state-dir", stateDir];
    const configured = await ctk(lab, [
      "runtime",
      "configure",
      ...engine,
      "--runtime-path",
      shim,
      "--restart-mode",
      "none",
    ]);
    strictEqual(configured.code, 0, configured.stderr);

    const ready = await ctk(lab, ["doctor", ...engine]);
    strictEqual(ready.code, 0, ready.stdout + ready.stderr);
    strictEqual(ready.stderr, "");
    const lines = reportLines(ready.stdout);
    deepStrictEqual(lines.filter(([status]) => status === "FIX"), []);
    const line = (check: string) => {
      const found = lines.filter(([, c]) => c === check).map(([s, , rest]) => `${s} ${rest}`);
      strictEqual(found.length, 1, `one ${check} line: ${ready.stdout}`);
      return found[0];
    };
    match(line("config"), new RegExp(`^OK "${lab.configPath}": profile "xpu", mode "auto"`));
    match(line("devices"), new RegExp(`^OK 2 under "${lab.driverRoot}" \\(profile "xpu"\\)`));
    match(line("driver files"), /^OK \d+ under .*, driver version "1\.0\.0"$/);
    strictEqual(line("kernel module"), `OK "${MODULE}" is loaded`);
    match(line("runtimes"), /^OK "\/[^"]*\/runc" \(the first usable of "runc"\)$/);
    strictEqual(line("[xpu-container-runtime-hook] path"), `OK "${lab.tools.hook}"`);
    strictEqual(line("[xpu-container-cli] path"), `OK "${lab.tools.cli}"`);
    strictEqual(line("[xpu-ctk] path"), `OK "${lab.tools.ctk}"`);
    strictEqual(
      line("engine docker"),
      `OK "${daemonJson}": handlers "xpu" ("${shim}"); default runtime "runc"`,
    );
    strictEqual(line("CDI spec dirs"), `OK "${lab.cdiDir}" (1 valid spec)`);
    match(line("CDI spec"), new RegExp(`^OK "${spec}": valid and fresh \\(kind "xpu\\.dev/xpu"`));
    match(line("cgroup"), /^OK v[12]/);

    const json = await ctk(lab, ["doctor", ...engine, "--json"]);
    strictEqual(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    strictEqual(doc.healthy, true);
    deepStrictEqual(
      doc.checks.map((c: { check: string }) => c.check),
      lines.map(([, check]) => check),
    );

    // A device gone from the host, and our handler taken out of daemon.json by hand.
    Deno.removeSync(`${lab.driverRoot}/dev/xpu1`);
    Deno.writeTextFileSync(daemonJson, ORIGINAL);
    const broken = await ctk(lab, ["doctor", ...engine]);
    strictEqual(broken.code, 1, broken.stdout + broken.stderr);
    const node = (index: number) => `${lab.driverRoot}/dev/xpu${index}`;
    const fixes = reportLines(broken.stdout).filter(([status]) => status === "FIX");
    deepStrictEqual(fixes.map(([, check]) => check), ["engine docker", "CDI spec"]);
    strictEqual(
      fixes[0][2],
      `handlers "xpu" are not as xpu-ctk configured them: a configure would change ` +
        `"${daemonJson}": re-run "xpu-ctk runtime configure --runtime docker" (or setup) with ` +
        `the flags used before`,
    );
    match(
      fixes[1][2],
      new RegExp(
        `^"${spec}" is stale: devices no longer on the host: "1", "XPU-[^"]+"; device "all" ` +
          `has nodes "${node(0)}" now, the spec "${node(0)}", "${node(1)}": regenerate it: run ` +
          `"xpu-ctk cdi generate --output ${spec}"$`,
      ),
    );
    strictEqual(
      broken.stderr,
      `xpu-ctk: Cannot call this host ready: 2 checks need a fix: apply the fixes reported and ` +
        `re-run "xpu-ctk doctor"\n`,
    );
    // The doctor only reads: the files are as they were.
    strictEqual(Deno.readTextFileSync(daemonJson), ORIGINAL);
  },
);
