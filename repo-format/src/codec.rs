//! The serialisation every structured object uses: serde with bincode 2.0.1
//! (pinned exactly), standard configuration — little-endian, variable-length
//! integers — and a decode limit so that a hostile length field cannot make
//! the decoder allocate without bound. See SPEC.md §2.3.

use crate::error::{FormatError, Result};
use serde::{Serialize, de::DeserializeOwned};

/// The largest decoded structure this crate accepts (256 MiB).
pub const DECODE_LIMIT: usize = 256 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<DECODE_LIMIT>()
}

/// Encode a value with the repository's bincode configuration.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding into a Vec only fails for types serde cannot express (maps
    // with unknown length, which this crate never uses) or past the limit,
    // which the writer's own bounds keep it far below; an empty Vec would
    // then fail to decode rather than pass silently.
    bincode::serde::encode_to_vec(value, config()).unwrap_or_default()
}

/// Decode a value; every byte of `bytes` must be consumed.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let (value, used) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| FormatError::Malformed {
            what,
            detail: e.to_string(),
        })?;
    if used != bytes.len() {
        return Err(FormatError::Malformed {
            what,
            detail: format!("{} trailing bytes", bytes.len() - used),
        });
    }
    Ok(value)
}
