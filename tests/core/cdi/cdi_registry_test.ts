/**
 * The spec-dir registry, carrying over the CDI reference's cache_test cases: priorities by dir
 * index (a later dir shadows an earlier one), conflicts at equal priority (an error for both
 * files, the device dropped), invalid files skipped, only `.json` and `.yaml` read, in name order.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  buildCdiRegistry,
  type CdiRegistry,
  type CdiSource,
  devicesOfKind,
  loadCdiRegistry,
} from "../../../src/core/cdi/cdi_registry.ts";
import type { CdiDirReader, CdiParseCache } from "../../../src/core/cdi/cdi_dir_reader.ts";
import type { CdiSpec } from "../../../src/core/cdi/cdi_spec.ts";
import { withTempDir } from "../../helpers/temp_dir.ts";

const ETC = "/etc/cdi";
const RUN = "/var/run/cdi";
const DIRS = [ETC, RUN];
const KIND = "vendor1.com/device";

/** A spec of `kind` whose devices each set `<NAME>_FROM=<tag>`. */
function spec(kind: string, names: string[], tag = "x"): CdiSpec {
  return {
    cdiVersion: "0.3.0",
    kind,
    devices: names.map((name) => ({
      name,
      containerEdits: { env: [`${name.toUpperCase()}_FROM=${tag}`] },
    })),
  };
}

/** A YAML spec file of `kind` whose devices each set `<NAME>_FROM=<tag>`. */
function yamlSpec(kind: string, names: string[], tag: string): string {
  return `cdiVersion: "0.3.0"\nkind: ${kind}\ndevices:\n` +
    names.map((n) =>
      `  - name: ${n}\n    containerEdits:\n      env: [${n.toUpperCase()}_FROM=${tag}]\n`
    )
      .join("");
}

/** Where each resolvable device comes from: qualified name → file path. */
function origins(registry: CdiRegistry): Record<string, string> {
  return Object.fromEntries(
    [...registry.devices.entries()].map(([name, e]) => [name, e.source.path]).sort(),
  );
}

/**
 * A reader over in-memory files (full path → text). A dir exists when it holds a file or is in
 * `emptyDirs`; names are listed in reverse order so the registry's own sorting is what counts.
 */
function fakeReader(files: Record<string, string>, emptyDirs: string[] = []) {
  const reads: string[] = [];
  const listed: string[] = [];
  const reader: CdiDirReader = {
    listFiles(dir) {
      listed.push(dir);
      const prefix = `${dir.replace(/\/+$/, "")}/`;
      const names = Object.keys(files)
        .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes("/"))
        .map((p) => p.slice(prefix.length));
      if (names.length === 0 && !emptyDirs.includes(dir)) return undefined;
      return names.sort().reverse();
    },
    readTextFile(path) {
      reads.push(path);
      if (!(path in files)) throw new Deno.errors.NotFound(`no such file: "${path}"`);
      return files[path];
    },
  };
  return { reader, reads, listed };
}

