//! The payload of locks (SPEC.md §7.4): decoding never panics, and what decodes
//! survives encode then decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::lock::Lock;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = Lock::decode(data) {
        assert_round_trip(&value, Lock::encode, Lock::decode);
    }
});
