//! The repository: initialise, open with a password, read and write
//! objects and blobs.

use crate::backend::{Backend, PutOutcome};
use crate::cache::{Cache, CacheKind};
use crate::error::{Error, Result};
use crate::index::{Index, Spill};
use crate::prefix::{Matches, by_prefix};
use rayon::prelude::*;
use repo_format::compress::AUTO_LEVEL;
use repo_format::config::{ChunkerParams, Config, FORMAT_VERSION};
use repo_format::crypto::{BlobKind, MasterKey, ObjectKind};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::key::{KdfParams, KeyFile};
use repo_format::layout::{FileKind, object_path, parse_object_path};
use repo_format::pack::{self, PackEntry};
use repo_format::snapshot::Snapshot;
use repo_format::tree::Tree;
use repo_format::{BlobId, Id, IndexId, KeyId, PackId, SnapshotId};
use std::sync::{Arc, RwLock};

/// Default target pack size (8 MiB): with four packs open and two uploading,
/// the pack stage holds at most ~48 MiB.
pub const DEFAULT_PACK_SIZE: u32 = 8 << 20;

/// Options of [`Repository::init`].
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// KDF parameters of the first key.
    pub kdf: KdfParams,
    /// Chunker parameters.
    pub chunker: ChunkerParams,
    /// zstd level (0 = off).
    pub compression_level: i32,
    /// Target pack size.
    pub pack_size: u32,
    /// Share the id key and chunker seed of this master key (see
    /// [`InitOptions::copy_chunker_params`]); None draws them at random.
    pub chunking_of: Option<Arc<MasterKey>>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            kdf: KdfParams::DEFAULT,
            chunker: ChunkerParams::DEFAULT,
            compression_level: AUTO_LEVEL,
            pack_size: DEFAULT_PACK_SIZE,
            chunking_of: None,
        }
    }
}

impl InitOptions {
    /// Chunk and name blobs as `source` does: its chunker parameters, id
    /// key and chunker seed (SPEC.md §5.3), so that `copy` from `source`
    /// into the new repository deduplicates by blob id.
    pub fn copy_chunker_params(mut self, source: &Repository) -> Self {
        self.chunker = source.config().chunker;
        self.chunking_of = Some(source.key().clone());
        self
    }
}

/// An open repository.
pub struct Repository {
    backend: Backend,
    key: Arc<MasterKey>,
    key_id: KeyId,
    config: Config,
    index: RwLock<Index>,
    cache: Option<Arc<Cache>>,
}

/// Index files read tolerantly: those read, and those that failed.
pub type IndexFiles = (Vec<(IndexId, IndexFile)>, Vec<(IndexId, Error)>);

/// The index files in the store.
#[derive(Debug, Default)]
pub struct IndexSet {
    /// Every index file listed, superseded or not.
    pub all: Vec<IndexId>,
    /// The index files not superseded, with their contents.
    pub active: Vec<(IndexId, IndexFile)>,
}

/// The user and host writing: recorded in keys and snapshots.
pub fn current_user_and_host() -> (String, String) {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    (user, host)
}

