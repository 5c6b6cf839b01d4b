/**
 * The Debian package, end to end, in an overlay of the Debian 13 engine root: `dpkg -i` installs
 * the toolkit and changes no engine config, containers run through the installed shim (the shim's
 * end-to-end tests with `XPU_BIN_DIR=/usr/bin`), `dpkg -r` removes the executables and keeps the
 * conffile (warning that an engine may still name the shim), `dpkg -P` leaves nothing. With the
 * fast-path record the shim wrote, a pass-through call reaches runc without the Deno runtime. The
 * launchers' module cache is root's 0700 dir in /var/cache, filled by use, gone with the package.
 */

import { ok, strictEqual } from "node:assert/strict";
import { buildRoot, defaultRootDir, runInRoot } from "../../scripts/engine_roots.ts";
import { REPO_ROOT } from "../helpers/container_lab.ts";
import { e2eTest, type EngineSet } from "../helpers/e2e.ts";
import { BIN_DIR } from "../helpers/toolkit_commands.ts";

function notApplicable(engines: EngineSet): string | undefined {
  if (engines.name !== "host") return "the package is checked from the host, in the trixie root";
  if (BIN_DIR) return "the package is built from the sources here";
  return undefined;
}

async function run(program: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  })
    .output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** What runs inside the root; `$DEB` is the package, `$LOG` collects dpkg's messages. */
const IN_ROOT = String.raw`
set -eu
ls -lAR --time-style=full-iso /etc/docker /etc/containerd > /tmp/engines-before 2>&1 || true
dpkg -i "$DEB" > "$LOG" 2>&1
ls -lAR --time-style=full-iso /etc/docker /etc/containerd > /tmp/engines-after 2>&1 || true
cmp /tmp/engines-before /tmp/engines-after || { echo "dpkg -i changed an engine config" >&2; exit 11; }
test ! -e /etc/docker/daemon.json || { echo "dpkg -i wrote daemon.json" >&2; exit 12; }
for tool in xpu-container-runtime xpu-container-runtime-hook xpu-container-cli xpu-ctk xpu-ctk-installer xpu-container-toolkit xpu-container-runtime.cdi; do
  "/usr/bin/$tool" --version > /dev/null || { echo "/usr/bin/$tool --version failed" >&2; exit 13; }
done
cmp /etc/xpu-container-runtime/config.toml /tmp/expected-config.toml || exit 14
cd "$REPO"
XPU_BIN_DIR=/usr/bin XPU_E2E_REQUIRED=1 NO_COLOR=1 deno test -A tests/e2e/runtime_shim_test.ts > /tmp/shim-tests 2>&1 || { cat /tmp/shim-tests >&2; exit 15; }
grep -E "^ok \| [0-9]+ passed" /tmp/shim-tests | sed "s/^/in the installed package: /" >&2
# The launchers' cache: root's alone, filled by the runs above, no other user's to use.
test "$(stat -c %a:%U /var/cache/xpu-container-toolkit)" = 700:root || { echo "the cache dir is not root's 0700" >&2; exit 25; }
test -s /var/cache/xpu-container-toolkit/dep_analysis_cache_v2 || { echo "no module cache in /var/cache/xpu-container-toolkit" >&2; exit 26; }
test ! -e /usr/lib/xpu-container-toolkit/lib/cache || { echo "the package has a cache dir under /usr" >&2; exit 27; }
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/xpu-ctk --version > /tmp/nobody-version 2>&1 || { cat /tmp/nobody-version >&2; exit 28; }
test "$(wc -l < /tmp/nobody-version)" = 1 || { echo "xpu-ctk as nobody printed more than its version:" >&2; cat /tmp/nobody-version >&2; exit 28; }
# The fast path: the first call writes the record; with it current, a call that is not a create
# reaches runc without the Deno runtime (made unrunnable here), and a create still needs it.
rec=/var/lib/xpu-container-toolkit/runtime.fast-path
rm -f "$rec"
/usr/bin/xpu-container-runtime --root /tmp/fast-path-state list > /dev/null
test -f "$rec" || { echo "the shim wrote no fast-path record at $rec" >&2; exit 20; }
chmod 000 /usr/lib/xpu-container-toolkit/lib/deno
/usr/bin/xpu-container-runtime --root /tmp/fast-path-state list > /tmp/fast-list || { echo "the fast path did not reach runc" >&2; exit 21; }
grep -q "^ID" /tmp/fast-list || { echo "runc list printed no header through the fast path" >&2; exit 22; }
if /usr/bin/xpu-container-runtime create --bundle /nonexistent x 2> /tmp/fast-create; then exit 23; fi
grep -q "lib/deno" /tmp/fast-create || { echo "create passed the shim by:" >&2; cat /tmp/fast-create >&2; exit 23; }
chmod 755 /usr/lib/xpu-container-toolkit/lib/deno
mkdir -p /etc/xpu-container-runtime/revert && echo '{}' > /etc/xpu-container-runtime/revert/docker.json
dpkg -r xpu-container-toolkit >> "$LOG" 2>&1
test ! -e /usr/bin/xpu-ctk && test ! -e /usr/lib/xpu-container-toolkit || { echo "dpkg -r left executables" >&2; exit 16; }
test ! -e /var/lib/xpu-container-toolkit || { echo "dpkg -r left the fast-path dir" >&2; exit 24; }
test ! -e /var/cache/xpu-container-toolkit || { echo "dpkg -r left the cache dir" >&2; exit 29; }
test -f /etc/xpu-container-runtime/config.toml || { echo "dpkg -r removed the conffile" >&2; exit 17; }
dpkg -P xpu-container-toolkit >> "$LOG" 2>&1
test ! -e /etc/xpu-container-runtime || { echo "dpkg -P left /etc/xpu-container-runtime" >&2; exit 18; }
if dpkg -s xpu-container-toolkit > /dev/null 2>&1; then echo "still known to dpkg" >&2; exit 19; fi
`;

