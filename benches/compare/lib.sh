# Shared by the comparison scripts in this folder and by ../dump-dedup.sh:
# tools, the files dataset, the measuring wrapper, the table helpers and a
# throwaway PostgreSQL cluster. Source it; it sets $vault, $vault_rev,
# $restic_version, $restic_global, $DATA, $data_bytes, $data_files,
# $data_entries, $load_before and $results. BENCH_FILES=0 before sourcing
# skips the files dataset (for scripts that only need the tools).
# shellcheck shell=bash
# shellcheck disable=SC2034 # it sets variables for the scripts that source it

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench}
# Accepts 3e9 as well as 3000000000.
BENCH_DATA_BYTES=$(awk -v n="${BENCH_DATA_BYTES:-1200000000}" 'BEGIN {printf "%.0f", n}')
DATA=$BENCH_DIR/data
password='bench-password-not-secret'
export VAULT_PASSWORD=$password RESTIC_PASSWORD=$password
unset VAULT_REPOSITORY VAULT_PASSWORD_FILE VAULT_PASSWORD_COMMAND VAULT_CACHE_DIR RESTIC_REPOSITORY || true

log() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
# install_missing PKG...: apt-get installs the packages named (none: nothing).
install_missing() {
    [ "$#" -gt 0 ] || return 0
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}
need_pkgs=()
command -v restic >/dev/null || need_pkgs+=(restic)
[ -x /usr/bin/time ] || need_pkgs+=(time)
install_missing "${need_pkgs[@]}"

if [ -n "${VAULT_BIN:-}" ]; then
    vault=$VAULT_BIN
else
    log "building vault (release)"
    (cd "$repo_root" && cargo build --release -p vault-cli)
    vault=${CARGO_TARGET_DIR:-$repo_root/target}/release/vault
fi
# The commit the binary was built from (VAULT_BIN inside another clone: that clone's).
# A copy outside any checkout: say so rather than guess.
if src=$(cd "$(dirname "$vault")" && git rev-parse --show-toplevel 2>/dev/null); then
    vault_rev=$(git -C "$src" rev-parse --short HEAD)
    if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then vault_rev="$vault_rev+dirty"; fi
else
    vault_rev="(commit unknown: $vault is outside a checkout)"
