/**
 * The Deno runtime binary the bundled artefact ships, per target: the `deno` executable of Deno's
 * own npm packages (`@deno/linux-x64-glibc`, `@deno/linux-arm64-glibc`), of the same version as
 * the Deno running the build, so the bundle runs on the runtime it was made with.
 *
 * Where it comes from, first match wins:
 * 1. `DENO_RUNTIME_X86_64` / `DENO_RUNTIME_AARCH64`: a `deno` binary or the package's `.tgz`
 *    (for machines without the npm registry: `npm pack @deno/linux-arm64-glibc@<version>`
 *    elsewhere and copy it over);
 * 2. for this machine's target, the Deno running the build itself;
 * 3. the npm registry (`NPM_CONFIG_REGISTRY`, else registry.npmjs.org): the package tarball,
 *    checked against the registry's sha512 integrity, kept in a cache dir for the next build.
 *
 * @module
 */

import type { Target } from "../../build.ts";

/** Deno's npm package holding the runtime for `target`. */
export function runtimePackage(target: Target): string {
  return target.startsWith("aarch64") ? "@deno/linux-arm64-glibc" : "@deno/linux-x64-glibc";
}

/** The variable that names a runtime (binary or `.tgz`) for `target`. */
export function runtimeVariable(target: Target): string {
  return `DENO_RUNTIME_${target.split("-")[0].toUpperCase()}`;
}

/** Where a package's metadata is: `<registry>/@scope%2fname/<version>`. */
export function packageMetadataUrl(registry: string, pkg: string, version: string): string {
  return `${registry.replace(/\/+$/, "")}/${pkg.replace("/", "%2f")}/${version}`;
}

/** Where the runtime comes from for one target. */
export type RuntimeSource =
  | { kind: "file"; path: string; from: string }
  | { kind: "tarball"; path: string; from: string }
  | { kind: "registry"; url: string; from: string };

/** Inputs of {@link chooseRuntimeSource}. */
export interface RuntimeChoice {
  target: Target;
  hostTarget: string;
  /** The running Deno's version and executable. */
  denoVersion: string;
  denoPath: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** Decides where the runtime for a target comes from (pure). */
export function chooseRuntimeSource(choice: RuntimeChoice): RuntimeSource {
  const variable = runtimeVariable(choice.target);
  const named = choice.env[variable];
  if (named) {
    return named.endsWith(".tgz")
      ? { kind: "tarball", path: named, from: `${variable}=${named}` }
      : { kind: "file", path: named, from: `${variable}=${named}` };
  }
  if (choice.target === choice.hostTarget) {
    return {
      kind: "file",
      path: choice.denoPath,
      from: `the build's own deno (${choice.denoPath})`,
    };
  }
  const registry = choice.env.NPM_CONFIG_REGISTRY || choice.env.npm_config_registry ||
    "https://registry.npmjs.org";
  const pkg = runtimePackage(choice.target);
  return {
    kind: "registry",
    url: packageMetadataUrl(registry, pkg, choice.denoVersion),
    from: `${pkg}@${choice.denoVersion} from ${registry.replace(/\/+$/, "")}`,
  };
}

/** The sha512 of `bytes` as npm writes integrity: `sha512-<base64>`. */
export async function integrityOf(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", bytes as BufferSource));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return `sha512-${btoa(binary)}`;
}

async function extractDeno(tarball: string, into: string, from: string): Promise<void> {
  const out = await new Deno.Command("tar", {
    args: ["-xzf", tarball, "-C", into, "--strip-components=1", "package/deno"],
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot take the Deno runtime from ${from}: "${tarball}" has no package/deno ` +
        `(${new TextDecoder().decode(out.stderr).trim()}): pass the npm package's .tgz`,
    );
  }
}

async function fetchTarball(source: { url: string; from: string }, cacheDir: string) {
  const fail = (detail: string) =>
    new Error(
      `Cannot fetch the Deno runtime ${source.from}: ${detail}: on a machine without the npm ` +
        `registry set the target's DENO_RUNTIME_<ARCH> to a deno binary or the package's .tgz`,
    );
  let meta: { dist?: { tarball?: string; integrity?: string } };
  try {
    const response = await fetch(source.url);
    if (!response.ok) throw fail(`${source.url} answered ${response.status}`);
    meta = await response.json();
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("Cannot fetch")) throw error;
    throw fail(error instanceof Error ? error.message : String(error));
  }
  const { tarball, integrity } = meta.dist ?? {};
  if (!tarball || !integrity?.startsWith("sha512-")) throw fail("the registry gave no tarball");
  const cached = `${cacheDir}/${tarball.slice(tarball.lastIndexOf("/") + 1)}`;
  try {
    const bytes = Deno.readFileSync(cached);
    if (await integrityOf(bytes) === integrity) return cached;
  } catch {
    // Not cached yet.
  }
  const response = await fetch(tarball).catch((error) => {
    throw fail(error instanceof Error ? error.message : String(error));
  });
  if (!response.ok) throw fail(`${tarball} answered ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (await integrityOf(bytes) !== integrity) throw fail(`${tarball} does not match ${integrity}`);
  Deno.mkdirSync(cacheDir, { recursive: true });
  Deno.writeFileSync(`${cached}.part`, bytes);
  Deno.renameSync(`${cached}.part`, cached);
  return cached;
}

/**
 * Puts the runtime for `choice.target` at `dest` (mode 0755).
 *
 * @returns where it came from, for the build's report
 */
export async function installRuntime(
  choice: RuntimeChoice,
  options: { dest: string; cacheDir: string },
): Promise<string> {
  const source = chooseRuntimeSource(choice);
  const dir = options.dest.slice(0, options.dest.lastIndexOf("/"));
  if (source.kind === "file") {
    Deno.copyFileSync(source.path, options.dest);
  } else {
    const tarball = source.kind === "tarball"
      ? source.path
      : await fetchTarball(source, options.cacheDir);
    await extractDeno(tarball, dir, source.from);
    if (`${dir}/deno` !== options.dest) Deno.renameSync(`${dir}/deno`, options.dest);
  }
  Deno.chmodSync(options.dest, 0o755);
  return source.from;
}
