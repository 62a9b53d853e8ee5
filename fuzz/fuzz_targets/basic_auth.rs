//! `vault serve`'s `Authorization: Basic` decoder, `serve::users::decode_basic`
//! (read before any authentication). The input is taken twice: as the
//! header value, where the answer is a pair exactly when the value is
//! `Basic ` and standard base64 (surrounding ASCII whitespace allowed) of
//! bytes with a `:`, and the pair sent again the way a client sends it
//! decodes to itself; and as the credentials `NAME:PASSWORD` a client
//! encodes, which decode to the name (lossily, if not UTF-8) and the exact
//! password bytes.
//!
//! serve/src/users.rs is compiled in as a module, as in `serve_route`.
#![no_main]
#[allow(dead_code)]
#[path = "../../serve/src/users.rs"]
mod users;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use users::decode_basic;

fn header(credentials: &[u8]) -> Vec<u8> {
    [
        b"Basic ".as_slice(),
        STANDARD.encode(credentials).as_bytes(),
    ]
    .concat()
}

fuzz_target!(|data: &[u8]| {
    // The input as the header value.
    let decoded = decode_basic(data);
    let expected = data
        .strip_prefix(b"Basic ")
        .and_then(|token| STANDARD.decode(token.trim_ascii()).ok())
        .filter(|credentials| credentials.contains(&b':'));
    assert_eq!(decoded.is_some(), expected.is_some(), "{data:?}");
    if let Some((name, password)) = &decoded {
        assert!(!name.contains(':'), "{name:?}");
        let again = [name.as_bytes(), b":", password.as_slice()].concat();
        let (name2, password2) = decode_basic(&header(&again)).expect("re-encoded pair decodes");
        assert_eq!(&name2, name);
        assert_eq!(password2.as_slice(), password.as_slice());
    }

    // The input as the credentials a client sends.
    let decoded = decode_basic(&header(data));
    match data.iter().position(|b| *b == b':') {
        None => assert!(decoded.is_none(), "{data:?}"),
        Some(colon) => {
            let (name, password) = decoded.expect("credentials with a ':' decode");
            assert_eq!(password.as_slice(), &data[colon + 1..]);
            assert_eq!(name, String::from_utf8_lossy(&data[..colon]));
            if let Ok(sent) = std::str::from_utf8(&data[..colon]) {
                assert_eq!(name, sent);
            }
        }
    }
});
