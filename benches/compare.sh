#!/usr/bin/env bash
# vault next to its peers — restic, borg and rustic — on the same real data,
# in one run, on one machine, each with encryption and zstd at about level 3.
#
# Two datasets nobody here wrote: a sample of a few GB of system files (tens
# of thousands of files from /usr/share, /usr/lib and the Rust toolchain,
# chosen by a hash of each path; see compare/lib.sh), and two successive
# plain-SQL `pg_dump`s of a pgbench database with one night of changes
# between them (the same database and night as dump-dedup.sh). The dumps are
# made once, to files, and every tool reads the same bytes from a pipe.
#
# For each tool, in a fresh repository on local disk, every step under
# /usr/bin/time -v: init; initial backup of the files; unchanged re-backup;
# backup after a deterministic 1% change of the files; dump 1 and dump 2
# through stdin; full restore of the latest files snapshot (diffed against
# the changed files: a difference fails the run); check --read-data;
# forget --keep-last 1 + prune (the last snapshot of the files and of the
# dump are kept). Measured: wall time, user+sys CPU, peak RSS, repository
# size after each backup and after prune, and the bytes each restore read.
# Prints a Markdown table, also written to $BENCH_DIR/results.md, with each
# step's output in $BENCH_DIR/results/. See compare/README.md.
#
# Usage: bash benches/compare.sh          # as root on Debian 12
#
# Environment:
#   BENCH_DIR         work folder (default /tmp/vault-bench-compare); the files
#                     dataset and the dumps are built once there and reused
#   BENCH_DATA_BYTES  files dataset cap in bytes (default 3e9; capped by what
#                     the sampled trees hold, and the table says so)
#   BENCH_PG_SCALE    pgbench scale: 100,000 accounts each (default 50, ~650 MB dumps)
#   BENCH_PG_TRANSACTIONS  pgbench transactions in the night (default 0.1% of the accounts)
#   BENCH_TOOLS       tools to run, in order (default "vault restic borg rustic")
#   VAULT_BIN         use this vault binary instead of building one (release)
#   RUSTIC_BIN        rustic binary (default: `rustic` on PATH; none: its
#                     column is skipped, with a note)
#   KEEP=1            keep the repositories and restores afterwards
#
# Needs root: PostgreSQL runs as the postgres user; restic, borgbackup,
# postgresql and time are installed with apt-get when missing.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/vault-bench-compare}
BENCH_DATA_BYTES=${BENCH_DATA_BYTES:-3e9}
scale=${BENCH_PG_SCALE:-50}
BENCH_TOOLS=${BENCH_TOOLS:-"vault restic borg rustic"}
# The files dataset is built below, once a change an interrupted run left
# behind is undone.
BENCH_FILES=0
source "$(dirname "${BASH_SOURCE[0]}")/compare/lib.sh"

# ---------------------------------------------------------------- tools
tools=()
notes=()
for tool in $BENCH_TOOLS; do
    case $tool in
    vault | restic) tools+=("$tool") ;;
    borg)
        command -v borg >/dev/null || install_missing borgbackup
        tools+=(borg)
        ;;
    rustic)
        rustic=${RUSTIC_BIN:-$(command -v rustic || true)}
        if [ -n "$rustic" ] && "$rustic" --version >/dev/null 2>&1; then
            tools+=(rustic)
        else
            notes+=("rustic is not installed (\`cargo install rustic-rs\`, or set RUSTIC_BIN): its column is empty.")
            log "rustic not found: skipping it"
        fi
        ;;
    *)
        echo "unknown tool '$tool' in BENCH_TOOLS: use vault, restic, borg and rustic" >&2
        exit 1
        ;;
    esac
