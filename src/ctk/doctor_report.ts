/**
 * `xpu-ctk doctor`'s judgement, pure: the facts `doctor_facts.ts` gathered become one line per
 * check — OK, WARN (worth knowing, nothing to fix, or a check that needs root) or FIX (with the
 * fix) — rendered as text or as JSON.
 *
 * @module
 */

import type { CdiEdits, CdiSpec } from "../core/cdi/cdi_spec.ts";
import { hooksWithoutEnv, hookWithoutEnvWarning } from "../core/cdi/cdi_spec.ts";
import type { Mode } from "../core/config/config.ts";
import { describeDevices } from "../core/device/device_discovery.ts";
import { quoted } from "../core/errors.ts";
import type {
  CdiFacts,
  DoctorFacts,
  EngineFacts,
  EngineFiles,
  Failure,
  Probe,
  ProgramFacts,
  RuntimeServerFacts,
} from "./doctor_facts.ts";

/** How a check came out. */
export type DoctorStatus = "ok" | "warn" | "fix";

/** One line of the report. */
export interface DoctorLine {
  status: DoctorStatus;
  /** What was checked: `devices`, `engine docker`, `[xpu-ctk] path`. */
  check: string;
  /** What was found (values in double quotes). */
  detail: string;
  /** What to do, for a FIX or WARN that has a remedy. */
  fix?: string;
}

/** The modes that run each program (`auto` may pick any of them). */
const NEEDED_IN: Readonly<Record<"hook" | "cli" | "ctk", readonly Mode[]>> = {
  hook: ["legacy"],
  cli: ["legacy"],
  // csv mode's hooks, and the hooks `cdi generate` writes into specs.
  ctk: ["csv", "cdi"],
};

const AS_ROOT = `run "xpu-ctk doctor" as root`;

