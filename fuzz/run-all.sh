#!/usr/bin/env bash
# Run every fuzz target (or the ones named) for SECONDS each, one after the
# other, with libFuzzer and AddressSanitizer:
#
#   bash fuzz/run-all.sh 10              # the smoke run CI does (scripts/test.sh)
#   bash fuzz/run-all.sh 600             # the long run (10 minutes a target)
#   bash fuzz/run-all.sh 60 tree index   # some targets
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/, which
# hold every input a finding was fixed for) and its grown corpus
# (fuzz/corpus/<target>/, not committed). Prints one line per target:
# executions, seconds, result. Exits 1 if any target found a crash, leak,
# timeout or out-of-memory, naming the input that reproduces it.
#
# Needs only the stable toolchain and a C++ compiler (libfuzzer-sys builds
# libFuzzer), not cargo-fuzz: the targets are built with cargo and the
# flags `cargo fuzz build` passes (RUSTC_BOOTSTRAP=1 allows the sanitizer
# flag on stable), into fuzz/target/<host>/release/.
#
# Environment:
#   FUZZ_SANITIZER=address|none   (default address: also checks for leaks)
#   FUZZ_CODEGEN_UNITS=N          (default 16: builds in about half the time
#                                  of cargo-fuzz's 1, for slightly slower runs)
set -uo pipefail
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: run-all.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
sanitizer=${FUZZ_SANITIZER:-address}
host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1

# The flags of cargo-fuzz 0.13 in its order (`cargo fuzz build -v`), so
# that its builds and these share fuzz/target. --target keeps them off
# build scripts and proc macros.
case $sanitizer in
address) sanitize=(-Zsanitizer=address) ;;
none) sanitize=() ;;
*)
    echo "run-all.sh: FUZZ_SANITIZER must be address or none, not '$sanitizer'" >&2
    exit 2
    ;;
esac
flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    --cfg fuzzing
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    "${sanitize[@]}"
    -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cdebug-assertions
    "-Ccodegen-units=${FUZZ_CODEGEN_UNITS:-16}"
)
logs=$fuzz_dir/logs
mkdir -p "$logs"
echo "building the fuzz targets (sanitizer: $sanitizer)..." >&2
if ! RUSTFLAGS="${flags[*]}" cargo build --manifest-path "$fuzz_dir/Cargo.toml" \
    --release --bins --target "$host" >"$logs/build.log" 2>&1; then
    tail -n 30 "$logs/build.log" >&2
    echo "run-all.sh: building the fuzz targets failed (log: $logs/build.log)" >&2
    exit 2
fi
tail -n 1 "$logs/build.log" >&2
bin_dir=$fuzz_dir/target/$host/release

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(basename -s .rs "$fuzz_dir"/fuzz_targets/*.rs)
fi

failed=0
printf '%-16s %12s %8s  %s\n' target execs seconds result
for target in "${targets[@]}"; do
    corpus=$fuzz_dir/corpus/$target
    seeds=$fuzz_dir/seeds/$target
    mkdir -p "$corpus" "$seeds" "$fuzz_dir/artifacts/$target"
    log=$logs/$target.log
    start=$(date +%s)
    "$bin_dir/$target" -artifact_prefix="$fuzz_dir/artifacts/$target/" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 "$corpus" "$seeds" >"$log" 2>&1
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
    echo "run-all.sh: a target found something; reproduce with $bin_dir/TARGET ARTIFACT" >&2
fi
exit $failed