impl Repository {
    /// Create a repository at `backend` with one key for `password`.
    /// Refuses, changing nothing, if a config or key is already there.
    pub fn init(backend: Backend, password: &[u8], options: &InitOptions) -> Result<Self> {
        if backend.exists("config")? || !backend.list("keys")?.is_empty() {
            return Err(Error::RepositoryExists {
                url: backend.url().to_owned(),
            });
        }
        options
            .chunker
            .validate()
            .map_err(|e| Error::format("chunker options", e))?;
        let mut random = [0u8; 72];
        rand::fill(&mut random);
        let key = match &options.chunking_of {
            Some(source) => {
                let mut data_key = [0u8; repo_format::crypto::KEY_LEN];
                rand::fill(&mut data_key);
                let key = MasterKey::sharing_chunking(&data_key, source);
                zeroize::Zeroize::zeroize(&mut data_key);
                key
            }
            None => MasterKey::from_random(&random),
        };
        let key = Arc::new(key);
        zeroize::Zeroize::zeroize(&mut random);
        let mut repository_id = [0u8; 32];
        rand::fill(&mut repository_id);
        let config = Config {
            version: FORMAT_VERSION,
            repository_id,
            chunker: options.chunker,
            compression_level: options.compression_level,
            pack_size: options.pack_size,
        };
        // The key first, the config last: a repository is initialised when
        // its config exists, and a crash in between leaves no half-repository
        // that `open` would accept.
        let key_id = add_key(&backend, &key, password, options.kdf)?;
        let sealed = key.seal_object(
            ObjectKind::Config,
            &config.encode(),
            0,
            crate::random_nonce(),
        );
        if backend.put_once("config", sealed)? == PutOutcome::AlreadyExists {
            backend.delete(&object_path(FileKind::Key, &key_id.0))?;
            return Err(Error::RepositoryExists {
                url: backend.url().to_owned(),
            });
        }
        Ok(Repository {
            backend,
            key,
            key_id,
            config,
            index: RwLock::new(Index::new()),
            cache: None,
        })
    }

