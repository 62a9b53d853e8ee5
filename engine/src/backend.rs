//! The one adapter between the engine and `object_store`.
//!
//! Contract (every store must honour it, SPEC.md §9): objects are written
//! once under their final name and become visible whole or not at all;
//! `put_once` refuses to replace an existing object; `list` shows every
//! object whose put has returned.
//!
//! The engine is synchronous; the adapter owns a small tokio runtime and
//! blocks on it, so network I/O stays here.

use crate::error::{Error, Result};
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

/// What `put_once` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Created,
    /// An object of that name already existed; nothing was written.
    AlreadyExists,
}

/// A repository location: a store and a prefix inside it.
#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    runtime: Arc<tokio::runtime::Runtime>,
    url: String,
    local_root: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backend({})", self.url)
    }
}

/// Process-wide `memory://` stores, so that one URL names one store.
fn memory_stores() -> &'static Mutex<HashMap<String, Arc<InMemory>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    STORES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn runtime() -> Result<Arc<tokio::runtime::Runtime>> {
    static RUNTIME: OnceLock<Arc<tokio::runtime::Runtime>> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vault-io")
        .enable_all()
        .build()
        .map_err(|e| Error::io("start I/O runtime", "", e))?;
    Ok(RUNTIME.get_or_init(|| Arc::new(rt)).clone())
}

impl Backend {
    /// Open the location named by `url` (a path, `file:///abs`, or
    /// `memory://name`). Nothing is created; see [`Backend::create`].
    pub fn open(url: &str) -> Result<Self> {
        Self::parse(url, false)
    }

    /// Like [`Backend::open`], creating a local directory if needed.
    pub fn create(url: &str) -> Result<Self> {
        Self::parse(url, true)
    }