done
is_run() { case " ${tools[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# Same password everywhere; nothing may prompt.
export BORG_PASSPHRASE=$password RUSTIC_PASSWORD=$password
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_DISPLAY_PASSPHRASE=no
unset BORG_REPO BORG_PASSCOMMAND BORG_PASSPHRASE_FD RUSTIC_REPOSITORY RUSTIC_PASSWORD_FILE \
    RUSTIC_PASSWORD_COMMAND RESTIC_CACHE_DIR || true

versions="vault $vault_rev (release build; compression auto = zstd level 3)"
if is_run restic; then
    versions="$versions; restic $restic_version (${restic_global[*]:-no compression flag in this version})"
fi
if is_run borg; then
    borg_version=$(borg --version | awk '{print $2}')
    versions="$versions; borg $borg_version (repokey-blake2, --compression zstd,3)"
fi
rustic_global=() rustic_init=() rustic_prune=() rustic_filter=() rustic_stdin=()
if is_run rustic; then
    rustic_version=$("$rustic" --version | awk '{print $2}')
    # Flags that differ between rustic versions: used only when this one has them.
    if "$rustic" --help 2>&1 | grep -q -- '--no-progress'; then rustic_global+=(--no-progress); fi
    if "$rustic" init --help 2>&1 | grep -q -- '--set-compression'; then rustic_init+=(--set-compression 3); fi
    # Without it, prune only marks unused packs and deletes them a day later.
    if "$rustic" forget --help 2>&1 | grep -q -- '--instant-delete'; then rustic_prune+=(--instant-delete); fi
    if "$rustic" restore --help 2>&1 | grep -q -- '--filter-paths'; then rustic_filter+=(--filter-paths "$DATA"); fi
    # rustic 0.11.3 and 0.11.4 take the previous stdin snapshot as parent
    # and store an "unchanged" stdin file without reading it, losing the
    # second dump (rustic#1793, fixed in rustic_core#536): --force (no
    # parent) is that fix by hand.
    if "$rustic" backup --help 2>&1 | grep -q -- '--force'; then rustic_stdin+=(--force); fi
    versions="$versions; rustic $rustic_version (${rustic_init[*]:-its default compression})"
fi

# ---------------------------------------------------------------- the 1% change
# A deterministic change of the files, made before each tool's third backup
# and undone after its run. Files are taken in the order of a hash of their
# path until they hold 1% of the dataset's bytes (skipping any that would go
# over), so a tool that re-reads changed files whole re-reads 1%; each gets
# 4 KiB of generated text written over a region at a hashed offset (files of
# 8 KiB or more, half of them) or appended (the rest). 0.2% of the other
# files are deleted, and new files of generated text, 0.5% of the dataset's
# bytes, appear in a new folder. Changed and deleted files are moved aside
# (same file system) so that `revert` puts the originals back.
undo=$BENCH_DIR/change-undo
change() { # change apply|revert
    python3 - "$1" "$DATA" "$undo" <<'EOF'
import hashlib, os, random, shutil, stat, sys
mode, top, undo = sys.argv[1:4]
orig = os.path.join(undo, "orig")
new_dir = os.path.join(top, "zz-new-files")
if mode == "revert":
    shutil.rmtree(new_dir, ignore_errors=True)
    for root, dirs, names in os.walk(orig):
        for n in names:
            kept = os.path.join(root, n)
            os.replace(kept, os.path.join(top, os.path.relpath(kept, orig)))
    shutil.rmtree(undo)
    sys.exit(0)

files = []
for root, dirs, names in os.walk(top):
    dirs.sort()
    for n in sorted(names):
        p = os.path.join(root, n)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            files.append((os.path.relpath(p, top), st.st_size))
total = sum(size for _, size in files)

def key(tag, rel):
    return hashlib.sha256(f"{tag}:{rel}".encode("utf-8", "surrogateescape")).digest()

rng = random.Random(20261124)
words = ("the order was shipped to customer after payment failed retry invoice sent "
         "address changed by support ticket closed refund issued for item delayed in "
         "warehouse north south login from new device password reset").split()
def text(n):
    out = bytearray()
    while len(out) < n:
        out += (" ".join(rng.choices(words, k=12)) + "\n").encode()
    return bytes(out[:n])

def keep_aside(rel):
    kept = os.path.join(orig, rel)
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    os.rename(os.path.join(top, rel), kept)
    return kept

changed, held, budget = [], 0, total // 100
for rel, size in sorted(files, key=lambda f: key("change", f[0])):
    if held >= budget * 0.95:
        break
    if held + size <= budget:
        changed.append((rel, size))
        held += size
written = 0
for rel, size in changed:
    kept = keep_aside(rel)
    path = os.path.join(top, rel)
    shutil.copy2(kept, path)  # a new inode with the same content, mode and times
    k = key("where", rel)
    with open(path, "r+b") as f:
        if size >= 8192 and k[0] % 2 == 0:
            f.seek(int.from_bytes(k[1:9], "big") % (size - 4096))
        else:
            f.seek(0, 2)
        f.write(text(4096))
    written += 4096

taken = {rel for rel, _ in changed}
deleted = [(rel, size) for rel, size in sorted(files, key=lambda f: key("delete", f[0]))
           if rel not in taken][: max(1, len(files) // 500)]
for rel, _ in deleted:
    keep_aside(rel)

count = max(2, len(files) // 1000)
each = max(1, total // 200 // count)
os.makedirs(new_dir)
for i in range(count):
    with open(os.path.join(new_dir, f"new-{i:04}.txt"), "wb") as f:
        f.write(text(each))
print(f"{len(changed)} of {len(files)} files changed ({held} bytes in them, {100 * held / total:.2f}% of the bytes; "
      f"{written} bytes written over or appended), "
      f"{len(deleted)} deleted ({sum(s for _, s in deleted)} bytes), "
      f"{count} new files of generated text ({count * each} bytes)")
EOF
}
if [ -d "$undo" ]; then
    log "undoing the change an interrupted run left in $DATA"
    if [ -d "$DATA" ]; then change revert; else rm -rf "$undo"; fi
fi
build_dataset

# ---------------------------------------------------------------- the dumps
# Made once for a given scale and night, then reused; every tool gets the
# same two files through a pipe.
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    pg_stop
    if [ -d "$undo" ]; then change revert; fi
}
trap cleanup EXIT
dumps_key="scale=$scale transactions=${BENCH_PG_TRANSACTIONS:-default}"
if [ ! -f "$BENCH_DIR/dumps.complete" ] || [ "$(cat "$BENCH_DIR/dumps.complete")" != "$dumps_key" ]; then
    rm -f "$BENCH_DIR/dumps.complete" "$BENCH_DIR"/dump*.sql
    pg_dumps "$scale" "$BENCH_DIR"
    echo "PostgreSQL $pg_version, \`pgbench -i -s $scale\` ($accounts accounts) plus an \`events\` table of $events rows of text; between the dumps $transactions pgbench transactions ($updated_accounts accounts updated), 1% accounts and events appended, the oldest 1% of events purged, 0.1% edited, a new table of $invoices rows" >"$BENCH_DIR/dumps.txt"
    echo "$dumps_key" >"$BENCH_DIR/dumps.complete"
fi
dump1_bytes=$(stat -c %s "$BENCH_DIR/dump1.sql")
dump2_bytes=$(stat -c %s "$BENCH_DIR/dump2.sql")

# ---------------------------------------------------------------- the steps
steps="init backup1 backup2 backup3 dump1 dump2 restore check prune"

# step TOOL STEP: runs one measured step of TOOL against $repo.
# shellcheck disable=SC2016 # the sh -c scripts expand their own arguments
step() {
    local tool=$1 s=$2
    case $tool.$s in
    vault.init) measure vault init "$vault" -r "$repo" init ;;
    vault.backup?) measure vault "$s" "$vault" -r "$repo" backup "$DATA" ;;
    vault.dump?) piped "$s" vault "$vault" -r "$repo" backup --stdin --stdin-filename db.sql ;;
    vault.restore) measure vault restore "$vault" -r "$repo" restore latest --path "$DATA" --target "$target" ;;
    vault.check) measure vault check "$vault" -r "$repo" check --read-data ;;
    vault.prune) measure vault prune "$vault" -r "$repo" forget --keep-last 1 --prune ;;

    restic.init) measure restic init restic -r "$repo" init ;;
    restic.backup?) measure restic "$s" restic -r "$repo" "${restic_global[@]}" backup "$DATA" ;;
    restic.dump?) piped "$s" restic restic -r "$repo" "${restic_global[@]}" backup --stdin --stdin-filename db.sql ;;
    restic.restore) measure restic restore restic -r "$repo" restore latest --path "$DATA" --target "$target" ;;
    restic.check) measure restic check restic -r "$repo" check --read-data ;;
    restic.prune) measure restic prune restic -r "$repo" "${restic_global[@]}" forget --keep-last 1 --prune ;;

    borg.init) measure borg init borg init -e repokey-blake2 "$repo" ;;
    borg.backup?) measure borg "$s" borg create --compression zstd,3 "$repo::files-${s#backup}" "$DATA" ;;
    borg.dump?) piped "$s" borg borg create --compression zstd,3 --stdin-name db.sql "$repo::db-${s#dump}" - ;;
    # borg extracts into the current directory.
    borg.restore) measure borg restore sh -c 'cd "$1" && shift && exec "$@"' sh "$target" borg extract "$repo::files-3" ;;
    borg.check) measure borg check borg check --verify-data "$repo" ;;
    # Archive names make the groups here: keep the last of each, then free the space.
    borg.prune) measure borg prune sh -c 'borg prune --keep-last 1 -a "files-*" "$1" &&
        borg prune --keep-last 1 -a "db-*" "$1" && borg compact "$1"' sh "$repo" ;;

    rustic.init) measure rustic init "$rustic" -r "$repo" "${rustic_global[@]}" init "${rustic_init[@]}" ;;
    rustic.backup?) measure rustic "$s" "$rustic" -r "$repo" "${rustic_global[@]}" backup "$DATA" ;;
    rustic.dump?) piped "$s" rustic "$rustic" -r "$repo" "${rustic_global[@]}" backup "${rustic_stdin[@]}" - --stdin-filename db.sql ;;
    rustic.restore) measure rustic restore "$rustic" -r "$repo" "${rustic_global[@]}" restore latest "$target" "${rustic_filter[@]}" ;;
    rustic.check) measure rustic check "$rustic" -r "$repo" "${rustic_global[@]}" check --read-data ;;
    rustic.prune) measure rustic prune "$rustic" -r "$repo" "${rustic_global[@]}" forget --keep-last 1 --prune "${rustic_prune[@]}" ;;
    esac
}
# verify_dump TOOL: after forget + prune, the newest snapshot is the second
# dump; writes to $results/TOOL.dump.verdict whether it reads back as the
# bytes piped in (not measured).
# shellcheck disable=SC2016 # the sh -c script expands its own arguments
verify_dump() {
    local tool=$1 out=$BENCH_DIR/dump2.restored
    case $tool in
    vault) "$vault" -r "$repo" dump latest /db.sql ;;
    restic) restic -r "$repo" dump latest /db.sql ;;
    borg) borg extract --stdout "$repo::db-2" ;;
    rustic) "$rustic" -r "$repo" "${rustic_global[@]}" dump latest:db.sql ;;
    esac >"$out" 2>"$results/$tool.dump.stderr" || true
    if cmp -s "$out" "$BENCH_DIR/dump2.sql"; then
        echo identical >"$results/$tool.dump.verdict"
    else
        echo "DIFFERS ($(stat -c %s "$out") bytes)" >"$results/$tool.dump.verdict"
    fi
    rm -f "$out"
    log "$tool dump 2 read back: $(cat "$results/$tool.dump.verdict")"
}

