/**
 * `.dockerignore` against `deploy/Dockerfile`: no file a COPY or ADD takes from the build context
 * (outside a multi-stage `--from`) is left out of the context, for every build target's
 * `TARGET`; and what the image does not need (.git, node_modules, sources, editor files) is.
 *
 * The matcher follows Docker's (moby/patternmatcher, as `docker build` reads `.dockerignore`):
 * one pattern a line, `#` comments, `!` re-includes, patterns cleaned (`dir/` is `dir`, a leading
 * `/` dropped), `*` and `?` within one path element, `**` across any number of them, and a pattern
 * that matches a directory matches everything under it. The last pattern that matches decides.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { join, normalize } from "node:path";
import { planBuild, TARGETS } from "../build.ts";
import { REPO_ROOT } from "./helpers/container_lab.ts";

/** One `.dockerignore` line. */
interface IgnorePattern {
  exclusion: boolean;
  regexp: RegExp;
}

/** `filepath.Clean` for the relative, slash-separated paths of a build context. */
function cleanPath(path: string): string {
  const cleaned = normalize(path).replace(/\/+$/, "");
  return cleaned === "" ? "." : cleaned;
}

/** One pattern as Docker compiles it: an anchored regular expression. */
function compilePattern(pattern: string): RegExp {
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") i++;
      // `**` at the end takes everything; elsewhere any number of whole elements, even none.
      source += i + 1 === pattern.length ? ".*" : "(.*/)?";
    } else if (ch === "*") {
      source += "[^/]*";
    } else if (ch === "?") {
      source += "[^/]";
    } else if (ch === "\\" && i + 1 < pattern.length) {
      source += `\\${pattern[++i]}`;
    } else if (ch === "[" && pattern.indexOf("]", i + 1) > i) {
      // A character class passes through to the regular expression, as in Docker.
      const end = pattern.indexOf("]", i + 1);
      source += pattern.slice(i, end + 1);
      i = end;
    } else {
      source += ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  return new RegExp(`${source}$`);
}

/** Reads a `.dockerignore` as `docker build` does. */
function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    let pattern = line.trim();
    if (pattern === "") continue;
    const exclusion = pattern.startsWith("!");
    if (exclusion) pattern = pattern.slice(1).trim();
    if (pattern === "") throw new Error(`illegal exclusion pattern: "${line}"`);
    pattern = cleanPath(pattern);
    if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    patterns.push({ exclusion, regexp: compilePattern(pattern) });
  }
  return patterns;
}

/** Whether `path` (relative to the context) is left out: the last matching pattern decides. */
function isExcluded(path: string, patterns: readonly IgnorePattern[]): boolean {
  const file = cleanPath(path);
  const parts = file.split("/");
  // The path itself and each of its parent dirs: a pattern matching a dir matches what is in it.
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let excluded = false;
  for (const pattern of patterns) {
    if (candidates.some((candidate) => pattern.regexp.test(candidate))) {
      excluded = !pattern.exclusion;
    }
  }
  return excluded;
}

/** Joins `\` continuations and drops comment lines, as the Dockerfile parser does. */
function instructions(dockerfile: string): string[] {
  const result: string[] = [];
  let current = "";
  for (const line of dockerfile.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, " ");
      continue;
    }
    current += line;
    if (current.trim() !== "") result.push(current.trim());
    current = "";
  }
  if (current.trim() !== "") result.push(current.trim());
  return result;
}

/** `$NAME`, `${NAME}` and `${NAME:-default}` from the build args (unset: empty). */
function expand(word: string, args: Readonly<Record<string, string>>): string {
  return word.replace(
    /\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))/g,
    (_, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
      const value = args[(braced ?? bare)!];
      return value !== undefined && value !== "" ? value : fallback ?? "";
    },
  );
}

/**
 * The context paths the Dockerfile's COPY and ADD instructions read, with `ARG` defaults
 * overridden by `buildArgs`. Skipped: `--from` (another stage or image), URLs and heredocs.
 */
function contextSources(
  dockerfile: string,
  buildArgs: Readonly<Record<string, string>>,
): string[] {
  const args: Record<string, string> = {};
  const sources: string[] = [];
  for (const instruction of instructions(dockerfile)) {
    const [keyword, ...rest] = instruction.split(/\s+/);
    const command = keyword.toUpperCase();
    if (command === "ARG") {
      for (const declaration of rest) {
        const [name, value] = declaration.split(/=(.*)/s, 2);
        args[name] = buildArgs[name] ?? expand(value ?? "", args);
      }
      continue;
    }
    if (command !== "COPY" && command !== "ADD") continue;
    const flags = rest.filter((word) => word.startsWith("--"));
    if (flags.some((flag) => /^--from(=|$)/.test(flag))) continue;
    const body = instruction.slice(keyword.length).trim().replace(/^(--\S+\s+)*/, "");
    const words: string[] = body.startsWith("[") ? JSON.parse(body) : body.split(/\s+/);
    for (const source of words.slice(0, -1)) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.startsWith("<<")) continue;
      sources.push(cleanPath(expand(source, args).replace(/^\/+/, "")));
    }
  }
  return sources;
}

