//! Key files (`keys/<id>`, the only unencrypted objects, SPEC.md §5.1) and
//! the master key sealed inside them (§5.3). Never runs Argon2.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::crypto::MasterKey;
use repo_format::key::KeyFile;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = KeyFile::decode(data) {
        assert_round_trip(&file, KeyFile::encode, KeyFile::decode);
    }
    if let Ok(master) = MasterKey::decode(data) {
        assert_round_trip(&master, |k| k.encode().to_vec(), MasterKey::decode);
    }
});