Deno.test("buildCdiRegistry: priorities, shadowing and conflicts", async (t) => {
  const source = (path: string, priority: number, s: CdiSpec): CdiSource => ({
    path,
    priority,
    spec: s,
  });
  const cases: {
    name: string;
    input: CdiSource[];
    expected: {
      origins: Record<string, string>;
      errors: { path: string; message: string }[];
      shadowed: CdiRegistry["shadowed"];
    };
  }[] = [
    {
      name: "one spec file",
      input: [source(`${ETC}/vendor1.yaml`, 0, spec(KIND, ["dev1"]))],
      expected: {
        origins: { [`${KIND}=dev1`]: `${ETC}/vendor1.yaml` },
        errors: [],
        shadowed: [],
      },
    },
    {
      name: "override across dirs: run's dev1 shadows etc's, dev2 stays from etc",
      input: [
        source(`${ETC}/vendor1.yaml`, 0, spec(KIND, ["dev1", "dev2"])),
        source(`${RUN}/vendor1.yaml`, 1, spec(KIND, ["dev1"])),
      ],
      expected: {
        origins: {
          [`${KIND}=dev1`]: `${RUN}/vendor1.yaml`,
          [`${KIND}=dev2`]: `${ETC}/vendor1.yaml`,
        },
        errors: [],
        shadowed: [{
          name: `${KIND}=dev1`,
          winner: `${RUN}/vendor1.yaml`,
          hidden: `${ETC}/vendor1.yaml`,
        }],
      },
    },
    {
      name: "conflict in one dir: only dev2 resolves, an error for each file",
      input: [
        source(`${RUN}/vendor1-other.yaml`, 1, spec(KIND, ["dev1"])),
        source(`${RUN}/vendor1.yaml`, 1, spec(KIND, ["dev1", "dev2"])),
      ],
      expected: {
        origins: { [`${KIND}=dev2`]: `${RUN}/vendor1.yaml` },
        errors: [`${RUN}/vendor1.yaml`, `${RUN}/vendor1-other.yaml`].map((path) => ({
          path,
          message: `conflicting device "${KIND}=dev1" ` +
            `(specs "${RUN}/vendor1.yaml", "${RUN}/vendor1-other.yaml")`,
        })),
        shadowed: [],
      },
    },
    {
      name: "a lower-priority file loaded after does not replace",
      input: [
        source(`${RUN}/vendor1.yaml`, 1, spec(KIND, ["dev1"])),
        source(`${ETC}/vendor1.yaml`, 0, spec(KIND, ["dev1"])),
      ],
      expected: {
        origins: { [`${KIND}=dev1`]: `${RUN}/vendor1.yaml` },
        errors: [],
        shadowed: [{
          name: `${KIND}=dev1`,
          winner: `${RUN}/vendor1.yaml`,
          hidden: `${ETC}/vendor1.yaml`,
        }],
      },
    },
    {
      // Read from the reference's refresh(): the conflict set is applied after the whole scan.
      name: "a conflict in a lower-priority dir also drops the higher-priority definition",
      input: [
        source(`${ETC}/a.yaml`, 0, spec(KIND, ["dev1"])),
        source(`${ETC}/b.yaml`, 0, spec(KIND, ["dev1", "dev2"])),
        source(`${RUN}/c.yaml`, 1, spec(KIND, ["dev1"])),
      ],
      expected: {
        origins: { [`${KIND}=dev2`]: `${ETC}/b.yaml` },
        errors: [`${ETC}/b.yaml`, `${ETC}/a.yaml`].map((path) => ({
          path,
          message: `conflicting device "${KIND}=dev1" (specs "${ETC}/b.yaml", "${ETC}/a.yaml")`,
        })),
        shadowed: [{ name: `${KIND}=dev1`, winner: `${RUN}/c.yaml`, hidden: `${ETC}/a.yaml` }],
      },
    },
    {
      name: "the same device name under two kinds is two devices",
      input: [
        source(`${ETC}/a.yaml`, 0, spec(KIND, ["dev1"])),
        source(`${ETC}/b.yaml`, 0, spec("vendor2.com/device", ["dev1"])),
      ],
      expected: {
        origins: {
          [`${KIND}=dev1`]: `${ETC}/a.yaml`,
          "vendor2.com/device=dev1": `${ETC}/b.yaml`,
        },
        errors: [],
        shadowed: [],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const registry = buildCdiRegistry(DIRS, c.input);
      deepStrictEqual(origins(registry), c.expected.origins);
      deepStrictEqual(registry.errors, c.expected.errors);
      deepStrictEqual(registry.shadowed, c.expected.shadowed);
      deepStrictEqual(registry.dirs, DIRS);
    });
  }

  await t.step("conflicts name each device and every file defining it, in load order", () => {
    const registry = buildCdiRegistry(DIRS, [
      source(`${ETC}/a.yaml`, 0, spec(KIND, ["dev1", "dev2"])),
      source(`${ETC}/b.yaml`, 0, spec(KIND, ["dev1"])),
      source(`${ETC}/c.yaml`, 0, spec(KIND, ["dev1", "dev3"])),
      source(`${RUN}/d.yaml`, 1, spec(KIND, ["dev3"])),
    ]);
    deepStrictEqual(
      [...registry.conflicts],
      [[`${KIND}=dev1`, [`${ETC}/a.yaml`, `${ETC}/b.yaml`, `${ETC}/c.yaml`]]],
    );
    deepStrictEqual(Object.keys(origins(registry)).sort(), [`${KIND}=dev2`, `${KIND}=dev3`]);
  });

  await t.step("files that did not load are kept as errors, first", () => {
    const failed = [{ path: `${ETC}/bad.yaml`, message: "Cannot load CDI spec" }];
    const registry = buildCdiRegistry(DIRS, [
      source(`${RUN}/a.yaml`, 1, spec(KIND, ["dev1"])),
      source(`${RUN}/b.yaml`, 1, spec(KIND, ["dev1"])),
    ], failed);
    deepStrictEqual(registry.errors.map((e) => e.path), [
      `${ETC}/bad.yaml`,
      `${RUN}/b.yaml`,
      `${RUN}/a.yaml`,
    ]);
    deepStrictEqual(origins(registry), {});
  });

  await t.step("the entry holds the device and its source", () => {
    const s = spec(KIND, ["dev1"], "etc");
    const registry = buildCdiRegistry(DIRS, [source(`${ETC}/a.yaml`, 0, s)]);
    deepStrictEqual(registry.devices.get(`${KIND}=dev1`), {
      name: `${KIND}=dev1`,
      device: s.devices[0],
      source: { path: `${ETC}/a.yaml`, priority: 0, spec: s },
    });
  });
});

