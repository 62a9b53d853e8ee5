//! The one place blobs are read out of packs (SPEC.md §6): a pack's
//! header, one blob, many blobs of one pack in as few ranged reads as
//! their offsets allow, a file's content as a stream, and a whole pack
//! verified against its name.
//!
//! Every blob is opened with the key before it is handed on, which checks
//! its authentication tag and that its plaintext hashes to its id: no
//! caller ever sees bytes that fail their checksum. A blob that cannot be
//! read or opened is an `Err` for that blob alone; the others of the same
//! read still arrive.

use super::Repository;
use super::index::{BlobLocation, Index};
use crate::error::{Error, Result};
use crate::store::Backend;
use repo_format::crypto::BlobKind;
use repo_format::keyring::{Capsule, PackKey};
use repo_format::layout::{FileKind, ObjectName};
use repo_format::pack::{self, PackEntry};
use repo_format::tree::{Node, Tree};
use repo_format::{BlobId, Id, PackId};
use std::path::Path;
use std::sync::Arc;

/// How many pack keys a repository keeps derived (each is one X25519
/// agreement away from its capsule).
const PACK_KEYS_KEPT: usize = 1 << 16;

/// Largest gap between two needed blobs that is read through rather than
/// split into two requests.
pub const MAX_GAP: u64 = 1 << 20;
/// Largest single read.
pub const MAX_READ: u64 = 16 << 20;

/// A blob to read: what it must be and where it lies in its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// Data or tree.
    pub kind: BlobKind,
    /// Its id: the plaintext must hash to it.
    pub id: BlobId,
    /// Offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

impl BlobRef {
    /// The blob `id` of `kind` where the index says it is.
    pub fn located(kind: BlobKind, id: BlobId, at: &BlobLocation) -> Self {
        BlobRef {
            kind,
            id,
            offset: at.offset,
            length: at.length,
            raw_length: at.raw_length,
        }
    }

    fn end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.length)
    }
}

impl From<&PackEntry> for BlobRef {
    fn from(e: &PackEntry) -> Self {
        BlobRef {
            kind: e.kind,
            id: e.id,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        }
    }
}

/// A blob read, opened and verified.
pub struct ReadBlob<'a> {
    /// Its bytes as stored in the pack (for copying without sealing again).
    pub sealed: &'a [u8],
    /// Its plaintext.
    pub plain: Vec<u8>,
}

/// What reading a whole pack found (see [`PackReader::verify`]).
#[derive(Debug)]
pub struct PackVerification {
    /// Bytes read (0 when the pack could not be read).
    pub bytes: u64,
    /// The pack could not be read at all.
    pub unreadable: Option<Error>,
    /// Blobs that lie beyond the pack's end or do not open, with why.
    pub damaged: Vec<(PackEntry, String)>,
    /// The pack's BLAKE3, when it is not the pack's name.
    pub wrong_hash: Option<Id>,
}

/// Reads blobs out of the packs of one repository, each with its pack's
/// key (SPEC.md §6).
#[derive(Clone, Copy)]
pub struct PackReader<'a> {
    repo: &'a Repository,
    backend: &'a Backend,
}

fn pack_name(pack: &PackId) -> ObjectName {
    ObjectName::new(FileKind::Pack, pack.0)
}

impl<'a> PackReader<'a> {
    /// The key of `pack`, from the capsule `capsule` or, when None, the
    /// one an index file gives; derived once and kept.
    fn key(&self, pack: &PackId, capsule: Option<Capsule>) -> Result<Arc<PackKey>> {
        let what = || format!("pack {}", pack.short());
        let keys = self.repo.keyring();
        if keys.format() == repo_format::keyring::FORMAT_1 {
            return Ok(Arc::new(
                keys.pack_key(None).map_err(|e| Error::format(what(), e))?,
            ));
        }
        let mut kept = self
            .repo
            .pack_keys
            .lock()
            .map_err(|_| Error::Internal("pack keys lock"))?;
        if let Some(key) = kept
            .get(pack)
            .filter(|k| capsule.is_none_or(|c| k.capsule() == Some(c)))
        {
            return Ok(key.clone());
        }
        let capsule = capsule
            .or_else(|| self.repo.index().capsule(pack))
            .ok_or_else(|| {
                Error::RepositoryDamaged(format!(
                    "pack {}: no index file gives its key's capsule; 'vault repair index' \
                     rebuilds the index from the packs",
                    pack.short()
                ))
            })?;
        let key = Arc::new(
            keys.pack_key(Some(&capsule))
                .map_err(|e| Error::format(what(), e))?,
        );
        if kept.len() >= PACK_KEYS_KEPT {
            kept.clear();
        }
        kept.insert(*pack, key.clone());
        Ok(key)
    }

