#!/usr/bin/env bash
# vault next to restic on the same real folder of ~1.2 GB, in the same run.
#
# For each tool: init a fresh encrypted repository, back the folder up, back it
# up again unchanged, restore it in full into a temp dir and diff it against
# the original. Every step is timed with /usr/bin/time -v (wall, user+sys CPU,
# peak RSS); the repository size is `du -sb`. Prints a Markdown table.
#
# Usage: bash benches/compare/backup-vs-restic.sh
#
# Environment:
#   BENCH_DIR        work folder (default /tmp/vault-bench); the dataset is
#                    built once in $BENCH_DIR/data and reused by later runs
#   BENCH_DATA_BYTES dataset size cap in bytes (default 1200000000)
#   VAULT_BIN        use this vault binary instead of building target/release/vault
#   KEEP=1           keep the repositories and restores afterwards
#
# Needs root (or the packages restic and time already installed). Both tools
# run warm-cache: dropping the page cache is not reliably possible here, so
# the dataset is read once with `cat` before each tool's first backup.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_tool() {
    local tool=$1 repo=$BENCH_DIR/repo-$1 target=$BENCH_DIR/restore-$1
    rm -rf "$repo" "$target" "$BENCH_DIR/cache-$tool"
    mkdir -p "$target"
    warm_cache
    case $tool in
    vault)
        measure vault init "$vault" -r "$repo" init
        measure vault backup1 "$vault" -r "$repo" backup "$DATA" --json
        measure vault backup2 "$vault" -r "$repo" backup "$DATA" --json
        measure vault restore "$vault" -r "$repo" restore latest --target "$target"
        ;;
    restic)
        export RESTIC_CACHE_DIR=$BENCH_DIR/cache-restic
        measure restic init restic -r "$repo" init
        measure restic backup1 restic -r "$repo" "${restic_global[@]}" backup "$DATA"
        measure restic backup2 restic -r "$repo" "${restic_global[@]}" backup "$DATA"
        measure restic restore restic -r "$repo" restore latest --target "$target"
        ;;
    esac
    { du -sb "$repo" 2>/dev/null || echo 0; } | awk '{print $1}' >"$results/$tool.repo_bytes"
    verify_restore "$tool" "$target"
}

run_tool vault
run_tool restic

# ---------------------------------------------------------------- table
repo_mb() {
    if [ "$(get "$1" backup1 rc)" = failed ]; then echo failed; else
        awk -v n="$(cat "$results/$1.repo_bytes")" 'BEGIN {printf "%.1f", n / 1e6}'; fi
}

table=$BENCH_DIR/results.md
{
    echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), warm page cache; load average before the run: $load_before."
    echo "Dataset: $data_files files ($data_entries entries) of real files sampled from /usr/share, /usr/lib and the Rust toolchain, $(awk -v n="$data_bytes" 'BEGIN {printf "%.2f GB", n / 1e9}') ($data_bytes bytes)."
    echo "vault $vault_rev (release build); restic $restic_version ${restic_global[*]:-(default compression)}. Both encrypted, same password via VAULT_PASSWORD / RESTIC_PASSWORD."
    echo
    echo "| step / metric | vault | restic | vault/restic |"
    echo "|---|---:|---:|---:|"
    row "init: wall s" "$(get vault init wall)" "$(get restic init wall)"
    for step in backup1 backup2 restore; do
        case $step in
        backup1) name="initial backup" ;;
        backup2) name="unchanged 2nd backup" ;;
        restore) name="full restore" ;;
        esac
        vw=$(get vault $step wall)
        rw=$(get restic $step wall)
        row "$name: wall s" "$vw" "$rw"
        row "$name: MB/s" "$(mbps "$vw")" "$(mbps "$rw")"
        row "$name: CPU user+sys s" "$(get vault $step cpu)" "$(get restic $step cpu)"
        row "$name: peak RSS MiB" "$(mib "$(get vault $step rss)")" "$(mib "$(get restic $step rss)")"
    done
    row "repository size MB (after both backups)" "$(repo_mb vault)" "$(repo_mb restic)"
    printf "| restore identical (\`diff -r\`) | %s | %s | |\n" "$(cat "$results/vault.verdict")" "$(cat "$results/restic.verdict")"
    echo
    echo "MB = 10^6 bytes; MB/s = dataset bytes / wall time. Ratios below 1 favour vault for time, CPU, memory and size."
} >"$table"

show_table "$table"
if [ "${KEEP:-0}" != 1 ]; then rm -rf "$BENCH_DIR/repo-vault" "$BENCH_DIR/repo-restic" "$BENCH_DIR/cache-vault" "$BENCH_DIR/cache-restic"; fi

# Fail when a step failed or a restore differs.
steps_ok
grep -qx identical "$results/vault.verdict" && grep -qx identical "$results/restic.verdict"