/** Every file under `dir` (relative to it), without .git and node_modules (dist/ if built). */
function filesUnder(dir: string, prefix = ""): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(join(dir, prefix))) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (prefix === "" && [".git", "node_modules"].includes(entry.name)) continue;
    if (entry.isDirectory) files.push(...filesUnder(dir, path));
    else files.push(path);
  }
  return files;
}

/**
 * The sources (and the files under or matching them) that `.dockerignore` leaves out, each as
 * `"<path>" (COPY source "<source>")`. `files` is what the context may hold.
 */
function excludedSources(
  dockerfile: string,
  dockerignore: string,
  options: { buildArgs: Readonly<Record<string, string>>; files: readonly string[] },
): string[] {
  const patterns = parseDockerignore(dockerignore);
  const problems: string[] = [];
  for (const source of contextSources(dockerfile, options.buildArgs)) {
    const glob = /[*?[]/.test(source) ? compilePattern(source) : undefined;
    const used = options.files.filter((file) =>
      glob ? glob.test(file) : source === "." || file.startsWith(`${source}/`)
    );
    // The context's root itself is always sent; what is under it is what counts.
    const paths = glob || source === "." ? used : [source, ...used];
    for (const path of paths) {
      if (isExcluded(path, patterns)) problems.push(`"${path}" (COPY source "${source}")`);
    }
  }
  return problems;
}

/** The executables `deno task build` puts in dist/ for every target (built or not yet). */
function builtFiles(): string[] {
  const entries = [...Deno.readDirSync(`${REPO_ROOT}/bin`)].map((entry) => entry.name);
  return planBuild({ entries, targets: TARGETS, env: {}, hostTarget: TARGETS[0] })
    .map((step) => step.output);
}

Deno.test("isExcluded: Docker's .dockerignore matching", async (t) => {
  const cases: { name: string; input: { ignore: string; path: string }; expected: boolean }[] = [
    {
      name: "a dir name excludes the dir",
      input: { ignore: "dist", path: "dist" },
      expected: true,
    },
    {
      name: "a dir name excludes what is under it",
      input: { ignore: "dist", path: "dist/x86/xpu-ctk" },
      expected: true,
    },
    {
      name: "a trailing slash is cleaned away",
      input: { ignore: "dist/", path: "dist/a/b" },
      expected: true,
    },
    {
      name: "a name matches only at the top, not deeper",
      input: { ignore: "dist", path: "src/dist/a" },
      expected: false,
    },
    {
      name: "a name is not a prefix",
      input: { ignore: "dist", path: "distribution/a" },
      expected: false,
    },
    {
      name: "a leading slash is the context root",
      input: { ignore: "/node_modules", path: "node_modules/x/index.js" },
      expected: true,
    },
    {
      name: "*.ext matches at the top",
      input: { ignore: "*.md", path: "README.md" },
      expected: true,
    },
    {
      name: "*.ext does not cross a slash",
      input: { ignore: "*.md", path: "docs/ARCHITECTURE.md" },
      expected: false,
    },
    {
      name: "**/x matches at the top too",
      input: { ignore: "**/.DS_Store", path: ".DS_Store" },
      expected: true,
    },
    {
      name: "**/x matches at any depth",
      input: { ignore: "**/.DS_Store", path: "dist/x86/.DS_Store" },
      expected: true,
    },
    {
      name: "**/*.ext matches at any depth",
      input: { ignore: "**/*.swp", path: "dist/a/.xpu-ctk.swp" },
      expected: true,
    },
    {
      name: "**/x needs the whole name",
      input: { ignore: "**/.DS_Store", path: "dist/x.DS_Store" },
      expected: false,
    },
    {
      name: "a/** excludes what is under a",
      input: { ignore: "tests/**", path: "tests/e2e/x_test.ts" },
      expected: true,
    },
    {
      name: "a/**/b: any number of dirs between, none too",
      input: { ignore: "src/**/main.ts", path: "src/main.ts" },
      expected: true,
    },
    { name: "? is one character", input: { ignore: "a?c", path: "abc" }, expected: true },
    { name: "? is not a slash", input: { ignore: "a?c", path: "a/c" }, expected: false },
    { name: "a dot is literal", input: { ignore: "a.b", path: "axb" }, expected: false },
    {
      name: "a character class",
      input: { ignore: "dist/[xa]*", path: "dist/x86_64/xpu-ctk" },
      expected: true,
    },
    {
      name: "* then ! re-includes a dir and what is under it",
      input: { ignore: "*\n!dist/", path: "dist/x86/xpu-ctk-installer" },
      expected: false,
    },
    {
      name: "* then ! leaves the rest out",
      input: { ignore: "*\n!dist/", path: "src/core/version.ts" },
      expected: true,
    },
    {
      name: "the last matching pattern wins: excluded again after a re-include",
      input: { ignore: "*\n!dist\n**/*.tmp", path: "dist/x.tmp" },
      expected: true,
    },
    {
      name: "a re-include before the exclusion does not help",
      input: { ignore: "!dist\n*", path: "dist/x" },
      expected: true,
    },
    {
      name: "a re-include of one file inside an excluded dir",
      input: { ignore: "dist\n!dist/keep", path: "dist/keep" },
      expected: false,
    },
    {
      name: "comments and blank lines are not patterns",
      input: { ignore: "# dist\n\n   \n", path: "dist/x" },
      expected: false,
    },
    {
      name: "surrounding blanks are trimmed",
      input: { ignore: "  dist  ", path: "dist/x" },
      expected: true,
    },
    { name: "a lone [ is literal", input: { ignore: "a[b", path: "a[b" }, expected: true },
    { name: "no patterns: nothing left out", input: { ignore: "", path: "a/b" }, expected: false },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => {
      deepStrictEqual(isExcluded(input.path, parseDockerignore(input.ignore)), expected);
    });
  }
});

