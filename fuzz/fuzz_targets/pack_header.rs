//! A pack header's payload (SPEC.md §6): the entries must tile the blob
//! region exactly. Input: blob-region length (u64 LE), then the payload.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::pack::{decode_header, encode_header};
use vault_fuzz::{assert_round_trip, take};

fuzz_target!(|data: &[u8]| {
    let (len, payload) = take::<8>(data);
    let blobs_len = u64::from_le_bytes(len);
    if let Ok(entries) = decode_header(payload, blobs_len) {
        let mut end = 0;
        for e in &entries {
            assert_eq!(u64::from(e.offset), end);
            end = e.end();
        }
        assert_eq!(end, blobs_len);
        assert_round_trip(
            &entries,
            |e| encode_header(e),
            |b| decode_header(b, blobs_len),
        );
    }
});