/** A list of values for a message, each quoted, at most `max` shown. */
function quotedList(values: readonly string[], max = 5): string {
  const shown = values.slice(0, max).map(quoted).join(", ");
  return values.length > max ? `${shown} and ${values.length - max} more` : shown;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The line for a check that could not run: WARN when only root may read, else FIX. */
function failed(check: string, failure: Failure): DoctorLine {
  return failure.denied
    ? { status: "warn", check, detail: `cannot check: ${failure.reason}`, fix: AS_ROOT }
    : { status: "fix", check, detail: failure.reason };
}

interface Context {
  facts: DoctorFacts;
  /** `in "<config path>"`, for fixes that name a key. */
  inConfig: string;
}

function configLines({ facts }: Context): DoctorLine[] {
  const { config: file, profile } = facts;
  const mode = file.config.runtime.mode;
  let modeText = `mode ${quoted(mode)}`;
  if (mode === "auto" && facts.csvPlatform.ok) {
    modeText += ` (on this host: cdi for CDI names, else ${
      facts.csvPlatform.value ? "csv" : "legacy"
    })`;
  }
  const settings = `profile ${quoted(profile.name)}, ${modeText}`;
  if (file.failure) {
    const line = failed("config", file.failure);
    line.detail += " (the checks below use the built-in defaults)";
    return [line];
  }
  const lines: DoctorLine[] = [{
    status: "ok",
    check: "config",
    detail: file.found
      ? `${quoted(file.path)}: ${settings}`
      : `${quoted(file.path)} does not exist, so the built-in defaults apply: ${settings}`,
  }];
  for (const warning of file.warnings) {
    lines.push({ status: "warn", check: "config", detail: warning });
  }
  return lines;
}

/** Where to change the driver root: the flag given, or the config key. */
function rootFix(ctx: Context): string {
  return ctx.facts.driverRoot.fromFlag
    ? "pass the driver's root as --driver-root"
    : `set [xpu-container-cli] root ${ctx.inConfig} or pass --driver-root`;
}

function driverRootLines(ctx: Context): { lines: DoctorLine[]; usable: boolean } {
  const { path, kind } = ctx.facts.driverRoot;
  const check = "driver root";
  if (!kind.ok) return { lines: [failed(check, kind.failure)], usable: false };
  if (kind.value === "dir") {
    return { lines: [{ status: "ok", check, detail: quoted(path) }], usable: true };
  }
  const detail = kind.value === undefined
    ? `${quoted(path)} does not exist`
    : `${quoted(path)} is a ${kind.value}, not a directory`;
  return { lines: [{ status: "fix", check, detail, fix: rootFix(ctx) }], usable: false };
}

function deviceLines(ctx: Context): DoctorLine[] {
  const { devices, driverFiles, profile, driverRoot } = ctx.facts;
  const root = quoted(driverRoot.path);
  const lines: DoctorLine[] = [];
  if (!devices.ok) lines.push(failed("devices", devices.failure));
  else if (devices.value.devices.length === 0) {
    lines.push({
      status: "fix",
      check: "devices",
      detail: `the ${quoted(profile.name)} profile finds no device under ${root} ` +
        `(${quotedList(profile.deviceNodes)})`,
      fix: `load the driver, or ${rootFix(ctx)}, or choose another [xpu-container-cli] profile`,
    });
  } else {
    const { devices: found, controlNodes } = devices.value;
    const control = controlNodes.length === 0
      ? "no control nodes"
      : `control nodes ${quotedList(controlNodes.map((n) => n.path))}`;
    lines.push({
      status: "ok",
      check: "devices",
      detail: `${found.length} under ${root} (profile ${quoted(profile.name)}): ` +
        `${describeDevices(found)}; ${control}`,
    });
  }
  if (!driverFiles.ok) lines.push(failed("driver files", driverFiles.failure));
  else if (driverFiles.value.files.length === 0) {
    const patterns = [...new Set(profile.driverFiles.flatMap((g) => g.patterns))];
    lines.push({
      status: "fix",
      check: "driver files",
      detail: `the ${quoted(profile.name)} profile finds none under ${root} ` +
        `(${quotedList(patterns)})`,
      fix: `install the driver's user-space files, or ${rootFix(ctx)}`,
    });
  } else {
    const { files, version } = driverFiles.value;
    lines.push({
      status: "ok",
      check: "driver files",
      detail: `${files.length} under ${root}, driver version ` +
        (version === undefined ? "unknown" : quoted(version)),
    });
  }
  return lines;
}

function programLine(
  program: ProgramFacts,
  options: { neededIn: readonly Mode[]; ctx: Context },
): DoctorLine {
  const { key, configured, found } = program;
  if (found !== undefined) {
    const detail = configured === found || configured === ""
      ? quoted(found)
      : `${quoted(configured)} is ${quoted(found)}`;
    return { status: "ok", check: key, detail };
  }
  let detail: string;
  if (program.problem === "relative") {
    detail = `${quoted(configured)} is a relative path, which runc would resolve in the ` +
      `container's directory`;
  } else if (configured.startsWith("/")) {
    detail = `${quoted(configured)} is not an executable file`;
  } else if (configured === "") {
    detail = `it is not set, and there is no executable at ${quoted(program.searched ?? "")}`;
  } else {
    detail = `${quoted(configured)} is not an executable in PATH or the standard dirs`;
  }
  const mode = options.ctx.facts.config.config.runtime.mode;
  const needed = mode === "auto" || options.neededIn.includes(mode);
  if (!needed) detail += ` (only ${options.neededIn.join(" and ")} mode run it)`;
  return {
    status: needed ? "fix" : "warn",
    check: key,
    detail,
    fix: `install it, or set ${key} ${options.ctx.inConfig} to the absolute path of the ` +
      `installed program`,
  };
}

function programLines(ctx: Context): DoctorLine[] {
  const { runtimes, programs } = ctx.facts;
  const runtimeLine: DoctorLine = runtimes.found !== undefined
    ? {
      status: "ok",
      check: "runtimes",
      detail: `${quoted(runtimes.found)} (the first usable of ${quotedList(runtimes.candidates)})`,
    }
    : {
      status: "fix",
      check: "runtimes",
      detail: `none of ${
        quotedList(runtimes.candidates)
      } is an executable in PATH or the standard dirs`,
      fix: `install one, or set [xpu-container-runtime] runtimes ${ctx.inConfig}`,
    };
  return [
    runtimeLine,
    programLine(programs.hook, { neededIn: NEEDED_IN.hook, ctx }),
    programLine(programs.cli, { neededIn: NEEDED_IN.cli, ctx }),
    programLine(programs.ctk, { neededIn: NEEDED_IN.ctk, ctx }),
  ];
}

/**
 * One line per module cache dir the handlers' bundled launchers use: OK when it is root's and no
 * one else may write it, WARN when the launchers pass it by (every create then parses the
 * bundle's modules again), FIX when others may write what Deno loads as root.
 */
function moduleCacheLines(handlers: EngineFiles["handlers"]): DoctorLine[] {
  const check = "module cache";
  const cached = handlers.flatMap((h) => h.moduleCache === undefined ? [] : [h]);
  return groupHandlers(cached, (h) => h.moduleCache!.dir).map(({ first, who }): DoctorLine => {
    const { dir, problem } = first.moduleCache!;
    if (problem === undefined) {
      return {
        status: "ok",
        check,
        detail: `${who}: Deno keeps what it learns of the toolkit's modules in ${quoted(dir)}`,
      };
    }
    if (problem.kind === "unsafe") {
      return {
        status: "fix",
        check,
        detail: `${who}: ${quoted(dir)}: ${problem.detail}, so whoever writes there chooses ` +
          "the code the toolkit runs as root",
        fix: `make it root's alone: "chown root:root ${dir} && chmod 0700 ${dir}"`,
      };
    }
    return {
      status: "warn",
      check,
      detail: `${who}: ${quoted(dir)} is not used: ${problem.detail}, so every create parses ` +
        "the toolkit's modules again (about 20–30 ms)",
      fix: problem.kind === "missing"
        ? `create it: "mkdir -m 0700 ${dir}"`
        : `put a directory of root's there, mode 0700, or reinstall`,
    };
  });
}

/**
 * The handlers grouped by `keyOf` (handlers that share a record or a dir are named together, in
 * order): each group's first handler and the words that name them all.
 */
function groupHandlers<H extends EngineFiles["handlers"][number]>(
  handlers: readonly H[],
  keyOf: (handler: H) => string,
): { first: H; who: string }[] {
  const groups = new Map<string, { first: H; names: string[]; paths: string[] }>();
  for (const handler of handlers) {
    const key = keyOf(handler);
    const group = groups.get(key) ?? { first: handler, names: [], paths: [] };
    group.names.push(handler.name);
    if (!group.paths.includes(handler.path)) group.paths.push(handler.path);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ first, names, paths }) => ({
    first,
    who: `${names.length === 1 ? "handler" : "handlers"} ${quotedList(names, 10)} ` +
      `(${quotedList(paths, 3)})`,
  }));
}

