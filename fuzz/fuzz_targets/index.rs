//! The payload of index files (SPEC.md §7.1): decoding never panics, and what decodes
//! survives encode then decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::index::IndexFile;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = IndexFile::decode(data) {
        assert_round_trip(&value, IndexFile::encode, IndexFile::decode);
    }
});
