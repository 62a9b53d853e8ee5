//! Index payloads of both repository formats (SPEC.md §7.1; format 2 puts
//! each pack's 32-byte capsule after its size). Input: a selector byte
//! (bit 0: format 2, else format 1), then the payload.
//!
//! Checks: decoding never panics in either format; what decodes has a
//! capsule on every pack exactly in format 2 and survives encode then
//! decode in its format; written in the other format it decodes to the
//! same index, without capsules in format 1 and with them (zeros where
//! there was none) in format 2.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::index::IndexFile;
use repo_format::keyring::{FORMAT_1, FORMAT_2};
use vault_fuzz::{assert_round_trip, take};

fuzz_target!(|data: &[u8]| {
    let ([selector], payload) = take::<1>(data);
    let (format, other) = if selector & 1 == 0 {
        (FORMAT_1, FORMAT_2)
    } else {
        (FORMAT_2, FORMAT_1)
    };
    let _ = IndexFile::decode(other, payload);
    let Ok(value) = IndexFile::decode(format, payload) else {
        return;
    };
    for pack in &value.packs {
        assert_eq!(
            pack.capsule.is_some(),
            format == FORMAT_2,
            "capsule in format {format}"
        );
    }
    assert_round_trip(
        &value,
        |v| v.encode(format),
        |b| IndexFile::decode(format, b),
    );
    let moved = match IndexFile::decode(other, &value.encode(other)) {
        Ok(moved) => moved,
        Err(e) => panic!("an index written in format {other} does not decode: {e}"),
    };
    assert_eq!(moved.supersedes, value.supersedes);
    assert_eq!(moved.packs.len(), value.packs.len());
    for (a, b) in value.packs.iter().zip(&moved.packs) {
        assert_eq!((a.id, a.size, &a.blobs), (b.id, b.size, &b.blobs));
        let capsule = (other == FORMAT_2).then(|| a.capsule.unwrap_or_default());
        assert_eq!(b.capsule, capsule);
    }
});
