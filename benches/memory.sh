#!/usr/bin/env bash
# Does memory grow with the input? Peak RSS of vault and restic backing up
# inputs of two sizes each, ten times apart, in one run:
#
#   - trees of many empty files (BENCH_TINY_FILES, default 1,000,000, and a
#     tenth of it), 1,000 to a directory: no data blobs at all, so all that
#     may grow is per-file and per-directory state;
#   - one sparse file (BENCH_SPARSE_GB, default 20 GB, and a tenth): the
#     whole file is read and chunked, but it is zeros, so it deduplicates to
#     one blob and the index stays the same;
#   - a generated stream through --stdin (BENCH_STREAM_GB, default 4 GB, and
#     a tenth): AES-CTR keystream, incompressible and never repeating, so
#     every chunk is new (the index grows by one entry per chunk, 52 bytes).
#
# Each backup goes into a fresh repository. The table gives each tool's
# peak RSS at both sizes and the growth per tenfold input; memory bounded
# by design shows a growth near 1.
#
# Usage: bash benches/memory.sh        (as root on Debian 12; about 15 minutes)
#
# Environment: BENCH_DIR (default /tmp/vault-bench-memory), VAULT_BIN,
# BENCH_TINY_FILES, BENCH_SPARSE_GB, BENCH_STREAM_GB, KEEP=1.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-memory}
tiny=${BENCH_TINY_FILES:-1000000}
sparse_gb=${BENCH_SPARSE_GB:-20}
stream_gb=${BENCH_STREAM_GB:-4}
BENCH_FILES=0
source "$(dirname "${BASH_SOURCE[0]}")/compare/lib.sh"
install_missing openssl

inputs=$BENCH_DIR/inputs
mkdir -p "$inputs"

# empty_tree DIR COUNT: COUNT empty files, 1,000 to a directory.
empty_tree() {
    local dir=$1 count=$2
    [ -f "$dir.complete" ] && return 0
    rm -rf "$dir"
    log "creating $count empty files in $dir"
    python3 - "$dir" "$count" <<'EOF'
import os, sys
top, count = sys.argv[1], int(sys.argv[2])
for d in range((count + 999) // 1000):
    sub = os.path.join(top, f"d{d:04}")
    os.makedirs(sub)
    for f in range(min(1000, count - d * 1000)):
        open(os.path.join(sub, f"f{f:04}"), "w").close()
EOF
    touch "$dir.complete"
}

# stream BYTES: BYTES of AES-CTR keystream (fast, incompressible, no repeats).
stream() {
    openssl enc -aes-128-ctr -nosalt -pass pass:vault-bench -pbkdf2 </dev/zero 2>/dev/null | head -c "$1"
}

small_tiny=$((tiny / 10))
empty_tree "$inputs/files-$small_tiny" "$small_tiny"
empty_tree "$inputs/files-$tiny" "$tiny"
sparse_small=$((sparse_gb * 100000000))
sparse_big=$((sparse_gb * 1000000000))
rm -f "$inputs"/sparse-*
mkdir -p "$inputs/sparse-small" "$inputs/sparse-big"
truncate -s "$sparse_small" "$inputs/sparse-small/file"
truncate -s "$sparse_big" "$inputs/sparse-big/file"
stream_small=$((stream_gb * 100000000))
stream_big=$((stream_gb * 1000000000))

repos=$BENCH_DIR/repos
cases=(files-small files-big sparse-small sparse-big stream-small stream-big)
# run TOOL CASE: a fresh repository, one backup of the case's input.
run() {
    local tool=$1 case=$2 repo=$repos/$1-$2
    rm -rf "$repo"
    case $tool in
    vault) "$vault" -r "$repo" init >/dev/null ;;
    restic) restic -r "$repo" init >/dev/null ;;
    esac
    local args=()
    case $case in
    files-small) args=("$inputs/files-$small_tiny") ;;
    files-big) args=("$inputs/files-$tiny") ;;
    sparse-*) args=("$inputs/$case") ;;
    esac
    local bytes=$stream_small
    [ "$case" = stream-big ] && bytes=$stream_big
    case $tool.$case in
    vault.stream-*)
        { stream "$bytes" || true; } | measure vault "$case" "$vault" -r "$repo" backup --stdin --stdin-filename stream
        ;;
    restic.stream-*)
        { stream "$bytes" || true; } | measure restic "$case" restic -r "$repo" "${restic_global[@]}" backup --stdin --stdin-filename stream
        ;;
    vault.*) measure vault "$case" "$vault" -r "$repo" backup "${args[@]}" ;;
    restic.*) measure restic "$case" restic -r "$repo" "${restic_global[@]}" backup "${args[@]}" ;;
    esac
    [ "${KEEP:-0}" = 1 ] || rm -rf "$repo"
}

export RESTIC_CACHE_DIR=$BENCH_DIR/restic-cache
for tool in vault restic; do
    for case in "${cases[@]}"; do
        rm -rf "$RESTIC_CACHE_DIR"
        run "$tool" "$case"
    done
done

growth() { ratio "$(get "$1" "$2-big" rss)" "$(get "$1" "$2-small" rss)"; }
table=$BENCH_DIR/results.md
{
    echo "Run on $(date -u +%F), $(nproc) cores, load average before: $load_before."
    echo "vault $vault_rev; restic $restic_version. Peak RSS (MiB) of one backup into a fresh repository."
    echo
    echo "| input | small | big | vault small | vault big | vault growth | restic small | restic big | restic growth |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in files sparse stream; do
        case $c in
        files) label="empty files"; s="$small_tiny"; b="$tiny" ;;
        sparse) label="sparse file (bytes)"; s="$sparse_small"; b="$sparse_big" ;;
        stream) label="stdin stream (bytes)"; s="$stream_small"; b="$stream_big" ;;
        esac
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$s" "$b" \
            "$(mib "$(get vault "$c-small" rss)")" "$(mib "$(get vault "$c-big" rss)")" "$(growth vault "$c")" \
            "$(mib "$(get restic "$c-small" rss)")" "$(mib "$(get restic "$c-big" rss)")" "$(growth restic "$c")"
    done
    echo
    echo "Wall seconds: $(for t in vault restic; do for c in "${cases[@]}"; do printf '%s %s %s; ' "$t" "$c" "$(get "$t" "$c" wall)"; done; done)"
} >"$table"
show_table "$table"
steps_ok
