//! The in-memory index must stay under 64 bytes of heap per blob (issue 7:
//! an index of 10 million blobs under 640 MB). This test binary counts
//! every heap byte with its own global allocator; `benches/micro.md` has
//! the figures at 10 million blobs (`--example index-memory`).

use cap::Cap;
use engine::repo_format::crypto::BlobKind;
use engine::repo_format::index::IndexPack;
use engine::repo_format::pack::PackEntry;
use engine::repo_format::{BlobId, Id, PackId};
use engine::repository::index::Index;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::alloc::System;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const BLOBS: usize = 1_000_000;
const BLOBS_PER_PACK: usize = 1000;
const LIMIT_PER_BLOB: usize = 64;

fn pack(rng: &mut StdRng) -> IndexPack {
    let blobs = (0..BLOBS_PER_PACK as u32)
        .map(|i| PackEntry {
            kind: if i % 50 == 0 {
                BlobKind::Tree
            } else {
                BlobKind::Data
            },
            id: BlobId(Id(rng.random())),
            offset: i * 8192,
            length: 8192,
            raw_length: 8151,
        })
        .collect();
    IndexPack {
        id: PackId(Id(rng.random())),
        size: BLOBS_PER_PACK as u64 * 8192,
        capsule: Some(rng.random()),
        blobs,
    }
}

/// The only test of this binary, so that no other thread allocates while
/// it counts.
#[test]
fn index_of_a_million_blobs_under_64_bytes_per_blob() {
    let mut rng = StdRng::seed_from_u64(7);
    let packs = BLOBS / BLOBS_PER_PACK;
    let before = ALLOCATOR.allocated();
    let mut index = Index::new();
    let mut first = None;
    // Each pack is dropped once added: only the index is counted. Two
    // batches (two `finish`es), as a backup adds its packs to a loaded
    // index; one blob of the second batch is already in the first and
    // keeps its first location.
    for n in 0..packs {
        let mut p = pack(&mut rng);
        match first {
            None => first = Some((p.blobs[0], p.id)),
            Some((again, _)) if n == packs / 2 => p.blobs[0] = again,
            Some(_) => {}
        }
        index.add_pack(&p);
        if n + 1 == packs / 2 {
            index
                .finish()
                .expect("an index in memory cannot fail to finish");
        }
    }
    index
        .finish()
        .expect("an index in memory cannot fail to finish");
    let live = ALLOCATOR.allocated() - before;
    let (again, first_pack) = first.unwrap();
    assert_eq!(index.len(), BLOBS - 1);
    assert_eq!(
        index.get(again.kind, &again.id).unwrap().map(|l| l.pack),
        Some(first_pack)
    );
    let per_blob = live as f64 / index.len() as f64;
    assert!(
        live < LIMIT_PER_BLOB * index.len(),
        "the index holds {per_blob:.1} bytes of heap per blob, over {LIMIT_PER_BLOB}"
    );
}