Deno.test("contextSources: what COPY and ADD read from the build context", async (t) => {
  const cases: {
    name: string;
    input: { dockerfile: string; buildArgs?: Record<string, string> };
    expected: string[];
  }[] = [
    {
      name: "shell form; the last word is the destination",
      input: { dockerfile: "FROM x\nCOPY a b/ /dest/\n" },
      expected: ["a", "b"],
    },
    {
      name: "JSON form",
      input: { dockerfile: 'FROM x\nCOPY ["dist/a b", "/dest/"]\n' },
      expected: ["dist/a b"],
    },
    {
      name: "flags before the sources are skipped",
      input: { dockerfile: "FROM x\nCOPY --chown=0:0 --chmod=755 dist/ /opt/\n" },
      expected: ["dist"],
    },
    {
      name: "a multi-stage --from is not the context",
      input: { dockerfile: "FROM x AS b\nFROM y\nCOPY --from=b /out /opt/\nADD c /c\n" },
      expected: ["c"],
    },
    {
      name: "ARG defaults are expanded, build args win",
      input: {
        dockerfile: "FROM x\nARG T=one\nCOPY dist/${T}/ $T/x /opt/\n",
        buildArgs: { T: "two" },
      },
      expected: ["dist/two", "two/x"],
    },
    {
      name: "an ARG default without a build arg",
      input: { dockerfile: "FROM x\nARG T=one\nCOPY dist/${T}/ /opt/\n" },
      expected: ["dist/one"],
    },
    {
      name: "${NAME:-default} for an unset arg",
      input: { dockerfile: "FROM x\nARG T\nCOPY dist/${T:-any}/ /opt/\n" },
      expected: ["dist/any"],
    },
    {
      name: "line continuations and comments",
      input: { dockerfile: "FROM x\n# COPY nope /\nCOPY a \\\n  b \\\n  /dest/\n" },
      expected: ["a", "b"],
    },
    {
      name: "URLs and heredocs are not context files",
      input: { dockerfile: "FROM x\nADD https://example.com/f /f\nCOPY <<EOF /g\nhi\nEOF\n" },
      expected: [],
    },
    {
      name: "lower-case keywords, ./ and leading slashes cleaned",
      input: { dockerfile: "from x\ncopy ./deploy/../dist/ /a\nadd /b /b\n" },
      expected: ["dist", "b"],
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => {
      deepStrictEqual(contextSources(input.dockerfile, input.buildArgs ?? {}), expected);
    });
  }
});