/**
 * One line per fast-path record the handlers' launchers use (handlers that share one are named
 * together): OK while it is current, WARN when the shim takes the next (or every) call, FIX when
 * the shim cannot write it, so every call starts Deno.
 */
function fastPathLines(handlers: EngineFiles["handlers"]): DoctorLine[] {
  const check = "fast path";
  const withFastPath = handlers.flatMap((h) => h.fastPath === undefined ? [] : [h]);
  const key = (handler: EngineFiles["handlers"][number]) => {
    const facts = handler.fastPath!;
    return facts.kind === "record" ? facts.record : `${facts.kind}:${handler.path}`;
  };
  return groupHandlers(withFastPath, key).map(({ first, who }): DoctorLine => {
    const facts = first.fastPath!;
    switch (facts.kind) {
      case "unreadable":
        return failed(check, facts.failure);
      case "none":
        return {
          status: "warn",
          check,
          detail: `${who}: no launcher with the fast path, so every runtime call starts the shim ` +
            `(Deno), not only create`,
          fix: "point the handlers at the installer's wrappers, the .deb's /usr/bin " +
            "xpu-container-runtime or the bundled artefact's launcher",
        };
      case "unknown":
        return {
          status: "warn",
          check,
          detail: `${who}: a fast path whose record cannot be told from the script`,
        };
    }
    const record = quoted(facts.record);
    const dir = quoted(facts.record.slice(0, facts.record.lastIndexOf("/")) || "/");
    if (!facts.dirExists) {
      return {
        status: "fix",
        check,
        detail: `${who}: the record's dir ${dir} does not exist, so the shim cannot write ` +
          `${record} and every runtime call starts Deno`,
        fix: `create it: "mkdir -p -m 0755 ${
          facts.record.slice(0, facts.record.lastIndexOf("/"))
        }"`,
      };
    }
    const config = quoted(facts.configPath ?? "");
    switch (facts.state) {
      case "current":
        return {
          status: "ok",
          check,
          detail: `${who}: calls other than create go straight to the low-level runtime ` +
            `(record ${record}, current for ${config})`,
        };
      case "off":
        return {
          status: "warn",
          check,
          detail: `${who}: the shim takes every call (record ${record}): ${facts.offReason}`,
          fix: facts.offReason?.startsWith("log-level")
            ? `set [xpu-container-runtime] log-level back to "info" in ${config} when done`
            : undefined,
        };
      default:
        return {
          status: "warn",
          check,
          detail: `${who}: the record ${record} is ${
            facts.state === "stale"
              ? `out of date with ${config}`
              : facts.state === "missing"
              ? "not written yet"
              : "not a record of this version"
          }: the next call that is not a create goes to the shim, which rewrites it`,
        };
    }
  });
}

