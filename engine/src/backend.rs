//! The one adapter between the engine and `object_store`.
//!
//! Contract (every store must honour it, SPEC.md §9): objects are written
//! once under their final name and become visible whole or not at all;
//! `put_once` refuses to replace an existing object; `list` shows every
//! object whose put has returned.
//!
//! The engine is synchronous; the adapter owns a small tokio runtime and
//! blocks on it, so network I/O stays here.
//!
//! Remote stores (`s3://`, `gs://`, `az://`) get what a real network needs:
//! a bound on requests in flight ([`BackendOptions::connections`]), retries
//! of transient failures (timeouts, 5xx, throttling) with exponential
//! backoff and jitter (object_store's retry layer, configured here),
//! multipart upload of large objects, paginated listing and ranged reads.
//!
//! `vault+http://` and `vault+https://` reach a repository that `vault serve`
//! exposes (SPEC.md §13): object_store's HTTP client (GET, PUT, DELETE,
//! HEAD, PROPFIND) with the same retries and connection bound as the
//! cloud stores, HTTP basic authentication from `VAULT_SERVER_PASSWORD` or
//! `VAULT_SERVER_PASSWORD_FILE`, and extra trusted certificates from
//! `VAULT_CACERT`.

use crate::error::{Error, Result};
use futures::TryStreamExt;
#[cfg(feature = "cloud")]
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
#[cfg(feature = "cloud")]
use object_store::azure::MicrosoftAzureBuilder;
#[cfg(feature = "cloud")]
use object_store::gcp::GoogleCloudStorageBuilder;
#[cfg(feature = "cloud")]
use object_store::http::HttpBuilder;
#[cfg(feature = "cloud")]
use object_store::limit::LimitStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
#[cfg(feature = "cloud")]
use object_store::{BackoffConfig, RetryConfig};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Objects larger than this go to a remote store as a multipart upload.
pub const MULTIPART_THRESHOLD: usize = 16 << 20;

/// Part size of a multipart upload (S3 wants at least 5 MiB).
pub const MULTIPART_PART_SIZE: usize = 8 << 20;

/// How the adapter talks to a remote store. Local and in-memory stores
/// ignore the retry settings (their errors are not transient).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendOptions {
    /// Most requests in flight at once, uploads and downloads together.
    pub connections: usize,
    /// Retries of one request that failed transiently; 0 turns retries off.
    pub retries: usize,
    /// No retry starts later than this after the first attempt.
    pub retry_timeout: Duration,
    /// First backoff; each next one is drawn at random up to twice the
    /// previous (exponential backoff with jitter), capped at 15 s.
    pub initial_backoff: Duration,
}

impl Default for BackendOptions {
    fn default() -> Self {
        BackendOptions {
            connections: 8,
            retries: 10,
            retry_timeout: Duration::from_secs(180),
            initial_backoff: Duration::from_millis(100),
        }
    }
}

impl BackendOptions {
    #[cfg(feature = "cloud")]
    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.initial_backoff,
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: self.retries,
            retry_timeout: self.retry_timeout,
        }
    }
}

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
    remote: bool,
    /// A `vault serve` server: puts create only (an existing name is
    /// refused, which answers put-once without a look first), no multipart
    /// uploads, and a refused delete means append-only.
    http: bool,
    connections: usize,
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

/// Where a repository URL points, parsed without touching any store: the
/// syntax half of [`Backend::open`], pure so that the fuzzer reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location<'a> {
    /// `s3://`, `gs://` or `az://` with a bucket (container) and a prefix.
    Remote {
        /// `s3`, `gs` or `az`.
        scheme: &'a str,
        /// The bucket or container, not empty.
        bucket: &'a str,
        /// The prefix inside it, normalised (no leading or trailing `/`).
        prefix: StorePath,
    },
    /// `vault+http://` or `vault+https://`: a repository that `vault serve`
    /// exposes.
    Http {
        /// `http` or `https`.
        scheme: &'a str,
        /// Who to authenticate as (the part before `@`), if anyone.
        user: Option<&'a str>,
        /// `host[:port]`.
        authority: &'a str,
        /// The repository's path on the server (its segments validated by
        /// [`valid_repository_segment`]); empty for the server's root.
        prefix: StorePath,
    },
    /// `memory://NAME`: a store in this process.
    Memory(&'a str),
    /// A path or `file:///abs/path`, as given (not yet made absolute).
    Local(std::path::PathBuf),
}

