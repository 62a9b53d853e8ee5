#!/usr/bin/env bash
# A backup into a repository of ten million blobs under a hard memory cap
# (issue 7): a cgroup limits the process, and the kernel kills it if it
# goes over.
#
#   bash benches/max-memory.sh
#
# 1. Makes (once; kept in BENCH_DIR) a repository with `init --chunk-size
#    256B` and backs up BENCH_BYTES of random bytes through stdin into it:
#    about ten million blobs. Not capped; its peak RSS is reported.
# 2. Under a cgroup capped at BENCH_CAP (swap included), backs up a small
#    new tree (new files and copies of stored ones, so that lookups both
#    hit and miss) without --max-memory, then with --max-memory BENCH_CAP;
#    then restores it and checks the repository, both with --max-memory
#    (check is not bounded yet: it is expected to be killed).
#    Prints one line per run: exit code (137: killed at the cap), wall
#    seconds, vault's peak RSS, the cgroup's peak (page cache included),
#    and vault's `-v` line about the index.
#
# Needs root (to make a cgroup: v1 /sys/fs/cgroup/memory or v2 with the
# memory controller). Environment: BENCH_DIR (default
# /var/tmp/vault-max-memory, which needs about 4 GB), BENCH_BYTES (default
# 3400000000), BENCH_CAP (default 256M), VAULT_BIN (default
# target/release/vault, built if missing), KEEP=1 keeps the repository
# (it is kept anyway: making it takes minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/var/tmp/vault-max-memory}
bytes=${BENCH_BYTES:-3400000000}
cap=${BENCH_CAP:-256M}
vault=${VAULT_BIN:-$root/target/release/vault}
if [[ ! -x $vault ]]; then
    cargo build --release --manifest-path "$root/Cargo.toml" -p vault-cli >&2
fi
export VAULT_PASSWORD=max-memory-bench
repo=$dir/repo
mkdir -p "$dir"

# The cgroup: v2 if the unified hierarchy has the memory controller,
# else v1.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
    cg=/sys/fs/cgroup/vault-max-memory
    limit_files=(memory.max memory.swap.max)
    peak_file=memory.peak
elif [[ -d /sys/fs/cgroup/memory ]]; then
    cg=/sys/fs/cgroup/memory/vault-max-memory
    limit_files=(memory.limit_in_bytes)
    peak_file=memory.max_usage_in_bytes
else
    echo "max-memory.sh: no cgroup memory controller found" >&2
    exit 2
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }

# capped NAME ARGS...: run vault ARGS in a fresh cgroup capped at $cap.
capped() {
    local name=$1
    shift
    [[ -d $cg ]] && rmdir "$cg"
    mkdir "$cg"
    if [[ ${limit_files[0]} == memory.max ]]; then
        echo "$cap" >"$cg/memory.max"
        echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
    else
        echo "$cap" >"$cg/memory.limit_in_bytes"
        # Swap counts too, where the kernel accounts it.
        [[ -f $cg/memory.memsw.limit_in_bytes ]] && echo "$cap" >"$cg/memory.memsw.limit_in_bytes"
    fi
    local start end code=0
    start=$(date +%s.%N)
    rm -f "$dir/$name.rss"
    sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" \
        /usr/bin/time -f %M -o "$dir/$name.rss" "$vault" -r "$repo" -v "$@" \
        >"$dir/$name.out" 2>"$dir/$name.err" || code=$?
    end=$(date +%s.%N)
    local peak rss index
    # The cgroup's peak counts the page cache too (the packs and index
    # files read), which the kernel reclaims at the cap; vault's own
    # peak is its resident set.
    peak=$(cat "$cg/$peak_file" 2>/dev/null || echo 0)
    rss=$(tail -n 1 "$dir/$name.rss" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)
    index=$(grep -h '^index:' "$dir/$name.err" || true)
    printf '%-22s exit %3s  %6.1f s  vault peak RSS %8s  cgroup peak %8s  %s\n' \
        "$name" "$code" "$(echo "$end - $start" | bc)" "$(mib $((rss * 1024)))" \
        "$(mib "$peak")" "${index:-index: all in memory}"
    if [[ $code -ne 0 && $code -ne 137 ]]; then
        tail -n 3 "$dir/$name.err" | sed 's/^/    /'
    fi
    rmdir "$cg"
}

if [[ ! -f $dir/setup.json ]]; then
    rm -rf "$repo"
    "$vault" -r "$repo" init --chunk-size 256B >/dev/null
    echo "making the repository: $bytes random bytes through stdin, 256-byte chunks..." >&2
    head -c "$bytes" /dev/urandom |
        /usr/bin/time -f '%e s, peak RSS %M KiB' -o "$dir/setup.time" \
            "$vault" -r "$repo" backup --json --stdin --stdin-filename blobs.bin >"$dir/setup.json"
fi
blobs=$(grep -o '"data_blobs":[0-9]*' "$dir/setup.json" | cut -d: -f2)
echo "repository: $blobs data blobs, $(du -sh "$repo" | cut -f1); made in $(cat "$dir/setup.time")"

# The source: 16 new files of 1 MiB, and copies of stored data (the first
# 16 MiB of the stream cannot be had again, so a new file is stored twice
# under different names: the second is all lookups that hit).
src=$dir/src
rm -rf "$src" "$dir/restored"
mkdir -p "$src/new" "$src/again"
for i in $(seq 1 16); do
    head -c 1048576 /dev/urandom >"$src/new/f$i.bin"
done
cp -r "$src/new/." "$src/again/"

echo "cap: $cap"
capped "backup-uncapped-index" backup "$src"
capped "backup-max-memory" --max-memory "$cap" backup "$src"
capped "restore-max-memory" --max-memory "$cap" restore latest --target "$dir/restored" --include "$src/new"
diff -r "$src/new" "$dir/restored$src/new" >/dev/null && echo "restored files: identical"
# check still holds every index entry of every pack (to compare them with
# the pack headers): not bounded by --max-memory yet.
capped "check-max-memory" --max-memory "$cap" check
rm -rf "$src" "$dir/restored"
