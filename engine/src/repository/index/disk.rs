//! The index table on local disk, for when it would not fit the memory
//! budget (`--max-memory`).
//!
//! The table is a scratch file of fixed 49-byte records sorted as in
//! memory; only every [`BLOCK`]th key stays in memory (a fence), so ten
//! million blobs take about 5 MiB of RAM. A lookup binary-searches the
//! fences, reads one block of records with a positional read (no seek, so
//! any number of threads may look up at once) and binary-searches it.
//!
//! Loading past the budget writes sorted runs and merges them into the
//! table in one pass. The files are anonymous (unlinked at creation), so
//! nothing is left behind however the process ends. Nothing here is part
//! of the repository format: the bytes never leave this machine.

use super::{Entry, Key};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of one record: id, kind, pack, offset, length, raw length.
const RECORD: usize = 32 + 1 + 4 * 4;
/// Records per fence: one positional read of 3 KiB per lookup.
const BLOCK: usize = 64;
/// Buffer of each run reader and of the table writer.
const BUFFER: usize = 1 << 16;

fn encode(e: &Entry) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..32].copy_from_slice(&e.id);
    r[32] = e.kind;
    r[33..37].copy_from_slice(&e.pack.to_le_bytes());
    r[37..41].copy_from_slice(&e.offset.to_le_bytes());
    r[41..45].copy_from_slice(&e.length.to_le_bytes());
    r[45..49].copy_from_slice(&e.raw_length.to_le_bytes());
    r
}

fn decode(r: &[u8; RECORD]) -> Entry {
    let u32_at = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    let mut id = [0u8; 32];
    id.copy_from_slice(&r[..32]);
    Entry {
        id,
        kind: r[32],
        pack: u32_at(33),
        offset: u32_at(37),
        length: u32_at(41),
        raw_length: u32_at(45),
    }
}

fn key_of(r: &[u8]) -> Key {
    let mut id = [0u8; 32];
    id.copy_from_slice(&r[..32]);
    (id, r[32])
}

/// Where the scratch files go, and how many bytes of entries may stay in
/// memory before they do.
#[derive(Clone, Debug)]
pub struct Spill {
    /// Bytes of table entries kept in memory at most.
    pub budget: usize,
    /// Directory for the scratch files (on disk: a tmpfs would count
    /// against memory again).
    pub dir: PathBuf,
    /// What every index given this budget wrote to disk, counted for the
    /// caller who set it (`-v`, and to show that a budget took effect).
    pub written: Arc<SpillCounts>,
}

impl Spill {
    /// A budget of `budget` bytes in memory, the rest in `dir`.
    pub fn new(budget: usize, dir: PathBuf) -> Self {
        Spill {
            budget,
            dir,
            written: Arc::default(),
        }
    }
}

/// Tables written to disk, and their entries in all.
#[derive(Debug, Default)]
pub struct SpillCounts {
    tables: AtomicU64,
    entries: AtomicU64,
}

impl SpillCounts {
    /// Tables written, and their entries in all.
    pub fn get(&self) -> (u64, u64) {
        (
            self.tables.load(Ordering::Relaxed),
            self.entries.load(Ordering::Relaxed),
        )
    }

    pub(super) fn add(&self, entries: usize) {
        self.tables.fetch_add(1, Ordering::Relaxed);
        self.entries.fetch_add(entries as u64, Ordering::Relaxed);
    }
}

/// A sequential reader over a file shared with positional readers.
struct At<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Sorted records in a scratch file, read front to back.
fn records(file: &File, len: usize) -> impl Iterator<Item = io::Result<Entry>> + '_ {
    let mut reader = BufReader::with_capacity(BUFFER, At { file, offset: 0 });
    (0..len).map(move |_| {
        let mut r = [0u8; RECORD];
        reader.read_exact(&mut r)?;
        Ok(decode(&r))
    })
}

/// A sorted run written while loading (see [`write_run`]).
#[derive(Debug)]
pub struct Run {
    file: File,
    len: usize,
}

/// Write `entries`, sorted, to a new scratch file in `dir`.
pub fn write_run(dir: &Path, entries: &[Entry]) -> io::Result<Run> {
    let mut out = BufWriter::with_capacity(BUFFER, tempfile::tempfile_in(dir)?);
    for e in entries {
        out.write_all(&encode(e))?;
    }
    Ok(Run {
        file: out.into_inner().map_err(io::IntoInnerError::into_error)?,
        len: entries.len(),
    })
}

