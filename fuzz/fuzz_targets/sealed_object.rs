//! Objects of format 2 opened with `Keyring::open_object` (SPEC.md §4.1,
//! §4.4, §4.5): with the fixed key's full keyring, and with the golden
//! vectors' put-only keyring (§12.14). Input: a selector byte (bits 0-2:
//! the object kind, `OBJECT_KINDS[n % 7]`; bit 3: a capsule of 32 bytes
//! follows, else the vectors' snapshot capsule), then object plaintext
//! (`version || flag || payload`).
//!
//! The bytes are opened as they stand (authentication fails), and sealed
//! by the target as a format-2 writer seals that kind (metadata key, data
//! key, or the capsule then the envelope under the key agreed through it,
//! derived here step by step from the private key) so that hostile
//! plaintext, versions, compression frames and capsules reach the code
//! behind the envelope. Checks: nothing panics; the full keyring opens the
//! sealed plaintext exactly as format 1 opens the same plaintext under the
//! data key (same payload, same error), except that a capsule of low order
//! is refused (authentication failed); what opens decodes (or not) as its
//! kind without panicking; the put-only keyring opens index files and
//! locks exactly as the full one and everything else never
//! (`NeedsFullKey`), as stored or sealed; format 1's keyring does not open
//! an index file or lock of format 2; the full keyring's seal then open is
//! the identity for every kind, the put-only one's for index files, locks,
//! snapshots and pack headers (which only the full keyring opens), and the
//! put-only keyring seals no config, ledger or deletion notice.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::crypto::ObjectKind;
use repo_format::keyring::{CAPSULE_LEN, FORMAT_1, FORMAT_2};
use repo_format::pack::PackEntry;
use repo_format::{FormatError, codec, config, deletion, index, ledger, lock, snapshot};
use vault_fuzz::{
    OBJECT_KINDS, SNAPSHOT_EPHEMERAL, capsule_of, fresh, key, keyring, put_only_keyring,
    seal_object_plaintext, seal_object_plaintext_v2, sealing_key, take,
};

fn decode(kind: ObjectKind, payload: &[u8]) {
    let _ = match kind {
        ObjectKind::Config => config::Config::decode(payload).map(drop),
        ObjectKind::Index => index::IndexFile::decode(FORMAT_2, payload).map(drop),
        ObjectKind::Snapshot => snapshot::Snapshot::decode(payload).map(drop),
        ObjectKind::PackHeader => codec::decode::<Vec<PackEntry>>("pack header", payload).map(drop),
        ObjectKind::Lock => lock::Lock::decode(payload).map(drop),
        ObjectKind::Ledger => ledger::Ledger::decode(payload).map(drop),
        ObjectKind::Deletion => deletion::Deletion::decode(payload).map(drop),
    };
}

fn is_pack_header_route<T>(result: &Result<T, FormatError>) -> bool {
    matches!(result, Err(FormatError::Malformed { what: "pack header", .. }))
}

fn needs_full_key<T: std::fmt::Debug>(result: &Result<T, FormatError>) -> bool {
    matches!(result, Err(FormatError::NeedsFullKey { .. }))
}

fuzz_target!(|data: &[u8]| {
    let ([selector], rest) = take::<1>(data);
    let kind = OBJECT_KINDS[usize::from(selector & 7) % OBJECT_KINDS.len()];
    let (capsule, plaintext) = if selector & 8 != 0 {
        take::<CAPSULE_LEN>(rest)
    } else {
        (capsule_of(&SNAPSHOT_EPHEMERAL), rest)
    };
    let full = keyring(FORMAT_2);
    let put = put_only_keyring();
    if kind == ObjectKind::PackHeader {
        // Sealed by its pack's key (PackKey), never as an object: refused
        // by either keyring, whatever the bytes.
        let fresh = fresh(capsule);
        for keys in [full, put] {
            assert!(is_pack_header_route(&keys.open_object(kind, rest)));
            assert!(is_pack_header_route(&keys.seal_object(kind, plaintext, 0, &fresh)));
        }
        return;
    }
    let metadata = matches!(kind, ObjectKind::Index | ObjectKind::Lock);
    let to_public_key = kind == ObjectKind::Snapshot;

    // As stored.
    let _ = full.open_object(kind, rest);
    let stored = put.open_object(kind, rest);
    assert!(metadata || needs_full_key(&stored), "{kind:?}: {stored:?}");

    // Sealed as a format-2 writer seals it.
    let sealed = seal_object_plaintext_v2(kind, &capsule, plaintext);
    let opened = full.open_object(kind, &sealed);
    let expected = if to_public_key && !sealing_key(&capsule).1 {
        Err(FormatError::AuthenticationFailed { what: "snapshot" })
    } else {
        key().open_object(kind, &seal_object_plaintext(kind, plaintext))
    };
    assert_eq!(
        opened, expected,
        "{kind:?} opens otherwise than in format 1"
    );
    if let Ok(payload) = &opened {
        assert!(payload.len() <= codec::DECODE_LIMIT);
        decode(kind, payload);
    }
    let by_put = put.open_object(kind, &sealed);
    if metadata {
        assert_eq!(by_put, opened);
        assert!(keyring(FORMAT_1).open_object(kind, &sealed).is_err());
    } else {
        assert!(needs_full_key(&by_put), "{kind:?}: {by_put:?}");
    }

    // Seal then open.
    let level = if plaintext.len() % 2 == 0 { 0 } else { 3 };
    let fresh = fresh(capsule);
    let sealed = full
        .seal_object(kind, plaintext, level, &fresh)
        .expect("a full keyring seals every kind");
    assert_eq!(full.open_object(kind, &sealed), Ok(plaintext.to_vec()));
    match put.seal_object(kind, plaintext, level, &fresh) {
        Ok(sealed) => {
            assert!(
                metadata || to_public_key,
                "{kind:?} sealed by a put-only key"
            );
            assert_eq!(full.open_object(kind, &sealed), Ok(plaintext.to_vec()));
            let again = put.open_object(kind, &sealed);
            if metadata {
                assert_eq!(again, Ok(plaintext.to_vec()));
            } else {
                assert!(needs_full_key(&again));
            }
        }
        Err(e) => {
            assert!(!metadata && !to_public_key, "{kind:?} not sealed: {e}");
            assert!(matches!(e, FormatError::NeedsFullKey { .. }));
        }
    }
});
