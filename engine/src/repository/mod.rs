//! The repository: what every command above it works through.
//!
//! - [`Repository`] (this file): initialise, open with a password, the
//!   config and the master key;
//! - [`keys`]: key files (add, list, remove, change the password);
//! - [`objects`]: encrypted objects named by their hash (snapshots,
//!   index files, deletion notices, ledgers, locks);
//! - [`index`]: the master index and the one loader of index files;
//! - [`pack_reader`]: the one place blobs are read out of packs;
//! - [`reachable`]: the one walk of what snapshots reach;
//! - [`packer`] and [`saver`]: writing blobs into packs;
//! - [`lock`] and [`heartbeat`]: the repository's locks and heartbeats;
//! - [`witness`]: when the store received each snapshot.
//!
//! It uses only the storage seam ([`crate::store`]) below it.

pub mod heartbeat;
pub mod index;
pub mod keys;
pub mod lock;
pub mod objects;
pub mod pack_reader;
pub mod packer;
pub mod reachable;
pub mod saver;
pub mod witness;

use crate::error::{Error, Result};
use crate::store::{Backend, Cache, CacheKind, PutOutcome};
use index::Index;
use rayon::prelude::*;
use repo_format::SnapshotId;
use repo_format::compress::AUTO_LEVEL;
use repo_format::config::{ChunkerParams, Config, FORMAT_VERSION};
use repo_format::crypto::{MasterKey, ObjectKind};
use repo_format::key::{KdfParams, KeyFile, OpenedKey};
use repo_format::keyring::Keyring;
use repo_format::layout::{FileKind, ObjectName};
use repo_format::{Id, KeyId};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};

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
    /// The repository format version (SPEC.md §11): the newest unless
    /// chunking is copied from a repository of an older one.
    pub format: u32,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            kdf: KdfParams::DEFAULT,
            chunker: ChunkerParams::DEFAULT,
            compression_level: AUTO_LEVEL,
            pack_size: DEFAULT_PACK_SIZE,
            chunking_of: None,
            format: FORMAT_VERSION,
        }
    }
}

impl InitOptions {
    /// Chunk and name blobs as `source` does: its chunker parameters, id
    /// key and chunker seed (SPEC.md §5.3), so that `copy` from `source`
    /// into the new repository deduplicates by blob id.
    /// The new repository takes `source`'s format too: format 2 derives its
    /// gear table differently, and equal chunks need equal tables.
    pub fn copy_chunker_params(mut self, source: &Repository) -> Result<Self> {
        self.chunker = source.config().chunker;
        self.chunking_of = Some(source.master()?.clone());
        self.format = source.config().version;
        Ok(self)
    }
}

/// An open repository.
pub struct Repository {
    /// The store, through the cache when there is one.
    backend: Backend,
    /// The store itself.
    store: Backend,
    /// The master key: None when a put-only key opened the repository.
    master: Option<Arc<MasterKey>>,
    /// The keys the format uses, as the key file gives them.
    keys: Arc<Keyring>,
    key_id: KeyId,
    config: Config,
    index: RwLock<Index>,
    cache: Option<Arc<Cache>>,
    /// Hears, one line each, of the objects a command skipped as damaged.
    warn: Warn,
    /// The snapshots already reported as damaged (each is reported once).
    reported: Arc<Mutex<BTreeSet<SnapshotId>>>,
    /// Pack keys derived from their capsules (see [`pack_reader`]).
    pack_keys: PackKeys,
}

/// Pack keys derived so far, by pack.
type PackKeys =
    Arc<Mutex<std::collections::HashMap<repo_format::PackId, Arc<repo_format::keyring::PackKey>>>>;

