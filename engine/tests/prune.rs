//! Prune's two-phase deletion against a backup that read the index before
//! the prune (SPEC.md §7.6): the backup deduplicates against blobs the
//! prune found unused, and its snapshot must still be whole afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use engine::backup::{BackupOptions, Source, backup};
use engine::maintenance::notices::pending_notices;
use engine::maintenance::prune::{PruneOptions, Session, Sessions, prune};
use engine::repo_format::SnapshotId;
use engine::repo_format::crypto::BlobKind;
use engine::repo_format::layout::FileKind;
use engine::repository::index::LoadMode;
use engine::{Backend, InitOptions, NoProgress, Repository};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc;

const PASSWORD: &[u8] = b"prune test";

/// Live sessions as the test says.
struct FakeSessions(RefCell<HashSet<Session>>);

impl Sessions for FakeSessions {
    fn live(&self) -> engine::Result<HashSet<Session>> {
        Ok(self.0.borrow().clone())
    }
}

fn random(seed: u64, len: usize) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

fn open(url: &str) -> Arc<Repository> {
    let repo = Repository::open(Backend::open(url).unwrap(), PASSWORD).unwrap();
    repo.load_index(LoadMode::Strict).unwrap();
    Arc::new(repo)
}

/// Back up `data` as one file; returns the snapshot and the data blobs added.
fn back_up(repo: &Arc<Repository>, name: &str, data: &[u8]) -> (SnapshotId, u64) {
    back_up_from(repo, name, Box::new(std::io::Cursor::new(data.to_vec())))
}

fn back_up_from(
    repo: &Arc<Repository>,
    name: &str,
    reader: Box<dyn Read + Send>,
) -> (SnapshotId, u64) {
    let source = Source::Stdin {
        filename: name.into(),
        reader,
    };
    let report = backup(repo, source, &BackupOptions::default(), &NoProgress).unwrap();
    (report.snapshot_id.unwrap(), report.summary.data_blobs)
}

/// A stream that says when it is first read (the backup reading it has
/// loaded its index by then) and then waits to be let go.
struct Gate {
    reached: Option<mpsc::Sender<()>>,
    go: mpsc::Receiver<()>,
    data: std::io::Cursor<Vec<u8>>,
}

impl Read for Gate {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(reached) = self.reached.take() {
            reached.send(()).unwrap();
            self.go.recv().unwrap();
        }
        self.data.read(buf)
    }
}

/// The content of the one file of a stdin snapshot, read through a fresh
/// repository handle.
fn content(url: &str, snapshot: &SnapshotId) -> Vec<u8> {
    let repo = open(url);
    let snap = repo.load_snapshot(snapshot).unwrap();
    let tree = repo.load_tree(&snap.tree).unwrap();
    let mut out = Vec::new();
    for chunk in &tree.nodes[0].content {
        out.extend(repo.read_blob(BlobKind::Data, chunk).unwrap());
    }
    out
}

fn init(url: &str) -> Arc<Repository> {
    let mut options = InitOptions::default();
    options.kdf.memory_kib = 64;
    options.kdf.iterations = 1;
    options.pack_size = 1 << 20;
    Arc::new(Repository::init(Backend::open(url).unwrap(), PASSWORD, &options).unwrap())
}

#[test]
fn backup_that_read_the_old_index_survives_prune() {
    let url = "memory://prune-two-phase";
    let repo = init(url);
    let x = random(1, 6 << 20);
    let y = random(2, 3 << 20);
    let (sx, _) = back_up(&repo, "x", &x);
    back_up(&repo, "y", &y);

    // A backup starts: it reads the index, which still lists x's blobs,
    // then waits before it reads its source.
    let (reached, at_source) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let gate = Gate {
        reached: Some(reached),
        go: wait,
        data: std::io::Cursor::new(x.clone()),
    };
    let running = open(url);
    let backup_thread = std::thread::spawn(move || back_up_from(&running, "x", Box::new(gate)));
    at_source.recv().unwrap();
    let session: Session = [7; 16];

    // x's snapshot is forgotten and a prune runs while that backup holds
    // its lock: x's packs are condemned, not deleted.
    repo.delete_object(FileKind::Snapshot, &sx.0).unwrap();
    let sessions = FakeSessions(RefCell::new(HashSet::from([session])));
    let pruner = open(url);
    let first = prune(&pruner, &PruneOptions::default(), &sessions).unwrap();
    assert!(first.plan.packs_delete.packs > 0, "{first:?}");
    assert_eq!(first.deleted.packs, 0, "{first:?}");
    assert_eq!(
        first.pending.packs, first.plan.packs_delete.packs,
        "{first:?}"
    );
    assert_eq!(first.pending_notices, 1);

    // The running backup saves x again: deduplicated against the blobs it
    // saw in the old index, it uploads nothing.
    go.send(()).unwrap();
    let (sx2, added) = backup_thread.join().unwrap();
    assert_eq!(
        added, 0,
        "the backup should have deduplicated against x's data blobs"
    );

    // The backup ends; the next prune rescues x's blobs before deleting.
    sessions.0.borrow_mut().clear();
    let second = prune(&open(url), &PruneOptions::default(), &sessions).unwrap();
    assert!(second.blobs_rescued > 0, "{second:?}");
    assert_eq!(second.pending.packs, 0, "{second:?}");
    assert_eq!(second.pending_notices, 0);
    assert!(second.deleted.packs > 0, "{second:?}");
    assert!(pending_notices(&repo).unwrap().is_empty());

    assert_eq!(content(url, &sx2), x);
    let third = prune(&open(url), &PruneOptions::default(), &sessions).unwrap();
    assert_eq!(
        third.plan.packs_delete.packs + third.plan.packs_repack.packs,
        0,
        "{third:?}"
    );
    assert_eq!(third.plan.packs_unindexed.packs, 0, "{third:?}");
}

