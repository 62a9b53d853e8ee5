//! Crafted trees and snapshots, sealed with the repository's key: what a
//! writer of snapshots (another host of a shared repository, the source
//! of a `copy`) can put in front of a reader. Nothing here goes through
//! `backup`, so nothing holds the forgeries to what a file system could
//! produce; only the tree codec's own rules apply.

use super::{PASSWORD, Repo};
use engine::repo_format::crypto::BlobKind;
use engine::repo_format::snapshot::Snapshot;
use engine::repo_format::time::Timestamp;
use engine::repo_format::tree::{Node, NodeKind, Tree};
use engine::repo_format::{BlobId, SnapshotId};
use engine::repository::index::LoadMode;
use engine::repository::saver::BlobSaver;
use engine::{Backend, Repository};
use std::sync::Arc;

/// Writes blobs, trees and snapshots of the forger's choosing.
pub struct Forger {
    repo: Arc<Repository>,
    saver: BlobSaver,
}

impl Forger {
    /// Open `repo` (local or S3, as its url says) with the test password.
    pub fn open(repo: &Repo) -> Forger {
        let url = repo.url.to_str().expect("UTF-8 repository url");
        let backend = Backend::open(url).expect("open the store");
        let repo = Repository::open(backend, PASSWORD.as_bytes()).expect("the password opens it");
        repo.load_index(LoadMode::Strict).expect("load the index");
        let repo = Arc::new(repo);
        let saver = BlobSaver::new(repo.clone(), false).expect("start a saver");
        Forger { repo, saver }
    }

    /// A data blob holding `bytes`.
    pub fn data(&self, bytes: &[u8]) -> BlobId {
        self.saver
            .save(BlobKind::Data, bytes.to_vec())
            .expect("save a data blob")
            .0
    }

    /// A tree of `nodes` (sorted here, as the codec requires).
    pub fn tree(&self, mut nodes: Vec<Node>) -> BlobId {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        self.saver
            .save(BlobKind::Tree, Tree { nodes }.encode())
            .expect("save a tree blob")
            .0
    }

    /// Pack and index everything saved, then write a snapshot of `tree`
    /// taken now on host `forged`, with the given fields changed by `edit`.
    pub fn snapshot(&self, tree: BlobId, edit: impl FnOnce(&mut Snapshot)) -> SnapshotId {
        let packs = self.saver.finish().expect("pack the blobs");
        self.repo.save_index(packs).expect("index the packs");
        let mut snapshot = Snapshot {
            time: now(),
            tree,
            paths: vec!["/forged".to_owned()],
            hostname: "forged".to_owned(),
            username: "mallory".to_owned(),
            ..Snapshot::default()
        };
        edit(&mut snapshot);
        self.repo
            .save_snapshot(&snapshot)
            .expect("save the snapshot")
    }
}

fn now() -> Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    Timestamp {
        secs: i64::try_from(since.as_secs()).expect("seconds fit"),
        nanos: since.subsec_nanos(),
    }
}

/// A regular file node of `size` bytes (as recorded: the forger's claim)
/// made of `content`.
pub fn file(name: &[u8], size: u64, content: Vec<BlobId>) -> Node {
    let mut node = Node::new(name.to_vec(), NodeKind::File);
    node.mode = 0o644;
    node.size = size;
    node.content = content;
    node
}

/// A directory node whose entries are the tree `subtree`.
pub fn dir(name: &[u8], subtree: BlobId) -> Node {
    let mut node = Node::new(name.to_vec(), NodeKind::Dir);
    node.mode = 0o755;
    node.subtree = Some(subtree);
    node
}