impl<'a> Location<'a> {
    /// Parse `url` (see [`Backend::open`] for the forms).
    pub fn parse(url: &'a str) -> Result<Self> {
        let invalid = |detail: String| Error::InvalidUrl {
            url: url.to_owned(),
            detail,
        };
        if let Some((scheme, rest)) = url.split_once("://")
            && matches!(scheme, "s3" | "gs" | "az")
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid(format!(
                    "no bucket: write {scheme}://BUCKET[/PREFIX]"
                )));
            }
            let prefix = StorePath::parse(prefix.trim_matches('/'))
                .map_err(|e| invalid(format!("bad prefix: {e}")))?;
            return Ok(Location::Remote {
                scheme,
                bucket,
                prefix,
            });
        }
        if let Some((scheme, rest)) = url.split_once("://")
            && let Some(scheme @ ("http" | "https")) = scheme.strip_prefix("vault+")
        {
            return Self::parse_http(url, scheme, rest);
        }
        if let Some(name) = url.strip_prefix("memory://") {
            return Ok(Location::Memory(name));
        }
        if let Some(rest) = url.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(invalid(
                    "file:// URLs need an absolute path (file:///abs/path)".to_owned(),
                ));
            }
            return Ok(Location::Local(std::path::PathBuf::from(rest)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(invalid(format!(
                "the {scheme}:// scheme is not supported (use a path, file://, s3://, gs://, az://, vault+http://, vault+https:// or memory://)"
            )));
        }
        if url.is_empty() {
            return Err(invalid(
                "empty; give -r PATH or set VAULT_REPOSITORY".to_owned(),
            ));
        }
        Ok(Location::Local(std::path::PathBuf::from(url)))
    }

    /// `vault+SCHEME://[USER@]HOST[:PORT][/REPO/PATH]`, `rest` after `://`.
    fn parse_http(url: &'a str, scheme: &'a str, rest: &'a str) -> Result<Self> {
        let invalid = |detail: &str| Error::InvalidUrl {
            url: redact_userinfo(url),
            detail: detail.to_owned(),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if let Some(user) = user {
            if user.contains(':') {
                return Err(invalid(
                    "a password in the URL would show in `ps` and in messages: give only the user \
                     (vault+https://USER@HOST/REPO) and the password in VAULT_SERVER_PASSWORD_FILE \
                     or VAULT_SERVER_PASSWORD",
                ));
            }
            if !valid_user_name(user) {
                return Err(invalid(
                    "the user name must be 1 to 64 of the characters A-Z a-z 0-9 . _ -, not starting with .",
                ));
            }
        }
        if host.is_empty() || host.contains(['?', '#', ' ']) {
            return Err(invalid(
                "no host: write vault+http://[USER@]HOST[:PORT]/REPO",
            ));
        }
        let path = path.trim_end_matches('/');
        if !path.is_empty() && !path.split('/').all(valid_repository_segment) {
            return Err(invalid(
                "each part of the repository path must be 1 to 128 of the characters \
                 A-Z a-z 0-9 . _ -, not starting with . and not a name of the repository \
                 layout (config, keys, data, ...)",
            ));
        }
        let prefix = StorePath::parse(path).map_err(|e| invalid(&format!("bad path: {e}")))?;
        Ok(Location::Http {
            scheme,
            user,
            authority: host,
            prefix,
        })
    }
}

