#!/usr/bin/env bash
# How much does a second nightly PostgreSQL dump add to a repository, for
# several FastCDC chunk sizes, next to restic on the same two dumps.
#
# Starts a throwaway PostgreSQL cluster, fills a database with `pgbench -i`
# plus a table of generated text, takes a plain-SQL `pg_dump`, applies one
# night of realistic changes (TPC-B transactions that update random accounts
# and append history rows, 1% new accounts, 1% new events with the oldest 1%
# purged, 0.1% of events edited, a new small table), and dumps again. Then,
# for each chunk size, backs both dumps up as a file into a fresh repository
# made with `vault init --chunk-size SIZE`, then through `vault backup --stdin`
# into a default repository (streams get 64 KiB chunks), and does the same
# with restic (its fixed chunker: 512 KiB min, 1 MiB average, 8 MiB max).
# The main figure is the plaintext the second dump adds, as a share of its
# size. Not run in CI.
#
#   bash benches/dump-dedup.sh           # as root on Debian 12; ~6 min plus the release build
#
# Environment:
#   VAULT_BIN          use this vault binary instead of building target/release/vault
#   BENCH_DIR          work folder (default /tmp/vault-bench-dump), emptied first
#   BENCH_PG_SCALE     pgbench scale: 100,000 accounts each (default 50, a ~650 MB dump)
#   BENCH_CHUNK_SIZES  vault --chunk-size values (default "64KiB 128KiB 256KiB 512KiB 1MiB 2MiB")
#   BENCH_SEEDS        fresh repositories (chunker seeds) per setting (default 3)
#   BENCH_PG_TRANSACTIONS  pgbench transactions between the dumps, each updating
#                      one random account (default 0.1% of the accounts)
#   KEEP=1             keep the dumps and repositories afterwards
#
# Needs root (initdb runs as the `postgres` user; postgresql, restic, time and
# jq are installed with apt-get when missing). Prints a Markdown table, also
# written to $BENCH_DIR/results.md; each step's output is in $BENCH_DIR/results/.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-dump}
scale=${BENCH_PG_SCALE:-50}
sizes=${BENCH_CHUNK_SIZES:-"64KiB 128KiB 256KiB 512KiB 1MiB 2MiB"}
seeds=${BENCH_SEEDS:-3}
password='bench-password-not-secret'
export VAULT_PASSWORD=$password RESTIC_PASSWORD=$password
unset VAULT_REPOSITORY VAULT_PASSWORD_FILE VAULT_PASSWORD_COMMAND VAULT_CACHE_DIR RESTIC_REPOSITORY || true
log() { printf '==> %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "run this as root: it installs packages and runs PostgreSQL as the postgres user" >&2
    exit 1
fi

# ---------------------------------------------------------------- tools
need_pkgs=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_pkgs+=(postgresql)
command -v restic >/dev/null || need_pkgs+=(restic)
command -v jq >/dev/null || need_pkgs+=(jq)
[ -x /usr/bin/time ] || need_pkgs+=(time)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null
fi
PGBIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d | sort -V | tail -n 1)

if [ -n "${VAULT_BIN:-}" ]; then
    vault=$VAULT_BIN
else
    log "building vault (release)"
    (cd "$repo_root" && cargo build --release -p vault-cli)
    vault=$repo_root/target/release/vault
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

