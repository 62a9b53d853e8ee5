//! Object names read back from a store listing (SPEC.md §3): a name that
//! parses as an object of a kind is exactly the name of that object, and
//! the first segment of a request path is a layout name exactly when a
//! kind lives there (what `vault serve` routes by).
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::Id;
use repo_format::layout::{FileKind, ObjectName, is_layout_name, object_path, parse_object_path};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    for kind in FileKind::ALL {
        if let Some(id) = parse_object_path(kind, name) {
            assert_eq!(object_path(kind, &id), name);
        }
        if let Some(object) = ObjectName::parse(kind, name) {
            assert_eq!(object.path(), name);
            assert_eq!(object.kind(), kind);
        }
    }
    let first = name.split('/').next().unwrap_or("");
    assert_eq!(is_layout_name(first), FileKind::of_dir(first).is_some());
    if let Ok(id) = Id::from_hex(name) {
        assert_eq!(id.to_hex(), name.to_ascii_lowercase());
    }
});
