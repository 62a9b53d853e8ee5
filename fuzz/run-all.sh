#!/usr/bin/env bash
# Run every fuzz target (or the ones named) for SECONDS each, one after the
# other, with libFuzzer and AddressSanitizer:
#
#   bash fuzz/run-all.sh 20              # CI smoke run
#   bash fuzz/run-all.sh 600             # the long run (10 minutes a target)
#   bash fuzz/run-all.sh 60 tree index   # some targets
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/) and its
# grown corpus (fuzz/corpus/<target>/, not committed). Prints one line per
# target: executions, seconds, result. Exits 1 if any target found a crash,
# leak, timeout or out-of-memory, naming the input that reproduces it
# (`RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET ARTIFACT`).
#
# Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use
# the sanitizer flags on it.
set -uo pipefail
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: run-all.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
cd "$root" || exit 2
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || exit 2
fi
echo "building the fuzz targets..." >&2
if ! cargo fuzz build 2>&1 | tail -n 3 >&2; then
    echo "run-all.sh: cargo fuzz build failed" >&2
    exit 2
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

logs=$fuzz_dir/logs
mkdir -p "$logs"
failed=0
printf '%-16s %12s %8s  %s\n' target execs seconds result
for target in "${targets[@]}"; do
    corpus=$fuzz_dir/corpus/$target
    seeds=$fuzz_dir/seeds/$target
    mkdir -p "$corpus" "$seeds" "$fuzz_dir/artifacts/$target"
    log=$logs/$target.log
    start=$(date +%s)
    cargo fuzz run "$target" "$corpus" "$seeds" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    status=$?
    elapsed=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    # libFuzzer's own count of seconds spent fuzzing (without the build).
    fuzzed=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -n 1)
    elapsed=${fuzzed:-$elapsed}
    if [[ $status -eq 0 ]]; then
        result=ok
    else
        failed=1
        kind=$(grep -o -m 1 'ERROR: libFuzzer: [a-z-]*\|ERROR: AddressSanitizer: [a-z-]*\|panicked at [^ ]*' "$log" | head -n 1)
        artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | sed 's/Test unit written to //')
        result="FOUND ${kind:-exit $status}: ${artifact:-no artifact} (log: $log)"
    fi
    printf '%-16s %12s %8s  %s\n' "$target" "${execs:-?}" "$elapsed" "$result"
done
if [[ $failed -ne 0 ]]; then
    echo "run-all.sh: a target found something; reproduce with RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET ARTIFACT" >&2
fi
exit $failed