# ---------------------------------------------------------------- PostgreSQL
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
results=$BENCH_DIR/results
mkdir -p "$results"
pgdir=$(mktemp -d "$BENCH_DIR/pg.XXXXXX")
chown postgres "$pgdir"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
    if [ -f "$pgdir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" stop -m fast >/dev/null 2>&1 || true
    fi
    rm -rf "$pgdir"
    if [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$BENCH_DIR"/repo-* "$BENCH_DIR"/dump*.sql "$BENCH_DIR/file" "$BENCH_DIR/cache-restic"
    fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting PostgreSQL ($PGBIN) in $pgdir, socket port $port"
as_pg "$PGBIN/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -w -l "$pgdir/log" \
    -o "-p $port -k $pgdir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
export PGHOST=$pgdir PGPORT=$port PGUSER=postgres PGDATABASE=bench
pg_version=$("$PGBIN/postgres" --version | awk '{print $3}')
"$PGBIN/createdb" bench
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql -o /dev/null; } # runs the SQL on stdin, printing only errors

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
# A table of text, so the dump is not only numbers and padding: an event log
# with a short sentence of words per row, deterministic (setseed).
sql <<EOF
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
INSERT INTO events
SELECT i,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '7 seconds',
       1 + floor(random() * $accounts)::int,
       (ARRAY['login', 'logout', 'purchase', 'refund', 'comment', 'view'])[1 + floor(random() * 6)::int],
       sentence(4 + i % 13) || ' #' || md5(i::text)
FROM generate_series(1, $events) AS i;
CREATE INDEX events_at ON events (at);
VACUUM ANALYZE;
EOF

log "dump 1"
"$PGBIN/pg_dump" bench >"$BENCH_DIR/dump1.sql"

log "one night of changes"
if [ "$transactions" -gt 0 ]; then
    "$PGBIN/pgbench" -n -c 2 -j 2 -t $(((transactions + 1) / 2)) --random-seed=7 >"$results/pgbench-run.log" 2>&1
fi
sql <<EOF
SELECT setseed(0.17);
-- 1% new accounts, appended.
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
SELECT aid, 1 + (aid - 1) / 100000, 0, ''
FROM generate_series($accounts + 1, $accounts + $new_accounts) AS aid;
-- The event log: 1% new events, the oldest 1% purged (retention), 0.1% edited.
INSERT INTO events
SELECT i,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '7 seconds',
       1 + floor(random() * $accounts)::int,
       (ARRAY['login', 'logout', 'purchase', 'refund', 'comment', 'view'])[1 + floor(random() * 6)::int],
       sentence(4 + i % 13) || ' #' || md5(i::text)
FROM generate_series($events + 1, $events + $new_events) AS i;
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
EOF
updated_accounts=$(psql -At -c "SELECT count(DISTINCT aid) FROM pgbench_history")

log "dump 2"
"$PGBIN/pg_dump" bench >"$BENCH_DIR/dump2.sql"
dump1_bytes=$(stat -c %s "$BENCH_DIR/dump1.sql")
dump2_bytes=$(stat -c %s "$BENCH_DIR/dump2.sql")
# A floor for any chunker: the bytes of the lines of dump 2 that `diff` finds
# new (a line-level delta, which a content-defined chunker can only approach).
new_line_bytes=$(diff "$BENCH_DIR/dump1.sql" "$BENCH_DIR/dump2.sql" | sed -n 's/^> //p' | wc -c || true)
as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" stop -m fast >/dev/null
log "dump 1: $dump1_bytes bytes, dump 2: $dump2_bytes bytes, new lines: $new_line_bytes bytes"

# ---------------------------------------------------------------- backups
# Each repository gets its own random chunker seed (vault: the gear table;
# restic: the polynomial), and on a dump's few distinct bytes and long
# padding the chunk sizes it gives vary from seed to seed: every setting is
# measured in $seeds fresh repositories.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# timed NAME CMD... < input : runs CMD under /usr/bin/time; its stdout goes
# to NAME.out, stderr to NAME.err, wall seconds and peak RSS (KiB) to NAME.time.
timed() {
    local name=$1
    shift
    if ! /usr/bin/time -f '%e %M' -o "$results/$name.time" "$@" >"$results/$name.out" 2>"$results/$name.err"; then
        log "$name FAILED; last lines of stderr:"
        tail -n 5 "$results/$name.err" >&2
        exit 1
    fi
}
summary() { jq -s 'map(select(.message_type == "summary")) | last' "$results/$1.out"; }
du_b() { du -sb "$1" | awk '{print $1}'; }

# One line of key=value per repository, read back by the table.
runs=$BENCH_DIR/runs.txt
: >"$runs"

# Each --chunk-size setting backs the dump up as a file (files are chunked
# with the repository's parameters); "stdin" is a default repository fed
# through --stdin, as `--stdin-from-command -- pg_dump` would (streams are
# chunked with at most 64 KiB on average: SPEC.md §5.4).
mkdir -p "$BENCH_DIR/file"
for size in $sizes stdin; do
    for seed in $(seq 1 "$seeds"); do
        run=vault-$size-$seed
        repo=$BENCH_DIR/repo-$run
        if [ "$size" = stdin ]; then
            log "vault, default repository, dump through --stdin, repository $seed of $seeds"
            "$vault" -q -r "$repo" init
        else
            log "vault --chunk-size $size, dump as a file, repository $seed of $seeds"
            "$vault" -q -r "$repo" init --chunk-size "$size"
        fi
        for n in 1 2; do
            if [ "$size" = stdin ]; then
                timed "$run-$n" "$vault" -r "$repo" backup --no-progress --json \
                    --stdin --stdin-filename db.sql <"$BENCH_DIR/dump$n.sql"
            else
                ln -f "$BENCH_DIR/dump$n.sql" "$BENCH_DIR/file/db.sql"
                timed "$run-$n" "$vault" -r "$repo" backup --no-progress --json "$BENCH_DIR/file"
            fi
            printf -v "repo$n" %s "$(du_b "$repo")"
        done
        s1=$(summary "$run-1")
        s2=$(summary "$run-2")
        "$vault" -r "$repo" stats --mode raw-data --json latest >"$results/$run-stats2.json"
        read -r wall rss <"$results/$run-2.time"
        echo "setting=$size" \
            "stored1=$(jq .data_added_packed <<<"$s1") blobs1=$(jq .data_blobs <<<"$s1")" \
            "added2=$(jq .data_added <<<"$s2") stored2=$(jq .data_added_packed <<<"$s2") blobs2=$(jq .data_blobs <<<"$s2")" \
            "chunks2=$(jq .data_blob_count "$results/$run-stats2.json")" \
            "repo1=$repo1 repo2=$repo2 index2=$(du_b "$repo/index") wall2=$wall rss2=$rss" >>"$runs"
        log "$(tail -n 1 "$runs")"
        if [ "${KEEP:-0}" != 1 ]; then rm -rf "$repo"; fi
    done
done

export RESTIC_CACHE_DIR=$BENCH_DIR/cache-restic
for seed in $(seq 1 "$seeds"); do
    run=restic-$seed
    repo=$BENCH_DIR/repo-$run
    log "restic $restic_version (512KiB/1MiB/8MiB), repository $seed of $seeds"
    restic -q -r "$repo" init >/dev/null
    for n in 1 2; do
        timed "$run-$n" restic -r "$repo" "${restic_global[@]}" backup --json \
            --stdin --stdin-filename db.sql <"$BENCH_DIR/dump$n.sql"
        restic -r "$repo" stats --mode raw-data --json >"$results/$run-stats$n.json"
        printf -v "repo$n" %s "$(du_b "$repo")"
    done
    s1=$(summary "$run-1")
    s2=$(summary "$run-2")
    restic -r "$repo" stats --mode raw-data --json latest >"$results/$run-stats-latest.json"
    read -r wall rss <"$results/$run-2.time"
    # restic 0.14's data_added is plaintext (like vault's); what the new blobs
    # take in the packs is the growth of raw-data's total_size. Its blob count
    # includes the snapshot's one tree.
    packed1=$(jq .total_size "$results/$run-stats1.json")
    packed2=$(jq .total_size "$results/$run-stats2.json")
    echo "setting=restic" \
        "stored1=$packed1 blobs1=$(jq .data_blobs <<<"$s1")" \
        "added2=$(jq .data_added <<<"$s2") stored2=$((packed2 - packed1)) blobs2=$(jq .data_blobs <<<"$s2")" \
        "chunks2=$(($(jq .total_blob_count "$results/$run-stats-latest.json") - 1))" \
        "repo1=$repo1 repo2=$repo2 index2=$(du_b "$repo/index") wall2=$wall rss2=$rss" >>"$runs"
    log "$(tail -n 1 "$runs")"
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$repo" "$RESTIC_CACHE_DIR"; fi
done

# ---------------------------------------------------------------- table
mb() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1e6}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {p = 100 * a / b; printf (p < 1 ? "%.2f %%" : "%.1f %%"), p}'; }
table=$BENCH_DIR/results.md
{
    echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(. /etc/os-release && echo "$PRETTY_NAME"); load average before the backups: $load_before."
    echo "vault $vault_rev (release build), restic $restic_version ${restic_global[*]:-(default compression)}, PostgreSQL $pg_version; both with their default compression (auto)."
    echo
    echo "Database: \`pgbench -i -s $scale\` ($accounts accounts) plus an \`events\` table of $events rows of generated text."
    echo "Changes between the dumps: $transactions pgbench TPC-B transactions ($updated_accounts distinct accounts, $(pct "$updated_accounts" "$accounts"), updated at random, as many \`pgbench_history\` rows appended, tellers and branches updated);"
    echo "$new_accounts accounts appended (1%); $new_events events appended (1%), the oldest $purged_events purged, $edited_events edited at random (0.1%); a new table \`invoices\` of $invoices rows."
    echo "Dump 1: $dump1_bytes bytes ($(mb "$dump1_bytes") MB); dump 2: $dump2_bytes bytes ($(mb "$dump2_bytes") MB). Lines of dump 2 that \`diff\` finds new: $new_line_bytes bytes ($(pct "$new_line_bytes" "$dump2_bytes") of dump 2), a floor no chunker reaches."
    echo
    echo "Each row: $seeds fresh repositories (each with its own random chunker seed); the figures are those of the median repository by bytes the 2nd dump adds, with the range over all $seeds in brackets."
    echo
    echo "| chunk size (avg; min ½, max 8×) | 2nd dump adds MB (plaintext) | as % of dump 2 [range] | 2nd stored MB | mean chunk KiB [range] | chunks in dump 2 | new chunks | 1st dump stored MB | repo after 2 MB | index after 2 KB | 2nd backup s | 2nd peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for setting in $sizes stdin restic; do
        # This setting's runs, sorted by bytes added; the median one speaks for them.
        mapfile -t lines < <(grep "^setting=$setting " "$runs" | awk '{split($4, a, "="); print a[2], $0}' | sort -n | cut -d' ' -f2-)
        lo_pct= hi_pct= lo_mean= hi_mean=
        for line in "${lines[@]}"; do
            for kv in $line; do declare "${kv%%=*}=${kv#*=}"; done
            p=$(awk -v a="$added2" -v b="$dump2_bytes" 'BEGIN {printf "%.1f", 100 * a / b}')
            m=$((dump2_bytes / chunks2 / 1024))
            lo_pct=${lo_pct:-$p} hi_pct=$p
            if [ -z "$lo_mean" ] || [ "$m" -lt "$lo_mean" ]; then lo_mean=$m; fi
            if [ -z "$hi_mean" ] || [ "$m" -gt "$hi_mean" ]; then hi_mean=$m; fi
        done
        for kv in ${lines[$((${#lines[@]} / 2))]}; do declare "${kv%%=*}=${kv#*=}"; done
        label="vault \`--chunk-size $setting\`"
        [ "$setting" = restic ] && label="restic $restic_version (1 MiB; 512 KiB, 8 MiB)"
        [ "$setting" = stdin ] && label="vault default, \`--stdin\` (streams: 64 KiB)"
        printf '| %s | %s | %s [%s–%s] | %s | %s [%s–%s] | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$label" "$(mb "$added2")" "$(pct "$added2" "$dump2_bytes")" "$lo_pct" "$hi_pct" \
            "$(mb "$stored2")" "$((dump2_bytes / chunks2 / 1024))" "$lo_mean" "$hi_mean" \
            "$chunks2" "$blobs2" "$(mb "$stored1")" "$(mb "$repo2")" \
            "$(awk -v n="$index2" 'BEGIN {printf "%.0f", n / 1e3}')" "$wall2" "$((rss2 / 1024))"
    done
    echo
    echo "MB = 10^6 bytes. \"Plaintext\" is the bytes of the new chunks before compression (\`data_added\` of \`backup --json\`, which also counts the snapshot's one small tree); \"stored\" is what they take in the packs (compressed, encrypted). \"Chunks in dump 2\" is the data blobs the second snapshot refers to (\`stats --mode raw-data latest\`); \"mean chunk\" is dump 2's size over that. Repository and index sizes are \`du -sb\`; per-repository figures are in $runs. Times are one run each on a shared machine: noisy."
} >"$table"
cat "$table"
log "table written to $table; each step's output in $results/"
