//! The payload of snapshots (SPEC.md §7.3): decoding never panics, and what decodes
//! survives encode then decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::snapshot::Snapshot;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = Snapshot::decode(data) {
        assert_round_trip(&value, Snapshot::encode, Snapshot::decode);
    }
});
