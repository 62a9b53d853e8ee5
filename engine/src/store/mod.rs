//! The storage seam: the one interface between the engine and wherever a
//! repository's objects live, addressed by object (kind and id, see
//! [`ObjectName`]), never by a path built by hand.
//!
//! # The contract (SPEC.md §9)
//!
//! Every [`Store`] honours it, and the conformance suite in this module's
//! tests checks each one:
//!
//! - an object is written whole under its final name, or not at all, and
//!   once [`Store::put`] returns it is visible to `get` and `list`;
//! - [`Put::Create`] never replaces an object: it answers
//!   [`PutOutcome::AlreadyExists`] and writes nothing. Only kinds that
//!   [`FileKind::replaceable`] allows (heartbeats) are written with
//!   [`Put::Replace`];
//! - `get` of a missing object is [`Error::NotFound`], `delete` of one
//!   succeeds;
//! - `list` names every object of a kind whose put has returned, and
//!   separately the names under the kind's directory that are no object
//!   name (strays).
//!
//! # The pieces
//!
//! - one file per kind of store, each registered in [`Backend::open_with`]:
//!   [`local`] (a directory, and `memory://`), [`cloud`] (S3, Google Cloud
//!   Storage, Azure) and [`vault_http`] (a `vault serve` server); the three
//!   reach `object_store` through the one adapter in [`object`];
//! - behaviour that is not a store's own is a wrapper around any store:
//!   [`cache::Cached`] (index files and snapshots kept on local disk) and
//!   [`faults::CrashPoints`] (test builds: die right after the Nth write);
//!   bounding requests in flight and retrying transient failures are
//!   object_store's own layers, configured in [`object`] from
//!   [`StoreOptions`].
//!
//! The engine is synchronous; the adapter owns a small tokio runtime and
//! blocks on it, so network I/O stays here. Nothing here reads the
//! process environment but through [`StoreOptions::environment`], so that
//! one process can open repositories with different credentials.

pub mod cache;
#[cfg(feature = "cloud")]
pub mod cloud;
pub mod faults;
pub mod local;
pub mod location;
pub mod object;
pub mod owner_only;
#[cfg(feature = "cloud")]
pub mod vault_http;

use crate::error::{Error, Result};
use repo_format::Id;
use repo_format::layout::{FileKind, ObjectName};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

pub use cache::{Cache, CacheKind, CacheStats};
pub use location::{Location, valid_repository_segment, valid_user_name};

/// Objects larger than this go to a remote store as a multipart upload.
pub const MULTIPART_THRESHOLD: usize = 16 << 20;

/// Part size of a multipart upload (S3 wants at least 5 MiB).
pub const MULTIPART_PART_SIZE: usize = 8 << 20;

/// How a store is reached: request bounds, retries, and the settings a
/// network store is configured from. Local and in-memory stores ignore
/// what they have no use for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most requests in flight at once, uploads and downloads together.
    pub connections: usize,
    /// Retries of one request that failed transiently; 0 turns retries off.
    pub retries: usize,
    /// No retry starts later than this after the first attempt.
    pub retry_timeout: Duration,
    /// First backoff; each next one is drawn at random up to twice the
    /// previous (exponential backoff with jitter), capped at 15 s.
    pub initial_backoff: Duration,
    /// The variables a cloud store is configured from (`AWS_*`,
    /// `GOOGLE_*`, `AZURE_*`, and for S3 `HOME`, `AWS_PROFILE`,
    /// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` to find the shared
    /// files). None: the process's environment.
    pub environment: Option<BTreeMap<String, String>>,
    /// The password of the user a `vault+http(s)://` URL names.
    pub server_password: Option<zeroize::Zeroizing<String>>,
    /// Extra trusted certificates (PEM) for `vault+https://`.
    pub ca_certificates: Option<Vec<u8>>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            connections: 8,
            retries: 10,
            retry_timeout: Duration::from_secs(180),
            initial_backoff: Duration::from_millis(100),
            environment: None,
            server_password: None,
            ca_certificates: None,
        }
    }
}

