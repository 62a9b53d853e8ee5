#!/usr/bin/env bash
# Read throughput of one large file: `cat` through `vault mount` next to
# `vault dump` of the same file, on a local repository. Not run in CI.
#
#   bash benches/mount-read.sh          # as root (mounts without fusermount3)
#
# Environment: VAULT_BIN (else a release build), BENCH_DIR (default
# /tmp/vault-bench-mount), BENCH_FILE_MIB (default 1024).
# Prints a Markdown table: the median of three runs of each, with the
# repository's files in the page cache (both read the same packs) and a
# fresh mount for each `cat` (nothing served from the mount's blob cache;
# the time is the cat's alone, not the mount's start).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-mount}
mib=${BENCH_FILE_MIB:-1024}
export VAULT_PASSWORD='bench-password-not-secret'
unset VAULT_REPOSITORY VAULT_PASSWORD_FILE VAULT_PASSWORD_COMMAND || true
log() { printf '==> %s\n' "$*" >&2; }

if [ -n "${VAULT_BIN:-}" ]; then
    vault=$VAULT_BIN
else
    log "building vault (release)"
    (cd "$repo_root" && cargo build --release -p vault-cli)
    vault=$repo_root/target/release/vault
fi

mnt=$BENCH_DIR/mnt
repo=$BENCH_DIR/repo
file=$BENCH_DIR/src/large
mount_pid=""
cleanup() {
    if [ -n "$mount_pid" ]; then kill -TERM "$mount_pid" 2>/dev/null || true; wait "$mount_pid" || true; fi
    if mountpoint -q "$mnt"; then umount -l "$mnt"; fi
}
trap cleanup EXIT
cleanup
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/src" "$mnt"

log "backing up a ${mib} MiB file of incompressible data"
head -c $((mib << 20)) /dev/urandom >"$file"
"$vault" -q -r "$repo" init
"$vault" -q -r "$repo" backup "$BENCH_DIR/src"
cat "$repo"/data/*/* >/dev/null # the page cache holds the packs for both readers
bytes=$(stat -c %s "$file")

seconds() { # wall seconds of "$@", its stdout discarded
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
median() { sort -g | sed -n 2p; }

cat_through_mount() {
    "$vault" -q -r "$repo" mount "$mnt" &
    mount_pid=$!
    until mountpoint -q "$mnt"; do sleep 0.05; done
    seconds cat "$mnt/snapshots/latest$file"
    kill -TERM "$mount_pid"
    wait "$mount_pid"
    mount_pid=""
}

log "vault dump, 3 runs"
dump_s=$(for _ in 1 2 3; do seconds "$vault" -q -r "$repo" dump latest "$file"; done | median)
log "cat through vault mount, 3 runs"
cat_s=$(for _ in 1 2 3; do cat_through_mount; done | median)
rate() { echo "scale=0; $bytes / 1048576 / $1" | bc -l; }

printf '\n| %s MiB file, vault %s, %s cores, load %s | seconds | MiB/s |\n' \
    "$mib" "$(git -C "$repo_root" rev-parse --short HEAD)" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf '|---|---:|---:|\n'
printf "| \`vault dump latest FILE > /dev/null\` | %.2f | %s |\n" "$dump_s" "$(rate "$dump_s")"
printf "| \`cat MOUNT/snapshots/latest/FILE > /dev/null\` | %.2f | %s |\n" "$cat_s" "$(rate "$cat_s")"
