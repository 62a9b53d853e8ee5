//! PROPFIND: listings as WebDAV multistatus documents, the form
//! object_store's HTTP client reads.
//!
//! A listing of a whole directory tree (`Depth: infinity`, what a client's
//! `list` asks for) is streamed as the store lists it, a batch of
//! [`BATCH`] entries at a time: the server never holds a whole listing,
//! however many objects a repository has. `Depth: 1` (the store's
//! delimiter listing: one directory of the layout) and `Depth: 0` are
//! answered whole.

use crate::route::{Inside, Target};
use crate::{http_date, store_failure, text};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// Entries written per chunk of a streamed listing.
const BATCH: usize = 256;

const HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><multistatus xmlns="DAV:">"#;
const TAIL: &str = "</multistatus>";

/// The request path of a store location (the root's prefix removed).
pub(crate) fn href(root: &StorePath, location: &StorePath) -> String {
    let full = location.as_ref();
    let root = root.as_ref();
    let relative = if root.is_empty() {
        full
    } else {
        full.strip_prefix(root)
            .map_or(full, |r| r.trim_start_matches('/'))
    };
    format!("/{relative}")
}

/// One `<response>` of a multistatus: an object, or a collection.
fn response(out: &mut String, href: &str, meta: Option<&ObjectMeta>) {
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

fn multistatus(body: Body) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A multistatus must hold a response: an empty directory is one that
/// does not exist (object stores have no empty directories).
fn no_such_directory() -> Response {
    text(StatusCode::NOT_FOUND, "no such directory")
}

/// Answer PROPFIND of `target` (at `location` in `store`).
pub(crate) async fn propfind(
    store: &Arc<dyn ObjectStore>,
    root: &StorePath,
    target: &Target,
    location: StorePath,
    headers: &HeaderMap,
) -> Response {
    let depth = headers
        .get("Depth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("infinity")
        .to_ascii_lowercase();
    let mut body = String::from(HEAD);
    match (&target.inside, depth.as_str()) {
        (Inside::Object(..), _) => match store.head(&location).await {
            Ok(meta) => response(&mut body, &href(root, &meta.location), Some(&meta)),
            Err(object_store::Error::NotFound { .. }) => {
                return text(StatusCode::NOT_FOUND, "no such object");
            }
            Err(e) => return store_failure(&e),
        },
        (Inside::Dir(_), "0") => response(&mut body, &href(root, &location), None),
        (Inside::Dir(_), "1") => match store.list_with_delimiter(Some(&location)).await {
            Ok(listing) => {
                for prefix in &listing.common_prefixes {
                    response(&mut body, &href(root, prefix), None);
                }
                for meta in &listing.objects {
                    response(&mut body, &href(root, &meta.location), Some(meta));
                }
                if listing.common_prefixes.is_empty() && listing.objects.is_empty() {
                    return no_such_directory();
                }
            }
            Err(e) => return store_failure(&e),
        },
        (Inside::Dir(_), "infinity") => return stream_tree(store, root, &location).await,
        _ => return text(StatusCode::BAD_REQUEST, "Depth must be 0, 1 or infinity"),
    }
    body.push_str(TAIL);
    multistatus(Body::from(body))
}

/// Every object below `location`, streamed (see the module docs). The
/// first entry decides between 207 and 404; a store failure after it
/// ends the body early, which the client sees as a broken listing and
/// retries.
async fn stream_tree(
    store: &Arc<dyn ObjectStore>,
    root: &StorePath,
    location: &StorePath,
) -> Response {
    let mut listing = store.list(Some(location));
    let first = match listing.try_next().await {
        Ok(Some(meta)) => meta,
        Ok(None) | Err(object_store::Error::NotFound { .. }) => return no_such_directory(),
        Err(e) => return store_failure(&e),
    };
    let root = root.clone();
    let mut head = String::from(HEAD);
    response(&mut head, &href(&root, &first.location), Some(&first));
    let entries = listing
        .try_filter_map(|meta| async move { Ok(Some(meta)) })
        .ready_chunks(BATCH)
        .map(move |batch| {
            let mut chunk = String::new();
            for meta in batch {
                match meta {
                    Ok(meta) => response(&mut chunk, &href(&root, &meta.location), Some(&meta)),
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => {
                        eprintln!("vault serve: storage error while listing: {e}");
                        return Err(std::io::Error::other(e.to_string()));
                    }
                }
            }
            Ok(Bytes::from(chunk))
        });
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(entries)
        .chain(futures::stream::once(async {
            Ok(Bytes::from_static(TAIL.as_bytes()))
        }));
    multistatus(Body::from_stream(body))
}
