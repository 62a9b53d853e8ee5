#!/usr/bin/env bash
# Backup and restore throughput of vault and restic on the same ~1.2 GB real
# folder, to a local directory and to a real S3 server (moto, PyPI) on
# 127.0.0.1, in the same run.
#
# For each tool and each store: init a fresh encrypted repository, back the
# folder up, restore it in full into a temp dir and diff it against the
# original. Every step is timed with /usr/bin/time -v (wall, user+sys CPU,
# peak RSS). Prints a Markdown table.
#
# Usage: bash benches/compare/s3-vs-restic.sh
#
# Environment: as backup-vs-restic.sh (BENCH_DIR, BENCH_DATA_BYTES,
# VAULT_BIN, KEEP=1), plus MOTO_VENV (default ~/.cache/vault-test-moto, the
# venv scripts/test.sh uses). moto keeps objects in memory, in one Python
# process: it is the same server for both tools, and likely the bottleneck,
# so the S3 figures compare the clients, not what S3 itself would do.
set -euo pipefail

RESULTS_NAME="results-s3"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- the server
venv=${MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-test-moto}
if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'moto[s3]==5.2.5' 'flask>=3,<4' 'flask-cors>=6,<7'
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$BENCH_DIR/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/bench"
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
moto_version=$("$venv/bin/pip" show moto 2>/dev/null | awk '/^Version/ {print $2}')

# run TOOL STORE: init, backup, restore, diff. STORE is local or s3.
run() {
    local tool=$1 store=$2 target=$BENCH_DIR/restore-$1-$2 repo
    case $tool.$store in
    vault.local | restic.local) repo=$BENCH_DIR/repo-$tool ;;
    vault.s3) repo=s3://bench/vault ;;
    restic.s3) repo=s3:http://127.0.0.1:$port/bench/restic ;;
    esac
    [ "$store" = local ] && rm -rf "$repo"
    rm -rf "$target" "$BENCH_DIR/cache-$tool-$store"
    mkdir -p "$target"
    warm_cache
    case $tool in
    vault)
        export XDG_CACHE_HOME=$BENCH_DIR/cache-$tool-$store
        measure vault "init-$store" "$vault" -r "$repo" init
        measure vault "backup-$store" "$vault" -r "$repo" backup "$DATA" --json
        measure vault "restore-$store" "$vault" -r "$repo" restore latest --target "$target"
        ;;
    restic)
        export RESTIC_CACHE_DIR=$BENCH_DIR/cache-$tool-$store
        measure restic "init-$store" restic -r "$repo" init
        measure restic "backup-$store" restic -r "$repo" "${restic_global[@]}" backup "$DATA"
        measure restic "restore-$store" restic -r "$repo" restore latest --target "$target"
        ;;
    esac
    verify_restore "$tool.$store" "$target"
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$BENCH_DIR/repo-$tool" "$BENCH_DIR/cache-$tool-$store"; fi
}

for store in local s3; do
    run vault $store
    run restic $store
done

# ---------------------------------------------------------------- table
table=$BENCH_DIR/results-s3.md
{
    echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), warm page cache; load average before the run: $load_before."
    echo "Dataset: $data_files files of real files sampled from /usr/share, /usr/lib and the Rust toolchain, $(awk -v n="$data_bytes" 'BEGIN {printf "%.2f GB", n / 1e9}')."
    echo "vault $vault_rev (release build, default --connections 8); restic $restic_version ${restic_global[*]:-(default compression)}; S3 = moto $moto_version on 127.0.0.1 (one Python process, objects in memory)."
    echo
    echo "| step / metric | vault | restic | vault/restic |"
    echo "|---|---:|---:|---:|"
    for step in backup-local restore-local backup-s3 restore-s3; do
        case $step in
        backup-local) name="backup to a local directory" ;;
        restore-local) name="restore from a local directory" ;;
        backup-s3) name="backup to S3 (moto)" ;;
        restore-s3) name="restore from S3 (moto)" ;;
        esac
        vw=$(get vault "$step" wall)
        rw=$(get restic "$step" wall)
        row "$name: wall s" "$vw" "$rw"
        row "$name: MB/s" "$(mbps "$vw")" "$(mbps "$rw")"
        row "$name: CPU user+sys s" "$(get vault "$step" cpu)" "$(get restic "$step" cpu)"
        row "$name: peak RSS MiB" "$(mib "$(get vault "$step" rss)")" "$(mib "$(get restic "$step" rss)")"
    done
    for store in local s3; do
        printf "| restore from %s identical (\`diff -r\`) | %s | %s | |\n" "$store" \
            "$(cat "$results/vault.$store.verdict")" "$(cat "$results/restic.$store.verdict")"
    done
    echo
    echo "MB = 10^6 bytes; MB/s = dataset bytes / wall time. Ratios below 1 favour vault for time, CPU and memory (above 1 for MB/s)."
} >"$table"

show_table "$table"
steps_ok
grep -qx identical "$results/vault.local.verdict" && grep -qx identical "$results/vault.s3.verdict" &&
    grep -qx identical "$results/restic.local.verdict" && grep -qx identical "$results/restic.s3.verdict"
