//! The payload of format 1's index files (SPEC.md §7.1): decoding never
//! panics, and what decodes survives encode then decode. (`index_v2`
//! decodes both formats.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::index::IndexFile;
use repo_format::keyring::FORMAT_1;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = IndexFile::decode(FORMAT_1, data) {
        assert_round_trip(
            &value,
            |v| v.encode(FORMAT_1),
            |b| IndexFile::decode(FORMAT_1, b),
        );
    }
});