# piped STEP TOOL CMD...: measures CMD reading dump N (STEP is dumpN) from a
# pipe, as from `pg_dump | tool`; cat's own time is not counted.
piped() {
    local s=$1 tool=$2
    shift 2
    measure "$tool" "$s" "$@" < <(cat "$BENCH_DIR/$s.sql")
}

run_tool() {
    local tool=$1 s
    repo=$BENCH_DIR/repo-$tool
    target=$BENCH_DIR/restore-$tool
    rm -rf "$repo" "$target" "$BENCH_DIR/cache-$tool"
    mkdir -p "$target" "$BENCH_DIR/cache-$tool"
    # Fresh caches: each tool starts as on a new machine.
    export RESTIC_CACHE_DIR=$BENCH_DIR/cache-$tool BORG_BASE_DIR=$BENCH_DIR/cache-$tool \
        RUSTIC_CACHE_DIR=$BENCH_DIR/cache-$tool
    log "$tool: reading the data once (warm page cache for every tool)"
    warm_cache
    cat "$BENCH_DIR/dump1.sql" "$BENCH_DIR/dump2.sql" >/dev/null
    for s in $steps; do
        if [ "$s" = backup3 ]; then
            change apply >"$BENCH_DIR/change.txt"
            log "changed the files: $(cat "$BENCH_DIR/change.txt")"
        fi
        step "$tool" "$s"
        case $s in
        # (after a failed step there may be no repository; the table says "failed")
        backup? | dump? | prune) { du -sb "$repo" 2>/dev/null || echo 0; } | awk '{print $1}' >"$results/$tool.$s.repo" ;;
        restore) verify_restore "$tool" "$target" ;;
        esac
        if [ "$s" = prune ]; then verify_dump "$tool"; fi
    done
    change revert
    if [ "$(find "$DATA" -type f -printf '%s\n' | awk '{n++; s += $1} END {printf "%d %.0f", n, s}')" != "$data_files $data_bytes" ]; then
        echo "undoing the change did not give back $data_files files of $data_bytes bytes in $DATA: remove $BENCH_DIR/data.complete to rebuild it" >&2
        exit 1
    fi
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$repo" "$BENCH_DIR/cache-$tool"; fi
}

