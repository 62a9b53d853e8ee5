#!/usr/bin/env bash
# Runs every check CI runs, on a fresh Debian 12 machine with a Rust toolchain:
#
#   1. installs the system packages the tests need (only those missing),
#   2. cargo fmt --check,
#   3. shellcheck on every shell script in the repository,
#   4. cargo deny check (deny.toml; cargo-deny is built when missing),
#   5. cargo clippy --workspace --all-targets -D warnings,
#   6. the MSRV: the declared rust-version is the toolchain, or is checked,
#   7. the tests: doctests, then cargo-nextest when installed (else cargo test),
#   8. a fuzz smoke run: every fuzz target for a few seconds from its seeds.
#
# Usage: bash scripts/test.sh      (from anywhere; .ci/run calls exactly this)
#
# Environment:
#   VAULT_TEST_SKIP_INSTALL=1   do not touch system packages (you installed them)
#   VAULT_TEST_NO_NEXTEST=1     use `cargo test` even when cargo-nextest is installed
#   VAULT_TEST_FUZZ_SECONDS=N   seconds per fuzz target in the smoke run (default 5)
#
# The tests need /dev/fuse (tests/mount.rs mounts for real) and an S3 server
# (started here, see start_moto_s3). The network it needs: Debian's mirrors,
# PyPI (moto), crates.io, and GitHub if it can (cargo deny fetches the
# RustSec advisory database; without GitHub it uses a bundled snapshot).
#
# Exits non-zero on the first failure and says which step failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
current_step="setup"

section() {
    current_step=$1
    printf '\n==== %s ====\n' "$1"
}

moto_pid=""
on_exit() {
    local code=$?
    if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; fi
    if [ "$code" -ne 0 ]; then
        printf '\n==== FAILED: %s (exit %d) after %ds ====\n' "$current_step" "$code" $((SECONDS - started)) >&2
    fi
}
trap on_exit EXIT

# ---------------------------------------------------------------------------
# System packages
# ---------------------------------------------------------------------------
# One line per Debian package the tests need; installed only when missing.
APT_PACKAGES=(
    # The S3 tests run against moto's server, installed from PyPI into a venv.
    python3
    python3-venv
    curl
    # `vault mount` mounts directly as root; other users need fusermount3.
    fuse3
    # tests/postgres.rs starts a throwaway cluster of its own (initdb and
    # pg_ctl from /usr/lib/postgresql/*/bin, a Unix socket in a temp dir,
    # no TCP) and uses pg_dump, pg_dumpall, pgbench and psql.
    postgresql
    # tests/mount.rs opens a database through the mount.
    sqlite3
    # tests/serve.rs makes a CA and a server certificate for HTTPS.
    openssl
    # The fuzz smoke run: libfuzzer-sys compiles libFuzzer (C++).
    g++
    # Lints every shell script in the repository (the shellcheck step).
    shellcheck
)

apt_updated=0
apt_install() {
    # Installs the given packages if any is missing; runs `apt-get update`
    # at most once per run and only when something must be installed.
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "${VAULT_TEST_SKIP_INSTALL:-0}" = 1 ]; then
        echo "VAULT_TEST_SKIP_INSTALL=1 but these packages are missing: ${missing[*]}" >&2
        return 1
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            echo "need root (or sudo) to install: ${missing[*]}" >&2
            return 1
        }
        sudo=(sudo)
    fi
    echo "installing: ${missing[*]}"
    if [ "$apt_updated" -eq 0 ]; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# A local S3 server (moto, a real HTTP server) for the object-store tests, as
