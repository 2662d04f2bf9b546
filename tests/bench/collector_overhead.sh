#!/usr/bin/env bash
# collector_overhead.sh — what pgvigil-collector costs, next to
# prometheus-postgres-exporter scraped at the same cadence against the same
# server: peak RSS, CPU seconds per round, server-side query time per round
# (pg_stat_statements, by role) and bytes per sample / scrape.
#
#   tests/bench/collector_overhead.sh              2 minutes
#   DURATION=30 tests/bench/collector_overhead.sh  a shorter smoke run
#   TABLES=1000 tests/bench/collector_overhead.sh  with 1,000 tables and 3,000 indexes; the
#                  stats sections every 10 s and their hourly parts every 30 s, and
#                  their server time per round printed (target: < 200 ms a round)
#
# Not part of the pass/fail suite: it prints figures.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_BENCH_BUILD_DIR:-$root/build-bench}

PGVIGIL_DEPS_EXTRA="prometheus-postgres-exporter" "$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib
exec /usr/bin/python3 "$root/tests/bench/collector_overhead.py"