fi
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
# The cap is BENCH_DATA_BYTES; when the trees hold less, the dataset is what
# they hold, and a run stops when that is under BENCH_DATA_MIN (default the
# smaller of 1 GB and half the cap).
mkdir -p "$BENCH_DIR"
data_note=
build_dataset() {
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
    data_bytes=$(find "$DATA" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')
    data_files=$(find "$DATA" -type f | wc -l)
    data_entries=$(find "$DATA" | wc -l)
    data_min=$(awk -v c="$BENCH_DATA_BYTES" -v m="${BENCH_DATA_MIN:-}" 'BEGIN {if (m == "") m = (c / 2 < 1e9 ? c / 2 : 1e9); printf "%.0f", m}')
    if [ "$data_bytes" -lt "$data_min" ]; then
        echo "dataset is only $data_bytes bytes (< $data_min): not enough real files here" >&2
        exit 1
    fi
    if [ "$data_bytes" -lt $((BENCH_DATA_BYTES * 9 / 10)) ]; then
        data_note=" (capped by what the sampled trees hold: the cap was $BENCH_DATA_BYTES bytes)"
        log "the sampled trees hold only $data_bytes bytes of the $BENCH_DATA_BYTES asked for"
    fi
    log "dataset: $data_files files, $data_entries entries, $data_bytes bytes"
}
if [ "${BENCH_FILES:-1}" != 0 ]; then build_dataset; fi

# ---------------------------------------------------------------- measuring
# Other work on the machine skews every figure: say how busy it was.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$BENCH_DIR/${RESULTS_NAME:-results}
rm -rf "$results"
mkdir -p "$results"

# measure TOOL STEP CMD... : runs CMD under /usr/bin/time -v, records
# wall seconds, user+sys seconds, peak RSS (KiB), the exit code, and the
# bytes CMD read: rchar (every byte read() and friends returned, page cache
# included) and read_bytes (what had to come from the block device). CMD runs
# as a child of a small sh that, once it has reaped CMD, prints its own
# /proc/PID/io: Linux adds a reaped child's I/O counts (and those of the
# child's own reaped children) to its parent's, so that is CMD's I/O plus the
# few hundred bytes sh itself reads. CMD's stdin is measure's.
measure() {
    local tool=$1 step=$2
    shift 2
    local out=$results/$tool.$step
    local t0 t1 rc=0
    t0=$(date +%s.%N)
    # shellcheck disable=SC2016 # $$ and $@ are for the inner sh
    /usr/bin/time -v -o "$out.time" sh -c '"$@"; rc=$?; cat /proc/$$/io >"$0"; exit $rc' "$out.io" "$@" \
        >"$out.stdout" 2>"$out.stderr" || rc=$?
    t1=$(date +%s.%N)
    echo "$rc" >"$out.rc"
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}' >"$out.wall"
    awk -F': ' '/User time \(seconds\)/ {u = $2} /System time \(seconds\)/ {s = $2}
                END {printf "%.2f\n", u + s}' "$out.time" >"$out.cpu"
    awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time" >"$out.rss"
    awk '$1 == "rchar:" {print $2}' "$out.io" >"$out.rchar" 2>/dev/null || true
    awk '$1 == "read_bytes:" {print $2}' "$out.io" >"$out.read_bytes" 2>/dev/null || true
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

# verify_restore NAME TARGET: diffs the restore in TARGET against $DATA,
# writes "identical" or "DIFFERS ..." to $results/NAME.verdict (the diff to
# NAME.diff), and removes TARGET unless KEEP=1.
verify_restore() {
    local name=$1 target=$2
    if diff -r --no-dereference "$DATA" "$(restored_root "$target")" >"$results/$name.diff" 2>&1; then
        echo identical >"$results/$name.verdict"
    else
        echo "DIFFERS ($(wc -l <"$results/$name.diff") lines in $results/$name.diff)" >"$results/$name.verdict"
    fi
    log "$name restore: $(cat "$results/$name.verdict")"
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$target"; fi
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

# ---------------------------------------------------------------- PostgreSQL
# A throwaway cluster for database dumps (needs root: it runs as the postgres
# user, on a Unix socket in a fresh folder under $BENCH_DIR, fsync off).
# pg_start; pg_fill SCALE; pg_dump_to FILE; pg_night; pg_dump_to FILE; pg_stop
# (put pg_stop in the caller's EXIT trap).
pg_start() {
    if [ "$(id -u)" != 0 ]; then
        echo "run this as root: it installs packages and runs PostgreSQL as the postgres user" >&2
        exit 1
    fi
    if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then install_missing postgresql; fi
    PGBIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d | sort -V | tail -n 1)
    pgdir=$(mktemp -d "$BENCH_DIR/pg.XXXXXX")
    chown postgres "$pgdir"
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log "starting PostgreSQL ($PGBIN) in $pgdir, socket port $port"
    as_pg "$PGBIN/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -w -l "$pgdir/log" \
        -o "-p $port -k $pgdir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
    export PGHOST=$pgdir PGPORT=$port PGUSER=postgres PGDATABASE=bench
    pg_version=$("$PGBIN/postgres" --version | awk '{print $3}')
    "$PGBIN/createdb" bench
}
as_pg() { runuser -u postgres -- "$@"; }
pg_stop() {
    if [ -n "${pgdir:-}" ] && [ -f "$pgdir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" stop -m fast >/dev/null 2>&1 || true
    fi
    if [ -n "${pgdir:-}" ]; then rm -rf "$pgdir"; fi
}
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql -o /dev/null; } # runs the SQL on stdin, printing only errors
pg_dump_to() { "$PGBIN/pg_dump" bench >"$1"; }
# pg_dumps SCALE DIR: a fresh cluster filled by pg_fill SCALE, DIR/dump1.sql,
# one pg_night, DIR/dump2.sql; the cluster is stopped and removed afterwards.
pg_dumps() {
    pg_start
    pg_fill "$1"
    log "dump 1"
    pg_dump_to "$2/dump1.sql"
    pg_night
    log "dump 2"
    pg_dump_to "$2/dump2.sql"
    pg_stop
}

# events_sql FIRST LAST: the SQL that adds events FIRST..LAST to the event log.
events_sql() {
    cat <<SQL
INSERT INTO events
SELECT i,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '7 seconds',
       1 + floor(random() * $accounts)::int,
       (ARRAY['login', 'logout', 'purchase', 'refund', 'comment', 'view'])[1 + floor(random() * 6)::int],
       sentence(4 + i % 13) || ' #' || md5(i::text)
FROM generate_series($1, $2) AS i;
SQL
}

# pg_fill SCALE: `pgbench -i -s SCALE` (100,000 accounts each) plus a table of
# text, so the dump is not only numbers and padding: an event log with a short
# sentence of words per row, deterministic (setseed). Sets the sizes pg_night
# uses: $accounts, $events, $transactions (BENCH_PG_TRANSACTIONS, default 0.1%
# of the accounts), $new_accounts, $new_events, $purged_events,
# $edited_events, $invoices.
pg_fill() {
    local scale=$1
    accounts=$((scale * 100000))
    events=$((scale * 20000))
    # Each TPC-B transaction updates one random account: 0.1% of them by default.
    transactions=${BENCH_PG_TRANSACTIONS:-$((accounts / 1000))}
    new_accounts=$((accounts / 100))
    new_events=$((events / 100))
    purged_events=$((events / 100))
    edited_events=$((events / 1000))
    invoices=$((scale * 200))
    log "filling the database: pgbench -i -s $scale ($accounts accounts) and $events events"
    "$PGBIN/pgbench" -i -q -s "$scale" >"$results/pgbench-init.log" 2>&1
    sql <<SQL
SELECT setseed(0.42);
CREATE TABLE events (
    id bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    account integer NOT NULL,
    kind text NOT NULL,
    body text NOT NULL
);
CREATE FUNCTION sentence(n integer) RETURNS text LANGUAGE sql VOLATILE AS \$\$
    SELECT string_agg((ARRAY['the', 'order', 'was', 'shipped', 'to', 'customer', 'after',
        'payment', 'failed', 'retry', 'invoice', 'sent', 'address', 'changed', 'by', 'support',
        'ticket', 'closed', 'refund', 'issued', 'for', 'item', 'delayed', 'in', 'warehouse',
        'north', 'south', 'login', 'from', 'new', 'device', 'password', 'reset'])
        [1 + floor(random() * 33)::int], ' ')
    FROM generate_series(1, n)
\$\$;
$(events_sql 1 "$events")
CREATE INDEX events_at ON events (at);
VACUUM ANALYZE;
SQL
}

# pg_night: one night of changes. $transactions TPC-B transactions (random
# accounts updated, history rows appended), 1% new accounts, 1% new events
# with the oldest 1% purged, 0.1% of events edited, a new small table. Sets
# $updated_accounts.
pg_night() {
    log "one night of changes"
    if [ "$transactions" -gt 0 ]; then
        "$PGBIN/pgbench" -n -c 2 -j 2 -t $(((transactions + 1) / 2)) --random-seed=7 >"$results/pgbench-run.log" 2>&1
    fi
    sql <<SQL
SELECT setseed(0.17);
-- 1% new accounts, appended.
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
SELECT aid, 1 + (aid - 1) / 100000, 0, ''
FROM generate_series($accounts + 1, $accounts + $new_accounts) AS aid;
-- The event log: 1% new events, the oldest 1% purged (retention), 0.1% edited.
$(events_sql $((events + 1)) $((events + new_events)))
DELETE FROM events WHERE id <= $purged_events;
UPDATE events SET body = body || ' (edited)', kind = 'comment'
WHERE id IN (SELECT $purged_events + 1 + floor(random() * ($events - $purged_events))::bigint
             FROM generate_series(1, $edited_events));
-- A new small table.
CREATE TABLE invoices (
    id integer PRIMARY KEY,
    account integer NOT NULL,
    amount numeric(12, 2) NOT NULL,
    issued date NOT NULL,
    note text NOT NULL
);
INSERT INTO invoices
SELECT i, 1 + floor(random() * $accounts)::int, round((random() * 1000)::numeric, 2),
       date '2026-11-23', sentence(3 + i % 5)
FROM generate_series(1, $invoices) AS i;
SQL
    updated_accounts=$(psql -At -c "SELECT count(DISTINCT aid) FROM pgbench_history")
}
