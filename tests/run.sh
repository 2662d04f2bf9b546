#!/usr/bin/env bash
# tests/run.sh — the one test command: installs what is missing, configures a
# sanitizer build (ASan + UBSan), builds, and runs every unit and integration
# test through ctest. Extra arguments go to ctest (e.g. -R lag, -L unit).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PGVIGIL_TEST_BUILD_DIR:-$root/build-test}
jobs=$(nproc 2>/dev/null || echo 2)

"$root/deploy/install-deps.sh"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DPGVIGIL_SANITIZE=ON >"$build.configure.log" 2>&1 \
    || { cat "$build.configure.log" >&2; exit 1; }
if ! cmake --build "$build" -j"$jobs" >"$build.build.log" 2>&1; then
    grep -E 'error|Error|warning' "$build.build.log" | head -50 >&2
    echo "tests/run.sh: build failed; full log in $build.build.log" >&2
    exit 1
fi

# The demo and production builds are optimised: -O2 brings warnings of its
# own, and warnings are errors, so the Release build is checked too.
# Configured as the Debian packages are, so tests/packaging/ packs this tree.
release=${build}-release
if ! { cmake -S "$root" -B "$release" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_TESTS=OFF \
           -DCMAKE_INSTALL_PREFIX=/usr -DPGVIGIL_PACKAGE=ON >"$release.configure.log" 2>&1 &&
       cmake --build "$release" -j"$jobs" >"$release.build.log" 2>&1; }; then
    grep -E 'error|Error|warning' "$release.configure.log" "$release.build.log" | head -50 >&2
    echo "tests/run.sh: Release build failed; logs in $release.build.log" >&2
    exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@"