function engineLines(engine: EngineFacts): DoctorLine[] {
  const check = `engine ${engine.engine}`;
  const configure = quoted(`xpu-ctk runtime configure --runtime ${engine.engine}`);
  if (!engine.files.ok) return [failed(check, engine.files.failure)];
  const files = engine.files.value;
  if (files === undefined) {
    return [{
      status: "fix",
      check,
      detail: `${quoted(engine.config)} does not exist`,
      fix: `run ${configure}, or pass --config with the engine's config file`,
    }];
  }
  const lines: DoctorLine[] = [];
  if (files.pendingJournal !== undefined) {
    lines.push({
      status: "fix",
      check,
      detail: `an interrupted change is pending in ${quoted(files.pendingJournal)}`,
      fix:
        `re-run the "xpu-ctk runtime" command that was interrupted: it finishes the change first`,
    });
  }
  const defaultRuntime = files.defaultRuntime === undefined
    ? "default runtime not named"
    : `default runtime ${quoted(files.defaultRuntime.name)}`;
  if (files.handlers.length > 0) {
    const names = quotedList(files.handlers.map((h) => h.name), 10);
    if (files.drift.length > 0) {
      lines.push({
        status: "fix",
        check,
        detail: `handlers ${names} are not as xpu-ctk configured them: a configure would ` +
          `change ${quotedList(files.drift)}`,
        fix: `re-run ${configure} (or setup) with the flags used before`,
      });
    }
    for (const handler of files.handlers.filter((h) => !h.executable)) {
      lines.push({
        status: "fix",
        check,
        detail: `handler ${quoted(handler.name)} runs ${quoted(handler.path)}, which is not an ` +
          `executable file`,
        fix: `install the toolkit there, or configure the handler again with --runtime-path ` +
          `(setup: RUNTIME_DIR)`,
      });
    }
    if (lines.length === 0) {
      const listed = files.handlers.map((h) => `${quoted(h.name)} (${quoted(h.path)})`);
      lines.push({
        status: "ok",
        check,
        detail: `${quoted(files.recordedIn ?? engine.config)}: handlers ${listed.join(", ")}; ` +
          defaultRuntime,
      });
    }
    lines.push(...fastPathLines(files.handlers));
    lines.push(...moduleCacheLines(files.handlers));
  }
  if (files.hookFile !== undefined) {
    const { path, state } = files.hookFile;
    const hookConfigure = quoted(
      `xpu-ctk runtime configure --runtime ${engine.engine} --config-mode hook`,
    );
    lines.push(
      state === "as-written"
        ? { status: "ok", check, detail: `hook file ${quoted(path)} is as xpu-ctk wrote it` }
        : state === "missing"
        ? {
          status: "fix",
          check,
          detail: `hook file ${quoted(path)} that xpu-ctk wrote is gone`,
          fix: `run ${hookConfigure}`,
        }
        : {
          status: "warn",
          check,
          detail: `hook file ${quoted(path)} was edited since xpu-ctk wrote it`,
          fix: `if containers no longer get their XPUs, run ${hookConfigure}`,
        },
    );
  }
  if (files.handlers.length === 0 && files.hookFile === undefined) {
    lines.push({
      status: engine.chosen ? "fix" : "warn",
      check,
      detail: `${quoted(engine.config)} has no handler that xpu-ctk configured (no revert ` +
        `memory in ${quoted(files.stateDir)}); ${defaultRuntime}`,
      fix: `run ${configure} (or setup), or pass --state-dir where it kept its memories`,
    });
  }
  return lines;
}

