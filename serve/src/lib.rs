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

pub mod auth;
pub mod conn;
mod dav;
pub mod route;
pub mod upload;
pub mod users;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::repo_format::layout::FileKind;
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use route::{ByteRange, Inside, Target};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use users::{User, Verifier};

pub use conn::ConnLimits;

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
    /// Most authenticated requests handled at once; more wait their turn.
    pub max_requests: usize,
    /// Connections held at once, in all and per client address, and when
    /// an idle one is closed.
    pub connections: ConnLimits,
    /// Upload bodies: largest, memory in all and per user, minimum rate,
    /// quotas (see [`upload`]).
    pub uploads: upload::UploadLimits,
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
    auth: Option<auth::Auth>,
    /// Turns for authenticated requests (--max-requests).
    requests: tokio::sync::Semaphore,
    uploads: upload::Uploads,
    verbose: bool,
}

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
    let auth = match &options.users {
        Some(path) => {
            let users = users::load(path)?;
            if users.is_empty() {
                return Err(Error::Options(format!(
                    "the users file {} lists no user: add one with vault serve --users FILE --add-user NAME",
                    path.display()
                )));
            }
            Some(auth::Auth::new(Verifier::new(users)))
        }
        None => None,
    };
    let limits = &options.uploads;
    if limits.memory_per_user < limits.max_body || limits.memory < limits.memory_per_user {
        return Err(Error::Options(format!(
            "--max-memory ({} bytes) must be at least --max-memory-per-user ({} bytes), and that at least --max-body ({} bytes): one upload of the largest size must fit",
            limits.memory, limits.memory_per_user, limits.max_body
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
        auth,
        requests: tokio::sync::Semaphore::new(options.max_requests.max(1)),
        uploads: upload::Uploads::new(options.uploads),
        verbose: options.verbose,
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(shared)
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
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let gate = conn::Gate::new(options.connections);
        let header_timeout = Some(options.connections.idle);
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
                    .map(|tls| tls.acceptor(gate))
                    .handle(handle)
                    .first_request_timeout(header_timeout);
                limit_protocols(server.http_builder(), options);
                listening(addr, true);
                server.serve(service).await
            }
            None => {
                let mut server = axum_server::from_tcp(listener)
                    .map_err(io("cannot set up the socket".to_owned()))?
                    .acceptor(gate)
                    .handle(handle)
                    .first_request_timeout(header_timeout);
                limit_protocols(server.http_builder(), options);
                listening(addr, false);
                server.serve(service).await
            }
        }
        .map_err(io("the server failed".to_owned()))
    })
}

/// HTTP/1.1 and HTTP/2 within the same bounds: an idle HTTP/1.1
/// connection waits at most the idle timeout for its next request's
/// header (HTTP/2's idleness is [`conn::Guarded`]'s); an HTTP/2 connection
/// carries at most `--max-requests` streams at once, and one whose peer
/// stops answering pings is closed.
fn limit_protocols(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    options: &ServeOptions,
) {
    let idle = options.connections.idle;
    builder.http1().header_read_timeout(idle);
    builder
        .http2()
        .max_concurrent_streams(u32::try_from(options.max_requests).unwrap_or(u32::MAX))
        .keep_alive_interval(idle)
        .keep_alive_timeout(Duration::from_secs(20))
        .max_pending_accept_reset_streams(16)
        .max_local_error_reset_streams(64);
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
pub(crate) fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let user = match &shared.auth {
        None => None,
        Some(auth) => {
            let header = request.headers().get(header::AUTHORIZATION);
            match auth
                .authenticate(peer.ip(), header.map(|h| h.as_bytes()))
                .await
            {
                Ok(user) => Some(user),
                Err(refused) => return refuse(&method, &path, peer, refused),
            }
        }
    };
    // Only authenticated requests take turns: guesses cannot use them up.
    let Ok(_turn) = shared.requests.acquire().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
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

/// The answer to a request that was not let in, logged.
fn refuse(method: &Method, path: &str, peer: SocketAddr, refused: auth::Refused) -> Response {
    let (name, why, mut response) = match refused {
        auth::Refused::Unauthorized(name) => {
            let mut response = text(
                StatusCode::UNAUTHORIZED,
                "authentication required: a user and password of this server's users file",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"vault\", charset=\"UTF-8\""),
            );
            (name, "wrong or missing credentials", response)
        }
        auth::Refused::Throttled(name, wait) => {
            let secs = wait.as_secs().max(1);
            let mut response = text(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("too many failed logins: try again in {secs} s"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            (name, "too many failed logins", response)
        }
        auth::Refused::Busy(name) => (
            name,
            "every password check was busy",
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy checking passwords: try again",
            ),
        ),
    };
    eprintln!(
        "vault serve: refused {method} {} from user {} at {}: {why}",
        printable(path),
        printable(name.as_deref().unwrap_or("-")),
        peer.ip()
    );
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
    }
    response
}

