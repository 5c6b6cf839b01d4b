#!/usr/bin/env bash
# See the toolkit work: installs what the demo needs (Debian packages, Deno from npm), then starts
# a busybox container through the runtime shim in front of real runc on a simulated XPU host.
#   sudo ./demo.sh                # set up if needed, run the demo
#   sudo ./demo.sh --setup-only   # only install what it needs
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
bootstrap demo
if [ "${1:-}" = "--setup-only" ]; then exit 0; fi
exec deno task demo
