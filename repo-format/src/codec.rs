//! The serialisation every structured object uses: serde with bincode 2.0.1
//! (pinned exactly), standard configuration — little-endian, variable-length
//! integers — and a decode limit so that a hostile length field cannot make
//! the decoder allocate without bound. See SPEC.md §2.3.
//!
//! What a length prefix can make the decoder allocate before the bytes are
//! there: bincode allocates a string or byte string at its claimed length,
//! then reads it, and counts every such claim against the limit; serde
//! preallocates any other sequence (a tree's nodes, a file's chunk ids) to
//! at most 1 MiB whatever its prefix claims, and grows it only as elements
//! decode. The limit therefore follows the input ([`limit_for`]): valid
//! input never claims more than its own length, and a few bytes claiming a
//! 2^60-byte name or 2^60 nodes are refused after allocating at most 16
//! times the input (or 64 KiB) plus that 1 MiB.

use crate::error::{FormatError, Result};
use serde::{Serialize, de::DeserializeOwned};

/// The largest decoded structure this crate accepts (256 MiB).
pub const DECODE_LIMIT: usize = 256 << 20;

fn config<const LIMIT: usize>() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<LIMIT>()
}

/// The decode limits below [`DECODE_LIMIT`], smallest first; each is 16
/// times the one before.
const LIMIT_64K: usize = 64 << 10;
const LIMIT_1M: usize = LIMIT_64K << 4;
const LIMIT_16M: usize = LIMIT_1M << 4;
const LIMITS: [usize; 4] = [LIMIT_64K, LIMIT_1M, LIMIT_16M, DECODE_LIMIT];

/// The limit for an input of `len` bytes: the smallest of [`LIMITS`] at
/// least `len` (the last one for longer inputs). Strings and byte strings
/// are read from the input, so valid input claims at most `len` bytes.
pub fn limit_for(len: usize) -> usize {
    LIMITS
        .into_iter()
        .find(|l| *l >= len)
        .unwrap_or(DECODE_LIMIT)
}

/// Encode a value with the repository's bincode configuration.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding into a Vec only fails for types serde cannot express (maps
    // with unknown length, which this crate never uses) or past the limit,
    // which the writer's own bounds keep it far below; an empty Vec would
    // then fail to decode rather than pass silently.
    bincode::serde::encode_to_vec(value, config::<DECODE_LIMIT>()).unwrap_or_default()
}

/// Decode a value; every byte of `bytes` must be consumed.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let decoded = match limit_for(bytes.len()) {
        LIMIT_64K => bincode::serde::decode_from_slice(bytes, config::<LIMIT_64K>()),
        LIMIT_1M => bincode::serde::decode_from_slice(bytes, config::<LIMIT_1M>()),
        LIMIT_16M => bincode::serde::decode_from_slice(bytes, config::<LIMIT_16M>()),
        _ => bincode::serde::decode_from_slice(bytes, config::<DECODE_LIMIT>()),
    };
    let (value, used) = decoded.map_err(|e| FormatError::Malformed {
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
