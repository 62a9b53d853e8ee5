//! Blob decryption and decompression (SPEC.md §4) under the fixed key, as
//! the pack reader opens every blob (`MasterKey::open_blob` with the index's
//! raw length as the limit), then, for a tree, the tree decoder as
//! `load_tree` applies it. Input: blob kind (1 byte), the raw length the
//! index would give (u32 LE), a blob id (32 bytes), then a compression
//! frame (`flag || payload`): the plaintext of a sealed blob, which the
//! target seals under the key (fixed nonce) so that mutations reach the
//! decompression and id check behind the envelope.
//!
//! Checks: opening under the given id gives exactly what unframing the
//! frame within the limit gives when that hashes to the id, the unframing
//! error when it does not unframe, and an id mismatch (an error, not a
//! panic) otherwise; under its content's id it opens to its content; under
//! the other kind, or as the bytes stand (unsealed), it fails
//! authentication; plaintext sealed by `seal_blob` opens again (round
//! trip).
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::FormatError;
use repo_format::compress::unframe;
use repo_format::crypto::BlobKind;
use repo_format::tree::Tree;
use repo_format::{BlobId, Id};
use vault_fuzz::{NONCE, key, seal_blob_frame, take};

fuzz_target!(|data: &[u8]| {
    let (kind, rest) = take::<1>(data);
    let (kind, other_kind) = if kind[0] & 1 == 0 {
        (BlobKind::Data, BlobKind::Tree)
    } else {
        (BlobKind::Tree, BlobKind::Data)
    };
    let (max_len, rest) = take::<4>(rest);
    let max_len = u32::from_le_bytes(max_len) as usize;
    let (id, frame) = take::<32>(rest);
    let id = BlobId(Id(id));

    let unframed = unframe("blob", frame, max_len);
    if let Ok(plain) = &unframed {
        assert!(plain.len() <= max_len, "decompressed over the limit");
    }
    let sealed = seal_blob_frame(kind, &id, frame);
    let opened = key().open_blob(kind, &id, &sealed, max_len);
    match (&unframed, &opened) {
        (Ok(plain), Ok(got)) => {
            assert_eq!(got, plain);
            assert_eq!(key().blob_id(plain), id);
        }
        (Ok(plain), Err(e)) => {
            assert_ne!(key().blob_id(plain), id);
            assert!(matches!(e, FormatError::IdMismatch { .. }), "{e:?}");
        }
        (Err(why), Err(e)) => assert_eq!(e, why),
        (Err(why), Ok(_)) => panic!("opened a blob whose frame does not unframe: {why}"),
    }
    assert!(matches!(
        key().open_blob(other_kind, &id, &sealed, max_len),
        Err(FormatError::AuthenticationFailed { .. })
    ));
    assert!(key().open_blob(kind, &id, frame, max_len).is_err());

    if let Ok(plain) = &unframed {
        let real = key().blob_id(plain);
        let sealed = seal_blob_frame(kind, &real, frame);
        assert_eq!(
            key().open_blob(kind, &real, &sealed, max_len).as_ref(),
            Ok(plain)
        );
        if kind == BlobKind::Tree {
            let _ = Tree::decode(plain);
        }
    }

    let real = key().blob_id(frame);
    let level = if frame.len() % 2 == 0 { 0 } else { 3 };
    let sealed = key().seal_blob(kind, &real, frame, level, NONCE);
    assert_eq!(
        key().open_blob(kind, &real, &sealed, frame.len()),
        Ok(frame.to_vec())
    );
});