impl StoreOptions {
    /// The variables to configure a store from: [`StoreOptions::environment`]
    /// or the process's.
    pub fn variables(&self) -> BTreeMap<String, String> {
        match &self.environment {
            Some(vars) => vars.clone(),
            None => process_variables(),
        }
    }
}

/// What leaves the connection to `url` open to the network, in one line
/// for the user, or `None`: a `vault+http://` URL (the server password,
/// in HTTP basic authentication, and every object go in clear text, also
/// to a loopback address, where a local user may hold the port while the
/// server is down), or a cloud store whose `*_ALLOW_INVALID_CERTIFICATES`
/// variable turns off TLS certificate checks (whoever is on the network
/// path can then pose as the store and take the credentials it is sent).
/// Pure: nothing is contacted.
pub fn transport_warning(url: &str, options: &StoreOptions) -> Option<String> {
    match Location::parse(url).ok()? {
        Location::Http { scheme: "http", .. } => Some(
            "vault+http:// sends the server password in clear text (whoever is on the network \
             path, or a local user holding the port while the server is down, can read it; the \
             objects stay encrypted): use vault+https://"
                .to_owned(),
        ),
        Location::Remote { scheme, .. } => {
            let prefix = match scheme {
                "s3" => "AWS",
                "gs" => "GOOGLE",
                _ => "AZURE",
            };
            let name = format!("{prefix}_ALLOW_INVALID_CERTIFICATES");
            let value = options.variables().get(&name)?.to_ascii_lowercase();
            matches!(value.as_str(), "1" | "true" | "on" | "yes" | "y").then(|| {
                format!(
                    "{name} is set: the {scheme}:// store's TLS certificate is not checked, so anyone \
                     on the network path can pose as it and take the credentials; unset it"
                )
            })
        }
        _ => None,
    }
}

/// This process's environment variables whose names and values are
/// UTF-8 (every one a store is configured from is); the others, such as a
/// binary `VAULT_PASSWORD`, are left out rather than a panic.
pub fn process_variables() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// How [`Store::put`] treats an object that is already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// Write only if no object has the name (every kind but heartbeats).
    Create,
    /// Replace whatever is there (heartbeats only, SPEC.md §9).
    Replace,
}

/// What a put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Created,
    /// An object of that name already existed; nothing was written.
    AlreadyExists,
}

/// What the store says of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, by the store's clock.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// The objects of one kind, and the names beside them that are none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Each object's id, size and time, in the store's order.
    pub objects: Vec<(Id, ObjectMeta)>,
    /// Names under the kind's directory that are not object names.
    pub strays: Vec<String>,
}

/// What a store is, for the code that decides how to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// The URL it was opened with (no password in it).
    pub url: String,
    /// Across a network: worth caching and parallelising requests to.
    pub remote: bool,
    /// How many requests may usefully be in flight at once.
    pub connections: usize,
}

impl StoreInfo {
    /// A store across a network, opened from `url` with `options`.
    pub fn remote(url: &str, options: &StoreOptions) -> Self {
        StoreInfo {
            url: url.to_owned(),
            remote: true,
            connections: options.connections.max(1),
        }
    }
}

/// One kind of store: see the module's contract.
pub trait Store: Send + Sync {
    /// Write `bytes` as `name`.
    fn put(&self, name: &ObjectName, bytes: bytes::Bytes, mode: Put) -> Result<PutOutcome>;
    /// Read a whole object, or `range` of it.
    fn get(&self, name: &ObjectName, range: Option<Range<u64>>) -> Result<bytes::Bytes>;
    /// Size and time of an object.
    fn head(&self, name: &ObjectName) -> Result<ObjectMeta>;
    /// Every object of `kind`.
    fn list(&self, kind: FileKind) -> Result<Listing>;
    /// Remove an object; removing a missing one succeeds.
    fn delete(&self, name: &ObjectName) -> Result<()>;
    /// What this store is.
    fn info(&self) -> &StoreInfo;
    /// Fail with [`Error::AppendOnly`] when this store refuses this client
    /// deletions, asking without changing anything. Commands that write
    /// before they delete ask first, so that a refusal leaves the
    /// repository as it was.
    fn ensure_deletable(&self) -> Result<()> {
        Ok(())
    }
    /// Remove what interrupted writes left behind where listings cannot
    /// see it (a local directory's staging files); only while no other
    /// process writes. Returns how many files and bytes.
    fn remove_partial_writes(&self) -> Result<(u64, u64)> {
        Ok((0, 0))
    }
    /// The object_store and prefix underneath, for a program that serves
    /// raw objects itself (`vault serve`).
    fn object_store(
        &self,
    ) -> Option<(Arc<dyn object_store::ObjectStore>, object_store::path::Path)> {
        None
    }
}

