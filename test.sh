#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian packages, Deno from npm, the npm
# dependencies), then runs the checks, the unit and end-to-end tests on this host's engines, the
# end-to-end tests again in a Debian 13 and a Debian unstable root, and once more against the
# bundled build (XPU_BIN_DIR). Closes with one line adding up every suite's report.
#   sudo ./test.sh                # set up if needed, run everything (CI runs this)
#   sudo ./test.sh --setup-only   # only install what it needs
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
bootstrap test
if [ "${1:-}" = "--setup-only" ]; then exit 0; fi
for tool in deno runc crun podman dockerd containerd; do echo "$tool: $("$tool" --version | head -n 1)"; done

# Everything is installed now: a missing prerequisite fails a test instead of skipping it.
export XPU_E2E_REQUIRED=1
# Plain test reports (no colour codes), for the closing count and for CI logs.
export NO_COLOR=1

# The full output of every suite goes to a log file; the terminal (and CI's log) gets each
# command, each test file, every failure and ignored test, each suite's report and the closing line.
log="${XPU_TEST_LOG:-$(mktemp --tmpdir xpu-test.XXXXXX.log)}"
artefact="$(mktemp -d)"
trap 'rm -rf "$artefact"' EXIT
echo "test.sh: the full output goes to $log"
status=0
{
  deno task check &&
    deno task test &&
    deno task test:engines &&
    deno run -A build.ts --kind bundled --target x86_64-unknown-linux-gnu --out-dir "$artefact" &&
    XPU_BIN_DIR="$artefact/x86_64-unknown-linux-gnu" deno test -A tests/e2e/
} >"$log" 2>&1 || status=$?
# Besides the reports: each failure in full (the ERRORS section of deno test: the test, the whole
# message, where), at most 300 lines per suite, so that a CI log keeping only this says what failed.
# shellcheck disable=SC2016 # awk's own $ fields
awk '
  /^ ?ERRORS ?$/ { details = 1; shown = 0 }
  /^ ?FAILURES ?$/ { details = 0 }
  details { if (shown++ < 300) print; next }
  /^(ok|FAILED) \| [0-9]+ passed/ {
    for (i = 1; i < NF; i++) {
      if ($(i + 1) ~ /^passed/) passed += $i
      if ($(i + 1) ~ /^failed/) failed += $i
      if ($(i + 1) ~ /^ignored/) skipped += $i
    }
    suites++
    print
    next
  }
  /^(Task |running [0-9]+ tests? from |engine_suites: |error: |ERRORS|FAILURES)/ || / \.\.\. (FAILED|ignored)/ || /^(N\/A|SKIP) / { print }
  END {
    printf "test suites run: %d (deno test reports above; full output in %s)\n", suites, FILENAME
    printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
  }' "$log"
if [ "$status" -ne 0 ]; then
  echo "test.sh: failed with exit $status; the last 400 lines of $log:"
  tail -n 400 "$log"
fi
exit "$status"
