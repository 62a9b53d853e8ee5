//! The one adapter to `object_store`: a store (local directory, memory,
//! cloud bucket or `vault serve` server) under a prefix, reached from the
//! engine's synchronous code through a small shared tokio runtime.
//!
//! Each kind of store is a [`Flavor`]: how it writes once (a conditional
//! create, a look then a write, or a server that refuses an existing name
//! itself) and which of its errors mean "refused" rather than "failed".
//! Everything else — reads, ranged reads, listings, deletes, mapping a
//! missing object to [`Error::NotFound`] — is the same for all, here.

use super::{Listing, ObjectMeta, Put, PutOutcome, Store, StoreInfo};
use crate::error::{Error, Result};
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use repo_format::layout::{FileKind, ObjectName};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// What a put-once did, or why it could not.
pub type Written = object_store::Result<PutOutcome>;

/// What makes one kind of store different from the others.
pub trait Flavor: Send + Sync + 'static {
    /// Write `bytes` to `full` unless an object is there; see
    /// [`Adapter::put_create`] for the usual way.
    fn put_once(&self, adapter: &Adapter, full: &StorePath, bytes: bytes::Bytes) -> Written;

    /// The engine's error for a failure this store means as a refusal
    /// (bad credentials, no such bucket, an append-only server), or None
    /// for an ordinary failure.
    fn refused(&self, _: &Adapter, _op: &str, _: &object_store::Error) -> Option<Error> {
        None
    }

    /// See [`Store::ensure_deletable`]; `store` is the whole store, whose
    /// errors pass through [`Flavor::refused`].
    fn ensure_deletable(&self, _store: &dyn Store) -> Result<()> {
        Ok(())
    }

    /// See [`Store::remove_partial_writes`].
    fn remove_partial_writes(&self) -> Result<(u64, u64)> {
        Ok((0, 0))
    }
}

/// An object_store under a prefix, with what every flavor shares.
pub struct Adapter {
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    runtime: Arc<tokio::runtime::Runtime>,
    info: StoreInfo,
}

/// A store made of the adapter and a flavor: what the registry opens.
pub struct ObjectBacked<F: Flavor> {
    adapter: Adapter,
    flavor: F,
}

/// The runtime every adapter of this process shares.
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

