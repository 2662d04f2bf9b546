#!/usr/bin/env bash
# demo.sh — the README's first command: install what is missing, build, and
# run a local fleet with a story (deploy/demo_run.py): a PostgreSQL primary and
# a streaming replica named "demo-shop" under a pgbench write load (as the
# postgres user, data in a temporary directory), a pgvigil collector next to
# each, and the aggregator (history in a third local PostgreSQL, API and
# dashboard behind the viewer and operator tokens it prints). Half a minute
# in, replay is paused on the replica: the lag alert fires, its delivery to a
# local webhook is printed, replay is resumed, the resolution is printed.
# Ctrl-C (or SIGTERM) stops everything and removes the temporary directory.
#
#   deploy/demo.sh                 run until interrupted
#   DEMO_SECONDS=90 deploy/demo.sh run 90 s (longer until the incident is
#                                  over); exit 0 only if both nodes were up
#                                  and the firing and the resolution were
#                                  both delivered
#   deploy/demo.sh --check         the same, 90 s unless DEMO_SECONDS says otherwise
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PGVIGIL_DEMO_BUILD_DIR:-$root/build}

"$root/deploy/install-deps.sh"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build.configure.log" 2>&1 &&
       cmake --build "$build" -j"$(nproc)" >"$build.build.log" 2>&1; }; then
    tail -30 "$build.configure.log" "$build.build.log" >&2
    echo "demo: build failed (logs: $build.configure.log, $build.build.log)" >&2
    exit 1
fi

export PGVIGIL_BUILD_DIR=$build PGVIGIL_SOURCE_DIR=$root PYTHONPATH=$root/tests/lib
exec /usr/bin/python3 "$root/deploy/demo_run.py" "$@"
