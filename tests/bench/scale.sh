#!/usr/bin/env bash
# scale.sh — the aggregator's scale curve: 1,000 / 5,000 / 20,000 / 50,000
# simulated nodes at 1 sample/s each (clusters of a primary and two replicas
# with moving LSNs), history off and on. Per run: aggregator cores (utime +
# stime over the window), RSS and RSS per node, samples applied vs offered,
# coalesced/dropped counts from /metrics, p50/p99 and sizes of
# /api/v1/clusters?limit=100, /api/v1/health?type=quick and /metrics, and how
# long the backlog takes to drain after the load stops. Release build,
# loopback only, every run bounded in time (a run whose aggregator grows past
# --rss-cap-mb is stopped and marked).
#
#   tests/bench/scale.sh                                  all sizes, history off and on (~15 min)
#   tests/bench/scale.sh --sizes 20000 --storage off      one size
#   tests/bench/scale.sh --sizes 1000,5000 --seconds 20 --json /tmp/scale.json
#   tests/bench/scale.sh --sizes 20000 --storage off --aggregators 3
#
# With --aggregators N, each size's run is followed by one of N aggregators
# coordinated through a real Redis the bench starts (cluster: sections,
# lease 5 s, publish 1 s), one generator sending every sample to all N as
# real collectors do; once every node is known, owners agree and no backlog
# is left, each aggregator's cores over one window are printed with their
# share of one aggregator's alone (measured in the single run over a window
# without API requests), its RSS, applied/s, clusters owned, and whether each
# stays at or under 45% of one alone.
#
# Options are scale.py's (--help). Not part of the pass/fail suite: it prints
# a Markdown table. The machine is shared: the load average is printed before
# and after, and the generator itself takes CPU from the same cores.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_BENCH_BUILD_DIR:-$root/build-bench}
"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPGVIGIL_SANITIZE=OFF -DPGVIGIL_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target pgvigil-aggregator pgvigil-ingest-load >/dev/null
export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib
exec /usr/bin/python3 "$root/tests/bench/scale.py" "$@"
