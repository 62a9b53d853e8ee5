//! The payload of deletion notices (SPEC.md §7.6): decoding never panics, and what decodes
//! survives encode then decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::deletion::Deletion;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = Deletion::decode(data) {
        assert_round_trip(&value, Deletion::encode, Deletion::decode);
    }
});