    /// Open a repository: find a key that `password` opens, read the config.
    /// The index is not loaded; see [`Repository::load_index`].
    pub fn open(backend: Backend, password: &[u8]) -> Result<Self> {
        let sealed_config = match backend.get("config") {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => {
                return Err(Error::RepositoryNotFound {
                    url: backend.url().to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        let keys = backend.list("keys")?;
        let mut found = None;
        for (path, _) in &keys {
            let Some(id) = parse_object_path(FileKind::Key, path) else {
                continue;
            };
            let bytes = backend.get(path)?;
            let Ok(file) = KeyFile::decode(&bytes) else {
                continue;
            };
            match file.open(password) {
                Ok(key) => {
                    found = Some((KeyId(id), key));
                    break;
                }
                Err(_) => continue,
            }
        }
        let (key_id, key) = found.ok_or(Error::WrongPassword)?;
        let payload = key
            .open_object(ObjectKind::Config, &sealed_config)
            .map_err(|e| Error::format("config", e))?;
        let config = Config::decode(&payload).map_err(|e| Error::format("config", e))?;
        Ok(Repository {
            backend,
            key: Arc::new(key),
            key_id,
            config,
            index: RwLock::new(Index::new()),
            cache: None,
        })
    }

    /// The storage backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The repository config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The master key.
    pub fn key(&self) -> &Arc<MasterKey> {
        &self.key
    }

    /// The id of the key file that opened the repository.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Use `cache` for index files, snapshots and trees (None: read
    /// everything from the store). See [`crate::cache`].
    pub fn set_cache(&mut self, cache: Option<Arc<Cache>>) {
        self.cache = cache;
    }

    /// The cache in use, if any.
    pub fn cache(&self) -> Option<&Arc<Cache>> {
        self.cache.as_ref()
    }

    /// The cache and the kind of entry an object of `file` is, when cached.
    fn cache_for(&self, file: FileKind) -> Option<(&Cache, CacheKind)> {
        let kind = match file {
            FileKind::Index => CacheKind::Index,
            FileKind::Snapshot => CacheKind::Snapshot,
            _ => return None,
        };
        self.cache.as_deref().map(|c| (c, kind))
    }

    /// `open` the sealed bytes of an entry: from the cache when it holds
    /// bytes that `open` accepts, else `fetch`ed from the store (and then
    /// cached). A cached file that `open` refuses is replaced.
    fn through_cache<T>(
        &self,
        entry: Option<(&Cache, CacheKind)>,
        id: &Id,
        fetch: impl FnOnce() -> Result<bytes::Bytes>,
        open: impl Fn(&[u8]) -> Result<T>,
    ) -> Result<T> {
        let Some((cache, kind)) = entry else {
            return open(&fetch()?);
        };
        if let Some(found) = cache.get(kind, id, |b| open(b).ok()) {
            return Ok(found);
        }
        let sealed = fetch()?;
        let opened = open(&sealed)?;
        cache.put(kind, id, &sealed);
        Ok(opened)
    }

    /// Encrypt and store an object of `kind` under its content hash.
    pub fn save_object(&self, file: FileKind, kind: ObjectKind, payload: &[u8]) -> Result<Id> {
        let (id, sealed) = seal_object(&self.key, self.config.compression_level, kind, payload);
        let cached = self.cache_for(file).map(|entry| (entry, sealed.clone()));
        self.backend.put_once(&object_path(file, &id), sealed)?;
        if let Some(((cache, kind), sealed)) = cached {
            cache.put(kind, &id, &sealed);
        }
        Ok(id)
    }

    /// Read and decrypt an object, checking that its name matches its bytes.
    pub fn load_object(&self, file: FileKind, kind: ObjectKind, id: &Id) -> Result<Vec<u8>> {
        let path = object_path(file, id);
        self.through_cache(
            self.cache_for(file),
            id,
            || self.backend.get(&path),
            |sealed| open_object(&self.key, &path, kind, id, sealed),
        )
    }

    /// Ids of every object of a kind. Cached objects of that kind that are
    /// no longer listed (another process removed them) leave the cache.
    pub fn list_ids(&self, file: FileKind) -> Result<Vec<Id>> {
        let ids: Vec<Id> = self
            .backend
            .list(file.dir())?
            .iter()
            .filter_map(|(p, _)| parse_object_path(file, p))
            .collect();
        if let Some((cache, kind)) = self.cache_for(file) {
            let listed: std::collections::HashSet<&Id> = ids.iter().collect();
            cache.retain(kind, |id| listed.contains(id));
        }
        Ok(ids)
    }

    /// Read and decode every index file, each with its own outcome (a
    /// listing failure fails the whole call).
    pub fn read_index_files(&self) -> Result<Vec<(IndexId, Result<IndexFile>)>> {
        let ids = self.list_ids(FileKind::Index)?;
        Ok(ids
            .par_iter()
            .map(|id| (IndexId(*id), self.read_index_file(id)))
            .collect())
    }

    fn read_index_file(&self, id: &Id) -> Result<IndexFile> {
        let payload = self.load_object(FileKind::Index, ObjectKind::Index, id)?;
        IndexFile::decode(&payload).map_err(|e| Error::format(object_path(FileKind::Index, id), e))
    }

    /// Add every index file to the in-memory index, a batch of files at a
    /// time (decoded in parallel), so that beside the table only a batch
    /// of decoded files is ever in memory; then take out the files another
    /// one supersedes. `tolerant`: a file that cannot be read or decoded is
    /// skipped and returned with its error; otherwise it fails the call,
    /// leaving the index as it was.
    fn stream_index(&self, tolerant: bool) -> Result<Vec<(IndexId, Error)>> {
        let ids = self.list_ids(FileKind::Index)?;
        // A poisoned lock means a panic elsewhere already failed the command.
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let mut added = Vec::with_capacity(ids.len());
        let mut superseded = std::collections::HashSet::new();
        let mut damaged = Vec::new();
        let batch = rayon::current_num_threads().max(1) * 4;
        let mut failed = None;
        'batches: for ids in ids.chunks(batch) {
            let files: Vec<Result<IndexFile>> =
                ids.par_iter().map(|id| self.read_index_file(id)).collect();
            for (id, file) in ids.iter().zip(files) {
                match file {
                    Ok(file) => {
                        superseded.extend(file.supersedes.iter().copied());
                        added.push((IndexId(*id), index.add_file(&file.packs)));
                    }
                    Err(e) if tolerant => damaged.push((IndexId(*id), e)),
                    Err(e) => {
                        failed = Some(e);
                        break 'batches;
                    }
                }
            }
            if let Err(e) = index.spill() {
                failed = Some(spill_error(&index, e));
                break;
            }
        }
        if let Some(e) = failed {
            let all: Vec<_> = added.into_iter().map(|(_, a)| a).collect();
            // The load's own error is the one to report.
            let _ = index.abandon(&all);
            return Err(e);
        }
        let gone: Vec<_> = added
            .into_iter()
            .filter(|(id, _)| superseded.contains(id))
            .map(|(_, a)| a)
            .collect();
        index.remove_files(&gone);
        index.finish().map_err(|e| spill_error(&index, e))?;
        Ok(damaged)
    }

    /// Keep at most `spill.budget` bytes of index entries in memory and the
    /// rest in scratch files in `spill.dir` (see [`crate::index`]); None:
    /// all in memory.
    pub fn set_index_spill(&self, spill: Option<Spill>) {
        // A poisoned lock means a panic elsewhere already failed the command.
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        index.set_spill(spill);
    }

    /// Every index file, strictly (a damaged one fails the call): the ids
    /// of all listed, and the contents of those not superseded.
    pub fn index_set(&self) -> Result<IndexSet> {
        let files = self
            .read_index_files()?
            .into_iter()
            .map(|(id, file)| file.map(|f| (id, f)))
            .collect::<Result<Vec<_>>>()?;
        let superseded = superseded(&files);
        Ok(IndexSet {
            all: files.iter().map(|(id, _)| *id).collect(),
            active: files
                .into_iter()
                .filter(|(id, _)| !superseded.contains(id))
                .collect(),
        })
    }

    /// Read every index file into memory, skipping the ones that cannot be
    /// read or decoded; returns those, each with its error (for `check`,
    /// which reports a damaged index file and carries on with the rest).
    pub fn load_index_tolerant(&self) -> Result<Vec<(IndexId, Error)>> {
        self.stream_index(true)
    }

    /// [`Repository::load_index_tolerant`], also returning the index files
    /// that were read.
    pub fn load_index_files_tolerant(&self) -> Result<IndexFiles> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (id, file) in self.read_index_files()? {
            match file {
                Ok(f) => good.push((id, f)),
                Err(e) => bad.push((id, e)),
            }
        }
        self.add_index_files(&good)?;
        Ok((good, bad))
    }

    /// Add index files to the in-memory index, ignoring the ones that
    /// another of them supersedes.
    pub fn add_index_files(&self, files: &[(IndexId, IndexFile)]) -> Result<()> {
        let superseded = superseded(files);
        self.add_to_index(
            files
                .iter()
                .filter(|(id, _)| !superseded.contains(id))
                .flat_map(|(_, f)| &f.packs),
        )
    }

    /// Read every index file into memory (adding to what is loaded).
    pub fn load_index(&self) -> Result<()> {
        self.stream_index(false)?;
        self.retain_cached_trees();
        Ok(())
    }

    /// Replace the in-memory index with the index files now in the store
    /// (keeping the old one if that fails).
    pub fn reload_index(&self) -> Result<()> {
        let old = {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            let empty = index.emptied();
            std::mem::replace(&mut *index, empty)
        };
        self.load_index().inspect_err(|_| {
            *self.index.write().unwrap_or_else(|p| p.into_inner()) = old;
        })
    }

    /// With the whole index loaded (strictly: no index file skipped),
    /// remove cached trees it no longer lists (a prune removed them).
    fn retain_cached_trees(&self) {
        if let Some(cache) = &self.cache {
            let index = self.index();
            cache.retain(CacheKind::Tree, |id| {
                index.contains(BlobKind::Tree, &BlobId(*id))
            });
        }
    }

    fn add_to_index<'a>(&self, packs: impl Iterator<Item = &'a IndexPack>) -> Result<()> {
        // A poisoned lock means a panic elsewhere already failed the command.
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        for pack in packs {
            index.add_pack(pack);
        }
        index.finish().map_err(|e| spill_error(&index, e))
    }

    /// Read access to the index.
    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means a panic elsewhere already failed the command.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write index files for `packs` (see [`index_files`]) and add them to
    /// the in-memory index; returns their ids.
    pub fn save_index(&self, packs: Vec<IndexPack>) -> Result<Vec<IndexId>> {
        let mut ids = Vec::new();
        for file in index_files(packs, Vec::new()) {
            ids.push(self.save_index_file(&file)?);
            self.add_to_index(file.packs.iter())?;
        }
        Ok(ids)
    }

    /// Write one index file as it is.
    pub fn save_index_file(&self, file: &IndexFile) -> Result<IndexId> {
        self.save_object(FileKind::Index, ObjectKind::Index, &file.encode())
            .map(IndexId)
    }

    /// Remove an object (removing a missing one succeeds).
    pub fn delete_object(&self, file: FileKind, id: &Id) -> Result<()> {
        self.backend.delete(&object_path(file, id))?;
        if let Some((cache, kind)) = self.cache_for(file) {
            cache.remove(kind, id);
        }
        Ok(())
    }

    /// Read and decrypt a pack's header: the blobs it holds.
    pub fn read_pack_header(&self, pack: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        let path = object_path(FileKind::Pack, &pack.0);
        let what = || format!("pack {}", pack.short());
        let tail_start = size.saturating_sub(pack::HEADER_LEN_LEN as u64);
        let trailer = self.backend.get_range(&path, tail_start..size)?;
        let (range, blobs_len) =
            pack::header_range(size, &trailer).map_err(|e| Error::format(what(), e))?;
        let sealed = self.backend.get_range(&path, range)?;
        let payload = self
            .key
            .open_object(ObjectKind::PackHeader, &sealed)
            .map_err(|e| Error::format(what(), e))?;
        pack::decode_header(&payload, blobs_len).map_err(|e| Error::format(what(), e))
    }

    /// Read, decrypt and verify one blob (a tree through the cache).
    pub fn read_blob(&self, kind: BlobKind, id: &BlobId) -> Result<Vec<u8>> {
        let loc = self
            .index()
            .get(kind, id)
            .ok_or_else(|| Error::BlobNotIndexed(id.to_hex()))?;
        let path = object_path(FileKind::Pack, &loc.pack.0);
        let start = u64::from(loc.offset);
        let entry = match kind {
            BlobKind::Tree => self.cache.as_deref().map(|c| (c, CacheKind::Tree)),
            BlobKind::Data => None,
        };
        self.through_cache(
            entry,
            &id.0,
            || {
                self.backend
                    .get_range(&path, start..start + u64::from(loc.length))
            },
            |sealed| {
                self.key
                    .open_blob(kind, id, sealed, loc.raw_length as usize)
                    .map_err(|e| {
                        Error::format(
                            format!("blob {} in pack {}", id.short(), loc.pack.short()),
                            e,
                        )
                    })
            },
        )
    }

    /// Put a tree blob just sealed (by a backup) into the cache, so that
    /// the next backup finds its parent's trees without downloading them.
    pub fn cache_tree(&self, id: &BlobId, sealed: &[u8]) {
        if let Some(cache) = &self.cache {
            cache.put(CacheKind::Tree, &id.0, sealed);
        }
    }

    /// Read and decode a tree.
    pub fn load_tree(&self, id: &BlobId) -> Result<Tree> {
        let plain = self.read_blob(BlobKind::Tree, id)?;
        Tree::decode(&plain).map_err(|e| Error::format(format!("tree {}", id.short()), e))
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

    /// Every snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let ids = self.list_ids(FileKind::Snapshot)?;
        let mut all: Vec<(SnapshotId, Snapshot)> = ids
            .par_iter()
            .map(|id| {
                let id = SnapshotId(*id);
                self.load_snapshot(&id).map(|s| (id, s))
            })
            .collect::<Result<_>>()?;
        all.sort_by_key(|(id, s)| (s.time, *id));
        Ok(all)
    }

    /// Remove a snapshot object (its data stays until prune). Removing a
    /// snapshot that is already gone succeeds.
    pub fn delete_snapshot(&self, id: &SnapshotId) -> Result<()> {
        self.delete_object(FileKind::Snapshot, &id.0)
    }

    /// Add a key for another password; returns its id.
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        add_key(&self.backend, &self.key, password, kdf)
    }

