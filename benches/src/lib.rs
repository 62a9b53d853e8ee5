//! Inputs of vault's benchmarks (see `benches/micro.md`): deterministic
//! random bytes, a corpus of real text, the index packs of a large
//! repository and a realistic directory tree.
//!
//! ```
//! let data = vault_benches::random_bytes(1, 1000);
//! assert_eq!(data, vault_benches::random_bytes(1, 1000));
//! ```

#![deny(missing_docs)]

use engine::repo_format::crypto::{BlobKind, MasterKey};
use engine::repo_format::index::IndexPack;
use engine::repo_format::pack::PackEntry;
use engine::repo_format::tree::{Node, NodeKind, Timestamp, Tree};
use engine::repo_format::{BlobId, Id, PackId};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::path::{Path, PathBuf};

/// The fixed master key of the benchmarks.
pub fn test_key() -> MasterKey {
    MasterKey::from_random(&[0x40; 72])
}

/// `len` bytes from a generator seeded with `seed`.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

/// Folders whose files make the text corpus.
pub const CORPUS_ROOTS: [&str; 2] = ["/usr/share/common-licenses", "/usr/share/doc"];

/// Whether a file under [`CORPUS_ROOTS`] is text taken into the corpus.
fn is_corpus_text(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.starts_with(CORPUS_ROOTS[0])
        || name == "copyright"
        || [".txt", ".html", ".md", ".rst"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

fn regular_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // Symbolic links are neither followed nor read (as `find -type f`).
        match entry.file_type() {
            Ok(t) if t.is_dir() => regular_files(&entry.path(), out),
            Ok(t) if t.is_file() => out.push(entry.path()),
            _ => {}
        }
    }
}

/// Real text written by others (licences, package documentation): the
/// regular files under [`CORPUS_ROOTS`] that are licences, `copyright`
/// files or named `*.txt`, `*.html`, `*.md`, `*.rst`, in byte order of
/// their paths, concatenated and cut at `limit` bytes. `benches/micro-limits.sh`
/// builds the same corpus with `find | sort | cat` for the reference tools.
pub fn text_corpus(limit: usize) -> Vec<u8> {
    let mut files = Vec::new();
    for root in CORPUS_ROOTS {
        regular_files(Path::new(root), &mut files);
    }
    files.retain(|p| is_corpus_text(p));
    files.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    let mut corpus = Vec::with_capacity(limit);
    for file in files {
        if corpus.len() >= limit {
            break;
        }
        if let Ok(bytes) = std::fs::read(&file) {
            corpus.extend_from_slice(&bytes);
        }
    }
    corpus.truncate(limit);
    corpus
}

/// The index packs of a repository of `blobs` blobs, `per_pack` to a pack,
/// with random ids (as keyed BLAKE3 gives), one blob in 50 a tree, sealed
/// lengths of 4 to 12 KiB laid end to end. Generated lazily: one pack
/// exists at a time unless the caller keeps them.
pub fn index_packs(seed: u64, blobs: usize, per_pack: usize) -> impl Iterator<Item = IndexPack> {
    let mut rng = StdRng::seed_from_u64(seed);
    let per_pack = per_pack.max(1);
    (0..blobs.div_ceil(per_pack)).map(move |p| {
        let count = per_pack.min(blobs - p * per_pack);
        let mut offset = 0u32;
        let blobs = (0..count)
            .map(|i| {
                let length = 4096 + rng.random_range(0..8192);
                let entry = PackEntry {
                    kind: if i % 50 == 0 {
                        BlobKind::Tree
                    } else {
                        BlobKind::Data
                    },
                    id: random_blob_id(&mut rng),
                    offset,
                    length,
                    raw_length: length - 41,
                };
                offset += length;
                entry
            })
            .collect();
        IndexPack {
            id: PackId(Id(rng.random())),
            size: u64::from(offset),
            capsule: Some(rng.random()),
            blobs,
        }
    })
}

/// A random blob id.
pub fn random_blob_id(rng: &mut impl Rng) -> BlobId {
    BlobId(Id(rng.random()))
}

/// A directory of `nodes` entries as a home or source folder has them:
/// nine files in ten (one to four content chunks each), the rest
/// subdirectories and a few symbolic links, with owner names, times and
/// sizes.
pub fn sample_tree(seed: u64, nodes: usize) -> Tree {
    let mut rng = StdRng::seed_from_u64(seed);
    const STEMS: [&str; 8] = [
        "report",
        "main",
        "photo_2024",
        "invoice",
        "notes",
        "backup-config",
        "index",
        "README",
    ];
    const EXTS: [&str; 6] = [".rs", ".jpg", ".pdf", ".txt", ".tar.gz", ""];
    let mut tree = Tree::default();
    for i in 0..nodes {
        let stem = STEMS[i % STEMS.len()];
        let ext = EXTS[(i / STEMS.len()) % EXTS.len()];
        let name = format!("{i:05}-{stem}{ext}").into_bytes();
        let kind = match i % 20 {
            0 | 1 => NodeKind::Dir,
            2 => NodeKind::Symlink,
            _ => NodeKind::File,
        };
        let mut node = Node::new(name, kind);
        let secs = 1_700_000_000 + rng.random_range(0..50_000_000i64);
        node.mode = if kind == NodeKind::Dir { 0o755 } else { 0o644 };
        node.uid = 1000;
        node.gid = 1000;
        node.user = "alice".into();
        node.group = "staff".into();
        node.mtime = Timestamp {
            secs,
            nanos: rng.random_range(0..1_000_000_000),
        };
        node.ctime = node.mtime;
        node.atime = Timestamp {
            secs: secs + 3600,
            nanos: 0,
        };
        node.inode = rng.random_range(1..1 << 30);
        node.device_id = 2049;
        node.links = 1;
        match kind {
            NodeKind::Dir => node.subtree = Some(random_blob_id(&mut rng)),
            NodeKind::Symlink => node.link_target = b"../shared/current".to_vec(),
            _ => {
                let chunks = rng.random_range(1..=4);
                node.size = rng.random_range(1..4u64 << 20);
                node.content = (0..chunks).map(|_| random_blob_id(&mut rng)).collect();
            }
        }
        tree.nodes.push(node);
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_packs_have_the_asked_number_of_blobs() {
        let packs: Vec<IndexPack> = index_packs(1, 2500, 1000).collect();
        let sizes: Vec<usize> = packs.iter().map(|p| p.blobs.len()).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
    }

    #[test]
    fn sample_tree_encodes_and_decodes() {
        let tree = sample_tree(1, 1000);
        assert_eq!(Tree::decode(&tree.encode()).unwrap(), tree);
    }
}