impl Adapter {
    /// `store` under `prefix`, described by `info`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: StorePath, info: StoreInfo) -> Result<Self> {
        Ok(Adapter {
            store,
            prefix,
            runtime: runtime()?,
            info,
        })
    }

    /// The URL, for messages.
    pub fn url(&self) -> &str {
        &self.info.url
    }

    /// The object_store itself.
    pub fn store(&self) -> &dyn ObjectStore {
        self.store.as_ref()
    }

    /// Run a store future to its end.
    pub fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
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

    /// A conditional create (`If-None-Match: *`, `O_EXCL`), or where the
    /// store has none (an S3 service without conditional writes,
    /// `AWS_CONDITIONAL_PUT=disabled`) a look, then a write if the name
    /// is free: the objects concerned are named by the hash of their
    /// bytes, so a racing writer writes the same bytes, and lock objects
    /// are judged by listing after the write (SPEC.md §9).
    pub fn put_create(&self, full: &StorePath, bytes: bytes::Bytes) -> Written {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let res = self.block_on(
            self.store
                .put_opts(full, PutPayload::from(bytes.clone()), opts),
        );
        match res {
            Ok(_) => Ok(PutOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyExists),
            Err(object_store::Error::NotImplemented { .. }) => {
                if self.exists(full)? {
                    return Ok(PutOutcome::AlreadyExists);
                }
                self.put_plain(full, bytes).map(|()| PutOutcome::Created)
            }
            Err(e) => Err(e),
        }
    }

    /// An unconditional write.
    pub fn put_plain(&self, full: &StorePath, bytes: bytes::Bytes) -> object_store::Result<()> {
        self.block_on(self.store.put(full, PutPayload::from(bytes)))
            .map(drop)
    }

    /// Whether an object is at `full`.
    pub fn exists(&self, full: &StorePath) -> object_store::Result<bool> {
        match self.block_on(self.store.head(full)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The engine's error for a failed `op` on `path`.
    fn error<F: Flavor>(
        &self,
        flavor: &F,
        op: &'static str,
        path: &str,
        e: object_store::Error,
    ) -> Error {
        if let Some(refused) = flavor.refused(self, op, &e) {
            return refused;
        }
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound {
                path: path.to_owned(),
            },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => self.refusal(ACCESS_DENIED),
            source => Error::Backend {
                op,
                path: path.to_owned(),
                source,
            },
        }
    }

    /// [`Error::StoreRefused`] for this store, with what to do.
    pub fn refusal(&self, reason: &str) -> Error {
        Error::StoreRefused {
            url: self.info.url.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// What to do when the store says no.
const ACCESS_DENIED: &str = "access denied: check the credentials (for S3 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and the bucket's permissions";

impl<F: Flavor> ObjectBacked<F> {
    /// The store `adapter` reaches, written the way `flavor` writes.
    pub fn new(adapter: Adapter, flavor: F) -> Self {
        ObjectBacked { adapter, flavor }
    }

    fn error(&self, op: &'static str, path: &str, e: object_store::Error) -> Error {
        self.adapter.error(&self.flavor, op, path, e)
    }
}

impl<F: Flavor> Store for ObjectBacked<F> {
    fn put(&self, name: &ObjectName, bytes: bytes::Bytes, mode: Put) -> Result<PutOutcome> {
        let path = name.path();
        let full = self.adapter.full(&path);
        let put = match mode {
            Put::Create => self.flavor.put_once(&self.adapter, &full, bytes),
            Put::Replace => self
                .adapter
                .put_plain(&full, bytes)
                .map(|()| PutOutcome::Created),
        };
        put.map_err(|e| self.error("put", &path, e))
    }

    fn get(&self, name: &ObjectName, range: Option<Range<u64>>) -> Result<bytes::Bytes> {
        let path = name.path();
        let full = self.adapter.full(&path);
        let store = self.adapter.store();
        let got = self.adapter.block_on(async {
            match range {
                Some(range) => store.get_range(&full, range).await,
                None => store.get(&full).await?.bytes().await,
            }
        });
        got.map_err(|e| self.error("get", &path, e))
    }

    fn head(&self, name: &ObjectName) -> Result<ObjectMeta> {
        let path = name.path();
        let full = self.adapter.full(&path);
        self.adapter
            .block_on(self.adapter.store().head(&full))
            .map(|m| ObjectMeta {
                size: m.size,
                modified: m.last_modified,
            })
            .map_err(|e| self.error("head", &path, e))
    }

    fn list(&self, kind: FileKind) -> Result<Listing> {
        let dir = kind.dir();
        let full = self.adapter.full(dir);
        let metas: Vec<object_store::ObjectMeta> = self
            .adapter
            .block_on(self.adapter.store().list(Some(&full)).try_collect())
            .map_err(|e| self.error("list", dir, e))?;
        let mut listing = Listing::default();
        for meta in metas {
            let path = self.adapter.relative(&meta.location);
            match ObjectName::parse(kind, &path) {
                Some(name) => listing.objects.push((
                    name.id(),
                    ObjectMeta {
                        size: meta.size,
                        modified: meta.last_modified,
                    },
                )),
                None => listing.strays.push(path),
            }
        }
        listing.strays.sort();
        Ok(listing)
    }

    fn delete(&self, name: &ObjectName) -> Result<()> {
        let path = name.path();
        let full = self.adapter.full(&path);
        match self.adapter.block_on(self.adapter.store().delete(&full)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", &path, e)),
        }
    }

    fn info(&self) -> &StoreInfo {
        &self.adapter.info
    }

    fn ensure_deletable(&self) -> Result<()> {
        self.flavor.ensure_deletable(self)
    }

    fn remove_partial_writes(&self) -> Result<(u64, u64)> {
        self.flavor.remove_partial_writes()
    }

    fn object_store(&self) -> Option<(Arc<dyn ObjectStore>, StorePath)> {
        Some((self.adapter.store.clone(), self.adapter.prefix.clone()))
    }
}
