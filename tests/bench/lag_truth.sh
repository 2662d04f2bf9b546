#!/usr/bin/env bash
# lag_truth.sh — pgvigil's replication lag against direct LSN truth, beside
# prometheus-postgres-exporter's reading, on a real primary and replica
# (loopback, bounded: about 3 minutes with the default phases).
#
# Truth is read every 0.5 s: bytes = primary pg_current_wal_lsn() - replica
# pg_last_wal_replay_lsn(), both read at once (the two queries are sent
# before either answer is read; the report shows how many ms apart the
# servers read them); seconds = time since the primary's WAL first went
# beyond that replay position (from the primary's position polled every
# 0.1 s). At the same instants the bench reads pgvigil's API and the
# exporter (lag = now() - pg_last_xact_replay_timestamp(), the query its
# users deploy; bytes from its pg_stat_replication view on the primary).
#
# Scenarios (pgbench -R $TPS on the primary where it says "load"):
#   load          steady load
#   pause         load + pg_wal_replay_pause() for PHASE_SECONDS
#   idle          no writes: truth is 0 s / 0 B
#   idle_stall    idle for IDLE_SECONDS, then the WAL sender is stopped
#                 (SIGSTOP) and the primary writes ~1.3 kB the replica never gets
#   clock_plus7   the replica's collector restarted under libfaketime +7 s,
#                 then a pause under load, measured from its first sample
#   clock_back    restarted again at true time (the +7 s -> true case)
#   clock_minus7  restarted at -7 s
#   clock_step_back  a running collector's clock steps from +7 s to true
#                 time during a pause (no restart); measured from the step
#
# Prints median/p95/max of |error| per scenario (seconds; bytes in kB and
# relative to max(truth, 64 kB)) and a JSON line.
#
#   tests/bench/lag_truth.sh
#   SCENARIOS=pause,idle_stall PHASE_SECONDS=10 tests/bench/lag_truth.sh
#   INTERVAL=500ms tests/bench/lag_truth.sh      collector interval (default 1s)
#   LAG_TRUTH_ROWS=/tmp/rows.jsonl ...           every probe, as JSON lines
#   LAG_TRUTH_VERBOSE=3 ...                      every probe of each scenario's
#                                                first 3 s, one line each
#   LAG_TRUTH_WAL=/tmp/wal.json ...              the primary's WAL history (0.1 s)
#   LAG_TRUTH_SEQUENTIAL=1 ...                   truth's two reads one after the
#                                                other instead of concurrently
#
# Not part of the pass/fail suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_BENCH_BUILD_DIR:-$root/build-bench}

PGVIGIL_DEPS_EXTRA="faketime prometheus-postgres-exporter" "$root/deploy/install-deps.sh"
# The package's own service stays off: the bench starts private instances.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus-postgres-exporter >/dev/null 2>&1 || true
fi
if [ -z "${PGVIGIL_BENCH_NO_BUILD:-}" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_SANITIZE=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi

export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib
exec /usr/bin/python3 "$root/tests/bench/lag_truth.py"
