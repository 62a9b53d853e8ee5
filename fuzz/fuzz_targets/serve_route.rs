//! `vault serve`'s request router, `serve::route::parse` (the request path
//! of every method, taken raw before any percent-decoding). What parses has
//! only valid repository segments and a layout directory or object name
//! inside them; its store path has no `.` or `..` segment, no empty one, no
//! `%` or `\`, and is the request path itself (less one trailing `/`), so
//! that it parses again to the same target.
//!
//! serve/src/route.rs is compiled into this target as a module rather
//! than through the vault-serve crate: depending on that crate would turn
//! on the engine's `cloud` feature (feature unification) and build axum,
//! rustls and object_store's HTTP clients for every target (README.md).
#![no_main]
#[allow(dead_code)]
#[path = "../../serve/src/route.rs"]
mod route;

use engine::repo_format::layout::{FileKind, ObjectName};
use engine::store::valid_repository_segment;
use libfuzzer_sys::fuzz_target;
use route::{Inside, parse};

fn lower_hex_fan(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse(raw);
    assert_eq!(parse(raw), parsed, "parse is deterministic");
    let Ok(target) = parsed else {
        return;
    };
    // The module's refusals: nothing encoded or escaped gets through.
    assert!(raw.starts_with('/'), "{raw:?}");
    assert!(!raw.contains('%') && !raw.contains('\\'), "{raw:?}");
    for segment in &target.repository {
        assert!(valid_repository_segment(segment), "{raw:?}: {segment:?}");
    }
    match &target.inside {
        Inside::Dir(dir) => {
            let listed = dir.is_empty()
                || FileKind::of_dir(dir).is_some_and(|k| k != FileKind::Config)
                || dir.strip_prefix("data/").is_some_and(lower_hex_fan);
            assert!(listed, "{raw:?}: directory {dir:?}");
        }
        Inside::Object(kind, path) => {
            let name = ObjectName::parse(*kind, path);
            assert!(name.is_some(), "{raw:?}: object {kind:?} {path:?}");
            assert_eq!(name.map(|n| n.path()).as_deref(), Some(path.as_str()));
        }
    }
    let store = target.store_path();
    if !store.is_empty() {
        for segment in store.split('/') {
            assert!(
                !segment.is_empty() && segment != "." && segment != "..",
                "{raw:?}: store path {store:?}"
            );
        }
    }
    assert!(
        store
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/')),
        "{raw:?}: store path {store:?}"
    );
    // The canonical form: `/` and the store path. The request was that
    // or that with one `/` added, and it parses to the same target.
    let canonical = format!("/{store}");
    assert!(
        raw == canonical || raw == format!("{canonical}/"),
        "{raw:?} is neither {canonical:?} nor it with a trailing /"
    );
    assert_eq!(parse(&canonical).as_ref(), Ok(&target), "{canonical:?}");
});
