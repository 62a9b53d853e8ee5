#!/usr/bin/env bash
# The long torture test (tests/torture.rs, issue 6): random trees, random
# sequences of backup / forget / prune / copy / check, SIGKILL at random
# moments, then check --read-data, byte-exact restores of every snapshot and
# no snapshot lost. CI runs the short version (6 seeds, debug build); this
# runs SEEDS seeds against a release build and prints the summary line.
#
# Usage: scripts/torture.sh SEEDS [FIRST_SEED]
#   SEEDS        how many seeds (e.g. 200)
#   FIRST_SEED   the first seed (default 1); seeds FIRST_SEED.. are run
#
# One failing seed reruns on its own with
#   VAULT_TORTURE_SEED=S cargo test --release -p vault-cli --test integration torture -- --nocapture
#
# Exits non-zero when any seed found a problem; every problem names its seed
# and the operations that led to it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ $# -lt 1 ] || [ $# -gt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]] || ! [[ ${2:-1} =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/torture.sh SEEDS [FIRST_SEED]   (e.g. scripts/torture.sh 200)" >&2
    exit 2
fi

export VAULT_TORTURE_SEEDS=$1
export VAULT_TORTURE_FIRST_SEED=${2:-1}
unset VAULT_TORTURE_SEED

# The test binary and the vault binary it runs (CARGO_BIN_EXE_vault) are
# both built with the release profile.
log=${TMPDIR:-/tmp}/vault-torture-$$.log
status=0
cargo test --release -p vault-cli --test integration -- \
    --exact torture::torture_random_operations_and_kills_lose_nothing --nocapture 2>&1 |
    tee "$log" || status=$?
echo
grep '^torture summary:' "$log" || echo "no summary line: the run did not finish (see $log)"
rm -f "$log"
exit "$status"
