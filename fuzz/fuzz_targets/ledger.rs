//! The payload of verification ledgers (SPEC.md §7.5): decoding never panics, and what decodes
//! survives encode then decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::ledger::Ledger;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = Ledger::decode(data) {
        assert_round_trip(&value, Ledger::encode, Ledger::decode);
    }
});