    /// Every key file, oldest first (key files are not encrypted; nothing
    /// secret is returned).
    pub fn keys(&self) -> Result<Vec<(KeyId, KeyFile)>> {
        let mut keys = self
            .list_ids(FileKind::Key)?
            .into_iter()
            .map(|id| {
                let path = object_path(FileKind::Key, &id);
                let bytes = self.backend.get(&path)?;
                let file = KeyFile::decode(&bytes).map_err(|e| Error::format(path, e))?;
                Ok((KeyId(id), file))
            })
            .collect::<Result<Vec<_>>>()?;
        keys.sort_by_key(|(id, k)| (k.created, *id));
        Ok(keys)
    }

    /// The key named by its full id or a unique prefix (4 hex digits or more).
    pub fn find_key(&self, arg: &str) -> Result<KeyId> {
        let ids = self.list_ids(FileKind::Key)?;
        match by_prefix(arg, ids, |id| id) {
            None => Err(Error::InvalidArgument {
                what: "key",
                detail: format!("{arg:?}: give at least 4 hex digits of a key id"),
            }),
            Some(Matches::One(id)) => Ok(KeyId(id)),
            Some(Matches::None) => Err(Error::KeyNotFound(arg.to_owned())),
            Some(Matches::Many(count)) => Err(Error::AmbiguousKey {
                prefix: arg.to_owned(),
                count,
            }),
        }
    }