    /// Read and decrypt a pack's header: the blobs it holds.
    pub fn header(&self, pack: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        self.header_and_capsule(pack, size)
            .map(|(_, entries)| entries)
    }

    /// Read and decrypt a pack's header, with the capsule of its key from
    /// its trailer (format 2), as an index file lists them.
    pub fn header_and_capsule(
        &self,
        pack: &PackId,
        size: u64,
    ) -> Result<(Option<Capsule>, Vec<PackEntry>)> {
        let name = pack_name(pack);
        let what = || format!("pack {}", pack.short());
        let format = self.repo.config().version;
        let tail_start = size.saturating_sub(pack::trailer_len(format) as u64);
        let trailer = self.backend.get_range(&name, tail_start..size)?;
        let trailer =
            pack::parse_trailer(format, size, &trailer).map_err(|e| Error::format(what(), e))?;
        let key = self.key(pack, trailer.capsule)?;
        let sealed = self.backend.get_range(&name, trailer.header.clone())?;
        let payload = key
            .open_header(&sealed)
            .map_err(|e| Error::format(what(), e))?;
        let entries = pack::decode_header(&payload, trailer.blobs_len)
            .map_err(|e| Error::format(what(), e))?;
        Ok((trailer.capsule, entries))
    }

    /// Open `sealed` as `blob` of `pack`.
    fn open(&self, pack: &PackId, blob: &BlobRef, sealed: &[u8]) -> Result<Vec<u8>> {
        open_exact(&*self.key(pack, None)?, blob, sealed).map_err(|e| {
            Error::format(
                format!("blob {} in pack {}", blob.id.short(), pack.short()),
                e,
            )
        })
    }

    /// Read one blob of `pack`.
    pub fn read_blob(&self, pack: &PackId, blob: &BlobRef) -> Result<Vec<u8>> {
        let sealed = self
            .backend
            .get_range(&pack_name(pack), u64::from(blob.offset)..blob.end())?;
        self.open(pack, blob, &sealed)
    }

    /// Read `blobs` of `pack` in as few ranged reads as the gaps between
    /// them allow (reading through gaps up to [`MAX_GAP`], at most
    /// [`MAX_READ`] at once), and hand each to `each` in offset order,
    /// opened, or with why it could not be. `blobs` is sorted by offset
    /// here; `blob` says where each lies. An `Err` from `each` stops.
    pub fn read_blobs<B>(
        &self,
        pack: &PackId,
        blobs: &mut [B],
        blob: impl Fn(&B) -> BlobRef,
        mut each: impl FnMut(&B, Result<ReadBlob<'_>>) -> Result<()>,
    ) -> Result<()> {
        blobs.sort_by_key(|b| blob(b).offset);
        let name = pack_name(pack);
        for range in coalesce(blobs, |b| blob(b)) {
            let (Some(first), Some(last)) = (range.first(), range.last()) else {
                continue;
            };
            let start = u64::from(blob(first).offset);
            let bytes = match self.backend.get_range(&name, start..blob(last).end()) {
                Ok(bytes) => bytes,
                Err(e) => {
                    let why = e.to_string();
                    for b in range {
                        each(
                            b,
                            Err(Error::PackUnreadable {
                                pack: pack.short(),
                                reason: why.clone(),
                            }),
                        )?;
                    }
                    continue;
                }
            };
            for b in range {
                let r = blob(b);
                let from = usize::try_from(u64::from(r.offset) - start).unwrap_or(usize::MAX);
                let read = match bytes.get(from..from.saturating_add(r.length as usize)) {
                    None => Err(Error::RepositoryDamaged(format!(
                        "blob {} lies beyond the end of pack {}",
                        r.id.short(),
                        pack.short()
                    ))),
                    Some(sealed) => self
                        .open(pack, &r, sealed)
                        .map(|plain| ReadBlob { sealed, plain }),
                };
                each(b, read)?;
            }
        }
        Ok(())
    }

    /// Read a whole pack and check it: every blob of `entries` must lie
    /// inside it and open, and its BLAKE3 must be its name (SPEC.md §4.3).
    pub fn verify(&self, pack: &PackId, entries: &[PackEntry]) -> PackVerification {
        let mut out = PackVerification {
            bytes: 0,
            unreadable: None,
            damaged: Vec::new(),
            wrong_hash: None,
        };
        let bytes = match self.backend.get(&pack_name(pack)) {
            Ok(b) => b,
            Err(e) => {
                out.unreadable = Some(e);
                return out;
            }
        };
        out.bytes = bytes.len() as u64;
        let format = self.repo.config().version;
        let tail = bytes.len().saturating_sub(pack::trailer_len(format));
        let key = pack::parse_trailer(format, out.bytes, bytes.get(tail..).unwrap_or_default())
            .map_err(|e| Error::format(format!("pack {}", pack.short()), e))
            .and_then(|t| self.key(pack, t.capsule));
        for entry in entries {
            let r = BlobRef::from(entry);
            let sealed = usize::try_from(r.offset)
                .ok()
                .zip(usize::try_from(r.end()).ok())
                .and_then(|(start, end)| bytes.get(start..end));
            let outcome = match (sealed, &key) {
                (None, _) => Err("it lies beyond the end of the pack".to_owned()),
                (_, Err(e)) => Err(e.detail()),
                (Some(sealed), Ok(key)) => open_exact(key, &r, sealed)
                    .map(drop)
                    .map_err(|e| e.to_string()),
            };
            if let Err(why) = outcome {
                out.damaged.push((*entry, why));
            }
        }
        let actual = Id::hash(&bytes);
        if actual != pack.0 && out.damaged.is_empty() {
            out.wrong_hash = Some(actual);
        }
        out
    }
}

/// Group a pack's needed blobs (sorted by offset) into ranges to read.
fn coalesce<T>(blobs: &[T], blob: impl Fn(&T) -> BlobRef) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut begin = 0;
    for i in 1..=blobs.len() {
        let split = match (blobs.get(begin), blobs.get(i - 1), blobs.get(i)) {
            (Some(first), Some(prev), Some(next)) => {
                let (first, prev, next) = (blob(first), blob(prev), blob(next));
                u64::from(next.offset).saturating_sub(prev.end()) > MAX_GAP
                    || next.end() - u64::from(first.offset) > MAX_READ
            }
            _ => true,
        };
        if split {
            if let Some(range) = blobs.get(begin..i) {
                out.push(range);
            }
            begin = i;
        }
    }
    out
}

