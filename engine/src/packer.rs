//! The pack writer: sealed blobs go into one of several open packs chosen at
//! random (so that pack boundaries do not reveal the order of chunks, see
//! SPEC.md's threat model); a full pack gets its sealed header and trailer
//! and is handed to uploader threads.

use crate::backend::Backend;
use crate::error::{Error, FirstError, Result};
use crossbeam_channel::{Receiver, Sender, bounded};
use rand::RngExt;
use repo_format::crypto::{BlobKind, MasterKey, ObjectKind};
use repo_format::index::IndexPack;
use repo_format::layout::{FileKind, object_path};
use repo_format::pack::{self, PackEntry};
use repo_format::{BlobId, Id, PackId};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How many packs are open at once.
pub const OPEN_PACKS: usize = 4;
/// How many finished packs may wait for upload besides those being uploaded
/// (0: a finished pack waits until an uploader takes it), bounding memory.
const UPLOAD_QUEUE: usize = 0;
/// Uploader threads.
const UPLOADERS: usize = 2;

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
    failure: FirstError,
}

/// Writes packs; cheap to share between threads via `&`.
pub struct Packer {
    shared: Arc<Shared>,
    upload_tx: Mutex<Option<Sender<FinishedPack>>>,
    uploaders: Mutex<Vec<JoinHandle<()>>>,
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
            failure: FirstError::default(),
        });
        let (tx, rx) = bounded::<FinishedPack>(UPLOAD_QUEUE);
        let mut uploaders = Vec::new();
        for n in 0..UPLOADERS {
            let rx: Receiver<_> = rx.clone();
            let backend = backend.clone();
            let shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("vault-upload-{n}"))
                .spawn(move || upload_loop(&backend, &shared, &rx))
                .map_err(|e| Error::io("start uploader thread", "", e))?;
            uploaders.push(handle);
        }
        Ok(Packer {
            shared,
            upload_tx: Mutex::new(Some(tx)),
            uploaders: Mutex::new(uploaders),
        })
    }

    /// Add a sealed blob. Blocks while the upload queue is full.
    pub fn add(&self, kind: BlobKind, id: BlobId, sealed: &[u8], raw_length: u32) -> Result<()> {
        self.check_failure()?;
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
        let tx = self
            .upload_tx
            .lock()
            .map_err(|_| Error::Internal("upload queue lock"))?
            .clone()
            .ok_or(Error::Internal("packer already finished"))?;
        tx.send((id, bytes, entries))
            .map_err(|_| Error::Internal("uploader threads stopped"))?;
        self.check_failure()
    }

    fn check_failure(&self) -> Result<()> {
        self.shared.failure.check()
    }

    /// Flush every open pack, wait for the uploads, and return what was
    /// written (for the index).
    pub fn finish(&self) -> Result<Vec<IndexPack>> {
        for slot in &self.shared.slots {
            let open =
                std::mem::take(&mut *slot.lock().map_err(|_| Error::Internal("pack slot lock"))?);
            self.finish_pack(open)?;
        }
        drop(
            self.upload_tx
                .lock()
                .map_err(|_| Error::Internal("upload queue lock"))?
                .take(),
        );
        let handles = std::mem::take(
            &mut *self
                .uploaders
                .lock()
                .map_err(|_| Error::Internal("uploader lock"))?,
        );
        for h in handles {
            h.join()
                .map_err(|_| Error::Internal("uploader thread panicked"))?;
        }
        self.check_failure()?;
        let written = std::mem::take(
            &mut *self
                .shared
                .written
                .lock()
                .map_err(|_| Error::Internal("written lock"))?,
        );
        Ok(written)
    }
}

fn upload_loop(backend: &Backend, shared: &Shared, rx: &Receiver<FinishedPack>) {
    for (id, bytes, blobs) in rx.iter() {
        let size = bytes.len() as u64;
        let path = object_path(FileKind::Pack, &id.0);
        match backend.put_once(&path, bytes) {
            Ok(_) => {
                if let Ok(mut w) = shared.written.lock() {
                    w.push(IndexPack { id, size, blobs });
                }
            }
            Err(e) => shared.failure.record(e),
        }
    }
}
