//! Heartbeats (SPEC.md §7.7): opening never panics, whatever the bytes, and
//! what a payload signed with the repository's key opens to survives seal
//! then open.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::heartbeat::{Heartbeat, HeartbeatSigningKey};
use vault_fuzz::key;

fuzz_target!(|data: &[u8]| {
    let signing = HeartbeatSigningKey::of(key());
    let verifying = signing.verifying_key();
    // Unsigned bytes never open.
    assert!(Heartbeat::open(data, &verifying).is_err() || data.starts_with(b"vaulthb1"));
    // Signed hostile payloads reach the decoder.
    let sealed = signing.seal_payload(data);
    if let Ok(beat) = Heartbeat::open(&sealed, &verifying) {
        assert_eq!(Heartbeat::open(&beat.seal(&signing), &verifying).ok(), Some(beat));
    }
});
