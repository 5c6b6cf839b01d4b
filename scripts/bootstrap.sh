# shellcheck shell=bash
# What ./demo.sh and ./test.sh install before they run, sourced by both. Idempotent: each step
# looks first, says what it installs, and installs only what is missing. Needs root, network to the
# distribution's archive (apt) and to the npm registry (Deno), nothing else.

# The Deno the project is built and tested with (deno.json's tasks, build.ts, CI).
XPU_DENO_VERSION=2.9.6

# The demo: a container started through the shim in front of real runc.
XPU_DEMO_PACKAGES=(runc busybox-static util-linux)

# The whole test suite: the engines it drives, the tools its hostile-image, crash and offline-build
# tests use, and debootstrap for the Debian 13 / unstable engine test roots.
XPU_TEST_PACKAGES=(
  runc crun podman docker.io containerd busybox-static util-linux coreutils gcc libc6-dev strace
  debootstrap qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross dpkg-dev
)

bootstrap_say() { echo "bootstrap: $*" >&2; }

bootstrap_fail() {
  bootstrap_say "$*"
  exit 1
}

bootstrap_need_root() {
  [ "$(id -u)" = 0 ] || bootstrap_fail "run it as root (sudo $0): it installs packages and starts containers"
  command -v apt-get >/dev/null 2>&1 ||
    bootstrap_fail "no apt-get here: this needs Debian or Ubuntu (install the packages in $0 by hand elsewhere)"
}

XPU_APT_UPDATED=
bootstrap_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    bootstrap_say "packages: all ${#} present ($*)"
    return 0
  fi
  bootstrap_say "installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$XPU_APT_UPDATED" ]; then
    apt-get update -qq || bootstrap_fail "apt-get update failed: check the network and /etc/apt/sources.list*"
    XPU_APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    bootstrap_fail "apt-get install ${missing[*]} failed: see the lines above"
}

bootstrap_deno() {
  if command -v deno >/dev/null 2>&1 && deno --version 2>/dev/null | head -n 1 | grep -q "^deno ${XPU_DENO_VERSION} "; then
    bootstrap_say "deno ${XPU_DENO_VERSION}: present ($(command -v deno))"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    bootstrap_say "npm: missing, needed to install deno"
    bootstrap_apt_install nodejs npm ca-certificates
  fi
  bootstrap_say "installing deno ${XPU_DENO_VERSION} from npm (npm install -g deno@${XPU_DENO_VERSION})"
  npm install -g --no-fund --no-audit --loglevel=error "deno@${XPU_DENO_VERSION}" >/dev/null ||
    bootstrap_fail "npm install -g deno@${XPU_DENO_VERSION} failed: check the network to the npm registry"
  hash -r
  deno --version 2>/dev/null | head -n 1 | grep -q "^deno ${XPU_DENO_VERSION} " ||
    bootstrap_fail "deno ${XPU_DENO_VERSION} is not the deno on PATH after installing it ($(command -v deno || echo none)): put $(npm prefix -g)/bin first on PATH"
}

# The npm packages deno.json imports, as deno.lock pins them.
bootstrap_npm_deps() {
  bootstrap_say "npm dependencies: deno install --frozen"
  deno install --frozen --quiet >/dev/null || bootstrap_fail "deno install --frozen failed: see the lines above"
}

# bootstrap demo|test: everything that command needs.
bootstrap() {
  bootstrap_need_root
  case "$1" in
    demo) bootstrap_apt_install "${XPU_DEMO_PACKAGES[@]}" ;;
    test) bootstrap_apt_install "${XPU_TEST_PACKAGES[@]}" ;;
    *) bootstrap_fail "unknown set-up \"$1\": use demo or test" ;;
  esac
  bootstrap_deno
  bootstrap_npm_deps
}
