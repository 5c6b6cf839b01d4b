/**
 * The set-up of the README's two commands (`./demo.sh`, `./test.sh`) on a fresh Debian 12 root
 * (debootstrap's minimal base: no node, no npm, no Deno, none of the packages): each installs what
 * it needs and says so, the installed Deno is the project's, and a second run installs nothing.
 * Each run is on an overlay of the fresh root, which stays fresh for the next.
 */

import { ok, strictEqual } from "node:assert/strict";
import { buildFreshRoot, defaultRootDir } from "../../scripts/engine_roots.ts";
import { VERSION } from "../../src/core/version.ts";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { e2eTest, type EngineSet } from "../helpers/e2e.ts";
import { BIN_DIR } from "../helpers/toolkit_commands.ts";
import { shellQuote as q } from "../../src/core/text/shell_quote.ts";

const FRESH = "bookworm";

function notApplicable(engines: EngineSet): string | undefined {
  if (engines.name !== "host") return "the set-up is checked from the host, not in each engine set";
  if (BIN_DIR) return "the set-up does not depend on a built artefact";
  return undefined;
}

/** The CA settings of this machine's environment that Node and Deno read, as `NAME=value` words. */
function trustEnv(): string {
  const names = ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"];
  return names.flatMap((name) => {
    const value = Deno.env.get(name);
    return value ? [`${name}=${q(value)} `] : [];
  }).join("");
}

/** The repository's files (tracked and new, not ignored), as git lists them. */
async function repositoryFiles(): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-C", REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    stdout: "piped",
  }).output();
  strictEqual(out.code, 0);
  return new TextDecoder().decode(out.stdout);
}

/**
 * Runs `script` as root inside an overlay of the fresh root (its changes kept in `upper`), with
 * the host's /proc, /sys and /dev and the repository copied to /src.
 */
async function inFreshRoot(root: string, upper: string, script: string) {
  const files = `${upper}/../files`;
  Deno.writeTextFileSync(files, await repositoryFiles());
  const enter = [
    "set -e",
    `M=${q(`${upper}/../merged`)}`,
    `mkdir -p ${q(`${upper}/data`)} ${q(`${upper}/work`)} "$M"`,
    `mount -t overlay overlay -o lowerdir=${q(root)},upperdir=${q(`${upper}/data`)},workdir=${
      q(`${upper}/work`)
    } "$M"`,
    'mount -t proc proc "$M/proc"',
    'mount --rbind /sys "$M/sys"',
    'mount --rbind /dev "$M/dev"',
    'mount -t tmpfs tmpfs "$M/tmp"',
    'mkdir -p "$M/src"',
    `tar -C ${q(REPO_ROOT)} --null -T ${q(files)} -cf - | tar -C "$M/src" -xf -`,
    // This machine's own network trust (a TLS-inspecting egress proxy's CA, say), as a fresh
    // machine on this network would be given it: ca-certificates adds it when it is installed.
    "if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then",
    '  mkdir -p "$M/usr/local/share/ca-certificates"',
    '  cp /usr/local/share/ca-certificates/*.crt "$M/usr/local/share/ca-certificates/"',
    "fi",
    'exec chroot "$M" /usr/bin/env -i HOME=/root TERM=dumb ' + trustEnv() +
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c " + q(script),
  ].join("\n");
  const out = await new Deno.Command("unshare", {
    args: ["-m", "--propagation", "private", "/bin/sh", "-c", enter],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

await e2eTest(
  "./demo.sh and ./test.sh set up a fresh Debian 12 root, and a second run installs nothing",
  ["root", "unshare"],
  async (t) => {
    const root = defaultRootDir(`fresh-${FRESH}`);
    await buildFreshRoot(FRESH, root);
    const work = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "xpu-fresh-" });
    const upper = `${work}/upper`;
    Deno.mkdirSync(upper);
    try {
      await t.step(
        "first run: node, npm, Deno and the packages are installed, each said",
        async () => {
          const result = await inFreshRoot(
            root,
            upper,
            "cd /src && ./demo.sh --setup-only && ./test.sh --setup-only && deno --version",
          );
          strictEqual(result.code, 0, result.stderr);
          for (
            const said of [
              "bootstrap: installing with apt-get: runc busybox-static",
              "bootstrap: npm: missing, needed to install deno",
              "bootstrap: installing with apt-get: nodejs npm ca-certificates",
              "bootstrap: installing deno 2.9.6 from npm",
              "bootstrap: npm dependencies: deno install --frozen",
            ]
          ) ok(result.stderr.includes(said), `"${said}" not in:\n${result.stderr}`);
          ok(
            /bootstrap: installing with apt-get: crun podman docker\.io containerd/.test(
              result.stderr,
            ),
          );
          ok(result.stdout.startsWith("deno 2.9.6 "), result.stdout);
        },
      );
      await t.step("second run: everything is there, nothing is installed", async () => {
        const result = await inFreshRoot(
          root,
          upper,
          "cd /src && ./demo.sh --setup-only && ./test.sh --setup-only && " +
            "dpkg-query -W -f '${Status}\\n' docker.io podman qemu-user-static && " +
            // The npm dependencies are in Deno's cache: the tools run without the network.
            "deno run --cached-only -A bin/xpu-ctk.ts --version",
        );
        strictEqual(result.code, 0, result.stderr);
        ok(!result.stderr.includes("installing"), result.stderr);
        ok(result.stderr.includes("bootstrap: deno 2.9.6: present"), result.stderr);
        strictEqual(
          result.stdout,
          "install ok installed\n".repeat(3) + `xpu-ctk version ${VERSION}\n`,
        );
      });
    } finally {
      await new Deno.Command("rm", { args: ["-rf", "--one-file-system", work] }).output();
    }
  },
  { notApplicable },
);
