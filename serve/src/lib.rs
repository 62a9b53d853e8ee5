//! `vault serve`: repositories over HTTP(S) for remote `vault` clients
//! (`vault+http://` and `vault+https://` URLs), so that a backup server
//! can accept backups from hosts that must not be able to delete them.
//!
//! The protocol (SPEC.md §13) is the subset of WebDAV that object_store's
//! HTTP client speaks — GET and HEAD (with byte ranges), PUT, DELETE and
//! PROPFIND — so the client is the engine's usual storage adapter with
//! the usual retries and connection bound. What the server adds:
//!
//! - **Only the repository layout.** A request path is a repository path
//!   (segments of `A-Z a-z 0-9 . _ -`) and an object or directory of the
//!   layout; anything else, percent-encoded forms included, is refused
//!   before the store is touched ([`route`]).
//! - **Put-once.** A PUT never replaces an object (412 when the name
//!   exists), except `heartbeats/`; a content-named object's bytes must
//!   hash to its name.
//! - **Users.** HTTP basic authentication against Argon2id hashes
//!   ([`users`]); with `--private-repos` a user reaches only `/USER/…`.
//! - **Append-only.** With `--append-only`, a DELETE of anything but a
//!   lock is refused (403) unless the user is an administrator.
//! - **Limits.** A request body cap, a bound on requests in flight,
//!   request and header timeouts.
//!
//! Storage is any engine backend: a directory (`--path`, atomic writes with
//! fsync through object_store's local store) or any repository URL.
#![deny(missing_docs)]

pub mod route;
pub mod users;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::repo_format::layout::FileKind;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use route::{ByteRange, Inside, Target};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use users::{User, Verifier};

/// What can stop the server from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The users file is missing or malformed.
    #[error(transparent)]
    Users(#[from] users::UsersError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] engine::Error),
    /// Listening, TLS setup or serving failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The options do not fit together.
    #[error("{0}")]
    Options(String),
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// The store whose repositories to serve: a directory or any
    /// repository URL the engine opens. Repositories are its
    /// subdirectories (or the root itself).
    pub root: String,
    /// Create the root directory if it is missing (`--path`).
    pub create_root: bool,
    /// Refuse deletes other than of locks, except to administrators.
    pub append_only: bool,
    /// A user reaches only repositories under `/USER/`.
    pub private_repos: bool,
    /// The users file; None serves without authentication.
    pub users: Option<PathBuf>,
    /// TLS certificate chain and private key, PEM.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Largest request body accepted, in bytes.
    pub max_body: u64,
    /// Most requests handled at once; more wait their turn.
    pub max_requests: usize,
    /// Most bytes of upload bodies held in memory at once, all requests
    /// together: an upload waits until its declared size fits. At least
    /// `max_body`.
    pub body_memory: u64,
    /// Longest a request may take, waiting for its turn included.
    pub timeout: Duration,
    /// Log every request (user, method, path, status) on stderr.
    pub verbose: bool,
}

/// Shared by every request.
struct Shared {
    store: Arc<dyn ObjectStore>,
    root: StorePath,
    append_only: bool,
    private_repos: bool,
    verifier: Option<Verifier>,
    max_body: u64,
    /// Upload bytes that may be in memory, in KiB permits.
    body_budget: tokio::sync::Semaphore,
    verbose: bool,
}

/// The unit of [`Shared::body_budget`].
const BUDGET_UNIT: u64 = 1024;

/// What every refusal of a delete in append-only mode says.
const APPEND_ONLY: &str = "append-only: this server refuses deletes other than of locks; run forget and prune on the server (vault -r DIR ...) or with an administrator credential";

