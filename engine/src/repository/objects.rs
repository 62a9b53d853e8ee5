//! Encrypted objects named by the hash of their sealed bytes (SPEC.md §4):
//! snapshots, index files, deletion notices, ledgers and locks. Every read
//! checks the bytes against the name before opening them.

use super::Repository;
use super::witness::Witnessed;
use crate::error::{Error, Result};
use crate::store::Backend;
use rayon::prelude::*;
use repo_format::crypto::ObjectKind;
use repo_format::keyring::Keyring;
use repo_format::layout::{FileKind, ObjectName};
use repo_format::snapshot::Snapshot;
use repo_format::{Id, PackId, SnapshotId};
use std::collections::BTreeMap;

impl Repository {
    /// Encrypt and store an object of `kind` under its content hash.
    pub fn save_object(&self, file: FileKind, kind: ObjectKind, payload: &[u8]) -> Result<Id> {
        store_object(
            &self.backend,
            &self.keys,
            self.config.compression_level,
            file,
            kind,
            payload,
        )
    }

    /// Read and decrypt an object, checking that its name matches its bytes.
    pub fn load_object(&self, file: FileKind, kind: ObjectKind, id: &Id) -> Result<Vec<u8>> {
        fetch_object(&self.backend, &self.keys, file, kind, id)
    }

    /// Ids of every object of a kind.
    pub fn list_ids(&self, file: FileKind) -> Result<Vec<Id>> {
        Ok(self
            .backend
            .list_objects(file)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// Every pack in the store with its size, and the names under `data/`
    /// that are no pack's.
    pub fn list_packs(&self) -> Result<(BTreeMap<PackId, u64>, Vec<String>)> {
        let listing = self.backend.list(FileKind::Pack)?;
        let packs = listing
            .objects
            .into_iter()
            .map(|(id, meta)| (PackId(id), meta.size))
            .collect();
        Ok((packs, listing.strays))
    }

    /// Remove an object (removing a missing one succeeds).
    pub fn delete_object(&self, file: FileKind, id: &Id) -> Result<()> {
        self.backend.delete(&ObjectName::new(file, *id))
    }

    /// Encrypt and store a snapshot; returns its id.
    pub fn save_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotId> {
        self.save_object(FileKind::Snapshot, ObjectKind::Snapshot, &snapshot.encode())
            .map(SnapshotId)
    }

    /// Load one snapshot.
    pub fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        let payload = self.load_object(FileKind::Snapshot, ObjectKind::Snapshot, &id.0)?;
        Snapshot::decode(&payload).map_err(|e| Error::format(format!("snapshot {}", id.short()), e))
    }

    /// Every snapshot, each with its own outcome (a listing failure fails
    /// the whole call), in the store's order.
    pub fn read_snapshots(&self) -> Result<Vec<(SnapshotId, Result<Snapshot>)>> {
        Ok(self.read_snapshots_witnessed()?.0)
    }

    /// [`Repository::read_snapshots`], and when the store received each
    /// (from the same listing).
    #[allow(clippy::type_complexity)]
    fn read_snapshots_witnessed(&self) -> Result<(Vec<(SnapshotId, Result<Snapshot>)>, Witnessed)> {
        let listing = self.backend.list(FileKind::Snapshot)?;
        let times = listing
            .objects
            .iter()
            .map(|(id, meta)| (SnapshotId(*id), meta.modified))
            .collect();
        let read = listing
            .objects
            .par_iter()
            .map(|(id, _)| {
                let id = SnapshotId(*id);
                (id, self.load_snapshot(&id))
            })
            .collect();
        Ok((read, Witnessed::from_times(times)))
    }

    /// Every snapshot that opens, oldest first. One that does not (its
    /// bytes do not match its name, do not open or do not decode) is told
    /// to the warning sink in one line and left out, so that one damaged
    /// object stops neither a listing nor `latest` nor a backup's parent
    /// choice (`check` still fails on it); one removed meanwhile (by a
    /// concurrent forget) is left out quietly; a store that cannot be read
    /// fails the call. Oldest by the time each counts for (its own, but
    /// never later than when the store received it, see
    /// [`super::witness`]), so that `latest` and a backup's parent are never
    /// a snapshot dated in the future; snapshots counted at one time keep
    /// their own order.
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (read, witnessed) = self.read_snapshots_witnessed()?;
        let mut all = Vec::with_capacity(read.len());
        for (id, s) in read {
            match s {
                Ok(s) => all.push((id, s)),
                Err(Error::NotFound { .. }) => {}
                Err(e @ Error::Format { .. }) => self.warn_skipped_snapshot(&id, &e),
                Err(e) => return Err(e),
            }
        }
        all.sort_by_cached_key(|(id, s)| (witnessed.effective(id, s), s.time, *id));
        Ok(all)
    }

    /// Remove a snapshot object (its data stays until prune). Removing a
    /// snapshot that is already gone succeeds.
    pub fn delete_snapshot(&self, id: &SnapshotId) -> Result<()> {
        self.delete_object(FileKind::Snapshot, &id.0)
    }
}

/// Seal `payload` as an object of `kind` and store it under its hash; the
/// body of [`Repository::save_object`], for holders of a backend and key
/// without a `Repository` (the lock refresher's thread).
pub(crate) fn store_object(
    backend: &Backend,
    key: &Keyring,
    compression_level: i32,
    file: FileKind,
    kind: ObjectKind,
    payload: &[u8],
) -> Result<Id> {
    let sealed = key
        .seal_object(kind, payload, compression_level, &crate::fresh())
        .map_err(|e| Error::format(file.dir(), e))?;
    let id = Id::hash(&sealed);
    backend.put_once(&ObjectName::new(file, id), sealed)?;
    Ok(id)
}

/// The body of [`Repository::load_object`] (see [`store_object`]).
pub(crate) fn fetch_object(
    backend: &Backend,
    key: &Keyring,
    file: FileKind,
    kind: ObjectKind,
    id: &Id,
) -> Result<Vec<u8>> {
    let name = ObjectName::new(file, *id);
    let sealed = backend.get(&name)?;
    if Id::hash(&sealed) != *id {
        return Err(Error::format(
            name.path(),
            repo_format::FormatError::IdMismatch {
                what: "object",
                expected: id.to_hex(),
            },
        ));
    }
    key.open_object(kind, &sealed)
        .map_err(|e| Error::format(name.path(), e))
}
