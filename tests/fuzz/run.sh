#!/usr/bin/env bash
# run.sh — build the libFuzzer targets with clang and run fuzz_ingest.
#   tests/fuzz/run.sh [SECONDS]   (default 60)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-60}
"$root/deploy/install-deps.sh"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DPGVIGIL_FUZZ=ON \
    -DPGVIGIL_TESTS=OFF -DPGVIGIL_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_ingest -j"$(nproc)" >/dev/null
corpus="$build/fuzz-corpus"
/usr/bin/python3 "$root/tests/fuzz/make_seeds.py" "$corpus"
"$build/tests/fuzz/fuzz_ingest" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 "$corpus"

# Configuration parsers, seeded with the configuration files we ship.
cmake --build "$build" --target fuzz_config_aggregator fuzz_config_collector -j"$(nproc)" >/dev/null
for daemon in aggregator collector; do
    seeds="$build/fuzz-corpus-config-$daemon"
    mkdir -p "$seeds"
    cp "$root/deploy/$daemon.example.yaml" "$root/deploy/packaging/$daemon.yaml" "$seeds/"
    "$build/tests/fuzz/fuzz_config_$daemon" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -rss_limit_mb=1024 -print_final_stats=1 "$seeds"
done