/// Serve until SIGINT or SIGTERM; `listening` is called with the bound
/// address once the socket listens (before any request is taken).
pub fn run(options: &ServeOptions, listening: impl FnOnce(SocketAddr, bool)) -> Result<(), Error> {
    if options.private_repos && options.users.is_none() {
        return Err(Error::Options(
            "--private-repos needs --users FILE: without users there is no owner to compare"
                .to_owned(),
        ));
    }
    let verifier = match &options.users {
        Some(path) => {
            let users = users::load(path)?;
            if users.is_empty() {
                return Err(Error::Options(format!(
                    "the users file {} lists no user: add one with vault serve --users FILE --add-user NAME",
                    path.display()
                )));
            }
            Some(Verifier::new(users))
        }
        None => None,
    };
    if options.body_memory < options.max_body {
        return Err(Error::Options(format!(
            "--max-memory ({} bytes) must be at least --max-body ({} bytes): one upload of the largest size must fit",
            options.body_memory, options.max_body
        )));
    }
    let backend = if options.create_root {
        engine::Backend::create(&options.root)?
    } else {
        engine::Backend::open(&options.root)?
    };
    let (store, root) = backend
        .object_store()
        .ok_or_else(|| Error::Options(format!("{} cannot be served", options.root)))?;
    let shared = Arc::new(Shared {
        store,
        root,
        append_only: options.append_only,
        private_repos: options.private_repos,
        verifier,
        max_body: options.max_body,
        body_budget: tokio::sync::Semaphore::new(
            usize::try_from(options.body_memory / BUDGET_UNIT)
                .unwrap_or(usize::MAX)
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        ),
        verbose: options.verbose,
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(shared)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            options.max_requests.max(1),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.timeout,
        ));
    let io = |what: String| move |source| Error::Io { what, source };
    let listener = std::net::TcpListener::bind(&options.listen)
        .map_err(io(format!("cannot listen on {}", options.listen)))?;
    listener
        .set_nonblocking(true)
        .map_err(io("cannot set up the socket".to_owned()))?;
    let addr = listener
        .local_addr()
        .map_err(io("cannot read the bound address".to_owned()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("vault-serve")
        .enable_all()
        .build()
        .map_err(io("cannot start the server runtime".to_owned()))?;
    runtime.block_on(async move {
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.graceful_shutdown(Some(Duration::from_secs(10)));
        });
        let service = app.into_make_service();
        let header_timeout = Some(Duration::from_secs(30));
        match &options.tls {
            Some((cert, key)) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(io(format!(
                        "cannot load the TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )))?;
                let mut server = axum_server::from_tcp_rustls(listener, config)
                    .map_err(io("cannot set up the socket".to_owned()))?
                    .handle(handle)
                    .first_request_timeout(header_timeout);
                server
                    .http_builder()
                    .http1()
                    .header_read_timeout(header_timeout);
                listening(addr, true);
                server.serve(service).await
            }
            None => {
                let mut server = axum_server::from_tcp(listener)
                    .map_err(io("cannot set up the socket".to_owned()))?
                    .handle(handle)
                    .first_request_timeout(header_timeout);
                server
                    .http_builder()
                    .http1()
                    .header_read_timeout(header_timeout);
                listening(addr, false);
                server.serve(service).await
            }
        }
        .map_err(io("the server failed".to_owned()))
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server runs until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// A plain-text answer: one line saying what is wrong.
fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let user = match authenticate(&shared, request.headers()).await {
        Ok(user) => user,
        Err((name, response)) => {
            eprintln!(
                "vault serve: refused {method} {} from user {}: wrong or missing credentials",
                printable(&path),
                printable(name.as_deref().unwrap_or("-"))
            );
            return response;
        }
    };
    let name = user.as_ref().map_or("-", |u| u.name.as_str());
    let response = serve(&shared, user.as_ref(), request).await;
    let status = response.status();
    if shared.verbose
        || status == StatusCode::FORBIDDEN
        || status == StatusCode::BAD_REQUEST
        || status.is_server_error()
    {
        eprintln!(
            "vault serve: {name} {method} {} {}",
            printable(&path),
            status.as_u16()
        );
    }
    response
}

/// `s` cut to 200 characters, control characters escaped: safe for a log.
fn printable(s: &str) -> String {
    s.chars().take(200).flat_map(char::escape_default).collect()
}

/// The user the request authenticates as; None when the server has no
/// users. On failure, the name tried (for the log) and the 401 answer.
async fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Option<User>, (Option<String>, Response)> {
    let Some(verifier) = shared.verifier.clone() else {
        return Ok(None);
    };
    let unauthorized = |name: Option<String>| {
        let mut response = text(
            StatusCode::UNAUTHORIZED,
            "authentication required: a user and password of this server's users file",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"vault\", charset=\"UTF-8\""),
        );
        (name, response)
    };
    let Some((name, password)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| users::decode_basic(v.as_bytes()))
    else {
        return Err(unauthorized(None));
    };
    let tried = name.clone();
    // Argon2 takes tens of milliseconds: off the async threads.
    let verified = tokio::task::spawn_blocking(move || verifier.verify(&name, &password)).await;
    match verified {
        Ok(Some(user)) => Ok(Some(user)),
        _ => Err(unauthorized(Some(tried))),
    }
}

impl Shared {
    fn location(&self, target: &Target) -> StorePath {
        let mut location = self.root.clone();
        for part in target.store_path().split('/').filter(|p| !p.is_empty()) {
            location = location.clone().join(part);
        }
        location
    }

    /// The request path of a store location (the root's prefix removed).
    fn href(&self, location: &StorePath) -> String {
        let full = location.as_ref();
        let root = self.root.as_ref();
        let relative = if root.is_empty() {
            full
        } else {
            full.strip_prefix(root)
                .map_or(full, |r| r.trim_start_matches('/'))
        };
        format!("/{relative}")
    }
}

async fn serve(shared: &Shared, user: Option<&User>, request: Request) -> Response {
    if request.uri().query().is_some() {
        return text(
            StatusCode::BAD_REQUEST,
            "query strings are not part of the protocol",
        );
    }
    let target = match route::parse(request.uri().path()) {
        Ok(target) => target,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("invalid path: {e}")),
    };
    let admin = user.is_some_and(|u| u.admin);
    if shared.private_repos
        && !admin
        && let Some(user) = user
        && target.repository.first() != Some(&user.name)
    {
        return text(
            StatusCode::FORBIDDEN,
            &format!(
                "user {} may reach only the repositories under /{}/ (--private-repos)",
                user.name, user.name
            ),
        );
    }
    let method = request.method().clone();
    match (&target.inside, method.as_str()) {
        (Inside::Object(..), "GET" | "HEAD") => {
            get(shared, &target, &method, request.headers()).await
        }
        (Inside::Object(kind, _), "PUT") => put(shared, &target, *kind, request).await,
        (Inside::Object(kind, _), "DELETE") => delete(shared, &target, *kind, admin).await,
        (_, "PROPFIND") => propfind(shared, &target, request.headers()).await,
        (Inside::Dir(_), "GET" | "HEAD" | "PUT" | "DELETE") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "a directory of the layout: list it with PROPFIND",
        ),
        _ => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, PUT, DELETE, PROPFIND"),
            );
            response
        }
    }
}

