//! Object decryption, version check and decompression (SPEC.md §4), then
//! the payload decoder of the object's kind, under the fixed key. Input: a
//! kind selector (1 byte), then object plaintext (`version || flag ||
//! payload`), which is sealed under the key and opened. The same bytes are
//! also opened as a sealed object as they are, and sealed as a payload and
//! opened again (round trip).
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::crypto::ObjectKind;
use repo_format::pack::PackEntry;
use repo_format::{codec, config, deletion, index, ledger, lock, snapshot};
use vault_fuzz::{NONCE, OBJECT_KINDS, key, seal_object_plaintext, take};

fuzz_target!(|data: &[u8]| {
    let (selector, plaintext) = take::<1>(data);
    let kind = OBJECT_KINDS[usize::from(selector[0]) % OBJECT_KINDS.len()];

    let _ = key().open_object(kind, plaintext);
    if let Ok(payload) = key().open_object(kind, &seal_object_plaintext(kind, plaintext)) {
        assert!(payload.len() <= codec::DECODE_LIMIT);
        let _ = match kind {
            ObjectKind::Config => config::Config::decode(&payload).map(drop),
            ObjectKind::Index => {
                index::IndexFile::decode(repo_format::keyring::FORMAT_1, &payload).map(drop)
            }
            ObjectKind::Snapshot => snapshot::Snapshot::decode(&payload).map(drop),
            ObjectKind::PackHeader => {
                codec::decode::<Vec<PackEntry>>("pack header", &payload).map(drop)
            }
            ObjectKind::Lock => lock::Lock::decode(&payload).map(drop),
            ObjectKind::Ledger => ledger::Ledger::decode(&payload).map(drop),
            ObjectKind::Deletion => deletion::Deletion::decode(&payload).map(drop),
        };
    }

    let level = if plaintext.len() % 2 == 0 { 0 } else { 3 };
    let sealed = key().seal_object(kind, plaintext, level, NONCE);
    assert_eq!(key().open_object(kind, &sealed), Ok(plaintext.to_vec()));
});
