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

BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-dump}
scale=${BENCH_PG_SCALE:-50}
sizes=${BENCH_CHUNK_SIZES:-"64KiB 128KiB 256KiB 512KiB 1MiB 2MiB"}
seeds=${BENCH_SEEDS:-3}
rm -rf "$BENCH_DIR"
# The tools, the measuring helpers and the PostgreSQL cluster; no files dataset.
BENCH_FILES=0
source "$(dirname "${BASH_SOURCE[0]}")/compare/lib.sh"
command -v jq >/dev/null || install_missing jq

# ---------------------------------------------------------------- PostgreSQL
cleanup() {
    pg_stop
    if [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$BENCH_DIR"/repo-* "$BENCH_DIR"/dump*.sql "$BENCH_DIR/file" "$BENCH_DIR/cache-restic"
    fi
}
trap cleanup EXIT
pg_dumps "$scale" "$BENCH_DIR"
dump1_bytes=$(stat -c %s "$BENCH_DIR/dump1.sql")
dump2_bytes=$(stat -c %s "$BENCH_DIR/dump2.sql")
# A floor for any chunker: the bytes of the lines of dump 2 that `diff` finds
# new (a line-level delta, which a content-defined chunker can only approach).
new_line_bytes=$(diff "$BENCH_DIR/dump1.sql" "$BENCH_DIR/dump2.sql" | sed -n 's/^> //p' | wc -c || true)
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
# The repository's size after backup 1 and after backup 2 (index = backup).
repo_bytes=()

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
            repo_bytes[n]=$(du_b "$repo")
        done
        s1=$(summary "$run-1")
        s2=$(summary "$run-2")
        "$vault" -r "$repo" stats --mode raw-data --json latest >"$results/$run-stats2.json"
        read -r wall rss <"$results/$run-2.time"
        echo "setting=$size" \
            "stored1=$(jq .data_added_packed <<<"$s1") blobs1=$(jq .data_blobs <<<"$s1")" \
            "added2=$(jq .data_added <<<"$s2") stored2=$(jq .data_added_packed <<<"$s2") blobs2=$(jq .data_blobs <<<"$s2")" \
            "chunks2=$(jq .data_blob_count "$results/$run-stats2.json")" \
            "repo1=${repo_bytes[1]} repo2=${repo_bytes[2]} index2=$(du_b "$repo/index") wall2=$wall rss2=$rss" >>"$runs"
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
        repo_bytes[n]=$(du_b "$repo")
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
        "repo1=${repo_bytes[1]} repo2=${repo_bytes[2]} index2=$(du_b "$repo/index") wall2=$wall rss2=$rss" >>"$runs"
    log "$(tail -n 1 "$runs")"
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$repo" "$RESTIC_CACHE_DIR"; fi
done

# ---------------------------------------------------------------- table
mb() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1e6}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {p = 100 * a / b; printf (p < 1 ? "%.2f %%" : "%.1f %%"), p}'; }
# parse_run LINE: one line of $runs, its key=value pairs into the array fields.
declare -A fields
parse_run() {
    local kv
    fields=()
    for kv in $1; do fields[${kv%%=*}]=${kv#*=}; done
}
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
        lo_pct='' hi_pct='' lo_mean='' hi_mean=''
        for line in "${lines[@]}"; do
            parse_run "$line"
            p=$(awk -v a="${fields[added2]}" -v b="$dump2_bytes" 'BEGIN {printf "%.1f", 100 * a / b}')
            m=$((dump2_bytes / fields[chunks2] / 1024))
            lo_pct=${lo_pct:-$p} hi_pct=$p
            if [ -z "$lo_mean" ] || [ "$m" -lt "$lo_mean" ]; then lo_mean=$m; fi
            if [ -z "$hi_mean" ] || [ "$m" -gt "$hi_mean" ]; then hi_mean=$m; fi
        done
        parse_run "${lines[$((${#lines[@]} / 2))]}"
        label="vault \`--chunk-size $setting\`"
        [ "$setting" = restic ] && label="restic $restic_version (1 MiB; 512 KiB, 8 MiB)"
        [ "$setting" = stdin ] && label="vault default, \`--stdin\` (streams: 64 KiB)"
        printf '| %s | %s | %s [%s–%s] | %s | %s [%s–%s] | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$label" "$(mb "${fields[added2]}")" "$(pct "${fields[added2]}" "$dump2_bytes")" "$lo_pct" "$hi_pct" \
            "$(mb "${fields[stored2]}")" "$((dump2_bytes / fields[chunks2] / 1024))" "$lo_mean" "$hi_mean" \
            "${fields[chunks2]}" "${fields[blobs2]}" "$(mb "${fields[stored1]}")" "$(mb "${fields[repo2]}")" \
            "$(awk -v n="${fields[index2]}" 'BEGIN {printf "%.0f", n / 1e3}')" "${fields[wall2]}" "$((fields[rss2] / 1024))"
    done
    echo
    echo "MB = 10^6 bytes. \"Plaintext\" is the bytes of the new chunks before compression (\`data_added\` of \`backup --json\`, which also counts the snapshot's one small tree); \"stored\" is what they take in the packs (compressed, encrypted). \"Chunks in dump 2\" is the data blobs the second snapshot refers to (\`stats --mode raw-data latest\`); \"mean chunk\" is dump 2's size over that. Repository and index sizes are \`du -sb\`; per-repository figures are in $runs. Times are one run each on a shared machine: noisy."
} >"$table"
cat "$table"
log "table written to $table; each step's output in $results/"