Deno.test("excludedSources: names each COPY source, and file under it, that is left out", async (t) => {
  const files = ["dist/t1/xpu-ctk", "dist/t1/xpu-ctk-installer", "dist/t2/xpu-ctk", "src/a.ts"];
  const dockerfile = "FROM x\nARG TARGET=t1\nCOPY dist/${TARGET}/ /opt/\n";
  const cases: {
    name: string;
    input: { ignore: string; buildArgs: Record<string, string> };
    expected: string[];
  }[] = [
    {
      name: "dist excluded outright",
      input: { ignore: ".git\ndist\n", buildArgs: {} },
      expected: [
        '"dist/t1" (COPY source "dist/t1")',
        '"dist/t1/xpu-ctk" (COPY source "dist/t1")',
        '"dist/t1/xpu-ctk-installer" (COPY source "dist/t1")',
      ],
    },
    {
      name: "one file under the source excluded",
      input: { ignore: "**/*-installer\n", buildArgs: {} },
      expected: ['"dist/t1/xpu-ctk-installer" (COPY source "dist/t1")'],
    },
    {
      name: "another target's dir excluded: harmless for the default TARGET",
      input: { ignore: "dist/t2\n", buildArgs: {} },
      expected: [],
    },
    {
      name: "… but not when that target is built",
      input: { ignore: "dist/t2\n", buildArgs: { TARGET: "t2" } },
      expected: [
        '"dist/t2" (COPY source "dist/t2")',
        '"dist/t2/xpu-ctk" (COPY source "dist/t2")',
      ],
    },
    {
      name: "an allow-list that lets dist back in",
      input: { ignore: "*\n!dist/\n**/*.tmp\n", buildArgs: {} },
      expected: [],
    },
    {
      name: "an allow-list that forgot dist",
      input: { ignore: "*\n!deploy/\n", buildArgs: {} },
      expected: [
        '"dist/t1" (COPY source "dist/t1")',
        '"dist/t1/xpu-ctk" (COPY source "dist/t1")',
        '"dist/t1/xpu-ctk-installer" (COPY source "dist/t1")',
      ],
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => {
      deepStrictEqual(
        excludedSources(dockerfile, input.ignore, { buildArgs: input.buildArgs, files }),
        expected,
      );
    });
  }
  await t.step("COPY . checks every file, not the context root", () => {
    deepStrictEqual(
      excludedSources("FROM x\nCOPY . /src/\n", "*\n!dist\n", { buildArgs: {}, files }),
      ['"src/a.ts" (COPY source ".")'],
    );
  });
  await t.step("a glob source is checked file by file", () => {
    deepStrictEqual(
      excludedSources("FROM x\nCOPY dist/*/xpu-ctk /opt/\n", "dist/t2\n", { buildArgs: {}, files }),
      ['"dist/t2/xpu-ctk" (COPY source "dist/*/xpu-ctk")'],
    );
  });
});

Deno.test(".dockerignore keeps every file deploy/Dockerfile copies, for every build target", async (t) => {
  const dockerfile = Deno.readTextFileSync(`${REPO_ROOT}/deploy/Dockerfile`);
  const dockerignore = Deno.readTextFileSync(`${REPO_ROOT}/.dockerignore`);
  const files = [...new Set([...filesUnder(REPO_ROOT), ...builtFiles()])];
  for (const target of TARGETS) {
    await t.step(target, () => {
      const buildArgs = { TARGET: target };
      const sources = contextSources(dockerfile, buildArgs);
      ok(sources.length > 0, "deploy/Dockerfile copies nothing from the context");
      // The entrypoint, the installer, is among what the image gets.
      const copied = files.filter((file) => sources.some((s) => file.startsWith(`${s}/`)));
      ok(copied.includes(`dist/${target}/xpu-ctk-installer`), copied.join(", "));
      deepStrictEqual(excludedSources(dockerfile, dockerignore, { buildArgs, files }), []);
    });
  }
});

Deno.test(".dockerignore leaves out what the image does not need", async (t) => {
  const patterns = parseDockerignore(Deno.readTextFileSync(`${REPO_ROOT}/.dockerignore`));
  const cases = [
    { name: "the git dir", input: ".git/HEAD", expected: true },
    { name: "npm packages", input: "node_modules/.deno/yaml@2.8.0/index.js", expected: true },
    { name: "the sources", input: "src/core/version.ts", expected: true },
    { name: "the tests", input: "tests/e2e/runtime_shim_test.ts", expected: true },
    { name: "the fixtures", input: "fixtures/csv/xpu.csv", expected: true },
    { name: "the manifests", input: "deploy/daemonset.yaml", expected: true },
    { name: "a top-level editor file", input: ".README.md.swp", expected: true },
    {
      name: "a swap file in dist",
      input: "dist/x86_64-unknown-linux-gnu/.xpu-ctk.swp",
      expected: true,
    },
    { name: "macOS metadata in dist", input: "dist/.DS_Store", expected: true },
    {
      name: "a backup file in dist",
      input: "dist/aarch64-unknown-linux-gnu/xpu-ctk~",
      expected: true,
    },
    { name: "a temp file in dist", input: "dist/x86_64-unknown-linux-gnu/a.tmp", expected: true },
    {
      name: "an executable in dist",
      input: "dist/x86_64-unknown-linux-gnu/xpu-ctk",
      expected: false,
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => deepStrictEqual(isExcluded(input, patterns), expected));
  }
});