impl Repository {
    /// A reader of this repository's packs.
    pub fn pack_reader(&self) -> PackReader<'_> {
        PackReader {
            repo: self,
            backend: &self.backend,
        }
    }

    /// Read and decrypt a pack's header: the blobs it holds.
    pub fn read_pack_header(&self, pack: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        self.pack_reader().header(pack, size)
    }

    /// [`Repository::read_pack_header`] with the capsule of the pack's key
    /// from its trailer (format 2), for an index file that lists it.
    pub fn read_pack_header_and_capsule(
        &self,
        pack: &PackId,
        size: u64,
    ) -> Result<(Option<Capsule>, Vec<PackEntry>)> {
        self.pack_reader().header_and_capsule(pack, size)
    }

    /// Read, decrypt and verify one blob where the index says it is (a
    /// tree through the cache, when there is one).
    pub fn read_blob(&self, kind: BlobKind, id: &BlobId) -> Result<Vec<u8>> {
        let at = self.index().locate(kind, id)?;
        let blob = BlobRef::located(kind, *id, &at);
        let reader = self.pack_reader();
        let Some((cache, entry)) = self.tree_cache().filter(|_| kind == BlobKind::Tree) else {
            return reader.read_blob(&at.pack, &blob);
        };
        if let Some(plain) = cache.get(entry, &id.0, |sealed| {
            reader.open(&at.pack, &blob, sealed).ok()
        }) {
            return Ok(plain);
        }
        let sealed = self
            .backend
            .get_range(&pack_name(&at.pack), u64::from(blob.offset)..blob.end())?;
        let plain = reader.open(&at.pack, &blob, &sealed)?;
        cache.put(entry, &id.0, &sealed);
        Ok(plain)
    }

    /// Put a tree blob just sealed (by a backup) into the cache, so that
    /// the next backup finds its parent's trees without downloading them.
    pub fn cache_tree(&self, id: &BlobId, sealed: &[u8]) {
        // A put-only key could not open it again (its record keeps trees).
        if let Some((cache, entry)) = self.tree_cache().filter(|_| !self.is_put_only()) {
            cache.put(entry, &id.0, sealed);
        }
    }

    /// Read and decode a tree.
    pub fn load_tree(&self, id: &BlobId) -> Result<Tree> {
        let plain = self.read_blob(BlobKind::Tree, id)?;
        Tree::decode(&plain).map_err(|e| Error::format(format!("tree {}", id.short()), e))
    }

    /// Refuse a file node whose recorded size is not the length of its
    /// content by the index. Whoever writes a snapshot chooses both; a
    /// reader that writes the size ahead of the bytes (a tar header, a
    /// file's length) would otherwise let the content spill into what
    /// follows, such as a forged tar entry (SPEC.md §10).
    pub fn check_content_size(&self, node: &Node, shown: &Path) -> Result<()> {
        let held = content_length(&self.index(), &node.content)?;
        if held == node.size {
            return Ok(());
        }
        Err(Error::RepositoryDamaged(format!(
            "{} records {} bytes but its content holds {held}",
            shown.display(),
            node.size
        )))
    }
}

