# Shared by the comparison scripts in this folder: tools, the dataset, the
# measuring wrapper and the table helpers. Source it; it sets $vault,
# $vault_rev, $restic_version, $restic_global, $DATA, $data_bytes,
# $data_files, $data_entries, $load_before and $results.
# shellcheck shell=bash

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench}
BENCH_DATA_BYTES=${BENCH_DATA_BYTES:-1200000000}
DATA=$BENCH_DIR/data
password='bench-password-not-secret'
export VAULT_PASSWORD=$password RESTIC_PASSWORD=$password
unset VAULT_REPOSITORY VAULT_PASSWORD_FILE VAULT_PASSWORD_COMMAND RESTIC_REPOSITORY || true

log() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
need_pkgs=()
command -v restic >/dev/null || need_pkgs+=(restic)
[ -x /usr/bin/time ] || need_pkgs+=(time)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null
fi

if [ -n "${VAULT_BIN:-}" ]; then
    vault=$VAULT_BIN
else
    log "building vault (release)"
    (cd "$repo_root" && cargo build --release -p vault-cli)
    vault=$repo_root/target/release/vault
fi
# The commit the binary was built from (VAULT_BIN inside another clone: that clone's).
src=$(cd "$(dirname "$vault")" && git rev-parse --show-toplevel 2>/dev/null || echo "$repo_root")
vault_rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$src" status --porcelain 2>/dev/null)" ]; then vault_rev="$vault_rev+dirty"; fi
restic_version=$(restic version | awk '{print $2}')
restic_global=()
if restic --help 2>/dev/null | grep -q -- '--compression'; then
    restic_global=(--compression auto)
fi

# ---------------------------------------------------------------- dataset
# A deterministic sample of real files nobody here wrote: /usr/share, /usr/lib
# and the Rust toolchain. Each file is kept or not by a hash of its path, in
# hash order until the size cap, so big and small files, binaries and text,
# from all three trees are mixed, and the same machine gives the same set.
mkdir -p "$BENCH_DIR"
marker=$BENCH_DIR/data.complete
if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$BENCH_DATA_BYTES" ]; then
    log "building the dataset in $DATA (cap $BENCH_DATA_BYTES bytes)"
    rm -rf "$DATA" "$marker"
    mkdir -p "$DATA"
    toolchain=$(readlink -f "$(rustc --print sysroot)")
    python3 - "$BENCH_DATA_BYTES" /usr/share /usr/lib "$toolchain" >"$BENCH_DIR/data.list" <<'EOF'
import hashlib, os, stat, sys
cap = int(sys.argv[1])
entries = []
for top in sys.argv[2:]:
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                size = 0
            elif stat.S_ISREG(st.st_mode) and os.access(path, os.R_OK):
                size = st.st_size
            else:
                continue
            key = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
            entries.append((key, path, size))
entries.sort()
chosen, total = [], 0
for _, path, size in entries:
    if total + size > cap:
        continue
    chosen.append(path)
    total += size
for path in sorted(chosen):
    sys.stdout.buffer.write(path.lstrip("/").encode("utf-8", "surrogateescape") + b"\0")
EOF
    tar -C / --null --no-recursion -T "$BENCH_DIR/data.list" -cf - | tar -C "$DATA" -xf -
    echo "$BENCH_DATA_BYTES" >"$marker"
fi
data_bytes=$(find "$DATA" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
data_files=$(find "$DATA" -type f | wc -l)
data_entries=$(find "$DATA" | wc -l)
if [ "$data_bytes" -lt 1000000000 ]; then
    echo "dataset is only $data_bytes bytes (< 1 GB): not enough real files here" >&2
    exit 1
fi
log "dataset: $data_files files, $data_entries entries, $data_bytes bytes"

# ---------------------------------------------------------------- measuring
# Other work on the machine skews every figure: say how busy it was.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$BENCH_DIR/${RESULTS_NAME:-results}
rm -rf "$results"
mkdir -p "$results"

# measure TOOL STEP CMD... : runs CMD under /usr/bin/time -v, records
# wall seconds, user+sys seconds, peak RSS (KiB) and the exit code.
measure() {
    local tool=$1 step=$2
    shift 2
    local out=$results/$tool.$step
    local t0 t1 rc=0
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || rc=$?
    t1=$(date +%s.%N)
    echo "$rc" >"$out.rc"
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}' >"$out.wall"
    awk -F': ' '/User time \(seconds\)/ {u = $2} /System time \(seconds\)/ {s = $2}
                END {printf "%.2f\n", u + s}' "$out.time" >"$out.cpu"
    awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time" >"$out.rss"
    if [ "$rc" -ne 0 ]; then
        log "$tool $step FAILED (exit $rc); last lines of stderr:"
        tail -n 5 "$out.stderr" >&2
    else
        log "$tool $step: $(cat "$out.wall") s wall, $(cat "$out.cpu") s CPU, $(cat "$out.rss") KiB peak RSS"
    fi
    return 0
}

# restored_root TARGET: where the dataset landed inside a restore target.
restored_root() {
    if [ -d "$1$DATA" ]; then echo "$1$DATA"; else echo "$1/$(basename "$DATA")"; fi
}

warm_cache() { find "$DATA" -type f -print0 | xargs -0 cat >/dev/null; }

# ---------------------------------------------------------------- table helpers
get() { # get TOOL STEP METRIC -> value, or "failed"
    if [ "$(cat "$results/$1.$2.rc")" != 0 ]; then echo failed; else cat "$results/$1.$2.$3"; fi
}
ratio() {
    case "$1$2" in *failed*) echo "-" ;; *) awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}' ;; esac
}
mbps() { # bytes / wall seconds, in MB/s
    case "$1" in failed) echo failed ;; *) awk -v s="$1" -v n="$data_bytes" 'BEGIN {if (s > 0) printf "%.1f", n / s / 1e6; else print "-"}' ;; esac
}
mib() { case "$1" in failed) echo failed ;; *) awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}' ;; esac; }
row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
# step_rows LABEL STEP: the wall, CPU and peak-RSS rows of one measured step.
step_rows() {
    row "$1: wall s" "$(get vault "$2" wall)" "$(get restic "$2" wall)"
    row "$1: CPU user+sys s" "$(get vault "$2" cpu)" "$(get restic "$2" cpu)"
    row "$1: peak RSS MiB" "$(mib "$(get vault "$2" rss)")" "$(mib "$(get restic "$2" rss)")"
}

# show_table FILE: print the table and say where the step outputs are.
show_table() {
    cat "$1"
    log "table written to $1; per-step outputs in $results/"
}

# steps_ok: succeeds only when every measured step did, so a run with a
# failed step cannot be mistaken for a good one.
steps_ok() {
    local f
    for f in "$results"/*.rc; do [ "$(cat "$f")" = 0 ] || return 1; done
}
