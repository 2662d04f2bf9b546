#!/usr/bin/env bash
# demo.sh — the README's first command: install what is missing, build, and
# run a local fleet: a PostgreSQL primary and a streaming replica (as the
# postgres user, data in a temporary directory), a pgvigil collector next to
# each, and the aggregator with its history in a third local PostgreSQL; it
# prints the API URLs. Ctrl-C (or SIGTERM) stops everything and removes the
# temporary directory.
#
#   deploy/demo.sh                 run until interrupted
#   DEMO_SECONDS=30 deploy/demo.sh run 30 s; exit 0 if the API showed both nodes up
#   deploy/demo.sh --check         the same, 30 s unless DEMO_SECONDS says otherwise
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
