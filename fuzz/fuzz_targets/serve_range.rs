//! `vault serve`'s `Range:` parser, `serve::route::parse_range` (one
//! `bytes=` range; anything else is answered 416). What parses is
//! well-formed (`A-B` with A <= B, `-N` with N > 0) and prints back as a
//! `bytes=` value that parses to the same range.
//!
//! serve/src/route.rs is compiled in as a module, as in `serve_route`.
#![no_main]
#[allow(dead_code)]
#[path = "../../serve/src/route.rs"]
mod route;

use libfuzzer_sys::fuzz_target;
use route::{ByteRange, parse_range};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let Some(range) = parse_range(value) else {
        return;
    };
    assert_eq!(parse_range(value).as_ref(), Some(&range), "deterministic");
    assert!(value.trim().starts_with("bytes="), "{value:?}");
    let printed = match range {
        ByteRange::Bounded(a, b) => {
            assert!(a <= b, "{value:?}: {range:?}");
            format!("bytes={a}-{b}")
        }
        ByteRange::From(a) => format!("bytes={a}-"),
        ByteRange::Last(n) => {
            assert!(n > 0, "{value:?}: {range:?}");
            format!("bytes=-{n}")
        }
    };
    assert_eq!(parse_range(&printed).as_ref(), Some(&range), "{printed:?}");
    assert_eq!(parse_range(&format!(" {printed} ")), Some(range));
});