fn store_failure(e: &object_store::Error) -> Response {
    eprintln!("vault serve: storage error: {e}");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server's storage failed; try again",
    )
}

/// `Last-Modified` and PROPFIND dates (RFC 1123).
fn http_date(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

async fn get(shared: &Shared, target: &Target, method: &Method, headers: &HeaderMap) -> Response {
    let location = shared.location(target);
    if method == Method::HEAD {
        return match shared.store.head(&location).await {
            Ok(meta) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_LENGTH, meta.size)
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::LAST_MODIFIED, http_date(&meta.last_modified))
                .body(Body::empty())
                .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response")),
            Err(object_store::Error::NotFound { .. }) => {
                text(StatusCode::NOT_FOUND, "no such object")
            }
            Err(e) => store_failure(&e),
        };
    }
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(route::parse_range) {
            Some(range) => Some(range),
            None => {
                return text(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "only one range of the form bytes=A-B, bytes=A- or bytes=-N is served",
                );
            }
        },
    };
    let options = GetOptions {
        range: range.as_ref().map(|r| match *r {
            ByteRange::Bounded(a, b) => GetRange::Bounded(a..b.saturating_add(1)),
            ByteRange::From(a) => GetRange::Offset(a),
            ByteRange::Last(n) => GetRange::Suffix(n),
        }),
        ..GetOptions::default()
    };
    let result = match shared.store.get_opts(&location, options).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => {
            return text(StatusCode::NOT_FOUND, "no such object");
        }
        Err(_) if range.is_some() => {
            return text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the range is outside the object",
            );
        }
        Err(e) => return store_failure(&e),
    };
    let served = result.range.clone();
    let size = result.meta.size;
    let mut builder = Response::builder()
        .header(header::CONTENT_LENGTH, served.end - served.start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::LAST_MODIFIED, http_date(&result.meta.last_modified));
    builder = if range.is_some() {
        builder.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{size}",
                served.start,
                served.end.saturating_sub(1)
            ),
        )
    } else {
        builder.status(StatusCode::OK)
    };
    builder
        .body(Body::from_stream(result.into_stream()))
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response"))
}

