//! Criterion micro-benchmarks of vault's hot paths, each in MB/s or
//! operations per second: chunking, keyed BLAKE3, zstd framing at the
//! levels `init --compression` offers, XChaCha20-Poly1305 seal/open, the
//! index at 10 million blobs, tree encode/decode. `benches/micro.md` has
//! how to run them, one run's figures and this machine's limits.
//!
//! `VAULT_BENCH_INDEX_BLOBS` changes the size of the index the lookups run
//! in (default 10,000,000).

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use engine::backup::chunker::Chunker;
use engine::repo_format::compress::{AUTO_LEVEL, frame, unframe};
use engine::repo_format::config::ChunkerParams;
use engine::repo_format::crypto::{self, BlobKind};
use engine::repo_format::index::IndexPack;
use engine::repo_format::tree::Tree;
use engine::repository::index::Index;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use std::time::Duration;
use vault_benches::{
    index_packs, random_blob_id, random_bytes, sample_tree, test_key, text_corpus,
};

const MIB: usize = 1 << 20;
/// Blobs per pack in the index benchmarks: 8 MiB packs of ~8 KiB blobs.
const BLOBS_PER_PACK: usize = 1000;
/// Lookups per measured iteration.
const LOOKUPS: usize = 10_000;

fn chunking(c: &mut Criterion) {
    let data = random_bytes(1, 64 * MIB);
    let seed = test_key().chunker_seed;
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::BytesDecimal(data.len() as u64));
    let default = ChunkerParams::DEFAULT;
    for (name, params) in [
        ("default-1MiB", default),
        ("streams-64KiB", default.for_streams()),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut chunks = 0usize;
                for chunk in Chunker::new(black_box(&data[..]), &params, seed) {
                    chunks += black_box(chunk.map(|c| c.len()).unwrap_or(0)).min(1);
                }
                chunks
            })
        });
    }
    g.finish();
}

fn blake3_keyed(c: &mut Criterion) {
    let key = test_key();
    let mut g = c.benchmark_group("blob_id");
    for size in [MIB, 64 * 1024] {
        let data = random_bytes(2, size);
        g.throughput(Throughput::BytesDecimal(size as u64));
        g.bench_function(BenchmarkId::from_parameter(label(size)), |b| {
            b.iter(|| key.blob_id(black_box(&data)))
        });
    }
    g.finish();
}

/// The levels of `init --compression`: off (0), 1, auto (3), 9, max (19), 22.
const LEVELS: [(&str, i32); 6] = [
    ("off", 0),
    ("1", 1),
    ("auto-3", AUTO_LEVEL),
    ("9", 9),
    ("max-19", 19),
    ("22", 22),
];

/// zstd as vault uses it: [`frame`] one blob (a 1 MiB chunk) at a time,
/// stored raw when zstd does not shrink it (random data), then
/// [`unframe`].
fn zstd_frame(c: &mut Criterion) {
    let text = text_corpus(8 * MIB);
    eprintln!(
        "text corpus: {} bytes, BLAKE3 {} (as benches/micro-limits.sh prints it)",
        text.len(),
        blake3::hash(&text).to_hex()
    );
    let random = random_bytes(3, 8 * MIB);
    for (input, data, levels) in [
        ("text", &text, &LEVELS[..]),
        // zstd gives up quickly on random data; 19 shows what "max" costs
        // when nothing compresses.
        ("random", &random, &[LEVELS[2], LEVELS[4]][..]),
    ] {
        let mut g = c.benchmark_group(format!("zstd-{input}"));
        // Ten runs of the whole input: level 22 takes a second or more.
        g.sampling_mode(SamplingMode::Flat);
        for &(name, level) in levels {
            // The slow levels on 1 MiB, so that ten samples stay short.
            let data = if level >= 19 { &data[..MIB] } else { &data[..] };
            let blobs: Vec<&[u8]> = data.chunks(MIB).collect();
            let framed: Vec<Vec<u8>> = blobs.iter().map(|b| frame(level, b)).collect();
            for (blob, f) in blobs.iter().zip(&framed) {
                assert_eq!(unframe("blob", f, MIB).as_deref(), Ok(*blob));
            }
            let stored: usize = framed.iter().map(Vec::len).sum();
            eprintln!(
                "zstd-{input} {name}: {} -> {} bytes (ratio {:.2})",
                data.len(),
                stored,
                data.len() as f64 / stored as f64
            );
            g.throughput(Throughput::BytesDecimal(data.len() as u64));
            g.bench_function(format!("frame/{name}"), |b| {
                b.iter(|| {
                    blobs
                        .iter()
                        .map(|blob| frame(level, black_box(blob)).len())
                        .sum::<usize>()
                })
            });
            g.bench_function(format!("unframe/{name}"), |b| {
                b.iter(|| {
                    framed
                        .iter()
                        .map(|f| unframe("blob", black_box(f), MIB).map_or(0, |p| p.len()))
                        .sum::<usize>()
                })
            });
        }
        g.finish();
    }
}

