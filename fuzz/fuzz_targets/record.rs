//! The record a put-only host keeps of what it sent (SPEC.md §5.6):
//! `record::open_tree` and `RecordHead::open`, under the golden vectors'
//! record key (put-only key of §12.14, record salt of §12.1). Input: a
//! mode byte (bit 0: a head, else a tree), a tree id or head name (32
//! bytes), then the bytes.
//!
//! The bytes are opened as they stand (what a damaged or planted cache
//! file holds: authentication fails), and sealed under the record key
//! with the associated data of §5.6 (what the host itself could have
//! written), so that they reach the decompression and decoding behind the
//! envelope. Checks: nothing panics; a record tree opens exactly to what
//! its frame unframes to (the same error otherwise), under no other id,
//! and its id check holds exactly when the plaintext hashes to the id; a
//! record head opens exactly when its bytes decode as a head, under no
//! other name or key, and what opens survives seal then open; head names
//! of the bytes (as host and paths) are deterministic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::codec;
use repo_format::compress::unframe;
use repo_format::crypto::{self, KEY_LEN};
use repo_format::record::{self, RecordHead};
use repo_format::tree::Tree;
use repo_format::{BlobId, Id};
use std::sync::OnceLock;
use vault_fuzz::{NONCE, key, put_only_keyring, record_salt, take};

fn record_key() -> &'static [u8; KEY_LEN] {
    static KEY: OnceLock<[u8; KEY_LEN]> = OnceLock::new();
    KEY.get_or_init(|| {
        *put_only_keyring()
            .record_key(&record_salt())
            .expect("a put-only keyring has a record key")
    })
}

fn with(prefix: &[u8], id: &Id) -> Vec<u8> {
    [prefix, id.0.as_slice()].concat()
}

fn other(id: &Id) -> Id {
    let mut bytes = id.0;
    bytes[0] ^= 1;
    Id(bytes)
}

fuzz_target!(|data: &[u8]| {
    let ([mode], rest) = take::<1>(data);
    let (id, bytes) = take::<32>(rest);
    let id = Id(id);
    let rkey = record_key();
    if let Some(trailer) = data.last_chunk::<4>() {
        if let Ok(range) = record::head_range(data.len() as u64, *trailer) {
            assert!(range.end + 4 == data.len() as u64 && range.start <= range.end);
        }
    }

    if mode & 1 == 0 {
        let blob = BlobId(id);
        let _ = record::open_tree(rkey, &blob, bytes);
        let sealed = crypto::seal(rkey, NONCE, &with(b"vault record tree\0", &id), bytes);
        let opened = record::open_tree(rkey, &blob, &sealed);
        assert_eq!(
            opened,
            unframe("record tree", bytes, codec::DECODE_LIMIT),
            "a record tree opens otherwise than its frame unframes"
        );
        assert!(record::open_tree(rkey, &BlobId(other(&id)), &sealed).is_err());
        if let Ok(plain) = &opened {
            let matches = key().blob_id(plain) == blob;
            assert_eq!(
                record::check_tree_id(&key().id_key, &blob, plain).is_ok(),
                matches
            );
            let _ = Tree::decode(plain);
        }
        let level = if bytes.len() % 2 == 0 { 0 } else { 3 };
        let resealed = record::seal_tree(rkey, &blob, bytes, level, NONCE);
        assert_eq!(
            record::open_tree(rkey, &blob, &resealed),
            Ok(bytes.to_vec())
        );
    } else {
        let _ = RecordHead::open(rkey, &id, bytes);
        let sealed = crypto::seal(rkey, NONCE, &with(b"vault record head\0", &id), bytes);
        let opened = RecordHead::open(rkey, &id, &sealed);
        assert_eq!(
            opened,
            codec::decode::<RecordHead>("record head", bytes),
            "a record head opens otherwise than its bytes decode"
        );
        assert!(RecordHead::open(rkey, &other(&id), &sealed).is_err());
        assert!(RecordHead::open(&[0; KEY_LEN], &id, &sealed).is_err());
        if let Ok(head) = opened {
            let again = head.seal(rkey, &id, NONCE);
            assert_eq!(RecordHead::open(rkey, &id, &again), Ok(head));
        }
        // The bytes as a host and paths (NUL-separated) name a head.
        let text = String::from_utf8_lossy(bytes);
        let mut fields = text.split('\0');
        let host = fields.next().unwrap_or_default();
        let paths: Vec<String> = fields.map(str::to_owned).collect();
        let name = record::head_name(&id, host, &paths);
        assert_eq!(name, record::head_name(&id, host, &paths));
    }
});
