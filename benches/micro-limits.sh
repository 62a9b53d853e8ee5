#!/usr/bin/env bash
# This machine's limit for the work the micro-benchmarks measure
# (benches/benches/hot_paths.rs), with reference tools: b3sum (BLAKE3, all
# threads and one), zstd's own benchmark on the same text corpus cut into
# the same 1 MiB blobs, and OpenSSL's ChaCha20-Poly1305. benches/micro.md
# puts these beside vault's figures. Not run in CI.
#
#   bash benches/micro-limits.sh        # ~2 minutes; installs b3sum with apt-get when missing
#
# Environment: BENCH_DIR work folder (default: a fresh temporary folder,
# removed afterwards).
set -euo pipefail

if ! command -v b3sum >/dev/null; then
    apt-get install -y -qq b3sum >/dev/null
fi
for tool in zstd openssl python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing; install it (apt-get install $tool)" >&2; exit 1; }
done

dir=${BENCH_DIR:-$(mktemp -d)}
[[ -n ${BENCH_DIR:-} ]] || trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"

echo "# $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# b3sum $(b3sum --version | cut -d' ' -f2), $(zstd --version | grep -o 'v[0-9.]*' | head -1), $(openssl version | cut -d' ' -f1-2)"

# The text corpus of hot_paths.rs (vault_benches::text_corpus): licences,
# copyright files and *.txt, *.html, *.md, *.rst under /usr/share/doc, in
# byte order of their paths, cut at 8 MiB. Its BLAKE3 must equal the one
# the benchmark prints.
find /usr/share/common-licenses /usr/share/doc -type f \
    \( -path '/usr/share/common-licenses/*' -o -name copyright -o -name '*.txt' \
       -o -name '*.html' -o -name '*.md' -o -name '*.rst' \) -print0 |
    LC_ALL=C sort -z | xargs -0 cat 2>/dev/null | head -c 8M >"$dir/corpus" || true
head -c 1M "$dir/corpus" >"$dir/corpus-1MiB"
head -c 8M /dev/urandom >"$dir/random"
head -c 1G /dev/urandom >"$dir/random-1GiB"
echo "# corpus: $(stat -c %s "$dir/corpus") bytes, BLAKE3 $(b3sum --no-names "$dir/corpus")"

# MB/s (10^6 bytes) of the fastest of three runs of a command over a file.
best_mbs() {
    local file=$1
    shift
    python3 - "$file" "$@" <<'EOF'
import os, subprocess, sys, time
file, cmd = sys.argv[1], sys.argv[2:]
best = min(
    (lambda t: (subprocess.run(cmd + [file], stdout=subprocess.DEVNULL, check=True), time.perf_counter() - t)[1])(time.perf_counter())
    for _ in range(3)
)
print(f"{os.path.getsize(file) / best / 1e6:.0f}")
EOF
}

echo
echo "| work | reference | MB/s |"
echo "|---|---|---|"
b3sum "$dir/random-1GiB" >/dev/null # into the page cache
echo "| BLAKE3, 1 GiB file | \`b3sum\` (every core) | $(best_mbs "$dir/random-1GiB" b3sum) |"
echo "| BLAKE3, 1 GiB file | \`b3sum --num-threads 1\` | $(best_mbs "$dir/random-1GiB" b3sum --num-threads 1) |"
echo "| BLAKE3, 1 GiB file | \`b3sum --no-mmap\` (one thread, read(2)) | $(best_mbs "$dir/random-1GiB" b3sum --no-mmap) |"

# zstd -b prints "LEVEL#NAME : SIZE -> SIZE (xRATIO), C MB/s, D MB/s"
# (10^6 bytes), on one thread; -B1MiB compresses 1 MiB pieces
# independently, as vault compresses blob by blob.
zstd_row() {
    local name=$1 file=$2 level=$3
    zstd -b"$level" -B1MiB -T1 -i2 "$file" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -1 |
        sed -E 's/.*\(x *([0-9.]+)\), *([0-9.]+) MB\/s, *([0-9.]+) MB\/s.*/\1 \2 \3/' |
        { read -r ratio comp decomp
          echo "| zstd level $level, $name | \`zstd -b$level -B1MiB -T1 -i2\` | compress $comp, decompress $decomp (ratio $ratio) |"; }
}
for level in 1 3 9; do zstd_row "text 8 MiB" "$dir/corpus" "$level"; done
for level in 19 22; do zstd_row "text 1 MiB" "$dir/corpus-1MiB" "$level"; done
for level in 3 19; do zstd_row "random 8 MiB" "$dir/random" "$level"; done

# "1000s of bytes per second" in the last line, one column per -bytes.
for bytes in 1048576 4096; do
    kbs=$(openssl speed -evp chacha20-poly1305 -seconds 3 -bytes "$bytes" 2>/dev/null |
        grep -i '^chacha20-poly1305' | awk '{print $NF}' | tr -d k)
    mbs=$(python3 -c "print(f'{float(\"$kbs\") / 1000:.0f}')")
    echo "| ChaCha20-Poly1305 seal, $bytes B | \`openssl speed -evp chacha20-poly1305 -bytes $bytes\` | $mbs |"
done