/// The names the repository layout gives its top level (SPEC.md §3), and
/// `heartbeats`: no repository path on a `vault serve` server may use one,
/// so that the first of them in a request path ends the repository's path.
pub const LAYOUT_NAMES: [&str; 9] = [
    "config",
    "keys",
    "data",
    "index",
    "snapshots",
    "locks",
    "ledger",
    "deletions",
    "heartbeats",
];

/// Whether `segment` may be one part of a repository's path on a
/// `vault serve` server: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting
/// with `.` (so neither `.` nor `..`), and not one of [`LAYOUT_NAMES`].
pub fn valid_repository_segment(segment: &str) -> bool {
    (1..=128).contains(&segment.len())
        && !segment.starts_with('.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !LAYOUT_NAMES.contains(&segment)
}

/// Whether `name` may name a `vault serve` user: 1 to 64 of
/// `A-Z a-z 0-9 . _ -`, not starting with `.`. (With `--private-repos` a
/// user's repositories live under `/NAME/`.)
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !LAYOUT_NAMES.contains(&name)
}

/// `url` with anything between `://` and `@` replaced, for messages.
fn redact_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority.len()..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

impl Backend {
    /// Open the location named by `url` (a path, `file:///abs`,
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`
    /// or `memory://name`) with default options. Nothing is created; see
    /// [`Backend::create`].
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &BackendOptions::default())
    }

    /// Like [`Backend::open`], creating a local directory if needed.
    pub fn create(url: &str) -> Result<Self> {
        Self::create_with(url, &BackendOptions::default())
    }

    /// [`Backend::open`] with explicit options.
    pub fn open_with(url: &str, options: &BackendOptions) -> Result<Self> {
        Self::parse(url, false, options)
    }

    /// [`Backend::create`] with explicit options.
    pub fn create_with(url: &str, options: &BackendOptions) -> Result<Self> {
        Self::parse(url, true, options)
    }

    fn parse(url: &str, create: bool, options: &BackendOptions) -> Result<Self> {
        let runtime = runtime()?;
        let connections = options.connections.max(1);
        let path = match Location::parse(url)? {
            Location::Remote {
                scheme,
                bucket,
                prefix,
            } => return Self::remote(url, scheme, bucket, prefix, options, runtime),
            Location::Http {
                scheme,
                user,
                authority,
                prefix,
            } => return Self::http(url, scheme, user, authority, prefix, options, runtime),
            Location::Memory(name) => {
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
                    remote: false,
                    http: false,
                    connections,
                });
            }
            Location::Local(path) => path,
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
            remote: false,
            http: false,
            connections,
        })
    }

    /// A cloud store: `scheme://bucket[/prefix]`, configured from the
    /// standard environment of each provider (and, for S3, the AWS shared
    /// credentials and config files).
    #[cfg(feature = "cloud")]
    fn remote(
        url: &str,
        scheme: &str,
        bucket: &str,
        prefix: StorePath,
        options: &BackendOptions,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<Self> {
        let invalid = |detail: String| Error::InvalidUrl {
            url: url.to_owned(),
            detail,
        };
        let retry = options.retry();
        let built = match scheme {
            "s3" => s3_builder()
                .with_bucket_name(bucket)
                .with_retry(retry)
                .build()
                .map(|s| limited(s, options.connections)),
            "gs" => GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry)
                .build()
                .map(|s| limited(s, options.connections)),
            _ => MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_retry(retry)
                .build()
                .map(|s| limited(s, options.connections)),
        };
        let store = built.map_err(|e| invalid(format!("cannot configure the store: {e}")))?;
        Ok(Backend {
            store,
            prefix,
            runtime,
            url: url.to_owned(),
            local_root: None,
            remote: true,
            http: false,
            connections: options.connections.max(1),
        })
    }

    /// A repository on a `vault serve` server.
    #[cfg(feature = "cloud")]
    fn http(
        url: &str,
        scheme: &str,
        user: Option<&str>,
        authority: &str,
        prefix: StorePath,
        options: &BackendOptions,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<Self> {
        use base64::Engine as _;
        let invalid = |detail: String| Error::InvalidUrl {
            url: url.to_owned(),
            detail,
        };
        let mut client = object_store::ClientOptions::new().with_allow_http(scheme == "http");
        let mut headers = http::HeaderMap::new();
        if let Some(user) = user {
            let password = server_password()?.ok_or_else(|| {
                invalid(format!(
                    "the URL names the user {user}: give the password in VAULT_SERVER_PASSWORD_FILE or VAULT_SERVER_PASSWORD"
                ))
            })?;
            let credentials = zeroize::Zeroizing::new(format!("{user}:{}", password.as_str()));
            let token = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes()),
            );
            let mut value = http::HeaderValue::from_str(&format!("Basic {}", token.as_str()))
                .map_err(|_| invalid("the password cannot be sent in an HTTP header".to_owned()))?;
            // Never printed by the HTTP client's debug output.
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        client = client.with_default_headers(headers);
        if let Some(file) = std::env::var_os("VAULT_CACERT").filter(|f| !f.is_empty()) {
            let pem = std::fs::read(&file).map_err(|e| Error::io("read VAULT_CACERT", &file, e))?;
            let certificates = object_store::Certificate::from_pem_bundle(&pem).map_err(|e| {
                invalid(format!(
                    "VAULT_CACERT {} holds no PEM certificate: {e}",
                    std::path::Path::new(&file).display()
                ))
            })?;
            for certificate in certificates {
                client = client.with_root_certificate(certificate);
            }
        }
        let store = HttpBuilder::new()
            .with_url(format!("{scheme}://{authority}"))
            .with_client_options(client)
            .with_retry(options.retry())
            .build()
            .map_err(|e| invalid(format!("cannot configure the HTTP client: {e}")))?;
        Ok(Backend {
            store: limited(store, options.connections),
            prefix,
            runtime,
            url: url.to_owned(),
            local_root: None,
            remote: true,
            http: true,
            connections: options.connections.max(1),
        })
    }

    /// Built without the `cloud` feature: `vault+http(s)://` does not open.
    #[cfg(not(feature = "cloud"))]
    #[allow(clippy::too_many_arguments)]
    fn http(
        url: &str,
        _scheme: &str,
        _user: Option<&str>,
        _authority: &str,
        _prefix: StorePath,
        _options: &BackendOptions,
        _runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<Self> {
        Err(Error::InvalidUrl {
            url: url.to_owned(),
            detail: "this vault was built without network stores (the engine's `cloud` feature)"
                .to_owned(),
        })
    }

    /// Built without the `cloud` feature: cloud URLs parse but do not open.
    #[cfg(not(feature = "cloud"))]
    fn remote(
        url: &str,
        _scheme: &str,
        _bucket: &str,
        _prefix: StorePath,
        _options: &BackendOptions,
        _runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<Self> {
        Err(Error::InvalidUrl {
            url: url.to_owned(),
            detail: "this vault was built without cloud stores (the engine's `cloud` feature); \
                     use a local path or a build with it"
                .to_owned(),
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
            remote: false,
            http: false,
            connections: BackendOptions::default().connections,
        })
    }

    /// The store and the repository's prefix in it, for programs that
    /// serve the repository's objects themselves (`vault serve`).
    pub fn object_store(&self) -> (Arc<dyn ObjectStore>, StorePath) {
        (self.store.clone(), self.prefix.clone())
    }

    /// Fail with [`Error::AppendOnly`] when the store refuses this client
    /// deletions: a `vault serve` server in append-only mode, asked to
    /// delete an object that cannot exist (`snapshots/` and 64 zeros, a
    /// BLAKE3 hash no content has). Other stores answer at once. Commands
    /// that write before they delete (prune, tag, key passwd, repair) ask
    /// first, so that a refusal leaves the repository unchanged.
    pub fn ensure_deletable(&self) -> Result<()> {
        if !self.http {
            return Ok(());
        }
        self.delete(&format!("snapshots/{}", "0".repeat(64)))
    }

    /// Whether the store is across a network (worth caching and
    /// parallelising requests to).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// How many requests may usefully be in flight at once.
    pub fn connections(&self) -> usize {
        self.connections
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

    fn map_err(&self, op: &'static str, path: &str, source: object_store::Error) -> Error {
        let text = source.to_string();
        let refused = |reason: &str| Error::StoreRefused {
            url: self.url.clone(),
            reason: reason.to_owned(),
        };
        if self.http {
            match source {
                object_store::Error::Unauthenticated { .. } => {
                    return refused(
                        "the server did not accept the credentials: check the user in the URL \
                         and VAULT_SERVER_PASSWORD_FILE or VAULT_SERVER_PASSWORD",
                    );
                }
                object_store::Error::PermissionDenied { .. } if op == "delete" => {
                    return Error::AppendOnly {
                        url: self.url.clone(),
                    };
                }
                object_store::Error::PermissionDenied { .. } => {
                    return refused(
                        "the server does not let this user reach this repository \
                         (with --private-repos a user reaches only /USER/...)",
                    );
                }
                _ => {}
            }
        }
        match source {
            _ if text.contains("NoSuchBucket") || text.contains("ContainerNotFound") => {
                refused("the bucket does not exist: create it first, or correct the URL")
            }
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => refused(ACCESS_DENIED),
            _ if [
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "AccessDenied",
                "AuthenticationFailed",
            ]
            .iter()
            .any(|code| text.contains(code)) =>
            {
                refused(ACCESS_DENIED)
            }
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
    ///
    /// A conditional create where the store offers one. Where it does not
    /// (a large object sent in parts, or an S3 service without conditional
    /// writes, `AWS_CONDITIONAL_PUT=disabled`), the adapter looks first and
    /// writes only if the name is free: the objects concerned are named by
    /// the hash of their bytes, so a racing writer writes the same bytes,
    /// and lock objects are judged by listing after the write (SPEC.md §9).
    pub fn put_once(&self, path: &str, bytes: Vec<u8>) -> Result<PutOutcome> {
        let full = self.full(path);
        let bytes = bytes::Bytes::from(bytes);
        if self.http {
            // vault serve creates only and answers an existing name with
            // 412 (SPEC.md §13): put-once in one request, of any size.
            let res = self
                .runtime
                .block_on(self.store.put(&full, PutPayload::from(bytes)));
            return match res {
                Ok(_) => {
                    crash_point();
                    Ok(PutOutcome::Created)
                }
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(PutOutcome::AlreadyExists),
                Err(e) => Err(self.map_err("put", path, e)),
            };
        }
        if self.remote && bytes.len() > MULTIPART_THRESHOLD {
            if self.exists(path)? {
                return Ok(PutOutcome::AlreadyExists);
            }
            return self
                .runtime
                .block_on(put_multipart(self.store.as_ref(), &full, bytes))
                .map(|()| PutOutcome::Created)
                .map_err(|e| self.map_err("put", path, e));
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let res = self.runtime.block_on(self.store.put_opts(
            &full,
            PutPayload::from(bytes.clone()),
            opts,
        ));
        match res {
            Ok(_) => {
                crash_point();
                Ok(PutOutcome::Created)
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyExists),
            Err(object_store::Error::NotImplemented { .. }) => {
                if self.exists(path)? {
                    return Ok(PutOutcome::AlreadyExists);
                }
                self.runtime
                    .block_on(self.store.put(&full, PutPayload::from(bytes)))
                    .map(|_| {
                        crash_point();
                        PutOutcome::Created
                    })
                    .map_err(|e| self.map_err("put", path, e))
            }
            Err(e) => Err(self.map_err("put", path, e)),
        }
    }

    /// Write `bytes` under `path`, replacing any object there. Only for
    /// heartbeats (SPEC.md §7.7), the one kind of object that is replaced in
    /// place; every other object is written with [`Backend::put_once`].
    pub fn put_replace(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.put(&full, PutPayload::from(bytes)))
            .map(|_| crash_point())
            .map_err(|e| self.map_err("put", path, e))
    }

    /// Read a whole object.
    pub fn get(&self, path: &str) -> Result<bytes::Bytes> {
        let full = self.full(path);
        self.runtime
            .block_on(async {
                let r = self.store.get(&full).await?;
                r.bytes().await
            })
            .map_err(|e| self.map_err("get", path, e))
    }

    /// Read a byte range of an object.
    pub fn get_range(&self, path: &str, range: Range<u64>) -> Result<bytes::Bytes> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.get_range(&full, range))
            .map_err(|e| self.map_err("get", path, e))
    }

    /// Size of an object.
    pub fn size(&self, path: &str) -> Result<u64> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.head(&full))
            .map(|m| m.size)
            .map_err(|e| self.map_err("head", path, e))
    }

    /// When an object was last written, as the store reports it.
    pub fn modified(&self, path: &str) -> Result<chrono::DateTime<chrono::Utc>> {
        let full = self.full(path);
        self.runtime
            .block_on(self.store.head(&full))
            .map(|m| m.last_modified)
            .map_err(|e| self.map_err("head", path, e))
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
            .map_err(|e| self.map_err("list", dir, e))?;
        Ok(metas
            .iter()
            .map(|m| (self.relative(&m.location), m.size))
            .collect())
    }

    /// Remove an object; removing a missing object succeeds.
    pub fn delete(&self, path: &str) -> Result<()> {
        let full = self.full(path);
        match self.runtime.block_on(self.store.delete(&full)) {
            Ok(()) => {
                crash_point();
                Ok(())
            }
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.map_err("delete", path, e)),
        }
    }
}