#[test]
fn prune_repacks_partly_used_packs_and_keeps_every_snapshot_whole() {
    let url = "memory://prune-repack";
    let repo = init(url);
    let sessions = FakeSessions(RefCell::new(HashSet::new()));
    // Two streams saved in one backup share packs (four open packs, blobs
    // assigned at random); forgetting one leaves packs partly used.
    let a = random(3, 4 << 20);
    let b = random(4, 4 << 20);
    let both: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
    let (s_both, _) = back_up(&repo, "both", &both);
    let (s_b, _) = back_up(&repo, "b", &b);
    repo.delete_object(FileKind::Snapshot, &s_both.0).unwrap();

    let dry = prune(
        &open(url),
        &PruneOptions {
            dry_run: true,
            ..PruneOptions::default()
        },
        &sessions,
    )
    .unwrap();
    let before = Backend::open(url)
        .unwrap()
        .list_objects(FileKind::Pack)
        .unwrap();
    let report = prune(&open(url), &PruneOptions::default(), &sessions).unwrap();
    assert_eq!(dry.plan.packs_repack, report.plan.packs_repack);
    assert_eq!(dry.plan.packs_delete, report.plan.packs_delete);
    assert!(
        report.plan.packs_repack.packs + report.plan.packs_delete.packs > 0,
        "{report:?}"
    );
    // restic's rule, as PruneOptions documents it: unused ≤ used × 5 / 95.
    assert!(
        report.plan.bytes_unused_after * 95 <= report.plan.bytes_used * 5 + 100,
        "{report:?}"
    );
    let after = Backend::open(url)
        .unwrap()
        .list_objects(FileKind::Pack)
        .unwrap();
    let size = |l: &[(engine::repo_format::Id, u64)]| l.iter().map(|(_, s)| s).sum::<u64>();
    assert!(size(&after) < size(&before));
    assert_eq!(content(url, &s_b), b);
}

/// Phase two against a forged index (issue 19, hole 1): between the prune
/// that condemned x's packs and the one that deletes them, a backup that
/// read the old index saved x again (its blobs live only in the condemned
/// packs), and a hacked client then planted a pack of garbage and an index
/// that says x's blobs live there. Phase two must not believe that claim:
/// it reads the copy the index names, finds it does not open, and copies
/// the blobs out of the condemned packs before it deletes them. Whatever
/// else that prune refuses, `repair index` then yields a repository from
/// which x restores.
#[test]
fn phase_two_does_not_trust_an_index_forged_between_the_phases() {
    use engine::maintenance::repair::{RepairIndexOptions, repair_index};
    use engine::repo_format::Id;
    use engine::repo_format::index::{IndexFile, IndexPack};
    use engine::repo_format::layout::ObjectName;

    let url = "memory://prune-phase-two-forged";
    let repo = init(url);
    let x = random(5, 6 << 20);
    let (sx, _) = back_up(&repo, "x", &x);
    back_up(&repo, "y", &random(6, 3 << 20));
    // What the index says of x's data, before anything is condemned.
    let x_tree = repo
        .load_tree(&repo.load_snapshot(&sx).unwrap().tree)
        .unwrap();
    let x_blobs: HashSet<_> = x_tree.nodes[0].content.iter().copied().collect();
    let x_entries: Vec<_> = repo
        .read_index_files(LoadMode::Strict)
        .unwrap()
        .active
        .iter()
        .flat_map(|(_, f)| f.packs.iter().flat_map(|p| p.blobs.iter().copied()))
        .filter(|e| e.kind == BlobKind::Data && x_blobs.contains(&e.id))
        .collect();
    assert_eq!(x_entries.len(), x_blobs.len());

    let (reached, at_source) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let gate = Gate {
        reached: Some(reached),
        go: wait,
        data: std::io::Cursor::new(x.clone()),
    };
    let running = open(url);
    let backup_thread = std::thread::spawn(move || back_up_from(&running, "x", Box::new(gate)));
    at_source.recv().unwrap();
    repo.delete_object(FileKind::Snapshot, &sx.0).unwrap();
    let sessions = FakeSessions(RefCell::new(HashSet::from([[9; 16]])));
    let first = prune(&open(url), &PruneOptions::default(), &sessions).unwrap();
    assert!(first.pending.packs > 0, "{first:?}");
    go.send(()).unwrap();
    let (sx2, added) = backup_thread.join().unwrap();
    assert_eq!(added, 0, "x's blobs are only in the condemned packs");

    // The attack: a garbage pack and an index naming it for x's blobs.
    let backend = Backend::open(url).unwrap();
    let garbage = random(7, 1 << 20);
    let garbage_id = Id::hash(&garbage);
    backend
        .put_once(
            &ObjectName::new(FileKind::Pack, garbage_id),
            garbage.clone(),
        )
        .unwrap();
    let forged = IndexFile {
        packs: vec![IndexPack {
            id: engine::repo_format::PackId(garbage_id),
            size: garbage.len() as u64,
            capsule: Some([9; 32]),
            blobs: x_entries,
        }],
        supersedes: Vec::new(),
    };
    repo.save_index_file(&forged).unwrap();

    sessions.0.borrow_mut().clear();
    // This prune may refuse (the forged index contradicts the garbage
    // pack's header) but only after phase two rescued x's blobs.
    let _ = prune(&open(url), &PruneOptions::default(), &sessions);
    let fixer = open(url);
    repair_index(&fixer, &RepairIndexOptions::default(), &NoProgress).unwrap();
    assert_eq!(content(url, &sx2), x);
}