await e2eTest(
  "the .deb in the Debian 13 root: installs without touching an engine, runs containers, removes and purges cleanly",
  ["root", "unshare"],
  async () => {
    const root = defaultRootDir("trixie");
    // The suite on the host may run before test:engines has built the roots (a fresh machine).
    await buildRoot("trixie", root);
    const work = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "xpu-deb-test-" });
    try {
      const build = await run(Deno.execPath(), [
        "run",
        "-A",
        `${REPO_ROOT}/build.ts`,
        "--kind",
        "bundled",
        "--target",
        "x86_64-unknown-linux-gnu",
        "--out-dir",
        `${work}/dist`,
      ]);
      strictEqual(build.code, 0, build.stderr);
      const pack = await run(Deno.execPath(), [
        "run",
        "-A",
        `${REPO_ROOT}/scripts/package.ts`,
        "--dist",
        `${work}/dist`,
        "--out",
        `${work}/out`,
      ]);
      strictEqual(pack.code, 0, pack.stderr);
      ok(pack.stderr.includes("xpu-container-toolkit_"), pack.stderr);
      const [deb] = [...Deno.readDirSync(`${work}/out`)].map((e) => `${work}/out/${e.name}`);
      ok(deb.endsWith("_amd64.deb"), deb);
      const config = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${REPO_ROOT}/bin/xpu-ctk.ts`, "config", "default"],
        stdout: "piped",
      }).output();
      Deno.writeFileSync(`${work}/expected-config.toml`, config.stdout);
      const log = `${work}/dpkg.log`;
      const script = `cp ${work}/expected-config.toml /tmp/expected-config.toml\n` +
        `DEB=${deb} LOG=${log} REPO=${REPO_ROOT}\n${IN_ROOT}`;
      const code = await runInRoot(root, ["/bin/sh", "-c", script], {
        binds: [work],
        overlay: `${work}/overlay`,
      });
      const dpkg = Deno.readTextFileSync(log);
      strictEqual(code, 0, dpkg);
      ok(
        dpkg.includes("an engine may still be configured to use xpu-container-runtime"),
        dpkg,
      );
    } finally {
      await run("rm", ["-rf", "--one-file-system", work]);
    }
  },
  { notApplicable },
);