rm -f "$BENCH_DIR/change.txt"
for tool in "${tools[@]}"; do run_tool "$tool"; done

# ---------------------------------------------------------------- table
all_tools="vault restic borg rustic"
peers="restic borg rustic"
# cell TOOL STEP METRIC: the figure as shown, "—" for a tool not run,
# "failed" for a failed step.
cell() {
    local tool=$1 s=$2 metric=$3 v
    is_run "$tool" || { echo "—"; return; }
    v=$(get "$tool" "$s" "$metric")
    [ "$v" = failed ] && { echo failed; return; }
    case $metric in
    rss) awk -v k="$v" 'BEGIN {printf "%.0f", k / 1024}' ;;
    repo | rchar | read_bytes) awk -v n="$v" 'BEGIN {printf "%.1f", n / 1e6}' ;;
    *) echo "$v" ;;
    esac
}
# peer_row LABEL STEP METRIC: one row, the best (lowest) peer and vault's ratio to it.
peer_row() {
    local label=$1 s=$2 metric=$3 t v best="" best_tool="" line
    line="| $label |"
    for t in $all_tools; do
        v=$(cell "$t" "$s" "$metric")
        line="$line $v |"
        case " $peers " in *" $t "*) ;; *) continue ;; esac
        if [[ $v =~ ^[0-9.]+$ ]] && { [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN {exit !(a < b)}'; }; then
            best=$v best_tool=$t
        fi
    done
    v=$(cell vault "$s" "$metric")
    if [ -n "$best" ] && [[ $v =~ ^[0-9.]+$ ]]; then
        line="$line $best ($best_tool) | $(ratio "$v" "$best") |"
    elif [ -n "$best" ]; then
        line="$line $best ($best_tool) | — |"
    else
        line="$line — | — |"
    fi
    echo "$line"
}

table=$BENCH_DIR/results.md
{
    echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), local disk, warm page cache; load average before the run: $load_before."
    echo "$versions. All encrypted, same password."
    echo "Files: $data_files files ($data_entries entries), $data_bytes bytes ($(awk -v n="$data_bytes" 'BEGIN {printf "%.2f GB", n / 1e9}')) of real files sampled from /usr/share, /usr/lib and the Rust toolchain$data_note."
    echo "The 1% change before the third backup: $(cat "$BENCH_DIR/change.txt" 2>/dev/null || echo "not made")."
    echo "Dumps: $(cat "$BENCH_DIR/dumps.txt"). Dump 1: $dump1_bytes bytes, dump 2: $dump2_bytes bytes, each piped to the tool's stdin backup."
    for note in "${notes[@]}"; do echo "$note"; done
    echo
    echo "| step / metric | vault | restic | borg | rustic | best peer | vault / best peer |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for s in $steps; do
        case $s in
        init) label="init" ;;
        backup1) label="initial backup" ;;
        backup2) label="unchanged re-backup" ;;
        backup3) label="backup after the 1% change" ;;
        dump1) label="dump 1 via stdin" ;;
        dump2) label="dump 2 via stdin" ;;
        restore) label="full restore" ;;
        check) label="check --read-data" ;;
        prune) label="forget --keep-last 1 + prune" ;;
        esac
        peer_row "$label: wall s" "$s" wall
        peer_row "$label: CPU user+sys s" "$s" cpu
        peer_row "$label: peak RSS MiB" "$s" rss
        case $s in
        backup? | dump?) peer_row "$label: repository MB after" "$s" repo ;;
        restore)
            peer_row "$label: MB read (rchar)" restore rchar
            peer_row "$label: MB read from the disk (read_bytes)" restore read_bytes
            line="| full restore: identical to the files (\`diff -r\`) |"
            for t in $all_tools; do
                if is_run "$t"; then line="$line $(cat "$results/$t.verdict") |"; else line="$line — |"; fi
            done
            echo "$line | |"
            ;;
        prune)
            peer_row "$label: repository MB after" "$s" repo
            line="| after prune: newest snapshot reads back as dump 2 (\`cmp\`) |"
            for t in $all_tools; do
                if is_run "$t"; then line="$line $(cat "$results/$t.dump.verdict") |"; else line="$line — |"; fi
            done
            echo "$line | |"
            ;;
        esac
    done
    echo
    echo "MB = 10^6 bytes, MiB = 2^20. Best peer: the lowest figure among restic, borg and rustic; a ratio below 1 favours vault. Repository size is \`du -sb\` after the step. \"rchar\" counts every byte the restore's read calls returned (repository files, its cache, page cache included); \"read_bytes\" what had to come from the block device (near 0 with a warm cache)."
} >"$table"
show_table "$table"

# Fail when a step failed or a restore differs.
status=0
steps_ok || { log "a step failed: see $results/"; status=1; }
for tool in "${tools[@]}"; do
    grep -qx identical "$results/$tool.verdict" || { log "$tool: restore differs"; status=1; }
    grep -qx identical "$results/$tool.dump.verdict" || { log "$tool: dump 2 differs"; status=1; }
done
exit "$status"