Deno.test("loadCdiRegistry reads the spec dirs through its reader", async (t) => {
  await t.step("one spec file", async () => {
    const { reader } = fakeReader({ [`${ETC}/vendor1.yaml`]: yamlSpec(KIND, ["dev1"], "etc") });
    const registry = await loadCdiRegistry(DIRS, reader);
    deepStrictEqual(origins(registry), { [`${KIND}=dev1`]: `${ETC}/vendor1.yaml` });
    strictEqual(registry.devices.get(`${KIND}=dev1`)?.source.priority, 0);
    deepStrictEqual(registry.errors, []);
  });

  await t.step("override: dev1 from run, dev2 from etc, the shadowing recorded", async () => {
    const { reader } = fakeReader({
      [`${ETC}/vendor1.yaml`]: yamlSpec(KIND, ["dev1", "dev2"], "etc"),
      [`${RUN}/vendor1.yaml`]: yamlSpec(KIND, ["dev1"], "run"),
    });
    const registry = await loadCdiRegistry(DIRS, reader);
    deepStrictEqual(origins(registry), {
      [`${KIND}=dev1`]: `${RUN}/vendor1.yaml`,
      [`${KIND}=dev2`]: `${ETC}/vendor1.yaml`,
    });
    deepStrictEqual(registry.devices.get(`${KIND}=dev1`)?.device.containerEdits.env, [
      "DEV1_FROM=run",
    ]);
    strictEqual(registry.devices.get(`${KIND}=dev1`)?.source.priority, 1);
    deepStrictEqual(registry.shadowed, [{
      name: `${KIND}=dev1`,
      winner: `${RUN}/vendor1.yaml`,
      hidden: `${ETC}/vendor1.yaml`,
    }]);
    deepStrictEqual(registry.errors, []);
  });

  await t.step("conflicts in one dir: only dev2 resolves, both files get the error", async () => {
    const { reader } = fakeReader({
      [`${RUN}/vendor1.yaml`]: yamlSpec(KIND, ["dev1", "dev2"], "a"),
      [`${RUN}/vendor1-other.yaml`]: yamlSpec(KIND, ["dev1"], "b"),
    });
    const registry = await loadCdiRegistry(DIRS, reader);
    deepStrictEqual(origins(registry), { [`${KIND}=dev2`]: `${RUN}/vendor1.yaml` });
    // "vendor1-other.yaml" sorts before "vendor1.yaml" ('-' < '.'), so it is the older one.
    const message = `conflicting device "${KIND}=dev1" ` +
      `(specs "${RUN}/vendor1.yaml", "${RUN}/vendor1-other.yaml")`;
    deepStrictEqual(registry.errors, [
      { path: `${RUN}/vendor1.yaml`, message },
      { path: `${RUN}/vendor1-other.yaml`, message },
    ]);
    // Every file that loaded is a source, those whose devices were dropped too (for warnings).
    deepStrictEqual(registry.sources.map((s) => s.path), [
      `${RUN}/vendor1-other.yaml`,
      `${RUN}/vendor1.yaml`,
    ]);
  });

  await t.step("invalid spec files are recorded as errors and skipped", async () => {
    const { reader } = fakeReader({
      [`${ETC}/a-garbled.yaml`]: "xyzzy: garbled\n",
      [`${ETC}/b-empty.json`]: "{}",
      [`${ETC}/c-dup.yaml`]: yamlSpec(KIND, ["dev9", "dev9"], "dup"),
      [`${ETC}/d-good.yaml`]: yamlSpec(KIND, ["dev1"], "good"),
    });
    const registry = await loadCdiRegistry(DIRS, reader);
    deepStrictEqual(origins(registry), { [`${KIND}=dev1`]: `${ETC}/d-good.yaml` });
    deepStrictEqual(registry.errors.map((e) => e.path), [
      `${ETC}/a-garbled.yaml`,
      `${ETC}/b-empty.json`,
      `${ETC}/c-dup.yaml`,
    ]);
    for (const error of registry.errors) {
      ok(error.message.includes(`"${error.path}"`), error.message);
    }
    ok(registry.errors[0].message.includes('unknown field "xyzzy"'), registry.errors[0].message);
    ok(registry.errors[2].message.includes('"dev9" is defined twice'), registry.errors[2].message);
  });

  await t.step("a file that cannot be read is an error, not a crash", async () => {
    const { reader } = fakeReader({ [`${ETC}/a.yaml`]: yamlSpec(KIND, ["dev1"], "a") });
    const failing: CdiDirReader = {
      listFiles: (dir) => dir === ETC ? ["a.yaml", "gone.json"] : undefined,
      readTextFile: (path) => reader.readTextFile(path),
    };
    const registry = await loadCdiRegistry(DIRS, failing);
    deepStrictEqual(origins(registry), { [`${KIND}=dev1`]: `${ETC}/a.yaml` });
    deepStrictEqual(registry.errors.map((e) => e.path), [`${ETC}/gone.json`]);
    ok(
      registry.errors[0].message.startsWith(`Cannot read CDI spec "${ETC}/gone.json": `),
      registry.errors[0].message,
    );
  });

  await t.step(
    "hostile spec files are errors naming the file, and the good one loads",
    async () => {
      const { reader } = fakeReader({
        [`${ETC}/a-bomb.yaml`]: "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\n" +
          "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
        [`${ETC}/b-deep.json`]: "[".repeat(100_000),
        [`${ETC}/c-escape.json`]: '{"kind": "\\q"}',
        [`${ETC}/d-good.yaml`]: yamlSpec(KIND, ["dev1"], "good"),
      });
      const registry = await loadCdiRegistry(DIRS, reader);
      deepStrictEqual(origins(registry), { [`${KIND}=dev1`]: `${ETC}/d-good.yaml` });
      deepStrictEqual(registry.errors.map((e) => e.path), [
        `${ETC}/a-bomb.yaml`,
        `${ETC}/b-deep.json`,
        `${ETC}/c-escape.json`,
      ]);
      for (const error of registry.errors) {
        ok(error.message.startsWith(`Cannot load CDI spec "${error.path}"`), error.message);
        ok(!error.message.includes("\n"), error.message);
      }
    },
  );

  await t.step("a conflict between files whose names hold a newline is one line", async () => {
    const { reader } = fakeReader({
      [`${ETC}/a\n.yaml`]: yamlSpec(KIND, ["dev1"], "a"),
      [`${ETC}/b.yaml`]: yamlSpec(KIND, ["dev1"], "b"),
    });
    const registry = await loadCdiRegistry(DIRS, reader);
    strictEqual(registry.errors.length, 2);
    ok(registry.errors[0].message.includes(`"${ETC}/a\\n.yaml"`), registry.errors[0].message);
    ok(!registry.errors[0].message.includes("\n"), registry.errors[0].message);
  });

  await t.step("only .json and .yaml files are read (.yml is not)", async () => {
    const text = yamlSpec(KIND, ["dev1"], "x");
    const { reader, reads } = fakeReader({
      [`${ETC}/a.yml`]: yamlSpec(KIND, ["yml"], "yml"),
      [`${ETC}/b.txt`]: "not a spec",
      [`${ETC}/c.json.bak`]: "{",
      [`${ETC}/d.yaml`]: text,
      [`${ETC}/e.json`]: JSON.stringify(spec("vendor2.com/device", ["dev2"])),
      [`${ETC}/yaml`]: "no extension",
    });
    const registry = await loadCdiRegistry(DIRS, reader);
    deepStrictEqual(reads, [`${ETC}/d.yaml`, `${ETC}/e.json`]);
    deepStrictEqual(origins(registry), {
      [`${KIND}=dev1`]: `${ETC}/d.yaml`,
      "vendor2.com/device=dev2": `${ETC}/e.json`,
    });
    deepStrictEqual(registry.errors, []);
  });

  await t.step("missing dirs are skipped; priority stays the dir's index", async () => {
    const { reader, listed } = fakeReader({
      [`${RUN}/vendor1.yaml`]: yamlSpec(KIND, ["dev1"], "run"),
    }, ["/empty"]);
    const dirs = ["/missing", "/empty", RUN];
    const registry = await loadCdiRegistry(dirs, reader);
    deepStrictEqual(listed, dirs);
    deepStrictEqual(origins(registry), { [`${KIND}=dev1`]: `${RUN}/vendor1.yaml` });
    strictEqual(registry.devices.get(`${KIND}=dev1`)?.source.priority, 2);
    deepStrictEqual(registry.errors, []);
    deepStrictEqual(registry.dirs, dirs);
  });

  await t.step("files are read in name order, dir by dir", async () => {
    const { reader, reads } = fakeReader({
      [`${RUN}/a.yaml`]: yamlSpec("vendor1.com/a", ["d"], "a"),
      [`${ETC}/z.yaml`]: yamlSpec("vendor1.com/z", ["d"], "z"),
      [`${ETC}/b.json`]: JSON.stringify(spec("vendor1.com/b", ["d"])),
      [`${ETC}/B.yaml`]: yamlSpec("vendor1.com/upper", ["d"], "B"),
      [`${ETC}/a.yaml`]: yamlSpec("vendor1.com/a2", ["d"], "a"),
    });
    await loadCdiRegistry(DIRS, reader);
    deepStrictEqual(reads, [
      `${ETC}/B.yaml`,
      `${ETC}/a.yaml`,
      `${ETC}/b.json`,
      `${ETC}/z.yaml`,
      `${RUN}/a.yaml`,
    ]);
  });

  await t.step("a trailing slash on a dir does not double the separator", async () => {
    const { reader, reads } = fakeReader({ [`${ETC}/a.yaml`]: yamlSpec(KIND, ["dev1"], "a") });
    const registry = await loadCdiRegistry([`${ETC}/`], reader);
    deepStrictEqual(reads, [`${ETC}/a.yaml`]);
    deepStrictEqual(origins(registry), { [`${KIND}=dev1`]: `${ETC}/a.yaml` });
  });
});