    fn parse(url: &str, create: bool) -> Result<Self> {
        let runtime = runtime()?;
        if let Some(name) = url.strip_prefix("memory://") {
            let mut stores = memory_stores()
                .lock()
                .map_err(|_| Error::Internal("memory store lock"))?;
            let store = stores
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(InMemory::new()));
            return Ok(Backend {
                store: store.clone(),
                prefix: StorePath::default(),
                runtime,
                url: url.to_owned(),
                local_root: None,
            });
        }
        let path = if let Some(rest) = url.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(Error::InvalidUrl {
                    url: url.to_owned(),
                    detail: "file:// URLs need an absolute path (file:///abs/path)".to_owned(),
                });
            }
            std::path::PathBuf::from(rest)
        } else if let Some((scheme, _)) = url.split_once("://") {
            return Err(Error::InvalidUrl {
                url: url.to_owned(),
                detail: format!(
                    "the {scheme}:// scheme is not supported by this build (use a path, file:// or memory://)"
                ),
            });
        } else if url.is_empty() {
            return Err(Error::InvalidUrl {
                url: url.to_owned(),
                detail: "empty; give -r PATH or set VAULT_REPOSITORY".to_owned(),
            });
        } else {
            std::path::PathBuf::from(url)
        };
        let path = std::path::absolute(&path).map_err(|e| Error::io("resolve", &path, e))?;
        if create {
            std::fs::create_dir_all(&path).map_err(|e| Error::io("create directory", &path, e))?;
        } else if !path.is_dir() {
            return Err(Error::RepositoryNotFound {
                url: url.to_owned(),
            });
        }
        let store = LocalFileSystem::new_with_prefix(&path)
            .map_err(|source| Error::Backend {
                op: "open",
                path: path.display().to_string(),
                source,
            })?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Backend {
            store: Arc::new(store),
            prefix: StorePath::default(),
            runtime,
            url: url.to_owned(),
            local_root: Some(path),
        })
    }

    /// Wrap any store (for tests and other programs).
    pub fn from_store(store: Arc<dyn ObjectStore>, url: &str) -> Result<Self> {
        Ok(Backend {
            store,
            prefix: StorePath::default(),
            runtime: runtime()?,
            url: url.to_owned(),
            local_root: None,
        })
    }

    /// The URL this backend was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// For a local repository, its directory.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    fn full(&self, path: &str) -> StorePath {
        let mut full = self.prefix.clone();
        for part in path.split('/') {
            full = full.clone().join(part);
        }
        full
    }

    fn relative(&self, full: &StorePath) -> String {
        let s = full.as_ref();
        let p = self.prefix.as_ref();
        if p.is_empty() {
            s.to_owned()
        } else {
            s.strip_prefix(p)
                .unwrap_or(s)
                .trim_start_matches('/')
                .to_owned()
        }
    }

    fn map_err(op: &'static str, path: &str, source: object_store::Error) -> Error {
        match source {
            object_store::Error::NotFound { .. } => Error::NotFound {
                path: path.to_owned(),
            },
            source => Error::Backend {
                op,
                path: path.to_owned(),
                source,
            },
        }
    }

    /// Write `bytes` under `path` unless an object is already there.
    pub fn put_once(&self, path: &str, bytes: Vec<u8>) -> Result<PutOutcome> {
        let full = self.full(path);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let res = self
            .runtime
            .block_on(self.store.put_opts(&full, PutPayload::from(bytes), opts));
        match res {
            Ok(_) => Ok(PutOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyExists),
            Err(e) => Err(Self::map_err("put", path, e)),
        }
    }

    /// Read a whole object.
    pub fn get(&self, path: &str) -> Result<bytes::Bytes> {
        let full = self.full(path);
        self.runtime
            .block_on(async {
                let r = self.store.get(&full).await?;
                r.bytes().await
            })
            .map_err(|e| Self::map_err("get", path, e))
    }

    /// Read a byte range of an object.
    pub fn get_range(&self, path: &str, range: Range<u64>) -> Result<bytes::Bytes> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.get_range(&full, range))
            .map_err(|e| Self::map_err("get", path, e))
    }

    /// Size of an object.
    pub fn size(&self, path: &str) -> Result<u64> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.head(&full))
            .map(|m| m.size)
            .map_err(|e| Self::map_err("head", path, e))
    }

    /// When an object was last written, as the store reports it.
    pub fn modified(&self, path: &str) -> Result<chrono::DateTime<chrono::Utc>> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.head(&full))
            .map(|m| m.last_modified)
            .map_err(|e| Self::map_err("head", path, e))
    }

    /// Whether an object exists.
    pub fn exists(&self, path: &str) -> Result<bool> {
        match self.size(path) {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every object below `dir`, with its size.
    pub fn list(&self, dir: &str) -> Result<Vec<(String, u64)>> {
        let full = self.full(dir);
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&full)).try_collect())
            .map_err(|e| Self::map_err("list", dir, e))?;
        Ok(metas
            .iter()
            .map(|m| (self.relative(&m.location), m.size))
            .collect())
    }

    /// Remove an object; removing a missing object succeeds.
    pub fn delete(&self, path: &str) -> Result<()> {
        let full = self.full(path);
        match self.runtime.block_on(self.store.delete(&full)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Self::map_err("delete", path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conformance suite every backend passes.
    fn conformance(b: &Backend) {
        assert_eq!(
            b.put_once("keys/a", b"one".to_vec()).unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            b.put_once("keys/a", b"two".to_vec()).unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(&b.get("keys/a").unwrap()[..], b"one");
        assert_eq!(&b.get_range("keys/a", 1..3).unwrap()[..], b"ne");
        assert_eq!(b.size("keys/a").unwrap(), 3);
        assert!(b.modified("keys/a").unwrap() <= chrono::Utc::now());
        b.put_once("data/ab/c", vec![1; 10]).unwrap();
        let mut listed = b.list("data").unwrap();
        listed.sort();
        assert_eq!(listed, vec![("data/ab/c".to_owned(), 10)]);
        assert!(b.list("index").unwrap().is_empty());
        assert!(matches!(b.get("keys/missing"), Err(Error::NotFound { .. })));
        assert!(!b.exists("keys/missing").unwrap());
        b.delete("keys/a").unwrap();
        b.delete("keys/a").unwrap();
        assert!(!b.exists("keys/a").unwrap());
    }

    #[test]
    fn backend_memory_conforms() {
        conformance(&Backend::open("memory://conformance").unwrap());
    }

    #[test]
    fn backend_local_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("repo").display());
        assert!(matches!(
            Backend::open(&url),
            Err(Error::RepositoryNotFound { .. })
        ));
        conformance(&Backend::create(&url).unwrap());
    }
}