# in shared/test-services.md, on a free loopback port. It exports the AWS_*
# variables the tests read; on_exit stops it.
start_moto_s3() {
    local venv=${XDG_CACHE_HOME:-$HOME/.cache}/vault-test-moto   # outside the clone, reused
    if [ ! -x "$venv/bin/moto_server" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'moto[s3]==5.2.5' 'flask>=3,<4' 'flask-cors>=6,<7'
    fi
    local port=${VAULT_TEST_S3_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/vault-test-moto.log" 2>&1 &
    moto_pid=$!   # stopped by on_exit
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/test-bucket"
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test VAULT_TEST_S3_BUCKET=test-bucket
    # From here on, a test that finds no S3 server fails instead of skipping.
    export VAULT_TEST_S3_REQUIRED=1
    echo "moto S3 server on 127.0.0.1:$port (pid $moto_pid)"
}

# cargo-deny for the `cargo deny check` step, pinned like moto above: built
# from crates.io when missing or another version, and installed in
# ~/.cargo/bin, so a machine that keeps ~/.cargo builds it once. (A prebuilt
# release would need its checksum kept here for every version.) Its release
# profile asks for fat LTO and one codegen unit; without them the build
# takes about 4 minutes on 2 cores instead of 6, and a check still about 1 s.
CARGO_DENY_VERSION=0.20.2
install_cargo_deny() {
    if [ "$(cargo deny --version 2>/dev/null)" = "cargo-deny $CARGO_DENY_VERSION" ]; then
        return 0
    fi
    echo "building cargo-deny $CARGO_DENY_VERSION (cargo install --locked; about 4 minutes)"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install --locked --version "$CARGO_DENY_VERSION" cargo-deny
}

# The scenarios that run a second time with every fixture repository on the
# S3 server (tests that read or damage repository files stay local).
S3_MATRIX='test(/^(roundtrip|restore|incremental|stdin|excludes|inspect|forget|prune|check|keys|locks|errors|copy|cache|races|put_only)::/)'


section "toolchain"
if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
# rust-toolchain.toml pins a version; where only `stable` is installed and it
# is that version, link it under the pinned name instead of letting rustup
# try to download it.
if command -v rustup >/dev/null && [ -f rust-toolchain.toml ]; then
    pinned=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
    if [ -n "$pinned" ] && ! rustup toolchain list | grep -q "^$pinned"; then
        stable_version=$(rustc +stable --version 2>/dev/null | awk '{print $2}') || true
        if [ "$stable_version" = "$pinned" ]; then
            echo "linking the installed stable toolchain ($stable_version) as $pinned"
            rustup toolchain link "$pinned" "$(rustc +stable --print sysroot)"
        fi
    fi
fi
cargo --version
rustc --version
cargo fmt --version
cargo clippy --version

section "system packages"
# Debian's postgresql package would create and start a system cluster on
# port 5432; the tests need only the programs, so ask it not to (a drop-in
# that postgresql-common's createcluster.conf includes).
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed' &&
    [ "${VAULT_TEST_SKIP_INSTALL:-0}" != 1 ]; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    "${as_root[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' | "${as_root[@]}" tee /etc/postgresql-common/createcluster.d/vault-tests.conf >/dev/null
fi
if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then
    apt_install "${APT_PACKAGES[@]}"
else
    echo "none needed"
fi

# The mount tests mount for real (tests/mount.rs): a machine without FUSE
# fails them instead of skipping.
export VAULT_TEST_FUSE_REQUIRED=1
# Likewise the PostgreSQL tests (tests/postgres.rs), now that it is installed.
export VAULT_TEST_PG_REQUIRED=1
export VAULT_TEST_TLS_REQUIRED=1
# Every test must run: one that needs root, setpriv, /proc or user xattrs
# fails instead of skipping (tests/common: cannot_run).
export VAULT_TEST_STRICT=1

section "S3 test server"
start_moto_s3

section "cargo fmt --check"
cargo fmt --all -- --check

section "shellcheck"
# Every tracked shell script: the *.sh files, and any other file whose first
# line is a sh or bash shebang (.ci/run), so a new script is checked without
# being listed here. -x follows `source`d files, found relative to the script.
shellcheck --version | sed -n 's/^version: /shellcheck /p'
mapfile -t shell_scripts < <(
    {
        git ls-files -- '*.sh'
        git grep -nIE '^#![[:space:]]*/(usr/)?bin/(env[[:space:]]+)?(ba|da)?sh([[:space:]]|$)' |
            sed -n 's/^\(.*\):1:#!.*/\1/p'
    } | sort -u
)
if [ "${#shell_scripts[@]}" -eq 0 ]; then
    echo "found no shell scripts: is this a git checkout?" >&2
    exit 1
fi
echo "${#shell_scripts[@]} scripts"
shellcheck -x --source-path=SCRIPTDIR "${shell_scripts[@]}"

section "cargo deny"
# deny.toml: RustSec advisories, licenses, duplicate versions (listed, not
# failed), wildcards, and crates.io as the only source. The advisory
# database is fetched from GitHub on every run, so a new advisory fails the
# next run. Where GitHub cannot be reached (the build machines of this
# project reach only crates.io, PyPI, Debian and npm), the snapshot in
# deny/advisory-db.bundle is used instead, and the run says how old it is:
# advisories published since are then not checked (deny/README.md says how
# to refresh it).
install_cargo_deny
cargo deny --version
if timeout 30 git ls-remote https://github.com/RustSec/advisory-db HEAD >/dev/null 2>&1; then
    cargo deny check
else
    # Where cargo-deny 0.20 keeps the database of that URL.
    db=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691
    rm -rf "$db"
    git clone -q --branch main deny/advisory-db.bundle "$db"
    echo "GitHub is unreachable: advisories as of the bundled snapshot, $(git -C "$db" log -1 --format=%cs)"
    cargo deny --offline check
fi

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "rust-version (MSRV)"
# The oldest Rust the workspace promises to build with is its rust-version.
# When the toolchain above has that minor version, clippy and the tests build
# with it and nothing more is needed; otherwise the workspace is checked with
# that version, installed with rustup when missing. Not getting it fails the
# run: a rust-version nothing built with is a guess.
msrv=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
versions = {p["rust_version"] for p in json.load(sys.stdin)["packages"] if p["rust_version"]}
if len(versions) != 1:
    sys.exit("expected one rust-version for the whole workspace, found %s" % (sorted(versions) or "none"))
print(versions.pop())')
active=$(rustc --version | awk '{print $2}')
if [ "$(cut -d. -f1,2 <<<"$msrv")" = "$(cut -d. -f1,2 <<<"${active%%-*}")" ]; then
    echo "rust-version is $msrv and the toolchain is rustc $active: this build is the MSRV build"
else
    echo "rust-version is $msrv but the toolchain is rustc $active: checking with Rust $msrv"
    if ! rustc "+$msrv" --version >/dev/null 2>&1 &&
        ! { command -v rustup >/dev/null &&
            rustup toolchain install --profile minimal --no-self-update "$msrv"; }; then
        echo "cannot get Rust $msrv (no rustup, or rustup could not install it):" \
            "the declared rust-version is unchecked" >&2
        exit 1
    fi
    rustc "+$msrv" --version
    cargo "+$msrv" check --workspace --all-targets
fi

if [ "${VAULT_TEST_NO_NEXTEST:-0}" != 1 ] && cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doctests, so they run first, on their own; the
    # nextest summary then closes the output.
    section "doctests (cargo test --doc)"
    cargo test --workspace --doc
    section "tests (cargo nextest)"
    cargo nextest run --workspace --no-fail-fast
    section "tests again, every repository on S3 (cargo nextest)"
    VAULT_TEST_BACKEND=s3 cargo nextest run -p vault-cli --test integration --no-fail-fast -E "$S3_MATRIX"
else
    section "tests (cargo test)"
    cargo test --workspace --no-fail-fast
    section "tests again, every repository on S3 (cargo test)"
    VAULT_TEST_BACKEND=s3 cargo test -p vault-cli --test integration --no-fail-fast -- \
        roundtrip:: restore:: incremental:: stdin:: excludes:: inspect:: forget:: prune:: \
        check:: keys:: locks:: errors:: copy:: cache:: races:: put_only::
fi

# The tests whose paths depend on who runs them (unreadable sources,
# restore's modes and owners, the cache's and the repository's file modes,
# serve, mount through fusermount3) run again as an unprivileged user that
# this script makes, from copies of the two binaries in a directory that
# user can reach (the clone may be below a private home). Only as root.
UNPRIVILEGED_TESTS=(restore_safety:: restore:: roundtrip:: secrets:: cache:: errors:: serve:: mount::)
UNPRIVILEGED_USER=vault-test
if [ "$(id -u)" -eq 0 ]; then
    section "permission tests again as the unprivileged user $UNPRIVILEGED_USER"
    id -u "$UNPRIVILEGED_USER" >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$UNPRIVILEGED_USER"
    integration=$(cargo test -p vault-cli --test integration --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "integration":
        print(m["executable"])')
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/vault-unprivileged.XXXXXX")
    chmod 755 "$scratch"
    mkdir "$scratch/home" "$scratch/tmp"
    chown "$UNPRIVILEGED_USER:$UNPRIVILEGED_USER" "$scratch/home" "$scratch/tmp"
    cp target/debug/vault "$scratch/vault"
    cp "$integration" "$scratch/integration"
    # Debian makes /dev/fuse 0666; some machines make it root's alone.
    fuse_mode=$(stat -c %a /dev/fuse)
    chmod 666 /dev/fuse
    status=0
    (cd "$scratch" && setpriv --reuid="$UNPRIVILEGED_USER" --regid="$UNPRIVILEGED_USER" --init-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$scratch/home" TMPDIR="$scratch/tmp" \
        VAULT_TEST_BIN="$scratch/vault" VAULT_TEST_STRICT=1 VAULT_TEST_FUSE_REQUIRED=1 \
        VAULT_TEST_TLS_REQUIRED=1 ./integration --test-threads 2 "${UNPRIVILEGED_TESTS[@]}") || status=$?
    chmod "$fuse_mode" /dev/fuse
    rm -rf "$scratch"
    [ "$status" -eq 0 ]
fi

# Every target replays its committed seeds (among them each input a finding
# was fixed for) and then fuzzes briefly, with AddressSanitizer; any crash,
# leak, timeout or out-of-memory fails the run. The long run is
# `bash fuzz/run-all.sh 600` (fuzz/README.md).
fuzz_seconds=${VAULT_TEST_FUZZ_SECONDS:-5}
section "fuzz smoke (every target, ${fuzz_seconds} s each)"
bash fuzz/run-all.sh "$fuzz_seconds"

current_step="done"
printf '\n==== all checks passed in %ds ====\n' $((SECONDS - started))
