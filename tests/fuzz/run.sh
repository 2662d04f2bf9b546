#!/usr/bin/env bash
# run.sh — build the libFuzzer targets with clang and run each of them.
#   tests/fuzz/run.sh [SECONDS]   (default 60, per target)
# Targets: fuzz_ingest (samples off the wire), fuzz_http_body (the HTTP
# API's JSON request bodies), fuzz_config_aggregator and fuzz_config_collector
# (both YAML configuration parsers, seeded with the configurations we ship). Prints the executions of each at the end and
# fails if any target found a crash.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGVIGIL_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-60}
targets=(fuzz_ingest fuzz_http_body fuzz_config_aggregator fuzz_config_collector)
"$root/deploy/install-deps.sh"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DPGVIGIL_FUZZ=ON \
    -DPGVIGIL_TESTS=OFF -DPGVIGIL_BENCH=OFF >/dev/null
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)" >/dev/null

seed() { # target corpus-dir: fill the corpus with the target's seeds
    case "$1" in
    fuzz_ingest) /usr/bin/python3 "$root/tests/fuzz/make_seeds.py" "$2" ;;
    fuzz_http_body) mkdir -p "$2" && cp "$root"/tests/fuzz/http_body_seeds/* "$2"/ ;;
    fuzz_config_*) mkdir -p "$2" && cp "$root/deploy/${1#fuzz_config_}.example.yaml" \
                       "$root/deploy/packaging/${1#fuzz_config_}.yaml" "$2"/ ;;
    esac
}

summary=() failed=0
for t in "${targets[@]}"; do
    corpus="$build/fuzz-corpus-$t"
    [ "$t" = fuzz_ingest ] && corpus="$build/fuzz-corpus"
    seed "$t" "$corpus"
    log="$build/$t.log"
    if "$build/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "$corpus" \
        >"$log" 2>&1; then
        outcome=clean
    else
        outcome="FAILED (see $log)"
        failed=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    summary+=("$(printf '%-16s %12s executions in %ss: %s' "$t" "${execs:-?}" "$seconds" "$outcome")")
done
printf '%s\n' "${summary[@]}"
exit "$failed"
