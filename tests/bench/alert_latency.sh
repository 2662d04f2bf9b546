#!/usr/bin/env bash
# alert_latency.sh — time from a fault to the alert's webhook, for pgvigil and
# for Prometheus + Alertmanager + prometheus-postgres-exporter (Debian
# packages) watching the same primary and replica at the same 1 s collection,
# scrape and evaluation interval, with the same thresholds and `for: 0s`.
#
# Faults (each trial injects one; both stacks see it at once):
#   lag   pg_wal_replay_pause() on the replica while the primary commits every
#         100 ms; rule: replication lag > THRESHOLD seconds (default 1)
#   down  pg_ctl stop -m immediate on the primary; rule: node down
#
#   tests/bench/alert_latency.sh                 10 trials of each
#   TRIALS=3 SCENARIOS=down tests/bench/alert_latency.sh
#
# Not part of the pass/fail suite: it prints figures (and a JSON line).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_BENCH_BUILD_DIR:-$root/build-bench}

PGVIGIL_DEPS_EXTRA="prometheus prometheus-alertmanager prometheus-postgres-exporter" "$root/deploy/install-deps.sh"
# The packages' own services stay off: the bench starts private instances.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus prometheus-alertmanager prometheus-postgres-exporter >/dev/null 2>&1 || true
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib
exec /usr/bin/python3 "$root/tests/bench/alert_latency.py"
