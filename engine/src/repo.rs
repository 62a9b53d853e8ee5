//! The repository: initialise, open with a password, read and write
//! objects and blobs.

use crate::backend::{Backend, PutOutcome};
use crate::error::{Error, Result};
use crate::index::Index;
use rayon::prelude::*;
use repo_format::compress::AUTO_LEVEL;
use repo_format::config::{ChunkerParams, Config, FORMAT_VERSION};
use repo_format::crypto::{BlobKind, MasterKey, ObjectKind};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::key::{KdfParams, KeyFile};
use repo_format::layout::{FileKind, object_path, parse_object_path};
use repo_format::snapshot::Snapshot;
use repo_format::tree::Tree;
use repo_format::{BlobId, Id, IndexId, KeyId, SnapshotId};
use std::sync::{Arc, RwLock};

/// Default target pack size (8 MiB): with four packs open and two uploading,
/// the pack stage holds at most ~48 MiB.
pub const DEFAULT_PACK_SIZE: u32 = 8 << 20;

/// Index files that were read, and those that could not be, with why.
pub type IndexFiles = (Vec<(IndexId, IndexFile)>, Vec<(IndexId, Error)>);

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
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            kdf: KdfParams::DEFAULT,
            chunker: ChunkerParams::DEFAULT,
            compression_level: AUTO_LEVEL,
            pack_size: DEFAULT_PACK_SIZE,
        }
    }
}

/// An open repository.
pub struct Repository {
    backend: Backend,
    key: Arc<MasterKey>,
    key_id: KeyId,
    config: Config,
    index: RwLock<Index>,
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
        let key = Arc::new(MasterKey::from_random(&random));
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

    /// Encrypt and store an object of `kind` under its content hash.
    pub fn save_object(&self, file: FileKind, kind: ObjectKind, payload: &[u8]) -> Result<Id> {
        let sealed = self.key.seal_object(
            kind,
            payload,
            self.config.compression_level,
            crate::random_nonce(),
        );
        let id = Id::hash(&sealed);
        self.backend.put_once(&object_path(file, &id), sealed)?;
        Ok(id)
    }

    /// Read and decrypt an object, checking that its name matches its bytes.
    pub fn load_object(&self, file: FileKind, kind: ObjectKind, id: &Id) -> Result<Vec<u8>> {
        let path = object_path(file, id);
        let sealed = self.backend.get(&path)?;
        if Id::hash(&sealed) != *id {
            return Err(Error::format(
                path,
                repo_format::FormatError::IdMismatch {
                    what: "object",
                    expected: id.to_hex(),
                },
            ));
        }
        self.key
            .open_object(kind, &sealed)
            .map_err(|e| Error::format(path, e))
    }

    /// Ids of every object of a kind.
    pub fn list_ids(&self, file: FileKind) -> Result<Vec<Id>> {
        Ok(self
            .backend
            .list(file.dir())?
            .iter()
            .filter_map(|(p, _)| parse_object_path(file, p))
            .collect())
    }

    /// Read every index file into memory.
    pub fn load_index(&self) -> Result<()> {
        let files = self
            .read_index_files()?
            .into_iter()
            .map(|(id, file)| file.map(|f| (id, f)))
            .collect::<Result<Vec<_>>>()?;
        self.add_index_files(&files)
    }

    /// Read every index file into memory, skipping the ones that cannot be
    /// read or decoded; returns those, each with its error (for `check`,
    /// which reports a damaged index file and carries on with the rest).
    pub fn load_index_tolerant(&self) -> Result<Vec<(IndexId, Error)>> {
        Ok(self.load_index_files_tolerant()?.1)
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

    /// Read and decode every index file, each with its own outcome (a
    /// listing failure fails the whole call).
    pub fn read_index_files(&self) -> Result<Vec<(IndexId, Result<IndexFile>)>> {
        let ids = self.list_ids(FileKind::Index)?;
        Ok(ids
            .par_iter()
            .map(|id| {
                let file = self
                    .load_object(FileKind::Index, ObjectKind::Index, id)
                    .and_then(|payload| {
                        IndexFile::decode(&payload)
                            .map_err(|e| Error::format(object_path(FileKind::Index, id), e))
                    });
                (IndexId(*id), file)
            })
            .collect())
    }

    /// Add index files to the in-memory index, ignoring the ones that
    /// another of them supersedes.
    pub fn add_index_files(&self, files: &[(IndexId, IndexFile)]) -> Result<()> {
        let superseded = superseded(files);
        let mut index = self
            .index
            .write()
            .map_err(|_| Error::Internal("index lock"))?;
        for (id, file) in files {
            if superseded.contains(id) {
                continue;
            }
            for pack in &file.packs {
                index.add_pack(pack);
            }
        }
        index.finish();
        Ok(())
    }

    /// Read access to the index.
    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means a panic elsewhere already failed the command.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write an index file for `packs` and add them to the in-memory index.
    pub fn save_index(&self, packs: Vec<IndexPack>) -> Result<Option<IndexId>> {
        if packs.is_empty() {
            return Ok(None);
        }
        let file = IndexFile {
            supersedes: Vec::new(),
            packs,
        };
        let id = self.save_object(FileKind::Index, ObjectKind::Index, &file.encode())?;
        let mut index = self
            .index
            .write()
            .map_err(|_| Error::Internal("index lock"))?;
        for pack in &file.packs {
            index.add_pack(pack);
        }
        index.finish();
        Ok(Some(IndexId(id)))
    }

    /// Read, decrypt and verify one blob.
    pub fn read_blob(&self, kind: BlobKind, id: &BlobId) -> Result<Vec<u8>> {
        let loc = self
            .index()
            .get(kind, id)
            .ok_or_else(|| Error::BlobNotIndexed(id.to_hex()))?;
        let path = object_path(FileKind::Pack, &loc.pack.0);
        let start = u64::from(loc.offset);
        let sealed = self
            .backend
            .get_range(&path, start..start + u64::from(loc.length))?;
        self.key
            .open_blob(kind, id, &sealed, loc.raw_length as usize)
            .map_err(|e| {
                Error::format(
                    format!("blob {} in pack {}", id.short(), loc.pack.short()),
                    e,
                )
            })
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

    /// Add a key for another password; returns its id.
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        add_key(&self.backend, &self.key, password, kdf)
    }
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
