#!/usr/bin/env bash
# vault next to restic on prune and check --read-data, in the same run, on a
# repository of ten snapshots of a ~1.2 GB folder that changes between them.
#
# The folder is a copy of the dataset of backup-vs-restic.sh. Before each of
# snapshots 2..10 a deterministic mutation deletes ~5% of the files, rewrites
# ~3% with new content and adds 40 MB of new incompressible files; both tools
# back up the same state each round. Then both forget all but the last 3
# snapshots and the steps measured are: prune, check, check --read-data.
#
# Usage: bash benches/compare/prune-check-vs-restic.sh
# Environment: as backup-vs-restic.sh (BENCH_DIR, BENCH_DATA_BYTES, VAULT_BIN, KEEP).
set -euo pipefail

RESULTS_NAME=prune-check-results
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work=$BENCH_DIR/work
rounds=10
rm -rf "$work"
log "copying the dataset to $work"
cp -a "$DATA" "$work"

mutate() { # mutate ROUND
    python3 - "$work" "$1" <<'PY'
import hashlib, os, random, sys
top, rnd = sys.argv[1], int(sys.argv[2])
rng = random.Random(rnd)
files = []
for root, dirs, names in os.walk(top):
    dirs.sort()
    for n in sorted(names):
        p = os.path.join(root, n)
        if os.path.isfile(p) and not os.path.islink(p):
            files.append(p)
for p in files:
    h = hashlib.sha256(f"{rnd}:{p}".encode("utf-8", "surrogateescape")).digest()[0]
    if h < 13:            # ~5%
        os.remove(p)
    elif h < 21:          # ~3%
        size = os.path.getsize(p)
        with open(p, "wb") as f:
            f.write(rng.randbytes(size))
new = os.path.join(top, f"round-{rnd}")
os.makedirs(new, exist_ok=True)
for i in range(20):
    with open(os.path.join(new, f"blob-{i}"), "wb") as f:
        f.write(rng.randbytes(2_000_000))
PY
}

vrepo=$BENCH_DIR/pc-repo-vault
rrepo=$BENCH_DIR/pc-repo-restic
export RESTIC_CACHE_DIR=$BENCH_DIR/pc-cache-restic
rm -rf "$vrepo" "$rrepo" "$RESTIC_CACHE_DIR"
"$vault" -q -r "$vrepo" init
restic -q -r "$rrepo" init
for i in $(seq 1 "$rounds"); do
    if [ "$i" -gt 1 ]; then mutate "$i"; fi
    log "round $i: backing up"
    "$vault" -q -r "$vrepo" backup "$work"
    restic -q -r "$rrepo" "${restic_global[@]}" backup "$work" >/dev/null
done
repo_size() { du -sb "$1" | awk '{print $1}'; }
repo_size "$vrepo" >"$results/vault.size_before"
repo_size "$rrepo" >"$results/restic.size_before"
"$vault" -q -r "$vrepo" forget --keep-last 3
restic -q -r "$rrepo" forget --keep-last 3 >/dev/null

measure vault prune "$vault" -r "$vrepo" prune
measure restic prune restic -r "$rrepo" prune
repo_size "$vrepo" >"$results/vault.size_after"
repo_size "$rrepo" >"$results/restic.size_after"
measure vault check "$vault" -r "$vrepo" check
measure restic check restic -r "$rrepo" check
measure vault read_data "$vault" -r "$vrepo" check --read-data
measure restic read_data restic -r "$rrepo" check --read-data

mb() { awk -v n="$(cat "$1")" 'BEGIN {printf "%.1f", n / 1e6}'; }
table=$BENCH_DIR/prune-check-results.md
{
    echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), warm page cache; load average before the run: $load_before."
    echo "Ten snapshots of a $(awk -v n="$data_bytes" 'BEGIN {printf "%.2f GB", n / 1e9}') folder of real files ($data_files files) changing between rounds; then \`forget --keep-last 3\` in both."
    echo "vault $vault_rev (release build); restic $restic_version ${restic_global[*]:-(default compression)}."
    echo
    echo "| step / metric | vault | restic | vault/restic |"
    echo "|---|---:|---:|---:|"
    row "repository MB before prune" "$(mb "$results/vault.size_before")" "$(mb "$results/restic.size_before")"
    row "repository MB after prune" "$(mb "$results/vault.size_after")" "$(mb "$results/restic.size_after")"
    for step in prune check read_data; do
        case $step in
        prune) name="prune" ;;
        check) name="check" ;;
        read_data) name="check --read-data" ;;
        esac
        step_rows "$name" "$step"
    done
    echo
    echo "MB = 10^6 bytes. Ratios below 1 favour vault."
} >"$table"
show_table "$table"
if [ "${KEEP:-0}" != 1 ]; then rm -rf "$vrepo" "$rrepo" "$RESTIC_CACHE_DIR" "$work"; fi
steps_ok