async fn put(shared: &Shared, target: &Target, kind: FileKind, request: Request) -> Response {
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the object is larger than this server accepts ({} bytes, --max-body)",
                shared.max_body
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body) {
        return too_large();
    }
    // Hold the body's size (the largest allowed when undeclared) of the
    // memory budget until the object is stored: uploads wait for room
    // rather than add up past --max-memory.
    let limit = declared.unwrap_or(shared.max_body);
    let permits = u32::try_from(limit.div_ceil(BUDGET_UNIT)).unwrap_or(u32::MAX);
    let Ok(_room) = shared.body_budget.acquire_many(permits).await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let mut stream = request.into_body().into_data_stream();
    let mut chunks = Vec::new();
    let mut total: u64 = 0;
    let mut hasher = blake3::Hasher::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return text(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        };
        total += chunk.len() as u64;
        if total > limit {
            return if total > shared.max_body {
                too_large()
            } else {
                text(
                    StatusCode::BAD_REQUEST,
                    "the request body is longer than its Content-Length",
                )
            };
        }
        hasher.update(&chunk);
        chunks.push(chunk);
    }
    if kind.content_named() {
        let Inside::Object(_, path) = &target.inside else {
            return text(StatusCode::BAD_REQUEST, "not an object");
        };
        let name = path.rsplit('/').next().unwrap_or("");
        if hasher.finalize().to_hex().as_str() != name {
            return text(
                StatusCode::BAD_REQUEST,
                "the object's name is not the BLAKE3 hash of its bytes (SPEC.md §3)",
            );
        }
    }
    let mode = if kind.replaceable() {
        PutMode::Overwrite
    } else {
        PutMode::Create
    };
    let options = PutOptions {
        mode,
        ..PutOptions::default()
    };
    let payload: PutPayload = chunks.into_iter().collect();
    match shared
        .store
        .put_opts(&shared.location(target), payload, options)
        .await
    {
        Ok(_) => text(StatusCode::CREATED, "created"),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => text(
            StatusCode::PRECONDITION_FAILED,
            "the object exists already: objects are written once and never replaced",
        ),
        Err(e) => store_failure(&e),
    }
}

async fn delete(shared: &Shared, target: &Target, kind: FileKind, admin: bool) -> Response {
    if shared.append_only && !admin && kind != FileKind::Lock {
        return text(StatusCode::FORBIDDEN, APPEND_ONLY);
    }
    match shared.store.delete(&shared.location(target)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(object_store::Error::NotFound { .. }) => text(StatusCode::NOT_FOUND, "no such object"),
        Err(e) => store_failure(&e),
    }
}

/// One `<response>` of a multistatus: an object, or a collection.
fn dav_response(out: &mut String, href: &str, meta: Option<&ObjectMeta>) {
    out.push_str("<response><href>");
    out.push_str(href);
    out.push_str("</href><propstat><prop>");
    match meta {
        Some(meta) => {
            out.push_str(&format!(
                "<getlastmodified>{}</getlastmodified><getcontentlength>{}</getcontentlength><resourcetype/>",
                http_date(&meta.last_modified),
                meta.size
            ));
        }
        None => out.push_str(&format!(
            "<getlastmodified>{}</getlastmodified><resourcetype><collection/></resourcetype>",
            http_date(&chrono::Utc::now())
        )),
    }
    out.push_str("</prop><status>HTTP/1.1 200 OK</status></propstat></response>");
}

async fn propfind(shared: &Shared, target: &Target, headers: &HeaderMap) -> Response {
    let depth = headers
        .get("Depth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("infinity")
        .to_ascii_lowercase();
    let location = shared.location(target);
    let mut body =
        String::from(r#"<?xml version="1.0" encoding="utf-8"?><multistatus xmlns="DAV:">"#);
    match (&target.inside, depth.as_str()) {
        (Inside::Object(..), _) => match shared.store.head(&location).await {
            Ok(meta) => dav_response(&mut body, &shared.href(&meta.location), Some(&meta)),
            Err(object_store::Error::NotFound { .. }) => {
                return text(StatusCode::NOT_FOUND, "no such object");
            }
            Err(e) => return store_failure(&e),
        },
        (Inside::Dir(_), "0") => dav_response(&mut body, &shared.href(&location), None),
        (Inside::Dir(_), "1") => match shared.store.list_with_delimiter(Some(&location)).await {
            Ok(listing) => {
                for prefix in &listing.common_prefixes {
                    dav_response(&mut body, &shared.href(prefix), None);
                }
                for meta in &listing.objects {
                    dav_response(&mut body, &shared.href(&meta.location), Some(meta));
                }
            }
            Err(e) => return store_failure(&e),
        },
        (Inside::Dir(_), "infinity") => {
            let mut listing = shared.store.list(Some(&location));
            loop {
                match listing.try_next().await {
                    Ok(Some(meta)) => {
                        dav_response(&mut body, &shared.href(&meta.location), Some(&meta));
                    }
                    Ok(None) => break,
                    Err(object_store::Error::NotFound { .. }) => break,
                    Err(e) => return store_failure(&e),
                }
            }
        }
        _ => return text(StatusCode::BAD_REQUEST, "Depth must be 0, 1 or infinity"),
    }
    if !body.contains("<response>") {
        // A multistatus must hold a response: an empty directory is one
        // that does not exist (object stores have no empty directories).
        return text(StatusCode::NOT_FOUND, "no such directory");
    }
    body.push_str("</multistatus>");
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}