/// With the feature `crash-points` (test builds only: the integration
/// tests enable it), `VAULT_CRASH_AFTER_WRITES=N` kills the process with
/// SIGKILL right after its Nth object write or delete through
/// [`Backend::put_once`] and [`Backend::delete`]: a crash exactly between
/// two steps of a command, which a kill timed from outside rarely hits
/// (tests/torture.rs).
#[cfg(feature = "crash-points")]
fn crash_point() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LEFT: OnceLock<Option<AtomicU64>> = OnceLock::new();
    let left = LEFT.get_or_init(|| {
        std::env::var("VAULT_CRASH_AFTER_WRITES")
            .ok()
            .and_then(|n| n.parse().ok())
            .map(AtomicU64::new)
    });
    if let Some(left) = left
        && left.fetch_sub(1, Ordering::SeqCst) == 1
    {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(not(feature = "crash-points"))]
fn crash_point() {}

/// The password of the `vault serve` user: the first line of
/// `VAULT_SERVER_PASSWORD_FILE`, else `VAULT_SERVER_PASSWORD`, else none.
#[cfg(feature = "cloud")]
fn server_password() -> Result<Option<zeroize::Zeroizing<String>>> {
    if let Some(file) = std::env::var_os("VAULT_SERVER_PASSWORD_FILE").filter(|f| !f.is_empty()) {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&file)
                .map_err(|e| Error::io("read VAULT_SERVER_PASSWORD_FILE", &file, e))?,
        );
        let line = text.lines().next().unwrap_or("");
        return Ok(Some(zeroize::Zeroizing::new(line.to_owned())));
    }
    Ok(std::env::var("VAULT_SERVER_PASSWORD")
        .ok()
        .map(zeroize::Zeroizing::new))
}

