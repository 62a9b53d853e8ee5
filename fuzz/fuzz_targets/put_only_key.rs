//! Put-only keys (SPEC.md §5.5) and the key files that seal them (§5.1,
//! kind 2). Input: a mode byte, then bytes.
//!
//! - Mode bit 0 clear: the bytes are a key file. `KeyFile::decode`; what
//!   decodes survives encode then decode with its kind; its KDF parameters
//!   are checked (`KdfParams::check`) and derived with only when they are
//!   the golden vectors' cheap ones (64 KiB, 1 pass), and then the file is
//!   opened with the vectors' password: it opens to a key of its own kind
//!   (the vectors' put-only key file opens; a mutated one does not).
//! - Mode bit 0 set: the bytes are a put-only key's encoding, sealed by the
//!   target into a put-only key file under the vectors' KEK (so hostile
//!   encodings reach the decoder behind the envelope): the file opens
//!   exactly to what `PutOnlyKey::decode` gives (the same error
//!   otherwise). With mode bit 1 too, the same envelope in a key file of
//!   the full kind must not open (the associated data binds the kind).
//!
//! What decodes survives encode then decode, and its keyring is a
//! put-only one: it names blobs with its id key, holds its public key and
//! a record key, opens nothing but index files and locks (`NeedsFullKey`
//! for the rest and for every pack key), seals the config, ledgers and
//! deletion notices not at all, and seals index files and locks that it
//! opens again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::FormatError;
use repo_format::crypto::{self, KEY_LEN, ObjectKind};
use repo_format::key::{KeyFile, KeyKind, OpenedKey};
use repo_format::keyring::{FORMAT_2, Keyring, PutOnlyKey};
use std::sync::OnceLock;
use vault_fuzz::{
    NONCE, OBJECT_KINDS, VECTOR_KDF, VECTOR_PASSWORD, assert_round_trip, config, fresh, take,
    vector_salt,
};

fn kek() -> &'static [u8; KEY_LEN] {
    static KEK: OnceLock<[u8; KEY_LEN]> = OnceLock::new();
    KEK.get_or_init(|| {
        *VECTOR_KDF
            .derive(VECTOR_PASSWORD, &vector_salt())
            .expect("the cheap KDF derives")
    })
}

fn key_file(kind: KeyKind, sealed: Vec<u8>) -> KeyFile {
    KeyFile {
        kind,
        kdf: VECTOR_KDF,
        salt: vector_salt(),
        created: 0,
        hostname: "fuzz".to_owned(),
        username: "fuzz".to_owned(),
        sealed_master_key: sealed,
    }
}

fn check_put_only(key: &PutOnlyKey) {
    assert_round_trip(key, |k| k.encode().to_vec(), PutOnlyKey::decode);
    let keys = Keyring::put_only(key);
    assert!(!keys.is_full());
    assert_eq!(keys.format(), key.config.version);
    assert!(keys.format() >= FORMAT_2);
    assert_eq!(keys.public_key(), key.public_key);
    assert_eq!(keys.id_key(), &key.id_key);
    assert_eq!(
        keys.blob_id(b"chunk").as_bytes(),
        blake3::keyed_hash(&key.id_key, b"chunk").as_bytes()
    );
    assert!(keys.gear().is_some());
    assert!(keys.record_key(&[7; KEY_LEN]).is_some());
    assert!(matches!(
        keys.pack_key(Some(&key.public_key)),
        Err(FormatError::NeedsFullKey { .. })
    ));
    assert!(keys.put_only_key(&config(FORMAT_2), [0; KEY_LEN]).is_err());
    let fresh = fresh([0x42; KEY_LEN]);
    for kind in OBJECT_KINDS {
        let opened = keys.open_object(kind, b"not sealed");
        let sealed = keys.seal_object(kind, b"payload", 0, &fresh);
        match kind {
            ObjectKind::Index | ObjectKind::Lock => {
                assert!(opened.is_err());
                let sealed = sealed.expect("a put-only key seals index files and locks");
                assert_eq!(keys.open_object(kind, &sealed), Ok(b"payload".to_vec()));
            }
            ObjectKind::PackHeader => {
                // Sealed by its pack's key, never as an object.
                assert!(matches!(opened, Err(FormatError::Malformed { .. })));
                assert!(matches!(sealed, Err(FormatError::Malformed { .. })));
            }
            ObjectKind::Snapshot => {
                assert!(matches!(opened, Err(FormatError::NeedsFullKey { .. })));
                let sealed = sealed.expect("a put-only key seals to the repository key");
                assert!(matches!(
                    keys.open_object(kind, &sealed),
                    Err(FormatError::NeedsFullKey { .. })
                ));
            }
            ObjectKind::Config | ObjectKind::Ledger | ObjectKind::Deletion => {
                assert!(matches!(opened, Err(FormatError::NeedsFullKey { .. })));
                assert!(matches!(sealed, Err(FormatError::NeedsFullKey { .. })));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let ([mode], bytes) = take::<1>(data);
    if mode & 1 == 0 {
        let Ok(file) = KeyFile::decode(bytes) else {
            return;
        };
        assert_round_trip(&file, KeyFile::encode, KeyFile::decode);
        assert_eq!(
            KeyFile::decode(&file.encode()).map(|f| f.kind),
            Ok(file.kind)
        );
        if file.kdf.check().is_err() || file.kdf != VECTOR_KDF {
            return;
        }
        match file.open(VECTOR_PASSWORD) {
            Ok(OpenedKey::PutOnly(key)) => {
                assert_eq!(file.kind, KeyKind::PutOnly);
                check_put_only(&key);
            }
            Ok(OpenedKey::Full(master)) => {
                assert_eq!(file.kind, KeyKind::Full);
                assert_round_trip(
                    &master,
                    |k| k.encode().to_vec(),
                    repo_format::crypto::MasterKey::decode,
                );
            }
            Err(_) => {}
        }
        return;
    }

    let decoded = PutOnlyKey::decode(bytes);
    if let Ok(key) = &decoded {
        check_put_only(key);
    }
    let sealed = crypto::seal(kek(), NONCE, b"vault put-only key\0", bytes);
    let file = key_file(KeyKind::PutOnly, sealed.clone());
    let file = KeyFile::decode(&file.encode()).expect("a key file the target built decodes");
    match (file.open(VECTOR_PASSWORD), &decoded) {
        (Ok(OpenedKey::PutOnly(opened)), Ok(key)) => assert_eq!(&opened, key),
        (Err(e), Err(why)) => assert_eq!(&e, why),
        (opened, decoded) => {
            panic!("the key file opened to {opened:?}, the key decodes to {decoded:?}")
        }
    }
    if mode & 2 != 0 {
        assert!(matches!(
            key_file(KeyKind::Full, sealed).open(VECTOR_PASSWORD),
            Err(FormatError::AuthenticationFailed { .. })
        ));
    }
});