Deno.test("devicesOfKind lists a kind's resolvable device names, sorted", async (t) => {
  const registry = buildCdiRegistry(DIRS, [
    { path: `${ETC}/a.yaml`, priority: 0, spec: spec(KIND, ["dev2", "all", "dev10", "dev1"]) },
    { path: `${ETC}/b.yaml`, priority: 0, spec: spec("vendor2.com/device", ["other"]) },
    { path: `${ETC}/c.yaml`, priority: 0, spec: spec(KIND, ["dev2"]) },
  ]);
  const cases: { name: string; input: string; expected: string[] }[] = [
    {
      name: "a kind in two files, conflicts left out",
      input: KIND,
      expected: ["all", "dev1", "dev10"],
    },
    { name: "another kind", input: "vendor2.com/device", expected: ["other"] },
    { name: "an unknown kind", input: "vendor3.com/device", expected: [] },
    { name: "a vendor alone is not a kind", input: "vendor1.com", expected: [] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(devicesOfKind(registry, c.input), c.expected));
  }
});

Deno.test("loadCdiRegistry's own reader: a FIFO in a spec dir is an error at once", async () => {
  await withTempDir(async (dir) => {
    const made = new Deno.Command("mkfifo", { args: [`${dir}/a-fifo.json`] }).outputSync();
    strictEqual(made.code, 0, "mkfifo");
    Deno.symlinkSync(`${dir}/a-fifo.json`, `${dir}/b-link-to-fifo.yaml`);
    Deno.writeTextFileSync(`${dir}/c.yaml`, yamlSpec(KIND, ["dev1"], "real"));
    Deno.symlinkSync(`${dir}/c.yaml`, `${dir}/d-link.yaml`);
    const registry = await loadCdiRegistry([dir]);
    // The FIFO itself is not listed (only files and links are); the link to it is.
    deepStrictEqual(registry.errors.map((e) => e.message), [
      `Cannot read CDI spec "${dir}/b-link-to-fifo.yaml": it is a FIFO, not a regular file: ` +
      `fix the file or remove it`,
      // The link to the real spec loads too: the same device twice at one priority.
      `conflicting device "${KIND}=dev1" (specs "${dir}/d-link.yaml", "${dir}/c.yaml")`,
      `conflicting device "${KIND}=dev1" (specs "${dir}/d-link.yaml", "${dir}/c.yaml")`,
    ]);
    deepStrictEqual(registry.sources.map((s) => s.path), [`${dir}/c.yaml`, `${dir}/d-link.yaml`]);
  });
});

