#!/usr/bin/env bash
# What `vault run` costs over the commands it runs, and what `vault drill`
# measures: a profile with a file source (/usr/share) and a database-dump
# source (a pg_dump file from benches/compare.sh, else a generated stream),
# an off-site copy, keep-last 2 and a 5% check.
#
#   VAULT_BIN=target/release/vault bash benches/run-profile.sh
#
# Prints, for an initial run, a second (the dump changed) and a third
# (nothing changed): vault run's wall time and each step's own time (from
# run --json); then the third round's steps run by hand as plain commands
# on the same unchanged input; then drill's restore and recovery times.
set -euo pipefail
vault=${VAULT_BIN:-target/release/vault}
vault=$(realpath "$vault")
work=$(mktemp -d /var/tmp/vault-run-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
dump1=/tmp/vault-bench-compare/dump1.sql
dump2=/tmp/vault-bench-compare/dump2.sql
if [[ ! -f $dump1 ]]; then
    dump1=$work/gen1.sql; dump2=$work/gen2.sql
    seq 1 30000000 >"$dump1"; seq 5 30000004 >"$dump2"
fi
echo pw >"$work/pw"
"$vault" -q -r "$work/main" --password-file "$work/pw" init
"$vault" -q -r "$work/off" --password-file "$work/pw" init --copy-chunker-params --from "$work/main" --from-password-file "$work/pw"
cp "$dump1" "$work/db.sql"
cat >"$work/vault.toml" <<TOML
[repositories.main]
url = "$work/main"
password-file = "$work/pw"
[repositories.off]
url = "$work/off"
password-file = "$work/pw"
[sources.www]
paths = ["/usr/share"]
[sources.db]
command = "cat $work/db.sql"
filename = "db.sql"
drill-command = "cmp -s \"\$VAULT_DRILL_FILE\" $work/db.sql"
[profiles.p]
repository = "main"
copy-to = ["off"]
retention = { keep-last = 2 }
check = { read-data-subset = "5%" }
TOML
steps_sum() { python3 -c 'import json,sys; s=json.load(sys.stdin); print("%.1f" % sum(x["seconds"] for x in s["steps"]))'; }
for round in initial second third; do
    start=$(date +%s.%N)
    "$vault" --config "$work/vault.toml" run --json >"$work/run.json" 2>"$work/run.err"
    end=$(date +%s.%N)
    printf '%-8s vault run: %.1f s wall, steps %s s\n' "$round" "$(echo "$end - $start" | bc)" "$(steps_sum <"$work/run.json")"
    python3 - "$work/run.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for x in s["steps"]:
    print("           %-8s %-4s %-9s %6.1f s" % (x["step"], x["source"] or "", x["repository"] or "", x["seconds"]))
PY
    cp "$dump2" "$work/db.sql"
done
# The third round again, by hand, as plain commands (nothing changed).
export VAULT_PASSWORD=pw
start=$(date +%s.%N)
"$vault" -q -r "$work/main" backup --tag source:www /usr/share
"$vault" -q -r "$work/main" backup --tag source:db --command "db.sql=cat $work/db.sql"
"$vault" -q -r "$work/main" forget --tag source:www --keep-last 2
"$vault" -q -r "$work/main" forget --tag source:db --keep-last 2
"$vault" -q -r "$work/main" prune
VAULT_TO_PASSWORD=pw "$vault" -q -r "$work/main" copy --to "$work/off"
"$vault" -q -r "$work/off" forget --keep-last 2 --tag source:www
"$vault" -q -r "$work/off" forget --keep-last 2 --tag source:db
"$vault" -q -r "$work/off" prune
"$vault" -q -r "$work/main" check --read-data-subset 5%
"$vault" -q -r "$work/off" check --read-data-subset 5%
end=$(date +%s.%N)
printf 'by hand  the same 11 commands: %.1f s wall\n' "$(echo "$end - $start" | bc)"
unset VAULT_PASSWORD
"$vault" --config "$work/vault.toml" drill --json >"$work/drill.json"
python3 - "$work/drill.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sources"]:
    print("drill    %-4s %s: %d files, %.0f MB restored+verified in %.1f s, recovery time %.1f s" % (
        s["source"], "ok" if s["success"] else "FAILED", s["files_restored"],
        s["bytes_restored"] / 1e6, s["restore_seconds"], s["seconds"]))
PY