/// What to do when the store says no.
const ACCESS_DENIED: &str = "access denied: check the credentials (for S3 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and the bucket's permissions";

/// `store` with at most `connections` requests in flight.
#[cfg(feature = "cloud")]
fn limited<T: ObjectStore>(store: T, connections: usize) -> Arc<dyn ObjectStore> {
    Arc::new(LimitStore::new(store, connections.max(1)))
}

/// Send `bytes` in parts of [`MULTIPART_PART_SIZE`], all in flight at once
/// (the store's connection limit bounds them); abort on failure so that no
/// orphaned parts are billed.
async fn put_multipart(
    store: &dyn ObjectStore,
    full: &StorePath,
    bytes: bytes::Bytes,
) -> object_store::Result<()> {
    let mut upload = store.put_multipart(full).await?;
    let parts: Vec<_> = (0..bytes.len())
        .step_by(MULTIPART_PART_SIZE)
        .map(|start| {
            let end = (start + MULTIPART_PART_SIZE).min(bytes.len());
            upload.put_part(PutPayload::from(bytes.slice(start..end)))
        })
        .collect();
    let sent = futures::future::try_join_all(parts).await;
    match sent {
        Ok(_) => upload.complete().await.map(|_| ()),
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// An S3 builder from the standard environment (`AWS_*`), completed from
/// the shared credentials and config files (`AWS_SHARED_CREDENTIALS_FILE`,
/// `AWS_CONFIG_FILE`, default `~/.aws/credentials` and `~/.aws/config`, for
/// the profile `AWS_PROFILE` or `default`) where the environment is silent.
#[cfg(feature = "cloud")]
fn s3_builder() -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned());
    let mut settings: HashMap<String, String> = HashMap::new();
    // The config file names sections `[profile NAME]` (but `[default]`);
    // the credentials file names them `[NAME]`. Credentials win.
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    for (path, section) in [
        (file("AWS_CONFIG_FILE", "config"), config_section),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile),
    ] {
        let Some(path) = path else { continue };
        let Ok(ini) = ini::Ini::load_from_file(&path) else {
            continue;
        };
        if let Some(props) = ini.section(Some(section.as_str())) {
            for (k, v) in props.iter() {
                settings.insert(k.to_ascii_lowercase(), v.to_owned());
            }
        }
    }
    for (name, key) in [
        ("aws_access_key_id", AmazonS3ConfigKey::AccessKeyId),
        ("aws_secret_access_key", AmazonS3ConfigKey::SecretAccessKey),
        ("aws_session_token", AmazonS3ConfigKey::Token),
        ("region", AmazonS3ConfigKey::Region),
        ("endpoint_url", AmazonS3ConfigKey::Endpoint),
    ] {
        if builder.get_config_value(&key).is_none()
            && let Some(value) = settings.get(name)
        {
            builder = builder.with_config(key, value);
        }
    }
    builder
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

    /// A fresh prefix on the S3 test server that scripts/test.sh starts, or
    /// None (and a note) without one, unless VAULT_TEST_S3_REQUIRED=1.
    fn s3_test_url(name: &str) -> Option<String> {
        match std::env::var("VAULT_TEST_S3_BUCKET") {
            Ok(bucket) if !bucket.is_empty() => {
                let n: u64 = rand::random();
                Some(format!("s3://{bucket}/{name}-{n:016x}"))
            }
            _ => {
                assert!(
                    std::env::var("VAULT_TEST_S3_REQUIRED").as_deref() != Ok("1"),
                    "VAULT_TEST_S3_REQUIRED=1 but VAULT_TEST_S3_BUCKET is unset"
                );
                eprintln!("no S3 test server: skipped (scripts/test.sh starts one)");
                None
            }
        }
    }

    #[test]
    fn backend_s3_conforms_lists_past_one_page_and_uploads_in_parts() {
        let Some(url) = s3_test_url("conformance") else {
            return;
        };
        let b = Backend::create(&url).unwrap();
        assert!(b.is_remote());
        conformance(&b);
        // S3 lists at most 1,000 names per page.
        std::thread::scope(|s| {
            for t in 0..8 {
                let b = &b;
                s.spawn(move || {
                    for i in (t..1100).step_by(8) {
                        b.put_once(&format!("snapshots/{i:05}"), vec![1]).unwrap();
                    }
                });
            }
        });
        assert_eq!(b.list("snapshots").unwrap().len(), 1100);
        // Larger than the multipart threshold: sent in parts, read back whole
        // and by range, and still put-once.
        let big: Vec<u8> = (0..MULTIPART_THRESHOLD + 3 * MULTIPART_PART_SIZE / 2)
            .map(|i| (i % 251) as u8)
            .collect();
        assert_eq!(
            b.put_once("data/bi/big", big.clone()).unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            b.put_once("data/bi/big", vec![0]).unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(b.size("data/bi/big").unwrap(), big.len() as u64);
        assert!(b.get("data/bi/big").unwrap()[..] == big[..]);
        let r = 9 << 20..(9 << 20) + 100;
        assert!(
            b.get_range("data/bi/big", r.start as u64..r.end as u64)
                .unwrap()[..]
                == big[r]
        );
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

    #[test]
    fn location_parse_names_each_form_without_touching_a_store() {
        let remote = Location::parse("s3://bucket//a/b/").unwrap();
        assert_eq!(
            remote,
            Location::Remote {
                scheme: "s3",
                bucket: "bucket",
                prefix: StorePath::from("a/b"),
            }
        );
        assert_eq!(
            Location::parse("memory://m").unwrap(),
            Location::Memory("m")
        );
        assert_eq!(
            Location::parse("file:///no/such/dir").unwrap(),
            Location::Local("/no/such/dir".into())
        );
        assert_eq!(
            Location::parse("rel/dir").unwrap(),
            Location::Local("rel/dir".into())
        );
        assert!(Location::parse("").is_err());
        assert!(Location::parse("s3://b/a//../x").is_err());
    }

    #[test]
    fn location_parse_vault_http_urls_and_refuses_passwords_and_traversal() {
        assert_eq!(
            Location::parse("vault+https://alice@backup.example:8443/alice/site/").unwrap(),
            Location::Http {
                scheme: "https",
                user: Some("alice"),
                authority: "backup.example:8443",
                prefix: StorePath::from("alice/site"),
            }
        );
        assert_eq!(
            Location::parse("vault+http://127.0.0.1:8000").unwrap(),
            Location::Http {
                scheme: "http",
                user: None,
                authority: "127.0.0.1:8000",
                prefix: StorePath::default(),
            }
        );
        for (url, needle) in [
            ("vault+http://alice:secret@h/r", "VAULT_SERVER_PASSWORD"),
            ("vault+http://h/alice/../bob", "repository path"),
            ("vault+http://h/alice/%2e%2e/bob", "repository path"),
            ("vault+http://h/a//b", "repository path"),
            ("vault+http://h/r/data", "repository path"),
            ("vault+http:///r", "no host"),
            ("vault+http://@h/r", "user name"),
            ("vault+ftp://h/r", "not supported"),
        ] {
            match Location::parse(url) {
                Err(Error::InvalidUrl { url: shown, detail }) => {
                    assert!(detail.contains(needle), "{url}: {detail}");
                    assert!(!shown.contains("secret"), "{shown}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn repository_segments_and_user_names_are_safe_characters() {
        for good in ["alice", "a.b_c-1", "X9"] {
            assert!(
                valid_repository_segment(good) && valid_user_name(good),
                "{good}"
            );
        }
        for bad in [
            "", ".", "..", ".hidden", "a/b", "a%2e", "a b", "keys", "config", "é",
        ] {
            assert!(!valid_repository_segment(bad), "{bad}");
        }
        assert!(!valid_user_name(&"a".repeat(65)));
        assert!(valid_repository_segment(&"a".repeat(128)));
        assert!(!valid_repository_segment(&"a".repeat(129)));
    }
}
