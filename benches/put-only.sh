#!/usr/bin/env bash
# Backup with a put-only key next to a full key, in the same run, on the
# same data (issue 22: their throughput must be within 5% of each other).
# Not run in CI.
#
#   bash benches/put-only.sh
#
# Environment: VAULT_BIN (else a release build), OLD_VAULT_BIN (optional:
# a build of the format 1 release, timed the same way with its full key),
# BENCH_DIR (default /tmp/vault-bench-put-only), BENCH_MIB (default 1024:
# generated incompressible data in 4 MiB files), BENCH_SOURCE (a directory
# to back up as well, default /usr/share), ROUNDS (default 3).
#
# Each round backs up every source into fresh repositories, alternating
# which key goes first: an initial backup (everything read, chunked,
# compressed, sealed and written) and a second, unchanged one (a full key
# compares with its parent snapshot, a put-only key with its record in the
# cache directory). The sources are read once beforehand so every backup
# reads them from the page cache. Prints a Markdown table of the median
# wall seconds, MB/s (10^6 bytes of source a second) and the put-only /
# full ratio.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-put-only}
mib=${BENCH_MIB:-1024}
rounds=${ROUNDS:-3}
unset VAULT_REPOSITORY VAULT_PASSWORD VAULT_PASSWORD_FILE VAULT_PASSWORD_COMMAND || true
log() { printf '==> %s\n' "$*" >&2; }

if [ -n "${VAULT_BIN:-}" ]; then
    vault=$VAULT_BIN
else
    log "building vault (release)"
    (cd "$repo_root" && cargo build --release -p vault-cli)
    vault=$repo_root/target/release/vault
fi

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
echo 'bench-full-password-not-secret' >"$BENCH_DIR/full-pw"
echo 'bench-put-only-password-not-secret' >"$BENCH_DIR/put-pw"

gen=$BENCH_DIR/generated
log "generating ${mib} MiB of incompressible data in 4 MiB files"
mkdir -p "$gen"
for i in $(seq 1 $((mib / 4))); do
    head -c $((4 << 20)) /dev/urandom >"$gen/f$i"
done
sources=("$gen")
tree=${BENCH_SOURCE-/usr/share}
[ -n "$tree" ] && [ -d "$tree" ] && sources+=("$tree")
for s in "${sources[@]}"; do
    find "$s" -type f -exec cat {} + >/dev/null 2>&1 || true
done

seconds() { # wall seconds of "$@", its output discarded
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A fresh repository at $1 opened by "$2" (full or put-only) with binary $3;
# sets $pw to the password file the backups use.
fresh() {
    local repo=$1 kind=$2 bin=$3
    rm -rf "$repo" "$BENCH_DIR/cache"
    "$bin" -r "$repo" init --password-file "$BENCH_DIR/full-pw" >/dev/null 2>&1
    pw=$BENCH_DIR/full-pw
    if [ "$kind" = put-only ]; then
        "$bin" -r "$repo" key add --put-only --password-file "$BENCH_DIR/full-pw" \
            --new-password-file "$BENCH_DIR/put-pw" >/dev/null
        pw=$BENCH_DIR/put-pw
    fi
}

declare -A t
kinds=(full put-only)
[ -n "${OLD_VAULT_BIN:-}" ] && kinds+=(old-full)
for round in $(seq 1 "$rounds"); do
    order=("${kinds[@]}")
    if [ $((round % 2)) = 0 ]; then order=(put-only full); [ -n "${OLD_VAULT_BIN:-}" ] && order+=(old-full); fi
    for s in "${sources[@]}"; do
        for kind in "${order[@]}"; do
            bin=$vault
            key=$kind
            if [ "$kind" = old-full ]; then bin=$OLD_VAULT_BIN; key=full; fi
            repo=$BENCH_DIR/repo
            fresh "$repo" "$key" "$bin"
            export XDG_CACHE_HOME=$BENCH_DIR/cache
            first=$(seconds "$bin" -r "$repo" backup --password-file "$pw" "$s")
            second=$(seconds "$bin" -r "$repo" backup --password-file "$pw" "$s")
            t[$s,$kind,initial]="${t[$s,$kind,initial]:-} $first"
            t[$s,$kind,unchanged]="${t[$s,$kind,unchanged]:-} $second"
            log "round $round $s $kind: initial ${first}s, unchanged ${second}s"
        done
    done
done

echo
echo "| source | backup | full key | put-only key | put-only / full |${OLD_VAULT_BIN:+ format 1 release, full key |}"
echo "|---|---|---:|---:|---:|${OLD_VAULT_BIN:+---:|}"
for s in "${sources[@]}"; do
    bytes=$(du -sb --apparent-size "$s" | cut -f1)
    for phase in initial unchanged; do
        # shellcheck disable=SC2086
        full=$(median ${t[$s,full,$phase]})
        # shellcheck disable=SC2086
        put=$(median ${t[$s,put-only,$phase]})
        row="| $s ($((bytes / 1000000)) MB) | $phase | $(printf '%.2f s, %.0f MB/s' "$full" "$(echo "$bytes / $full / 1000000" | bc -l)") | $(printf '%.2f s, %.0f MB/s' "$put" "$(echo "$bytes / $put / 1000000" | bc -l)") | $(printf '%.3f' "$(echo "$put / $full" | bc -l)") |"
        if [ -n "${OLD_VAULT_BIN:-}" ]; then
            # shellcheck disable=SC2086
            old=$(median ${t[$s,old-full,$phase]})
            row="$row $(printf '%.2f s, %.0f MB/s' "$old" "$(echo "$bytes / $old / 1000000" | bc -l)") |"
        fi
        echo "$row"
    done
done