    /// Remove a key file. Refuses the key this repository was opened with
    /// (see [`Repository::change_password`]) and the repository's last key.
    pub fn remove_key(&self, id: KeyId) -> Result<()> {
        let refuse = |reason| Error::KeyRefused {
            key: id.short(),
            reason,
        };
        if id == self.key_id {
            return Err(refuse(
                "it is the key in use; open the repository with another key's password to remove it, or use 'vault key passwd'",
            ));
        }
        let ids = self.list_ids(FileKind::Key)?;
        if !ids.contains(&id.0) {
            return Err(Error::KeyNotFound(id.to_hex()));
        }
        if ids.len() < 2 {
            return Err(refuse("it is the repository's last key"));
        }
        self.backend.delete(&object_path(FileKind::Key, &id.0))
    }

    /// Replace the key in use by a new key for `password`: the new key is
    /// written first, then the old one removed, so a crash leaves both.
    /// Returns the new key's id, which is then the key in use.
    pub fn change_password(&mut self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        let old = self.key_id;
        self.backend.ensure_deletable()?;
        let new = self.add_key(password, kdf)?;
        self.key_id = new;
        self.backend.delete(&object_path(FileKind::Key, &old.0))?;
        Ok(new)
    }
}

/// Seal `payload` as an object of `kind` and store it under its hash; the
/// body of [`Repository::save_object`], for holders of a backend and key
/// without a `Repository` (the lock refresher's thread).
pub(crate) fn store_object(
    backend: &Backend,
    key: &MasterKey,
    compression_level: i32,
    file: FileKind,
    kind: ObjectKind,
    payload: &[u8],
) -> Result<Id> {
    let (id, sealed) = seal_object(key, compression_level, kind, payload);
    backend.put_once(&object_path(file, &id), sealed)?;
    Ok(id)
}