function enginesLines(ctx: Context): DoctorLine[] {
  const { engines, enginesSearched } = ctx.facts;
  if (engines.length === 0) {
    return [{
      status: "warn",
      check: "engines",
      detail: `no engine config found (${quotedList(enginesSearched)})`,
      fix: "pass --runtime (and --config) to check an engine",
    }];
  }
  return engines.flatMap(engineLines);
}

/**
 * One edit's device nodes as the host paths they are made from, sorted: what must still be on
 * the host (a generated spec's container paths follow from them).
 */
function nodesOf(edits: CdiEdits | undefined): string[] {
  return (edits?.deviceNodes ?? []).map((n) => n.hostPath ?? n.path).sort();
}

/** One edit's mounts as their host paths, sorted: the driver files. */
function mountsOf(edits: CdiEdits | undefined): string[] {
  return (edits?.mounts ?? []).map((m) => m.hostPath).sort();
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * How the spec on disk differs from the one the host would get now: device names, each device's
 * nodes, the common (control) nodes and the driver files mounted. Empty: it is fresh.
 */
export function cdiSpecDrift(onDisk: CdiSpec, now: CdiSpec): string[] {
  const devices = (spec: CdiSpec) =>
    new Map(spec.devices.map((d) => [d.name, nodesOf(d.containerEdits)]));
  const [was, is] = [devices(onDisk), devices(now)];
  const drift: string[] = [];
  const gone = [...was.keys()].filter((name) => !is.has(name));
  const added = [...is.keys()].filter((name) => !was.has(name));
  if (gone.length > 0) drift.push(`devices no longer on the host: ${quotedList(gone)}`);
  if (added.length > 0) drift.push(`devices missing from the spec: ${quotedList(added)}`);
  for (const [name, nodes] of was) {
    const current = is.get(name);
    if (current !== undefined && !sameList(nodes, current)) {
      drift.push(
        `device ${quoted(name)} has nodes ${quotedList(current)} now, the spec ` +
          (nodes.length === 0 ? "none" : quotedList(nodes)),
      );
    }
  }
  const [wasNodes, isNodes] = [nodesOf(onDisk.containerEdits), nodesOf(now.containerEdits)];
  if (!sameList(wasNodes, isNodes)) {
    drift.push(
      `control nodes ${isNodes.length === 0 ? "none" : quotedList(isNodes)} now, the spec ` +
        (wasNodes.length === 0 ? "none" : quotedList(wasNodes)),
    );
  }
  const [wasMounts, isMounts] = [mountsOf(onDisk.containerEdits), mountsOf(now.containerEdits)];
  const oldFiles = wasMounts.filter((m) => !isMounts.includes(m));
  const newFiles = isMounts.filter((m) => !wasMounts.includes(m));
  if (oldFiles.length > 0) {
    drift.push(`driver files no longer on the host: ${quotedList(oldFiles)}`);
  }
  if (newFiles.length > 0) {
    drift.push(`driver files missing from the spec: ${quotedList(newFiles)}`);
  }
  return drift;
}

/** `xpu-ctk cdi generate …` that rewrites `output` for this host. */
function generateCommand(output: string, ctx: Context): string {
  const root = ctx.facts.driverRoot;
  return quoted(
    `xpu-ctk cdi generate${root.fromFlag ? ` --driver-root ${root.path}` : ""} --output ${output}`,
  );
}

function specDirsLine(cdi: CdiFacts): DoctorLine {
  const described = cdi.dirs.map((dir, priority) => {
    if (dir.state !== "dir") return `${quoted(dir.path)} (${dir.state})`;
    const specs = cdi.registry.sources.filter((s) => s.priority === priority).length;
    return `${quoted(dir.path)} (${plural(specs, "valid spec")})`;
  });
  const check = "CDI spec dirs";
  const detail = described.join(", ");
  const wrong = cdi.dirs.filter((d) => d.state === "not a directory").map((d) => d.path);
  if (wrong.length > 0) {
    return {
      status: "fix",
      check,
      detail,
      fix: `remove ${quotedList(wrong)} or take it out of [xpu-container-runtime.modes.cdi] ` +
        `spec-dirs`,
    };
  }
  if (cdi.dirs.some((d) => d.state === "unreadable")) {
    return { status: "warn", check, detail, fix: AS_ROOT };
  }
  return { status: "ok", check, detail };
}

function cdiLines(ctx: Context): DoctorLine[] {
  const { cdi } = ctx.facts;
  const lines: DoctorLine[] = [specDirsLine(cdi)];
  const check = "CDI spec";
  for (const message of new Set(cdi.registry.errors.map((e) => e.message))) {
    lines.push(
      message.startsWith("conflicting device")
        ? { status: "fix", check, detail: message, fix: "remove one of the two specs" }
        : { status: "fix", check, detail: message },
    );
  }
  for (const s of cdi.registry.shadowed) {
    lines.push({
      status: "warn",
      check,
      detail: `${quoted(s.name)} from ${quoted(s.winner)} shadows the one in ${quoted(s.hidden)}`,
      fix: "remove the spec that is not used",
    });
  }
  let ofKind = 0;
  for (const source of cdi.registry.sources) {
    const { path, spec } = source;
    for (const hook of hooksWithoutEnv(spec)) {
      lines.push({ status: "warn", check, detail: hookWithoutEnvWarning(path, hook) });
    }
    const summary = `kind ${quoted(spec.kind)}, ${plural(spec.devices.length, "device")}`;
    if (spec.kind !== cdi.kind) {
      lines.push({
        status: "ok",
        check,
        detail: `${quoted(path)}: valid (${summary}; not the default kind ${
          quoted(cdi.kind)
        }, so not compared with this host)`,
      });
      continue;
    }
    ofKind++;
    lines.push(freshnessLine(source.path, spec, { expected: cdi.expected, ctx }));
  }
  if (ofKind === 0) {
    const dirs = cdi.dirs.map((d) => d.path);
    const output = `${(dirs[dirs.length - 1] ?? "/var/run/cdi").replace(/\/+$/, "")}/xpu.yaml`;
    const mode = ctx.facts.config.config.runtime.mode;
    lines.push({
      status: mode === "cdi" ? "fix" : "warn",
      check,
      detail: `no spec of kind ${quoted(cdi.kind)} in ${quotedList(dirs)}` +
        (mode === "cdi" ? "" : " (requests by CDI name, and the xpu-cdi handler, need one)"),
      fix: `run ${generateCommand(output, ctx)}`,
    });
  }
  return lines;
}

function freshnessLine(
  path: string,
  spec: CdiSpec,
  options: { expected: Probe<CdiSpec>; ctx: Context },
): DoctorLine {
  const check = "CDI spec";
  const summary = `kind ${quoted(spec.kind)}, ${plural(spec.devices.length, "device")}`;
  const fix = `regenerate it: run ${generateCommand(path, options.ctx)}`;
  const { expected } = options;
  if (!expected.ok) {
    if (expected.failure.denied) return failed(check, expected.failure);
    return {
      status: "fix",
      check,
      detail: `${quoted(path)} (${summary}) is stale: ${expected.failure.reason}`,
    };
  }
  const drift = cdiSpecDrift(spec, expected.value);
  if (drift.length === 0) {
    return { status: "ok", check, detail: `${quoted(path)}: valid and fresh (${summary})` };
  }
  return { status: "fix", check, detail: `${quoted(path)} is stale: ${drift.join("; ")}`, fix };
}

function kernelModuleLine(ctx: Context): DoctorLine {
  const { kernelModule, profile } = ctx.facts;
  const check = "kernel module";
  if (!kernelModule.ok) return failed(check, kernelModule.failure);
  const { name, loaded } = kernelModule.value;
  if (name === "") {
    return { status: "ok", check, detail: `the ${quoted(profile.name)} profile names none` };
  }
  if (loaded) return { status: "ok", check, detail: `${quoted(name)} is loaded` };
  return {
    status: "fix",
    check,
    detail: `${quoted(name)} is not loaded (no ${quoted(`/sys/module/${name}`)}, not in ` +
      `"/proc/modules")`,
    fix: `load the driver: ${quoted(`modprobe ${profile.kernelModule}`)}`,
  };
}

function cgroupLine(ctx: Context): DoctorLine {
  const { cgroup, engines } = ctx.facts;
  const check = "cgroup";
  if (!cgroup.ok) return failed(check, cgroup.failure);
  const value = cgroup.value;
  if (value.version === 1) {
    return {
      status: "ok",
      check,
      detail: "v1 devices controller: in legacy mode xpu-container-cli grants each device " +
        "through devices.allow",
    };
  }
  if (value.version === "none") {
    return {
      status: "warn",
      check,
      detail: "no device cgroup is visible to this process, so how device access is granted " +
        "cannot be told",
      fix: `run "xpu-ctk doctor" on the host, not in a container`,
    };
  }
  const detail = "v2: device access is the eBPF program the runtime builds from the spec's " +
    "rules; legacy mode through xpu-container-runtime adds them, a prestart hook alone cannot";
  const hookOnly = engines.filter((e) => e.files.ok && e.files.value?.hookFile !== undefined);
  if (hookOnly.length === 0) return { status: "ok", check, detail };
  return {
    status: "warn",
    check,
    detail: `${detail}, and ${quotedList(hookOnly.map((e) => e.engine))} ${
      hookOnly.length === 1 ? "runs" : "run"
    } the hook alone`,
    fix: "run those containers through xpu-container-runtime, or use CDI",
  };
}

/** Judges the facts: one line per check, in the order an operator fixes a host. */
export function doctorReport(facts: DoctorFacts): DoctorLine[] {
  const ctx: Context = { facts, inConfig: `in ${quoted(facts.config.path)}` };
  const root = driverRootLines(ctx);
  return [
    ...configLines(ctx),
    ...root.lines,
    ...(root.usable ? deviceLines(ctx) : []),
    kernelModuleLine(ctx),
    ...programLines(ctx),
    ...enginesLines(ctx),
    runtimeServerLine(ctx.facts.runtimeServer),
    ...cdiLines(ctx),
    cgroupLine(ctx),
  ];
}

/**
 * The runtime server: OK when none is meant to run (it is optional) or one listens, FIX when the
 * shims would not trust its socket, WARN for a socket no one listens on.
 */
function runtimeServerLine(facts: RuntimeServerFacts): DoctorLine {
  const check = "runtime server";
  if (facts.kind === "off") {
    return {
      status: "ok",
      check,
      detail:
        "XPU_RUNTIME_SERVER_SOCKET is empty here, so shims with this environment never ask one",
    };
  }
  const at = quoted(facts.socket);
  switch (facts.kind) {
    case "absent":
      return {
        status: "ok",
        check,
        detail: `none on ${at} (optional): every create through the shim starts it cold; ` +
          `"xpu-ctk runtime-server" serves them warm`,
      };
    case "listening":
      return {
        status: "ok",
        check,
        detail: `listening on ${at}: creates through the shim are served warm`,
      };
    case "stale":
      return {
        status: "warn",
        check,
        detail: `${at} is a socket no server listens on: the shims do the work themselves ` +
          `(start "xpu-ctk runtime-server", which replaces it, or remove it)`,
      };
    case "untrusted":
      return {
        status: "fix",
        check,
        detail: `${at}: ${facts.reason}, so the shims will not ask the server there`,
        fix: "make every directory of the path root's and writable by no one else " +
          '("chmod go-w"), or give "xpu-ctk runtime-server --socket" another path and the ' +
          "engines XPU_RUNTIME_SERVER_SOCKET",
      };
  }
}

const LABELS: Readonly<Record<DoctorStatus, string>> = {
  ok: "OK    ",
  warn: "WARN  ",
  fix: "FIX   ",
};

/**
 * The report as text (`OK    <check>: <detail>`, `FIX   <check>: <detail>: <fix>`) or as one
 * JSON document (`{"healthy": …, "checks": [{status, check, detail, fix?}]}`).
 */
export function renderDoctorReport(
  lines: readonly DoctorLine[],
  options: { json: boolean },
): string {
  if (options.json) {
    const healthy = !lines.some((l) => l.status === "fix");
    return JSON.stringify({ healthy, checks: lines }, null, 2) + "\n";
  }
  return lines
    .map((l) => `${LABELS[l.status]}${l.check}: ${l.detail}${l.fix ? `: ${l.fix}` : ""}\n`)
    .join("");
}
