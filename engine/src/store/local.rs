//! A repository in a local directory (`/path`, `file:///path`), and one in
//! this process's memory (`memory://NAME`, for tests and examples).
//!
//! The directory is object_store's local store with fsync, its writes
//! done by [`OwnerOnly`] (files 0400, directories 0700): each object is
//! written to a staging file `<name>#<n>` and linked into place, and
//! created with `O_EXCL` semantics, so put-once needs no look first. A
//! process killed between the write and the rename leaves the staging
//! file, which listings never show; [`Local`] removes them when asked
//! (prune does, when no other process holds a lock).

use super::object::{Adapter, Flavor, ObjectBacked, Written};
use super::owner_only::{DIRECTORY_MODE, OwnerOnly};
use super::{StoreInfo, StoreOptions};
use crate::error::{Error, Result};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// How a local directory and memory write once: a conditional create.
pub struct Directory {
    /// The repository's directory (None in memory).
    root: Option<PathBuf>,
}

impl Flavor for Directory {
    fn put_once(&self, adapter: &Adapter, full: &StorePath, bytes: bytes::Bytes) -> Written {
        adapter.put_create(full, bytes)
    }

    fn remove_partial_writes(&self) -> Result<(u64, u64)> {
        match &self.root {
            Some(root) => remove_staging_files(root),
            None => Ok((0, 0)),
        }
    }
}

/// A repository in a local directory.
pub type Local = ObjectBacked<Directory>;

/// A repository in this process's memory.
pub type Memory = ObjectBacked<Directory>;

fn info(url: &str, options: &StoreOptions) -> StoreInfo {
    StoreInfo {
        url: url.to_owned(),
        remote: false,
        connections: options.connections.max(1),
    }
}

impl ObjectBacked<Directory> {
    /// The directory `path` (made absolute); with `create` it is made if
    /// missing, otherwise a missing one is [`Error::RepositoryNotFound`].
    pub fn open(url: &str, path: &Path, create: bool, options: &StoreOptions) -> Result<Self> {
        let path = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
        if create {
            // Owner-only from the start; a directory that exists keeps its mode.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIRECTORY_MODE)
                .create(&path)
                .map_err(|e| Error::io("create directory", &path, e))?;
        } else if !path.is_dir() {
            return Err(Error::RepositoryNotFound {
                url: url.to_owned(),
            });
        }
        let store = OwnerOnly::new(&path).map_err(|source| Error::Backend {
            op: "open",
            path: path.display().to_string(),
            source,
        })?;
        let adapter = Adapter::new(Arc::new(store), StorePath::default(), info(url, options))?;
        Ok(ObjectBacked::new(adapter, Directory { root: Some(path) }))
    }

    /// The process-wide store `memory://NAME`: one name, one store.
    pub fn open_memory(url: &str, name: &str, options: &StoreOptions) -> Result<Self> {
        static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
        let mut stores = STORES
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .map_err(|_| Error::Internal("memory store lock"))?;
        let store = stores
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(InMemory::new()))
            .clone();
        let adapter = Adapter::new(store, StorePath::default(), info(url, options))?;
        Ok(ObjectBacked::new(adapter, Directory { root: None }))
    }
}

/// Remove the staging files below `root` (any file whose name holds a
/// `#`, which no object name does); returns how many and their bytes.
fn remove_staging_files(root: &Path) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io("stat", &path, e))?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() && entry.file_name().as_encoded_bytes().contains(&b'#') {
                let size = entry.metadata().map_or(0, |m| m.len());
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        files += 1;
                        bytes += size;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("remove", &path, e)),
                }
            }
        }
    }
    Ok((files, bytes))
}