/// The sorted table on disk.
#[derive(Debug)]
pub struct DiskTable {
    file: File,
    len: usize,
    /// The key of every [`BLOCK`]th record.
    fences: Vec<Key>,
}

impl DiskTable {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory the fences take.
    pub fn memory_bytes(&self) -> usize {
        self.fences.capacity() * std::mem::size_of::<Key>()
    }

    /// Position and entry of `key`, if the table holds it.
    pub fn find(&self, key: &Key) -> io::Result<Option<(usize, Entry)>> {
        let Some(block) = self.fences.partition_point(|f| f <= key).checked_sub(1) else {
            return Ok(None);
        };
        let first = block * BLOCK;
        let count = BLOCK.min(self.len - first);
        let mut buf = [0u8; BLOCK * RECORD];
        let buf = &mut buf[..count * RECORD];
        self.file.read_exact_at(buf, (first * RECORD) as u64)?;
        let (records, _) = buf.as_chunks::<RECORD>();
        Ok(records
            .binary_search_by_key(key, |r| key_of(r))
            .ok()
            .and_then(|i| Some((first + i, decode(records.get(i)?)))))
    }

    /// The entry at `position`, if there is one.
    pub fn at(&self, position: usize) -> io::Result<Option<Entry>> {
        if position >= self.len {
            return Ok(None);
        }
        let mut r = [0u8; RECORD];
        self.file
            .read_exact_at(&mut r, (position * RECORD) as u64)?;
        Ok(Some(decode(&r)))
    }
}

/// Merge sorted sources into a new table in `dir`, as [`super::Index::finish`]
/// does in memory: `renumber` maps the pack numbers of `runs` and `old`
/// (u32::MAX: the pack was dropped, and its entries with it); of equal
/// keys the first in order stays. `memory` is already renumbered.
pub fn merge(
    dir: &Path,
    runs: &[Run],
    old: Option<&DiskTable>,
    renumber: Option<&[u32]>,
    memory: &[&[Entry]],
) -> io::Result<DiskTable> {
    let map = |mut e: Entry| {
        if let Some(r) = renumber {
            e.pack = r.get(e.pack as usize).copied().unwrap_or(u32::MAX);
        }
        e
    };
    let mut sources: Vec<Box<dyn Iterator<Item = io::Result<Entry>> + '_>> = Vec::new();
    for run in runs {
        sources.push(Box::new(
            records(&run.file, run.len).map(move |e| e.map(map)),
        ));
    }
    if let Some(old) = old {
        sources.push(Box::new(
            records(&old.file, old.len).map(move |e| e.map(map)),
        ));
    }
    for m in memory {
        sources.push(Box::new(m.iter().copied().map(Ok)));
    }
    let mut heads = Vec::with_capacity(sources.len());
    let mut heap = BinaryHeap::new();
    for (i, source) in sources.iter_mut().enumerate() {
        let head = source.next().transpose()?;
        if let Some(e) = head {
            heap.push(Reverse((e.order(), i)));
        }
        heads.push(head);
    }
    let mut out = BufWriter::with_capacity(BUFFER, tempfile::tempfile_in(dir)?);
    let mut fences = Vec::new();
    let mut len = 0usize;
    let mut last: Option<Key> = None;
    while let Some(Reverse((_, i))) = heap.pop() {
        let (Some(head), Some(source)) = (heads.get_mut(i), sources.get_mut(i)) else {
            continue;
        };
        let next = source.next().transpose()?;
        if let Some(n) = next {
            heap.push(Reverse((n.order(), i)));
        }
        let Some(e) = std::mem::replace(head, next) else {
            continue;
        };
        if e.pack == u32::MAX || last == Some(e.key()) {
            continue;
        }
        if len.is_multiple_of(BLOCK) {
            fences.push(e.key());
        }
        out.write_all(&encode(&e))?;
        last = Some(e.key());
        len += 1;
    }
    fences.shrink_to_fit();
    Ok(DiskTable {
        file: out.into_inner().map_err(io::IntoInnerError::into_error)?,
        len,
        fences,
    })
}
