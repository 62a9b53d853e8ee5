#!/usr/bin/env bash
# Backup throughput through `vault serve` on loopback next to a local
# directory, in the same run, on the same data. Not run in CI.
#
#   bash benches/serve.sh
#
# Environment: VAULT_BIN (else a release build), BENCH_DIR (default
# /tmp/vault-bench-serve), BENCH_MIB (default 1024: generated data, files
# of 4 MiB, incompressible), BENCH_SOURCE (a directory to back up instead
# of generated data, e.g. /usr/share).
#
# Each backup goes into a fresh repository: a local directory, then a
# repository that `vault serve --append-only` exposes over plain HTTP, then
# over HTTPS (with a throwaway certificate, when openssl is there). The
# source is read once beforehand so that every run reads it from the page
# cache. Prints a Markdown table of wall seconds and MB/s (10^6 bytes of
# source a second).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-serve}
mib=${BENCH_MIB:-1024}
export VAULT_PASSWORD='bench-password-not-secret'
export VAULT_SERVER_PASSWORD='bench-server-password-not-secret'
export XDG_CACHE_HOME=$BENCH_DIR/cache
unset VAULT_REPOSITORY VAULT_PASSWORD_FILE VAULT_PASSWORD_COMMAND VAULT_SERVER_PASSWORD_FILE VAULT_CACERT || true
log() { printf '==> %s\n' "$*" >&2; }

if [ -n "${VAULT_BIN:-}" ]; then
    vault=$VAULT_BIN
else
    log "building vault (release)"
    (cd "$repo_root" && cargo build --release -p vault-cli)
    vault=$repo_root/target/release/vault
fi

server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"

if [ -n "${BENCH_SOURCE:-}" ]; then
    src=$BENCH_SOURCE
else
    src=$BENCH_DIR/src
    log "generating ${mib} MiB of incompressible data in 4 MiB files"
    mkdir -p "$src"
    for i in $(seq 1 $((mib / 4))); do
        head -c $((4 << 20)) /dev/urandom >"$src/f$i"
    done
fi
bytes=$(du -sb --apparent-size "$src" | cut -f1)
find "$src" -type f -exec cat {} + >/dev/null 2>&1 || true

seconds() { # wall seconds of "$@", its output discarded
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

# Start vault serve with "$@" and set $server_url from its first line.
start_server() {
    local logfile=$BENCH_DIR/serve.log
    "$vault" serve --listen 127.0.0.1:0 --path "$BENCH_DIR/srv" --users "$BENCH_DIR/users" \
        --append-only "$@" 2>"$logfile" &
    server_pid=$!
    local i
    for i in $(seq 1 100); do
        server_url=$(grep -o 'listening on [a-z]*://[0-9.:]*' "$logfile" | cut -d' ' -f3 || true)
        [ -n "$server_url" ] && return 0
        sleep 0.1
    done
    echo "vault serve did not start:" >&2
    cat "$logfile" >&2
    exit 1
}

"$vault" -q serve --users "$BENCH_DIR/users" --add-user bench

rows=()
run() { # name url
    local name=$1 url=$2 s
    "$vault" -q -r "$url" init
    s=$(seconds "$vault" -q -r "$url" backup "$src")
    rows+=("| $name | $s | $(echo "$bytes / $s / 1000000" | bc -l) |")
    log "$name: $s s"
}

log "local directory"
run "local directory" "$BENCH_DIR/local"

log "vault serve, HTTP on loopback"
start_server
run "vault serve, HTTP" "vault+http://bench@${server_url#http://}/bench/http"
stop_server

if command -v openssl >/dev/null; then
    log "vault serve, HTTPS on loopback"
    (
        cd "$BENCH_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key \
            -out server.csr 2>/dev/null
        printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
            -extfile ext.cnf -out server.pem 2>/dev/null
    )
    start_server --tls-cert "$BENCH_DIR/server.pem" --tls-key "$BENCH_DIR/server.key"
    VAULT_CACERT=$BENCH_DIR/ca.pem run "vault serve, HTTPS" \
        "vault+https://bench@${server_url#https://}/bench/https"
    stop_server
fi

echo
echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "vault $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo '?'); source: $bytes bytes${BENCH_SOURCE:+ ($BENCH_SOURCE)}."
echo
echo "| backup into | seconds | MB/s |"
echo "|---|---:|---:|"
for row in "${rows[@]}"; do
    echo "$row" | awk -F'|' '{ printf "|%s| %.2f | %.1f |\n", $2, $3, $4 }'
done
