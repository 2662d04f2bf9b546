#!/usr/bin/env bash
# history.sh — history benchmark: write throughput (samples/s, rows/s) with
# the load generator and history persisted, bytes on disk per stored sample
# and per node-day for each tier, and p50/p99 of the history API for
# 15-minute, 24-hour, 7-day and 30-day ranges on a prepared database.
#
#   tests/bench/history.sh                    a few minutes
#   NODES=300 SECONDS_PER_RUN=60 RATE=300 PHASES=write tests/bench/history.sh
#
# Not part of the pass/fail suite: it prints figures.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_BENCH_BUILD_DIR:-$root/build-bench}
if [ -z "${PGVIGIL_BENCH_NO_BUILD:-}" ]; then
    "$root/deploy/install-deps.sh"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_SANITIZE=OFF -DPGVIGIL_BENCH=ON >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib:$root/tests/fuzz
exec /usr/bin/python3 "$root/tests/bench/history.py"