Deno.test("loadCdiRegistry with a parse cache: reused while a file's text is the same", async () => {
  const files: Record<string, string> = {
    [`${ETC}/a.yaml`]: yamlSpec(KIND, ["a"], "one"),
    [`${RUN}/b.yaml`]: yamlSpec(KIND, ["b"], "one"),
  };
  const { reader, reads } = fakeReader(files);
  const parseCache: CdiParseCache = new Map();
  const cached: CdiDirReader = { ...reader, parseCache };
  const env = (registry: CdiRegistry, name: string) =>
    registry.devices.get(`${KIND}=${name}`)?.device.containerEdits?.env;

  const first = await loadCdiRegistry(DIRS, cached);
  deepStrictEqual(env(first, "a"), ["A_FROM=one"]);
  deepStrictEqual([...parseCache.keys()].sort(), [`${ETC}/a.yaml`, `${RUN}/b.yaml`]);
  // What one load hands out is its own: changing it does not reach the next load.
  first.devices.get(`${KIND}=a`)!.device.containerEdits!.env!.push("MUTATED=1");
  const second = await loadCdiRegistry(DIRS, cached);
  deepStrictEqual(env(second, "a"), ["A_FROM=one"]);
  strictEqual(reads.filter((p) => p === `${ETC}/a.yaml`).length, 2, "read every time");

  // A changed text is parsed again; a removed file leaves the cache; a broken one is an error.
  files[`${ETC}/a.yaml`] = yamlSpec(KIND, ["a"], "two");
  delete files[`${RUN}/b.yaml`];
  const third = await loadCdiRegistry(DIRS, cached);
  deepStrictEqual(env(third, "a"), ["A_FROM=two"]);
  strictEqual(third.devices.has(`${KIND}=b`), false);
  deepStrictEqual([...parseCache.keys()], [`${ETC}/a.yaml`]);
  files[`${ETC}/a.yaml`] = "cdiVersion: [\n";
  const fourth = await loadCdiRegistry(DIRS, cached);
  strictEqual(fourth.devices.size, 0);
  strictEqual(fourth.errors.length, 1);
  deepStrictEqual([...parseCache.keys()], []);

  // Without a cache, the same loads give the same registries.
  files[`${ETC}/a.yaml`] = yamlSpec(KIND, ["a"], "two");
  deepStrictEqual(origins(await loadCdiRegistry(DIRS, reader)), origins(third));
});
