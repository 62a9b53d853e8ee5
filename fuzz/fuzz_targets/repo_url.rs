//! Repository URLs (`-r`, `VAULT_REPOSITORY`): the syntax half of opening a
//! backend, which touches no store.
#![no_main]
use engine::store::Location;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    match Location::parse(url) {
        Ok(Location::Remote { scheme, bucket, .. }) => {
            assert!(matches!(scheme, "s3" | "gs" | "az"));
            assert!(!bucket.is_empty() && !bucket.contains('/'));
        }
        Ok(Location::Http {
            scheme,
            user,
            authority,
            prefix,
        }) => {
            assert!(matches!(scheme, "http" | "https"));
            assert!(user.is_none_or(engine::store::valid_user_name));
            assert!(!authority.is_empty() && !authority.contains(['/', '@']));
            let prefix = prefix.as_ref();
            assert!(
                prefix.is_empty() || prefix.split('/').all(engine::store::valid_repository_segment)
            );
        }
        Ok(Location::Memory(name)) => assert_eq!(format!("memory://{name}"), url),
        Ok(Location::Local(path)) => assert!(!path.as_os_str().is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