fn seal_open(c: &mut Criterion) {
    let key = test_key();
    let mut g = c.benchmark_group("xchacha20poly1305");
    for size in [MIB, 4096] {
        let data = random_bytes(4, size);
        let id = key.blob_id(&data);
        let nonce = [7u8; crypto::NONCE_LEN];
        // Level 0: the envelope plus the raw frame's copy.
        let sealed = key.seal_blob(BlobKind::Data, &id, &data, 0, nonce);
        assert_eq!(
            key.open_blob(BlobKind::Data, &id, &sealed, MIB).ok(),
            Some(data.clone())
        );
        // The envelope alone, as OpenSSL measures it.
        let aad = b"bench";
        let bare = crypto::seal(&key.data_key, nonce, aad, &data);
        assert_eq!(
            crypto::open(&key.data_key, aad, &bare, "blob").ok(),
            Some(data.clone())
        );
        g.throughput(Throughput::BytesDecimal(size as u64));
        let size = label(size);
        g.bench_function(format!("seal_blob/{size}"), |b| {
            b.iter(|| key.seal_blob(BlobKind::Data, &id, black_box(&data), 0, nonce))
        });
        // open_blob also hashes the plaintext to check its id.
        g.bench_function(format!("open_blob/{size}"), |b| {
            b.iter(|| key.open_blob(BlobKind::Data, &id, black_box(&sealed), MIB))
        });
        g.bench_function(format!("seal/{size}"), |b| {
            b.iter(|| crypto::seal(&key.data_key, nonce, aad, black_box(&data)))
        });
        g.bench_function(format!("open/{size}"), |b| {
            b.iter(|| crypto::open(&key.data_key, aad, black_box(&bare), "blob"))
        });
    }
    g.finish();
}

fn index_blobs() -> usize {
    std::env::var("VAULT_BENCH_INDEX_BLOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn build_index(packs: &[IndexPack]) -> Index {
    let mut index = Index::new();
    for pack in packs {
        index.add_pack(pack);
    }
    index
        .finish()
        .expect("an index in memory cannot fail to finish");
    index
}

/// Loading an index (`add_pack` of every pack, one `finish`) of 1 M blobs:
/// at 10 M one load takes 5 to 10 s here, and criterion wants ten; the
/// `index-memory` example times one load of 10 M.
fn index_insert(c: &mut Criterion) {
    let blobs = 1_000_000;
    let packs: Vec<IndexPack> = index_packs(5, blobs, BLOBS_PER_PACK).collect();
    let mut g = c.benchmark_group("index-1M");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(blobs as u64));
    g.bench_function("insert", |b| {
        b.iter_with_large_drop(|| build_index(black_box(&packs)))
    });
    g.finish();
}

/// Lookups in an index of 10 M blobs (built once).
fn index_lookup(c: &mut Criterion) {
    let blobs = index_blobs();
    let packs: Vec<IndexPack> = index_packs(5, blobs, BLOBS_PER_PACK).collect();
    let mut g = c.benchmark_group(format!("index-{}M", blobs as f64 / 1e6));
    let index = build_index(&packs);
    let mut rng = StdRng::seed_from_u64(6);
    let present: Vec<_> = (0..LOOKUPS)
        .map(|i| {
            let pack = &packs[(i * 7919) % packs.len()];
            let blob = &pack.blobs[(i * 104_729) % pack.blobs.len()];
            (blob.kind, blob.id)
        })
        .collect();
    let absent: Vec<_> = (0..LOOKUPS)
        .map(|_| (BlobKind::Data, random_blob_id(&mut rng)))
        .collect();
    drop(packs);
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    for (name, ids, expected) in [("present", &present, LOOKUPS), ("absent", &absent, 0)] {
        g.bench_function(format!("get/{name}"), |b| {
            b.iter(|| {
                let found = ids
                    .iter()
                    .filter(|(kind, id)| index.get(*kind, black_box(id)).is_ok_and(|l| l.is_some()))
                    .count();
                assert_eq!(found, expected);
            })
        });
        g.bench_function(format!("contains/{name}"), |b| {
            b.iter(|| {
                ids.iter()
                    .filter(|(kind, id)| index.contains(*kind, black_box(id)).unwrap_or(false))
                    .count()
            })
        });
    }
    g.finish();
}

fn tree(c: &mut Criterion) {
    let tree = sample_tree(7, 1000);
    let encoded = tree.encode();
    assert_eq!(Tree::decode(&encoded).as_ref(), Ok(&tree));
    eprintln!(
        "tree of {} nodes: {} bytes encoded",
        tree.nodes.len(),
        encoded.len()
    );
    let mut g = c.benchmark_group("tree-1000-nodes");
    g.throughput(Throughput::Elements(tree.nodes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&tree).encode()));
    g.bench_function("decode", |b| b.iter(|| Tree::decode(black_box(&encoded))));
    g.finish();
}

fn label(size: usize) -> String {
    if size >= MIB {
        format!("{}MiB", size / MIB)
    } else {
        format!("{}KiB", size / 1024)
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = hot_paths;
    config = config();
    targets = chunking, blake3_keyed, zstd_frame, seal_open, index_insert, index_lookup, tree
}
criterion_main!(hot_paths);