/// Seal `payload` as an object of `kind`: its id (the hash of the sealed
/// bytes) and the bytes.
fn seal_object(
    key: &MasterKey,
    compression_level: i32,
    kind: ObjectKind,
    payload: &[u8],
) -> (Id, Vec<u8>) {
    let sealed = key.seal_object(kind, payload, compression_level, crate::random_nonce());
    (Id::hash(&sealed), sealed)
}

/// The body of [`Repository::load_object`] (see [`store_object`]).
pub(crate) fn fetch_object(
    backend: &Backend,
    key: &MasterKey,
    file: FileKind,
    kind: ObjectKind,
    id: &Id,
) -> Result<Vec<u8>> {
    let path = object_path(file, id);
    let sealed = backend.get(&path)?;
    open_object(key, &path, kind, id, &sealed)
}

/// Check that the sealed bytes of the object at `path` hash to its name
/// `id`, and open them.
fn open_object(
    key: &MasterKey,
    path: &str,
    kind: ObjectKind,
    id: &Id,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    if Id::hash(sealed) != *id {
        return Err(Error::format(
            path,
            repo_format::FormatError::IdMismatch {
                what: "object",
                expected: id.to_hex(),
            },
        ));
    }
    key.open_object(kind, sealed)
        .map_err(|e| Error::format(path, e))
}