/// The methods of [`Store`] a wrapper passes to the store it wraps
/// unchanged (`self.inner`).
macro_rules! pass_through {
    () => {
        fn head(&self, name: &ObjectName) -> Result<ObjectMeta> {
            self.inner.head(name)
        }

        fn info(&self) -> &StoreInfo {
            self.inner.info()
        }

        fn ensure_deletable(&self) -> Result<()> {
            self.inner.ensure_deletable()
        }

        fn remove_partial_writes(&self) -> Result<(u64, u64)> {
            self.inner.remove_partial_writes()
        }

        fn object_store(
            &self,
        ) -> Option<(Arc<dyn object_store::ObjectStore>, object_store::path::Path)> {
            self.inner.object_store()
        }
    };
}
pub(crate) use pass_through;

/// A repository's store: any [`Store`], wrapped as opened. Cheap to
/// clone; every method is the store's, named for what callers do.
#[derive(Clone)]
pub struct Backend(Arc<dyn Store>);

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backend({})", self.url())
    }
}

impl Backend {
    /// Open the location named by `url` with default options: a path or
    /// `file:///abs`, `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`, `vault+http(s)://[USER@]HOST[:PORT]/REPO`
    /// or `memory://name`. Nothing is created; see [`Backend::create`].
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &StoreOptions::default())
    }

    /// Like [`Backend::open`], creating a local directory if needed.
    pub fn create(url: &str) -> Result<Self> {
        Self::create_with(url, &StoreOptions::default())
    }

    /// [`Backend::open`] with explicit options.
    pub fn open_with(url: &str, options: &StoreOptions) -> Result<Self> {
        Self::connect(url, false, options)
    }

    /// [`Backend::create`] with explicit options.
    pub fn create_with(url: &str, options: &StoreOptions) -> Result<Self> {
        Self::connect(url, true, options)
    }

    /// The registry: each kind of location and the store that opens it.
    fn connect(url: &str, create: bool, options: &StoreOptions) -> Result<Self> {
        let store: Arc<dyn Store> = match Location::parse(url)? {
            Location::Memory(name) => Arc::new(local::Memory::open_memory(url, name, options)?),
            Location::Local(path) => Arc::new(local::Local::open(url, &path, create, options)?),
            #[cfg(feature = "cloud")]
            Location::Remote {
                scheme,
                bucket,
                prefix,
            } => Arc::new(cloud::Cloud::open(url, scheme, bucket, prefix, options)?),
            #[cfg(feature = "cloud")]
            Location::Http {
                scheme,
                user,
                authority,
                prefix,
            } => {
                let server = vault_http::Server {
                    scheme,
                    user,
                    authority,
                };
                Arc::new(vault_http::VaultHttp::open(url, server, prefix, options)?)
            }
            #[cfg(not(feature = "cloud"))]
            _ => {
                return Err(location::invalid_url(
                    url,
                    "this vault was built without network stores (the engine's `cloud` feature); use a local path or a build with it".to_owned(),
                ));
            }
        };
        Ok(Backend::wrap(faults::CrashPoints::around(store)))
    }

    /// Any store (for tests and other programs).
    pub fn wrap(store: Arc<dyn Store>) -> Self {
        Backend(store)
    }

    /// The same store with index files and snapshots kept in `cache`.
    pub fn cached(&self, cache: Arc<Cache>) -> Self {
        Backend(Arc::new(cache::Cached::new(self.0.clone(), cache)))
    }

    /// Write `bytes` as `name` unless an object is already there.
    pub fn put_once(&self, name: &ObjectName, bytes: Vec<u8>) -> Result<PutOutcome> {
        self.0.put(name, bytes.into(), Put::Create)
    }

    /// Write `bytes` as `name`, replacing any object there: only for the
    /// kinds that may be replaced (heartbeats, SPEC.md §7.7).
    pub fn put_replace(&self, name: &ObjectName, bytes: Vec<u8>) -> Result<()> {
        if !name.kind().replaceable() {
            return Err(Error::Internal("only heartbeats are replaced in place"));
        }
        self.0.put(name, bytes.into(), Put::Replace).map(drop)
    }

    /// Read a whole object.
    pub fn get(&self, name: &ObjectName) -> Result<bytes::Bytes> {
        self.0.get(name, None)
    }

    /// Read a byte range of an object.
    pub fn get_range(&self, name: &ObjectName, range: Range<u64>) -> Result<bytes::Bytes> {
        self.0.get(name, Some(range))
    }

    /// Size of an object.
    pub fn size(&self, name: &ObjectName) -> Result<u64> {
        self.0.head(name).map(|m| m.size)
    }

    /// When an object was last written, as the store reports it.
    pub fn modified(&self, name: &ObjectName) -> Result<chrono::DateTime<chrono::Utc>> {
        self.0.head(name).map(|m| m.modified)
    }

    /// Whether an object exists.
    pub fn exists(&self, name: &ObjectName) -> Result<bool> {
        match self.0.head(name) {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every object of `kind` and the stray names beside them.
    pub fn list(&self, kind: FileKind) -> Result<Listing> {
        self.0.list(kind)
    }

    /// Every object of `kind`, with its size.
    pub fn list_objects(&self, kind: FileKind) -> Result<Vec<(Id, u64)>> {
        Ok(self
            .0
            .list(kind)?
            .objects
            .into_iter()
            .map(|(id, meta)| (id, meta.size))
            .collect())
    }

    /// Remove an object; removing a missing object succeeds.
    pub fn delete(&self, name: &ObjectName) -> Result<()> {
        self.0.delete(name)
    }

    /// See [`Store::ensure_deletable`].
    pub fn ensure_deletable(&self) -> Result<()> {
        self.0.ensure_deletable()
    }

    /// See [`Store::remove_partial_writes`].
    pub fn remove_partial_writes(&self) -> Result<(u64, u64)> {
        self.0.remove_partial_writes()
    }

    /// See [`Store::object_store`].
    pub fn object_store(
        &self,
    ) -> Option<(Arc<dyn object_store::ObjectStore>, object_store::path::Path)> {
        self.0.object_store()
    }

    /// Whether the store is across a network (worth caching and
    /// parallelising requests to).
    pub fn is_remote(&self) -> bool {
        self.0.info().remote
    }

    /// How many requests may usefully be in flight at once.
    pub fn connections(&self) -> usize {
        self.0.info().connections
    }

    /// The URL this backend was opened with.
    pub fn url(&self) -> &str {
        &self.0.info().url
    }

    /// Run `f`, whose rayon work mostly waits on this store, on a pool as
    /// wide as the store's connections when that is wider than rayon's
    /// (a remote store); otherwise on rayon's own pool.
    pub fn parallel<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let threads = self.connections().max(rayon::current_num_threads());
        if !self.is_remote() || threads <= rayon::current_num_threads() {
            return f();
        }
        match rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|n| format!("vault-io-{n}"))
            .stack_size(crate::workers::STACK_SIZE)
            .build()
        {
            Ok(pool) => pool.install(f),
            Err(_) => f(),
        }
    }

    /// Uploader threads for this store: two for a local store (the disk is
    /// the limit), more for a remote one, where each upload mostly waits.
    pub fn uploaders(&self) -> usize {
        if self.is_remote() {
            self.connections().clamp(2, 6)
        } else {
            2
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn name(kind: FileKind, byte: u8) -> ObjectName {
        ObjectName::new(kind, Id([byte; 32]))
    }

    #[test]
    fn transport_warning_names_clear_text_and_unchecked_certificates_only() {
        let with = |vars: &[(&str, &str)]| StoreOptions {
            environment: Some(
                vars.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..StoreOptions::default()
        };
        let none = with(&[]);
        assert!(transport_warning("vault+http://127.0.0.1:8000/r", &none).is_some());
        assert!(transport_warning("vault+https://h/r", &none).is_none());
        assert!(transport_warning("s3://b/p", &none).is_none());
        assert!(transport_warning("/srv/repo", &none).is_none());
        for (url, var) in [
            ("s3://b/p", "AWS_ALLOW_INVALID_CERTIFICATES"),
            ("gs://b/p", "GOOGLE_ALLOW_INVALID_CERTIFICATES"),
            ("az://c/p", "AZURE_ALLOW_INVALID_CERTIFICATES"),
        ] {
            let said = transport_warning(url, &with(&[(var, "True")])).expect(var);
            assert!(said.starts_with(var), "{said}");
            assert!(transport_warning(url, &with(&[(var, "false")])).is_none());
        }
        let other = with(&[("GOOGLE_ALLOW_INVALID_CERTIFICATES", "true")]);
        assert!(transport_warning("s3://b/p", &other).is_none());
    }

    /// The conformance suite every store passes.
    pub(crate) fn conformance(b: &Backend) {
        let key = name(FileKind::Key, 1);
        assert_eq!(
            b.put_once(&key, b"one".to_vec()).unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            b.put_once(&key, b"two".to_vec()).unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(&b.get(&key).unwrap()[..], b"one");
        assert_eq!(&b.get_range(&key, 1..3).unwrap()[..], b"ne");
        assert_eq!(b.size(&key).unwrap(), 3);
        assert!(b.modified(&key).unwrap() <= chrono::Utc::now());
        let pack = name(FileKind::Pack, 0xab);
        b.put_once(&pack, vec![1; 10]).unwrap();
        assert_eq!(
            b.list_objects(FileKind::Pack).unwrap(),
            vec![(pack.id(), 10)]
        );
        assert!(b.list(FileKind::Index).unwrap().objects.is_empty());
        let missing = name(FileKind::Key, 2);
        assert!(matches!(b.get(&missing), Err(Error::NotFound { .. })));
        assert!(!b.exists(&missing).unwrap());
        // Only heartbeats are replaced, and they are.
        assert!(b.put_replace(&key, b"three".to_vec()).is_err());
        let beat = name(FileKind::Heartbeat, 3);
        b.put_replace(&beat, b"a".to_vec()).unwrap();
        b.put_replace(&beat, b"bb".to_vec()).unwrap();
        assert_eq!(&b.get(&beat).unwrap()[..], b"bb");
        assert_eq!(b.list_objects(FileKind::Heartbeat).unwrap().len(), 1);
        b.delete(&key).unwrap();
        b.delete(&key).unwrap();
        assert!(!b.exists(&key).unwrap());
        b.ensure_deletable().unwrap();
    }

    #[test]
    fn backend_memory_conforms() {
        conformance(&Backend::open("memory://conformance").unwrap());
    }

    #[test]
    fn backend_local_conforms_and_lists_strays() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("repo").display());
        assert!(matches!(
            Backend::open(&url),
            Err(Error::RepositoryNotFound { .. })
        ));
        let b = Backend::create(&url).unwrap();
        conformance(&b);
        std::fs::create_dir_all(dir.path().join("repo/data/zz")).unwrap();
        std::fs::write(dir.path().join("repo/data/zz/junk"), b"x").unwrap();
        assert_eq!(b.list(FileKind::Pack).unwrap().strays, ["data/zz/junk"]);
    }

    #[test]
    fn backend_bad_urls_are_refused_with_the_reason() {
        for (url, needle) in [
            ("s3://", "no bucket"),
            ("gs:///x", "no bucket"),
            ("ftp://host/x", "not supported"),
            ("file://relative", "absolute"),
        ] {
            match Backend::open(url) {
                Err(Error::InvalidUrl { detail, .. }) => {
                    assert!(detail.contains(needle), "{url}: {detail}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