/// The sum of the plaintext lengths of `content`, from the index.
pub fn content_length(index: &Index, content: &[BlobId]) -> Result<u64> {
    content.iter().try_fold(0u64, |sum, id| {
        let location = index.locate(BlobKind::Data, id)?;
        Ok(sum + u64::from(location.raw_length))
    })
}

/// Open a sealed blob whose plaintext must be exactly `raw_length` bytes
/// (SPEC.md §6): readers place content by these lengths (restore's
/// offsets, the size `dump` writes in a tar header), so a plaintext
/// shorter than the index or header says is damage, not a short read.
fn open_exact(
    key: &PackKey,
    blob: &BlobRef,
    sealed: &[u8],
) -> std::result::Result<Vec<u8>, repo_format::FormatError> {
    let plain = key.open_blob(blob.kind, &blob.id, sealed, blob.raw_length as usize)?;
    if plain.len() != blob.raw_length as usize {
        return Err(repo_format::FormatError::Malformed {
            what: "blob",
            detail: format!(
                "its plaintext is {} bytes, not the {} its entry says",
                plain.len(),
                blob.raw_length
            ),
        });
    }
    Ok(plain)
}

/// A reader over a file's content in the repository, one chunk at a time
/// (`dump`, `mount`): never more than a chunk in memory.
pub struct ContentReader<'a> {
    repo: &'a Repository,
    content: std::slice::Iter<'a, BlobId>,
    current: Vec<u8>,
    pos: usize,
    read: u64,
}

impl<'a> ContentReader<'a> {
    /// Read the chunks `content` in order.
    pub fn new(repo: &'a Repository, content: &'a [BlobId]) -> Self {
        ContentReader {
            repo,
            content: content.iter(),
            current: Vec::new(),
            pos: 0,
            read: 0,
        }
    }

    /// Bytes handed out so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }
}

impl std::io::Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.current.len() {
            let Some(id) = self.content.next() else {
                return Ok(0);
            };
            self.current = self
                .repo
                .read_blob(BlobKind::Data, id)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            self.pos = 0;
        }
        let avail = self.current.get(self.pos..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(avail.get(..n).unwrap_or_default());
        self.pos += n;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u32, length: u32) -> BlobRef {
        BlobRef {
            kind: BlobKind::Data,
            id: BlobId(Id([0; 32])),
            offset,
            length,
            raw_length: length,
        }
    }

    #[test]
    fn coalesce_reads_through_small_gaps_and_splits_large_ones() {
        let gap = MAX_GAP as u32;
        let blobs = [at(0, 10), at(10, 10), at(20 + gap, 10), at(31 + 2 * gap, 5)];
        let ranges: Vec<usize> = coalesce(&blobs, |b| *b).iter().map(|r| r.len()).collect();
        assert_eq!(ranges, [3, 1], "a gap of exactly MAX_GAP is read through");
        let big = MAX_READ as u32;
        let blobs = [at(0, big - 10), at(big - 10, 20)];
        assert_eq!(coalesce(&blobs, |b| *b).len(), 2, "no read over MAX_READ");
        assert!(coalesce(&[] as &[BlobRef], |b| *b).is_empty());
    }

    /// An index or pack header that claims a longer plaintext than the
    /// blob holds (whoever holds the key can write one) would shift every
    /// offset restore places content at, and let `dump` write fewer bytes
    /// than its tar header says: the blob is refused as damaged.
    #[test]
    fn a_blob_shorter_than_its_entry_says_does_not_open() {
        let master = repo_format::crypto::MasterKey::from_random(&[9u8; 72]);
        let key = repo_format::keyring::Keyring::full(&master, 2)
            .new_pack_key(&crate::fresh())
            .unwrap();
        let data = b"ten bytes!".to_vec();
        let id = master.blob_id(&data);
        let sealed = key.seal_blob(BlobKind::Data, &id, &data, 3, [1; 24]);
        let blob = |raw_length| BlobRef {
            kind: BlobKind::Data,
            id,
            offset: 0,
            length: sealed.len() as u32,
            raw_length,
        };
        assert_eq!(open_exact(&key, &blob(10), &sealed).unwrap(), data);
        let err = open_exact(&key, &blob(2048), &sealed).unwrap_err();
        assert!(err.to_string().contains("not the 2048"), "{err}");
        assert!(
            open_exact(&key, &blob(5), &sealed).is_err(),
            "longer than its entry"
        );
    }
}
