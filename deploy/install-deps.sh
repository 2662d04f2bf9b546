#!/usr/bin/env bash
# install-deps.sh — install every Debian package that pgvigil's build, demo and
# tests need. Idempotent: quiet and quick when everything is already present.
# Works as root or through sudo. Set PGVIGIL_DEPS_EXTRA="pkg ..." to add more.
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config
    protobuf-c-compiler libprotobuf-c-dev
    libpq-dev libzmq3-dev libczmq-dev libsodium-dev
    libhiredis-dev libcivetweb-dev libcurl4-openssl-dev libssl-dev
    libjansson-dev libyaml-dev libcmocka-dev libicu-dev zlib1g-dev tzdata
    # fuzzing (libFuzzer comes with clang's runtime)
    clang libclang-rt-14-dev
    # servers and tools the demo and the tests start
    postgresql postgresql-contrib redis-server
    curl openssl python3 python3-zmq procps iproute2 util-linux wrk
    iptables  # the partition fault test drops loopback packets to one port
    faketime  # libfaketime: collectors with shifted clocks (lag tests)
    # the dashboard's browser tests: Debian's chromium driven through
    # chromium-driver by Debian's python3-selenium
    chromium chromium-driver python3-selenium
    # Debian packages: man pages, the package test's tree, lint and unit checks
    help2man dpkg-dev debootstrap lintian systemd
)
# shellcheck disable=SC2206
PACKAGES+=(${PGVIGIL_DEPS_EXTRA:-})

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# Node.js may come from Debian (nodejs + npm) or bundled with npm elsewhere:
# ask for Debian's only when there is none.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Front-end packages of the dashboard, from npm (package-lock.json pins
# them; none needs a newer Node.js than Debian 12's); again only when the
# lock file changed.
npm_deps() {
    local dir
    for dir in "$root/aggregator/http/web"; do
        if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
           [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
            echo "install-deps: npm ci in ${dir#"$root"/}" >&2
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        fi
    done
}

if [ ${#missing[@]} -eq 0 ]; then
    npm_deps
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql package creates and starts a default cluster; pgvigil
# never uses it, so keep it from starting where policy-rc.d allows.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_deps
