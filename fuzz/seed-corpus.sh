#!/usr/bin/env bash
# Regenerate the committed seed corpora in fuzz/seeds/<target>/ from the
# golden vectors (repo-format/tests/vectors/) and from a real repository
# made here with the vault binary: init, two backups, forget + prune (an
# index that supersedes, a deletion notice), check --read-data (a ledger),
# key add. Payloads are written decrypted; the targets that decrypt get
# them re-sealed under the fuzzers' fixed key (see examples/seeds.rs).
#
#   bash fuzz/seed-corpus.sh          # builds and uses target/debug/vault
#   VAULT_BIN=path/to/vault bash fuzz/seed-corpus.sh
#   bash fuzz/seed-corpus.sh pack     # replace only these targets' seeds
#
# The seeds example builds into CARGO_TARGET_DIR (default: the workspace's
# target/, whose compiled dependencies it reuses).
set -euo pipefail
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
vault=${VAULT_BIN:-}
if [[ -z $vault ]]; then
    (cd "$root" && cargo build --quiet -p vault-cli)
    vault=$root/target/debug/vault
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
src=$work/src
export VAULT_PASSWORD=fuzz-seed-password
export VAULT_CACHE_DIR=$work/cache

mkdir -p "$src/dir/sub"
printf 'hello, vault\n' >"$src/dir/a.txt"
seq 1 2000 >"$src/dir/sub/numbers"
head -c 3000 /dev/urandom >"$src/dir/sub/random.bin"
ln -s a.txt "$src/dir/link"
mkfifo "$src/dir/fifo"

"$vault" -r "$repo" init --chunk-size 1KiB --pack-size 1MiB >/dev/null
"$vault" -r "$repo" backup --tag first "$src/dir" >/dev/null
printf 'changed\n' >>"$src/dir/a.txt"
rm "$src/dir/sub/random.bin"
"$vault" -r "$repo" backup --tag second --exclude '*.bin' "$src/dir" >/dev/null
"$vault" -r "$repo" forget --keep-last 1 >/dev/null
"$vault" -r "$repo" prune --max-unused 0% >/dev/null
"$vault" -r "$repo" check --read-data >/dev/null
printf 'second password\n' >"$work/pw2"
"$vault" -r "$repo" key add --new-password-file "$work/pw2" >/dev/null

(cd "$fuzz_dir" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
    cargo run --quiet --example seeds -- \
    "$work/seeds" "$root/repo-format/tests/vectors" "$repo" "$VAULT_PASSWORD")
if [[ $# -eq 0 ]]; then
    rm -rf "$fuzz_dir/seeds"
    mv "$work/seeds" "$fuzz_dir/seeds"
else
    for target in "$@"; do
        rm -rf "${fuzz_dir:?}/seeds/$target"
        cp -r "$work/seeds/$target" "$fuzz_dir/seeds/$target"
    done
fi
du -sh "$fuzz_dir/seeds"
