//! A repository that `vault serve` exposes: `vault+http://` and
//! `vault+https://[USER@]HOST[:PORT]/REPO` (SPEC.md §13).
//!
//! object_store's HTTP client (GET, PUT, DELETE, HEAD, PROPFIND) with the
//! same retries and connection bound as the cloud stores, HTTP basic
//! authentication with [`StoreOptions::server_password`], and the extra
//! trusted certificates of [`StoreOptions::ca_certificates`].
//!
//! The server creates only: it answers a put of an existing name with
//! 412, so put-once is one request of any size (no multipart, no look
//! first). An append-only server answers a delete with 403, which is
//! [`Error::AppendOnly`].

use super::cloud::{limited, retry};
use super::location::invalid_url;
use super::object::Written;
use super::object::{Adapter, Flavor, ObjectBacked};
use super::{PutOutcome, Store, StoreInfo, StoreOptions};
use crate::error::{Error, Result};
use base64::Engine as _;
use object_store::http::HttpBuilder;
use object_store::path::Path as StorePath;
use repo_format::Id;
use repo_format::layout::{FileKind, ObjectName};

/// A `vault serve` server: how it writes once, and what its refusals mean.
pub struct Server<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The user to authenticate as, if any.
    pub user: Option<&'a str>,
    /// `host[:port]`.
    pub authority: &'a str,
}

/// The [`Flavor`] of a `vault serve` server.
pub struct Served;

impl Flavor for Served {
    fn put_once(&self, adapter: &Adapter, full: &StorePath, bytes: bytes::Bytes) -> Written {
        match adapter.put_plain(full, bytes) {
            Ok(()) => Ok(PutOutcome::Created),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(PutOutcome::AlreadyExists),
            Err(e) => Err(e),
        }
    }

    fn refused(&self, adapter: &Adapter, op: &str, error: &object_store::Error) -> Option<Error> {
        match error {
            object_store::Error::Unauthenticated { .. } => Some(adapter.refusal(
                "the server did not accept the credentials: check the user in the URL \
                 and the server password",
            )),
            object_store::Error::PermissionDenied { .. } if op == "delete" => {
                Some(Error::AppendOnly {
                    url: adapter.url().to_owned(),
                })
            }
            object_store::Error::PermissionDenied { .. } => Some(adapter.refusal(
                "the server does not let this user reach this repository \
                 (with --private-repos a user reaches only /USER/...)",
            )),
            _ => None,
        }
    }

    /// Ask the server to delete an object that cannot exist (`snapshots/`
    /// and 64 zeros, a BLAKE3 hash no content has): an append-only server
    /// refuses, any other answers at once.
    fn ensure_deletable(&self, store: &dyn Store) -> Result<()> {
        store.delete(&ObjectName::new(FileKind::Snapshot, Id([0; 32])))
    }
}

/// A repository on a `vault serve` server.
pub type VaultHttp = ObjectBacked<Served>;

impl ObjectBacked<Served> {
    /// The repository at `prefix` on `server`.
    pub fn open(
        url: &str,
        server: Server<'_>,
        prefix: StorePath,
        options: &StoreOptions,
    ) -> Result<Self> {
        let Server {
            scheme,
            user,
            authority,
        } = server;
        let invalid = |detail: String| invalid_url(url, detail);
        let mut client = object_store::ClientOptions::new().with_allow_http(scheme == "http");
        let mut headers = http::HeaderMap::new();
        if let Some(user) = user {
            let password = options.server_password.as_ref().ok_or_else(|| {
                invalid(format!(
                    "the URL names the user {user}, but no server password was given"
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
        if let Some(pem) = &options.ca_certificates {
            let certificates = object_store::Certificate::from_pem_bundle(pem).map_err(|e| {
                invalid(format!(
                    "the extra CA certificates hold no PEM certificate: {e}"
                ))
            })?;
            for certificate in certificates {
                client = client.with_root_certificate(certificate);
            }
        }
        let store = HttpBuilder::new()
            .with_url(format!("{scheme}://{authority}"))
            .with_client_options(client)
            .with_retry(retry(options))
            .build()
            .map_err(|e| invalid(format!("cannot configure the HTTP client: {e}")))?;
        let info = StoreInfo::remote(url, options);
        let adapter = Adapter::new(limited(store, options.connections), prefix, info)?;
        Ok(ObjectBacked::new(adapter, Served))
    }
}
