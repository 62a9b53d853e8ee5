//! The pack writer: sealed blobs go into one of several open packs chosen at
//! random (so that pack boundaries do not reveal the order of chunks, see
//! SPEC.md's threat model); a full pack gets its sealed header and trailer
//! and is handed to uploader threads.
//!
//! Each open pack has its own key (SPEC.md §6): a blob is sealed with the
//! key of the pack it goes into, so a writer first takes a [`Slot`], seals
//! with its key, then adds the blob to that slot's pack, sealing again in
//! the rare case the pack was finished meanwhile. A finished pack's key is
//! dropped with it: in format 2 a put-only key cannot make it again.

use crate::error::{Error, Result};
use crate::store::Backend;
use crate::workers::Workers;
use rand::RngExt;
use repo_format::crypto::BlobKind;
use repo_format::index::IndexPack;
use repo_format::keyring::{Capsule, Keyring, PackKey};
use repo_format::layout::{FileKind, ObjectName};
use repo_format::pack::{self, PackEntry};
use repo_format::{BlobId, Id, PackId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How many packs are open at once.
pub const OPEN_PACKS: usize = 4;
/// How many finished packs may wait for upload besides those being uploaded
/// (0: a finished pack waits until an uploader takes it), bounding memory.
const UPLOAD_QUEUE: usize = 0;

/// A finished pack on its way to an uploader: id, bytes, capsule, header
/// entries.
type FinishedPack = (PackId, Vec<u8>, Option<Capsule>, Vec<PackEntry>);

#[derive(Default)]
struct OpenPack {
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
    /// The pack's key, made when its first blob is about to be sealed.
    key: Option<Arc<PackKey>>,
    /// Counts the packs this slot has started, so that a blob sealed for
    /// an earlier one is not added to a later one.
    generation: u64,
}

/// Where the next blob goes: a slot, its pack's key and which pack.
struct Slot {
    index: usize,
    generation: u64,
    key: Arc<PackKey>,
}

struct Shared {
    keys: Arc<Keyring>,
    compression_level: i32,
    pack_size: usize,
    slots: Vec<Mutex<OpenPack>>,
    written: Mutex<Vec<IndexPack>>,
    /// Blobs in `written`.
    written_blobs: AtomicUsize,
}

/// Writes packs; cheap to share between threads via `&`.
pub struct Packer {
    shared: Arc<Shared>,
    uploads: Workers<FinishedPack>,
}

impl Packer {
    /// Start a packer that uploads to `backend`.
    pub fn new(
        backend: Backend,
        keys: Arc<Keyring>,
        compression_level: i32,
        pack_size: usize,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            keys,
            compression_level,
            pack_size,
            slots: (0..OPEN_PACKS)
                .map(|_| Mutex::new(OpenPack::default()))
                .collect(),
            written: Mutex::new(Vec::new()),
            written_blobs: AtomicUsize::new(0),
        });
        let written = shared.clone();
        let uploaders = backend.uploaders();
        let uploads = Workers::start("vault-upload", uploaders, UPLOAD_QUEUE, move |pack| {
            upload(&backend, &written, pack)
        })?;
        Ok(Packer { shared, uploads })
    }

    fn lock_slot(&self, index: usize) -> Result<std::sync::MutexGuard<'_, OpenPack>> {
        self.shared
            .slots
            .get(index)
            .ok_or(Error::Internal("pack slot"))?
            .lock()
            .map_err(|_| Error::Internal("pack slot lock"))
    }

    /// Compress `plain` (blob `id` of `kind`), seal it with the key of the
    /// pack it goes into, open it again to verify (a bit flip in RAM
    /// between compression and upload is caught here) and add it; returns
    /// the sealed bytes. Sealed again with another pack's key in the rare
    /// case its pack was finished meanwhile.
    pub fn seal_and_add(&self, kind: BlobKind, id: BlobId, plain: &[u8]) -> Result<Vec<u8>> {
        let mut framed = Vec::with_capacity(plain.len() + 1);
        repo_format::compress::frame_into(self.shared.compression_level, plain, &mut framed);
        let raw_length =
            u32::try_from(plain.len()).map_err(|_| Error::Internal("blob too large"))?;
        loop {
            let slot = self.slot()?;
            let sealed = slot
                .key
                .seal_framed(kind, &id, &framed, crate::random_nonce());
            let check = slot
                .key
                .open_blob(kind, &id, &sealed, plain.len())
                .map_err(|e| {
                    Error::format(
                        format!("blob {} (verification before upload)", id.short()),
                        e,
                    )
                })?;
            if check != plain {
                return Err(Error::Internal(
                    "blob changed between sealing and verification",
                ));
            }
            if self.add(&slot, kind, id, &sealed, raw_length)? {
                return Ok(sealed);
            }
        }
    }

    /// A slot chosen at random for the next blob, with its pack's key.
    fn slot(&self) -> Result<Slot> {
        let index = rand::rng().random_range(0..self.shared.slots.len());
        let mut open = self.lock_slot(index)?;
        let key = match &open.key {
            Some(key) => key.clone(),
            None => {
                let key = Arc::new(
                    self.shared
                        .keys
                        .new_pack_key(&crate::fresh())
                        .map_err(|e| Error::format("new pack", e))?,
                );
                open.key = Some(key.clone());
                key
            }
        };
        Ok(Slot {
            index,
            generation: open.generation,
            key,
        })
    }

    /// Add a blob sealed with `slot`'s key to its pack; false (nothing
    /// added) when that pack was finished meanwhile: take a new slot and
    /// seal again. Blocks while the upload queue is full.
    fn add(
        &self,
        slot: &Slot,
        kind: BlobKind,
        id: BlobId,
        sealed: &[u8],
        raw_length: u32,
    ) -> Result<bool> {
        self.uploads.check()?;
        let full = {
            let mut open = self.lock_slot(slot.index)?;
            if open.generation != slot.generation {
                return Ok(false);
            }
            let offset =
                u32::try_from(open.bytes.len()).map_err(|_| Error::Internal("pack too large"))?;
            let length =
                u32::try_from(sealed.len()).map_err(|_| Error::Internal("blob too large"))?;
            if open.bytes.capacity() == 0 {
                open.bytes.reserve(self.shared.pack_size + sealed.len());
            }
            open.bytes.extend_from_slice(sealed);
            open.entries.push(PackEntry {
                kind,
                id,
                offset,
                length,
                raw_length,
            });
            if open.bytes.len() >= self.shared.pack_size {
                Some(take_pack(&mut open))
            } else {
                None
            }
        };
        if let Some(open) = full {
            self.finish_pack(open)?;
        }
        Ok(true)
    }

    fn finish_pack(&self, open: OpenPack) -> Result<()> {
        let OpenPack {
            mut bytes,
            entries,
            key,
            ..
        } = open;
        let Some(key) = key.filter(|_| !entries.is_empty()) else {
            return Ok(());
        };
        let header = pack::encode_header(&entries);
        let sealed = key.seal_header(
            &header,
            self.shared.compression_level,
            crate::random_nonce(),
        );
        let header_len =
            u32::try_from(sealed.len()).map_err(|_| Error::Internal("pack header too large"))?;
        bytes.extend_from_slice(&sealed);
        let capsule = key.capsule();
        bytes.extend_from_slice(&pack::encode_trailer_with(capsule.as_ref(), header_len));
        // The key goes here; only its capsule remains.
        drop(key);
        let id = PackId(Id::hash(&bytes));
        self.uploads.send((id, bytes, capsule, entries))
    }

    /// Blobs in the packs uploaded and not yet taken.
    pub fn uploaded_blobs(&self) -> usize {
        self.shared.written_blobs.load(Ordering::Relaxed)
    }

    /// Take the packs uploaded so far (for the index).
    pub fn take_uploaded(&self) -> Result<Vec<IndexPack>> {
        let mut written = self
            .shared
            .written
            .lock()
            .map_err(|_| Error::Internal("written lock"))?;
        self.shared.written_blobs.store(0, Ordering::Relaxed);
        Ok(std::mem::take(&mut *written))
    }

    /// Flush every open pack, wait for the uploads, and return what was
    /// written and not taken yet (for the index).
    pub fn finish(&self) -> Result<Vec<IndexPack>> {
        for slot in &self.shared.slots {
            let open = take_pack(&mut *slot.lock().map_err(|_| Error::Internal("pack slot lock"))?);
            self.finish_pack(open)?;
        }
        self.uploads.finish()?;
        self.take_uploaded()
    }
}

/// Take a slot's pack to finish it, leaving the slot empty for the next
/// pack (with no key until its first blob).
fn take_pack(open: &mut OpenPack) -> OpenPack {
    let generation = open.generation + 1;
    let taken = std::mem::take(open);
    open.generation = generation;
    taken
}

fn upload(
    backend: &Backend,
    shared: &Shared,
    (id, bytes, capsule, blobs): FinishedPack,
) -> Result<()> {
    let size = bytes.len() as u64;
    backend.put_once(&ObjectName::new(FileKind::Pack, id.0), bytes)?;
    let mut written = shared
        .written
        .lock()
        .map_err(|_| Error::Internal("written lock"))?;
    shared
        .written_blobs
        .fetch_add(blobs.len(), Ordering::Relaxed);
    written.push(IndexPack {
        id,
        size,
        capsule,
        blobs,
    });
    Ok(())
}