impl Shared {
    fn location(&self, target: &Target) -> StorePath {
        let mut location = self.root.clone();
        for part in target.store_path().split('/').filter(|p| !p.is_empty()) {
            location = location.clone().join(part);
        }
        location
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
        (Inside::Object(kind, _), "PUT") => put(shared, user, &target, *kind, request).await,
        (Inside::Object(kind, _), "DELETE") => delete(shared, &target, *kind, admin).await,
        (_, "PROPFIND") => {
            dav::propfind(
                &shared.store,
                &shared.root,
                &target,
                shared.location(&target),
                request.headers(),
            )
            .await
        }
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

pub(crate) fn store_failure(e: &object_store::Error) -> Response {
    eprintln!("vault serve: storage error: {e}");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server's storage failed; try again",
    )
}

/// `Last-Modified` and PROPFIND dates (RFC 1123).
pub(crate) fn http_date(t: &chrono::DateTime<chrono::Utc>) -> String {
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

async fn put(
    shared: &Shared,
    user: Option<&User>,
    target: &Target,
    kind: FileKind,
    request: Request,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let owner = target.repository.first().map_or("", String::as_str);
    let stream = request.into_body().into_data_stream();
    let body = match shared
        .uploads
        .receive(user.map_or(owner, |u| u.name.as_str()), declared, stream)
        .await
    {
        Ok(body) => body,
        Err(refused) => return upload_refused(shared, refused),
    };
    if kind.content_named() {
        let Inside::Object(_, path) = &target.inside else {
            return text(StatusCode::BAD_REQUEST, "not an object");
        };
        let name = path.rsplit('/').next().unwrap_or("");
        if body.hash.to_hex().as_str() != name {
            return text(
                StatusCode::BAD_REQUEST,
                "the object's name is not the BLAKE3 hash of its bytes (SPEC.md §3)",
            );
        }
    }
    if let Err(why) = shared
        .uploads
        .reserve(shared.store.as_ref(), &shared.root, owner, body.len)
        .await
    {
        return text(StatusCode::INSUFFICIENT_STORAGE, &why);
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
    let len = body.len;
    let payload: PutPayload = body.chunks.iter().cloned().collect();
    let stored = shared
        .store
        .put_opts(&shared.location(target), payload, options)
        .await;
    drop(body);
    if stored.is_err() {
        shared.uploads.release(owner, len).await;
    }
    match stored {
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

/// The answer to an upload whose body was not taken.
fn upload_refused(shared: &Shared, refused: upload::Refused) -> Response {
    let limits = shared.uploads.limits();
    match refused {
        upload::Refused::TooLarge => text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the object is larger than this server accepts ({} bytes, --max-body)",
                limits.max_body
            ),
        ),
        upload::Refused::LongerThanDeclared => text(
            StatusCode::BAD_REQUEST,
            "the request body is longer than its Content-Length",
        ),
        upload::Refused::Unreadable => text(
            StatusCode::BAD_REQUEST,
            "the request body could not be read",
        ),
        upload::Refused::TooSlow => text(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the body came slower than this server accepts ({} bytes/s after {} s, --min-upload-rate)",
                limits.min_rate,
                upload::GRACE.as_secs()
            ),
        ),
        upload::Refused::NoRoom => {
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server's upload memory is in use (--max-memory, --max-memory-per-user): try again",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
            response
        }
        upload::Refused::Stopping => {
            text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping")
        }
    }
}

async fn delete(shared: &Shared, target: &Target, kind: FileKind, admin: bool) -> Response {
    if shared.append_only && !admin && kind != FileKind::Lock {
        return text(StatusCode::FORBIDDEN, APPEND_ONLY);
    }
    let location = shared.location(target);
    // What the object counted against its directory's quota, if any.
    let size = match shared.uploads.limits().quota_bytes {
        Some(_) => shared.store.head(&location).await.ok().map(|m| m.size),
        None => shared.uploads.limits().quota_objects.map(|_| 0),
    };
    match shared.store.delete(&location).await {
        Ok(()) => {
            if let (Some(size), Some(owner)) = (size, target.repository.first()) {
                shared.uploads.release(owner, size).await;
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(object_store::Error::NotFound { .. }) => text(StatusCode::NOT_FOUND, "no such object"),
        Err(e) => store_failure(&e),
    }
}
