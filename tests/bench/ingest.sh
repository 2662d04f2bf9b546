#!/usr/bin/env bash
# ingest.sh — aggregator ingest benchmark: sustained samples/s with history
# persisted and with storage disabled, p99 delay from send to visibility in
# the API, aggregator CPU and peak RSS, history rows/s written, and
# /api/v1/health?type=quick latency under wrk (16 connections).
#
#   tests/bench/ingest.sh                     about 2 minutes
#   SECONDS_PER_RUN=10 NODES=500 tests/bench/ingest.sh
#
# Not part of the pass/fail suite: it prints figures.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_BENCH_BUILD_DIR:-$root/build-bench}
"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_SANITIZE=OFF -DPGVIGIL_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib:$root/tests/fuzz
exec /usr/bin/python3 "$root/tests/bench/ingest.py"