/// Where a command hears of what it skipped: one line, without a
/// `warning:` prefix (the caller adds its own).
pub type Warn = Arc<dyn Fn(&str) + Send + Sync>;

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
        if backend.exists(&ObjectName::CONFIG)? || !backend.list_objects(FileKind::Key)?.is_empty()
        {
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
        if !repo_format::config::supported(options.format) {
            return Err(Error::InvalidArgument {
                what: "format",
                detail: format!("{}: this build writes formats 1 and 2", options.format),
            });
        }
        let config = Config {
            version: options.format,
            repository_id,
            chunker: options.chunker,
            compression_level: options.compression_level,
            pack_size: options.pack_size,
        };
        // The key first, the config last: a repository is initialised when
        // its config exists, and a crash in between leaves no half-repository
        // that `open` would accept.
        let key_id = keys::add_key(&backend, &key, password, options.kdf)?;
        let sealed = key.seal_object(
            ObjectKind::Config,
            &config.encode(),
            0,
            crate::random_nonce(),
        );
        if backend.put_once(&ObjectName::CONFIG, sealed)? == PutOutcome::AlreadyExists {
            backend.delete(&ObjectName::new(FileKind::Key, key_id.0))?;
            return Err(Error::RepositoryExists {
                url: backend.url().to_owned(),
            });
        }
        Ok(Repository {
            store: backend.clone(),
            backend,
            keys: Arc::new(Keyring::full(&key, config.version)),
            master: Some(key),
            key_id,
            config,
            index: RwLock::new(Index::new()),
            cache: None,
            warn: Arc::new(|_| {}),
            reported: Arc::default(),
            pack_keys: PackKeys::default(),
        })
    }

    /// Open a repository: find a key that `password` opens, read the config.
    /// The index is not loaded; see [`Repository::load_index`].
    pub fn open(backend: Backend, password: &[u8]) -> Result<Self> {
        let sealed_config = match backend.get(&ObjectName::CONFIG) {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => {
                return Err(Error::RepositoryNotFound {
                    url: backend.url().to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        let (key_id, key) = open_key(&backend, password)?;
        let (master, keys, config) = match key {
            OpenedKey::Full(master) => {
                let payload = master
                    .open_object(ObjectKind::Config, &sealed_config)
                    .map_err(|e| Error::format("config", e))?;
                let config = Config::decode(&payload).map_err(|e| Error::format("config", e))?;
                let keys = Keyring::full(&master, config.version);
                (Some(Arc::new(master)), keys, config)
            }
            // The config is sealed with the data key; the key file holds
            // a copy (SPEC.md §5.5).
            OpenedKey::PutOnly(key) => (None, Keyring::put_only(&key), key.config.clone()),
        };
        Ok(Repository {
            store: backend.clone(),
            backend,
            master,
            keys: Arc::new(keys),
            key_id,
            config,
            index: RwLock::new(Index::new()),
            cache: None,
            warn: Arc::new(|_| {}),
            reported: Arc::default(),
            pack_keys: PackKeys::default(),
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

    /// The master key, which only a full key gives: a put-only key is
    /// refused with [`Error::PutOnly`].
    pub fn master(&self) -> Result<&Arc<MasterKey>> {
        self.master.as_ref().ok_or(Error::PutOnly)
    }

    /// The keys of the repository's format, as the key in use gives them.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keys
    }

    /// Refuse, in one line, what a put-only key cannot do: anything but
    /// adding backups (SPEC.md §5.5).
    pub fn require_full_key(&self) -> Result<()> {
        self.master().map(drop)
    }

    /// Whether a put-only key opened the repository.
    pub fn is_put_only(&self) -> bool {
        self.master.is_none()
    }

    /// The id of the key file that opened the repository.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Keep index files, snapshots (in the store, see
    /// [`crate::store::cache::Cached`]) and tree blobs (read through
    /// [`pack_reader`]) in `cache`.
    pub fn set_cache(&mut self, cache: Arc<Cache>) {
        self.backend = self.backend.cached(cache.clone());
        self.cache = Some(cache);
    }

    /// The same repository (key and config, no second key derivation)
    /// read from the store itself, not through the cache, with no index
    /// loaded: for `check`, which must see what the store holds.
    pub fn without_cache(&self) -> Repository {
        Repository {
            backend: self.store.clone(),
            store: self.store.clone(),
            master: self.master.clone(),
            keys: self.keys.clone(),
            key_id: self.key_id,
            config: self.config.clone(),
            index: RwLock::new(self.index().emptied()),
            cache: None,
            warn: self.warn.clone(),
            reported: self.reported.clone(),
            pack_keys: self.pack_keys.clone(),
        }
    }

    /// Send what a command skips as damaged to `warn`, one line each.
    pub fn on_warning(&mut self, warn: Warn) {
        self.warn = warn;
    }

    /// Tell of a snapshot skipped as damaged, once per snapshot.
    pub(crate) fn warn_skipped_snapshot(&self, id: &SnapshotId, e: &Error) {
        let first = self
            .reported
            .lock()
            .map(|mut r| r.insert(*id))
            .unwrap_or(true);
        if first {
            (self.warn)(&format!(
                "snapshot {} does not open and was skipped ({}); 'vault check' names it, \
                 'vault repair snapshots --forget' removes it",
                id.short(),
                e.detail()
            ));
        }
    }

    /// The cache in use, if any.
    pub fn cache(&self) -> Option<&Arc<Cache>> {
        self.cache.as_ref()
    }

    /// The cache of tree blobs, if any.
    fn tree_cache(&self) -> Option<(&Cache, CacheKind)> {
        self.cache.as_deref().map(|c| (c, CacheKind::Tree))
    }
}

/// How many key derivations [`open_key`] runs at once, each needing at
/// most [`PARALLEL_KDF_MAX_KIB`] (the default is 64 MiB).
const PARALLEL_KDFS: usize = 4;
/// See [`PARALLEL_KDFS`].
const PARALLEL_KDF_MAX_KIB: u32 = 256 * 1024;

/// Find the key file `password` opens. Every key file is read first and
/// those that do not open as key files, or whose KDF asks for more than a
/// reader spends (a storage writer can plant one), are left out before any
/// derivation; the others are tried cheapest first, so that a planted
/// costly key delays nothing while a real one opens.
fn open_key(backend: &Backend, password: &[u8]) -> Result<(KeyId, OpenedKey)> {
    let mut candidates = Vec::new();
    let mut refused = None;
    for (id, _) in backend.list_objects(FileKind::Key)? {
        let bytes = backend.get(&ObjectName::new(FileKind::Key, id))?;
        if Id::hash(&bytes) != id {
            continue;
        }
        let Ok(file) = KeyFile::decode(&bytes) else {
            continue;
        };
        match file.kdf.check() {
            Ok(()) => candidates.push((KeyId(id), file)),
            Err(e) => {
                refused.get_or_insert((KeyId(id), e));
            }
        }
    }
    // A full key before a put-only one of the same cost: a password that
    // opens both (someone gave both the same) reads the repository.
    candidates.sort_by_key(|(id, file)| {
        (
            file.kdf.cost(),
            file.kind != repo_format::key::KeyKind::Full,
            *id,
        )
    });
    // Keys of one cost (a repository's own are all at the defaults: a full
    // and a put-only key, say) are tried at once, a few at a time, so that
    // the password of the second costs no second derivation's time;
    // costlier ones one by one, so that memory stays bounded.
    for same_cost in candidates.chunk_by(|a, b| a.1.kdf.cost() == b.1.kdf.cost()) {
        let at_once = match same_cost.first() {
            Some((_, f)) if f.kdf.memory_kib <= PARALLEL_KDF_MAX_KIB => PARALLEL_KDFS,
            _ => 1,
        };
        for batch in same_cost.chunks(at_once) {
            let opened = batch
                .par_iter()
                .find_map_first(|(id, file)| file.open(password).ok().map(|key| (*id, key)));
            if let Some(found) = opened {
                return Ok(found);
            }
        }
    }
    Err(match refused {
        Some((id, e)) => Error::KeyCostRefused {
            key: id.short(),
            detail: e.to_string(),
        },
        None => Error::WrongPassword,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// A memory repository with two snapshots (two different root trees)
    /// written through a cache in `root`; returns the URL and snapshot ids.
    fn repository_with_two_snapshots(
        name: &str,
        root: &Path,
    ) -> (String, Vec<repo_format::SnapshotId>) {
        use crate::backup::{BackupOptions, Source, backup};
        let url = format!("memory://{name}");
        let mut options = crate::InitOptions::default();
        options.kdf.memory_kib = 64;
        options.kdf.iterations = 1;
        let mut repo = Repository::init(Backend::open(&url).unwrap(), b"pw", &options).unwrap();
        let cache = Cache::open(root, &repo.config().repository_id).unwrap();
        repo.set_cache(std::sync::Arc::new(cache));
        let repo = std::sync::Arc::new(repo);
        let ids = ["one.txt", "two.txt"]
            .iter()
            .map(|name| {
                let source = Source::Stdin {
                    filename: (*name).into(),
                    reader: Box::new(&b"content"[..]),
                };
                backup(&repo, source, &BackupOptions::default(), &crate::NoProgress)
                    .unwrap()
                    .snapshot_id
                    .unwrap()
            })
            .collect();
        (url, ids)
    }

    fn reopen(url: &str, root: &Path) -> Repository {
        let mut repo = Repository::open(Backend::open(url).unwrap(), b"pw").unwrap();
        let cache = Cache::open(root, &repo.config().repository_id).unwrap();
        repo.set_cache(std::sync::Arc::new(cache));
        repo
    }

    /// [`repository_with_two_snapshots`], then opened again with the cache
    /// and its index loaded.
    fn reopened_with_two_snapshots(
        name: &str,
        root: &Path,
    ) -> (Repository, Vec<repo_format::SnapshotId>) {
        let (url, ids) = repository_with_two_snapshots(name, root);
        let repo = reopen(&url, root);
        repo.load_index(index::LoadMode::Strict).unwrap();
        (repo, ids)
    }

    #[test]
    fn repository_reads_written_metadata_from_cache_without_downloads() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, ids) = reopened_with_two_snapshots("cache-hits", tmp.path());
        let snapshots = repo.snapshots().unwrap();
        assert_eq!(snapshots.len(), 2);
        for (_, snapshot) in &snapshots {
            repo.load_tree(&snapshot.tree).unwrap();
        }
        let stats = repo.cache().unwrap().stats();
        assert_eq!(stats.misses, 0, "{stats:?}");
        // index file(s), two snapshots, two trees
        assert!(stats.hits >= 5, "{stats:?}");
        assert!(ids.iter().all(|id| {
            repo.cache()
                .unwrap()
                .path(CacheKind::Snapshot, &id.0)
                .exists()
        }));
    }

    #[test]
    fn repository_refuses_swapped_or_damaged_cache_files_and_repairs_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, ids) = reopened_with_two_snapshots("cache-damage", tmp.path());
        let (a, b) = (
            repo.load_snapshot(&ids[0]).unwrap(),
            repo.load_snapshot(&ids[1]).unwrap(),
        );
        let cache = repo.cache().unwrap().clone();
        // Tree b's file holds tree a's sealed bytes: well formed, sealed
        // with the right key, but for another blob id.
        let (tree_a, tree_b) = (
            cache.path(CacheKind::Tree, &a.tree.0),
            cache.path(CacheKind::Tree, &b.tree.0),
        );
        let good_b = fs::read(&tree_b).unwrap();
        fs::copy(&tree_a, &tree_b).unwrap();
        // Snapshot a's file loses its last byte.
        let snap_a = cache.path(CacheKind::Snapshot, &ids[0].0);
        let good_snap = fs::read(&snap_a).unwrap();
        fs::write(&snap_a, &good_snap[..good_snap.len() - 1]).unwrap();
        let before = cache.stats();

        let tree = repo.load_tree(&b.tree).unwrap();
        assert_eq!(tree.nodes[0].name, b"two.txt");
        assert_eq!(repo.load_snapshot(&ids[0]).unwrap().tree, a.tree);
        let after = cache.stats();
        assert_eq!(after.damaged - before.damaged, 2, "{after:?}");
        assert_eq!(after.misses - before.misses, 2, "{after:?}");
        // Both files were fetched again and hold the right bytes.
        assert_eq!(fs::read(&tree_b).unwrap(), good_b);
        assert_eq!(fs::read(&snap_a).unwrap(), good_snap);
    }
}
