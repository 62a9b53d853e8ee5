//! The pack writer: sealed blobs go into one of several open packs chosen at
//! random (so that pack boundaries do not reveal the order of chunks, see
//! SPEC.md's threat model); a full pack gets its sealed header and trailer
//! and is handed to uploader threads.

use crate::error::{Error, Result};
use crate::store::Backend;
use crate::workers::Workers;
use rand::RngExt;
use repo_format::crypto::{BlobKind, MasterKey, ObjectKind};
use repo_format::index::IndexPack;
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

/// A finished pack on its way to an uploader: id, bytes, header entries.
type FinishedPack = (PackId, Vec<u8>, Vec<PackEntry>);

#[derive(Default)]
struct OpenPack {
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
}

struct Shared {
    key: Arc<MasterKey>,
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
        key: Arc<MasterKey>,
        compression_level: i32,
        pack_size: usize,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            key,
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

    /// Add a sealed blob. Blocks while the upload queue is full.
    pub fn add(&self, kind: BlobKind, id: BlobId, sealed: &[u8], raw_length: u32) -> Result<()> {
        self.uploads.check()?;
        let slot = rand::rng().random_range(0..self.shared.slots.len());
        let full = {
            let mut open = self
                .shared
                .slots
                .get(slot)
                .ok_or(Error::Internal("pack slot"))?
                .lock()
                .map_err(|_| Error::Internal("pack slot lock"))?;
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
                Some(std::mem::take(&mut *open))
            } else {
                None
            }
        };
        if let Some(open) = full {
            self.finish_pack(open)?;
        }
        Ok(())
    }

    fn finish_pack(&self, open: OpenPack) -> Result<()> {
        let OpenPack { mut bytes, entries } = open;
        if entries.is_empty() {
            return Ok(());
        }
        let header = pack::encode_header(&entries);
        let sealed = self.shared.key.seal_object(
            ObjectKind::PackHeader,
            &header,
            self.shared.compression_level,
            crate::random_nonce(),
        );
        let header_len =
            u32::try_from(sealed.len()).map_err(|_| Error::Internal("pack header too large"))?;
        bytes.extend_from_slice(&sealed);
        bytes.extend_from_slice(&pack::encode_trailer(header_len));
        let id = PackId(Id::hash(&bytes));
        self.uploads.send((id, bytes, entries))
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
            let open =
                std::mem::take(&mut *slot.lock().map_err(|_| Error::Internal("pack slot lock"))?);
            self.finish_pack(open)?;
        }
        self.uploads.finish()?;
        self.take_uploaded()
    }
}

fn upload(backend: &Backend, shared: &Shared, (id, bytes, blobs): FinishedPack) -> Result<()> {
    let size = bytes.len() as u64;
    backend.put_once(&ObjectName::new(FileKind::Pack, id.0), bytes)?;
    let mut written = shared
        .written
        .lock()
        .map_err(|_| Error::Internal("written lock"))?;
    shared
        .written_blobs
        .fetch_add(blobs.len(), Ordering::Relaxed);
    written.push(IndexPack { id, size, blobs });
    Ok(())
}