/// Blobs one index file names at most (unless one pack holds more): the
/// index loads a few files at a time, so this bounds the memory of
/// loading (about 3 MiB a file decoded), and a backup writes an index file
/// each time it has packed this many blobs.
pub const BLOBS_PER_INDEX_FILE: usize = 1 << 16;

/// `packs` as index files of at most [`BLOBS_PER_INDEX_FILE`] blobs each;
/// only the last supersedes `supersedes`, so that until it is written the
/// old files stay in force and a crash loses nothing. At least one file
/// when something is superseded, none for nothing.
pub fn index_files(packs: Vec<IndexPack>, supersedes: Vec<IndexId>) -> Vec<IndexFile> {
    let mut files = Vec::new();
    let mut current = IndexFile::default();
    let mut blobs = 0;
    for pack in packs {
        if blobs + pack.blobs.len() > BLOBS_PER_INDEX_FILE && !current.packs.is_empty() {
            files.push(std::mem::take(&mut current));
            blobs = 0;
        }
        blobs += pack.blobs.len();
        current.packs.push(pack);
    }
    if !current.packs.is_empty() || !supersedes.is_empty() {
        current.supersedes = supersedes;
        files.push(current);
    }
    files
}

fn spill_error(index: &Index, e: std::io::Error) -> Error {
    Error::io(
        "write the index table to a scratch file in",
        index.spill_dir(),
        e,
    )
}

/// The index files that another of `files` supersedes.
pub fn superseded(files: &[(IndexId, IndexFile)]) -> std::collections::HashSet<IndexId> {
    files
        .iter()
        .flat_map(|(_, f)| f.supersedes.iter().copied())
        .collect()
}

fn add_key(backend: &Backend, key: &MasterKey, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
    let mut salt = [0u8; 32];
    rand::fill(&mut salt);
    let (user, host) = current_user_and_host();
    let file = KeyFile::create(
        key,
        password,
        kdf,
        salt,
        crate::random_nonce(),
        chrono::Utc::now().timestamp(),
        host,
        user,
    )
    .map_err(|e| Error::format("new key", e))?;
    let bytes = file.encode();
    let id = Id::hash(&bytes);
    backend.put_once(&object_path(FileKind::Key, &id), bytes)?;
    Ok(KeyId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            ..KdfParams::DEFAULT
        }
    }

    #[test]
    fn keys_add_find_remove_and_change_password() {
        let url = "memory://repo-keys-test";
        let options = InitOptions {
            kdf: cheap(),
            ..InitOptions::default()
        };
        let mut repo = Repository::init(Backend::open(url).unwrap(), b"one", &options).unwrap();
        let first = repo.key_id();
        // The last key, which is also the key in use, stays.
        assert!(matches!(
            repo.remove_key(first),
            Err(Error::KeyRefused { .. })
        ));
        let second = repo.add_key(b"two", cheap()).unwrap();
        assert_eq!(repo.keys().unwrap().len(), 2);
        assert_eq!(repo.find_key(&second.to_hex()[..8]).unwrap(), second);
        assert!(matches!(
            repo.find_key("abc"),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            repo.remove_key(first),
            Err(Error::KeyRefused { .. })
        ));
        // Both passwords open it.
        let two = Repository::open(Backend::open(url).unwrap(), b"two").unwrap();
        assert_eq!(two.key_id(), second);
        // The other key may go: removing the first through the second.
        two.remove_key(first).unwrap();
        assert!(matches!(
            Repository::open(Backend::open(url).unwrap(), b"one"),
            Err(Error::WrongPassword)
        ));
        // passwd: a new key replaces the one in use.
        repo = two;
        let third = repo.change_password(b"three", cheap()).unwrap();
        assert_eq!(repo.key_id(), third);
        let ids: Vec<KeyId> = repo.keys().unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [third]);
        assert!(Repository::open(Backend::open(url).unwrap(), b"two").is_err());
        Repository::open(Backend::open(url).unwrap(), b"three").unwrap();
    }
}
