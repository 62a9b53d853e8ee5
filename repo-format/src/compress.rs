//! Compression framing: one flag byte, then the payload, raw or as a zstd
//! frame. A payload that zstd does not shrink is stored raw. See SPEC.md §4.2.
//!
//! ```text
//! +------+------------------------+
//! | flag | payload                |   flag 0: raw, 1: zstd frame
//! +------+------------------------+
//! ```

use crate::error::{FormatError, Result};
use std::io::Read;

/// Flag byte: the payload is stored as is.
pub const FLAG_RAW: u8 = 0;
/// Flag byte: the payload is one zstd frame.
pub const FLAG_ZSTD: u8 = 1;

/// The most plaintext one byte of zstd frame can produce: a block yields at
/// most 128 KiB and takes at least 4 bytes (an RLE block: 3-byte header and
/// the byte).
const MAX_EXPANSION: u64 = (128 << 10) / 4;

/// zstd level used for `auto` compression.
pub const AUTO_LEVEL: i32 = 3;

/// Frame `data`, compressed at `level` (0 means no compression) when that
/// makes it smaller. `out` receives the frame appended.
pub fn frame_into(level: i32, data: &[u8], out: &mut Vec<u8>) {
    if level != 0 {
        let start = out.len();
        out.resize(start + 1 + zstd::zstd_safe::compress_bound(data.len()), 0);
        let written = out
            .get_mut(start + 1..)
            .and_then(|dst| with_compressor(level, |c| c.compress_to_buffer(data, dst).ok()));
        match written {
            Some(n) if n < data.len() => {
                if let Some(flag) = out.get_mut(start) {
                    *flag = FLAG_ZSTD;
                }
                out.truncate(start + 1 + n);
                return;
            }
            _ => out.truncate(start),
        }
    }
    out.push(FLAG_RAW);
    out.extend_from_slice(data);
}

thread_local! {
    /// A zstd context per thread and level: creating one costs more than
    /// compressing a small blob.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

fn with_compressor<T>(
    level: i32,
    f: impl FnOnce(&mut zstd::bulk::Compressor<'static>) -> Option<T>,
) -> Option<T> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        slot.as_mut().and_then(|(_, c)| f(c))
    })
}

/// Frame `data` into a new buffer.
pub fn frame(level: i32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1);
    frame_into(level, data, &mut out);
    out
}

/// Undo [`frame`], refusing to produce more than `max_len` bytes.
pub fn unframe(what: &'static str, framed: &[u8], max_len: usize) -> Result<Vec<u8>> {
    let (flag, payload) = framed.split_first().ok_or(FormatError::Truncated {
        what,
        needed: 1,
        got: 0,
    })?;
    match *flag {
        FLAG_RAW => {
            if payload.len() > max_len {
                return Err(FormatError::LengthMismatch {
                    what,
                    expected: max_len as u64,
                    got: payload.len() as u64,
                });
            }
            Ok(payload.to_vec())
        }
        FLAG_ZSTD => {
            // One allocation of the exact size when the frame records it
            // (vault's writer always does); the streaming path below is for
            // frames that do not, and enforces the same bound.
            if let Some(size) = trusted_content_size(payload, max_len)
                && let Some(out) = with_decompressor(|d| d.decompress(payload, size).ok())
                && out.len() == size
            {
                return Ok(out);
            }
            let decoder = zstd::stream::read::Decoder::new(payload).map_err(|e| {
                FormatError::Compression {
                    what,
                    detail: e.to_string(),
                }
            })?;
            let mut out = Vec::new();
            decoder
                .take((max_len as u64).saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|e| FormatError::Compression {
                    what,
                    detail: e.to_string(),
                })?;
            if out.len() > max_len {
                return Err(FormatError::LengthMismatch {
                    what,
                    expected: max_len as u64,
                    got: out.len() as u64,
                });
            }
            Ok(out)
        }
        other => Err(FormatError::UnknownKind {
            what: "compression flag",
            value: u32::from(other),
        }),
    }
}

/// The content size a zstd frame records, if it is at most `max_len` and at
/// most what the frame could possibly produce: the size is a claim, trusted
/// for an up-front allocation only so far, so that a few bytes cannot make
/// the reader allocate `max_len`.
fn trusted_content_size(frame: &[u8], max_len: usize) -> Option<usize> {
    let size = zstd::zstd_safe::get_frame_content_size(frame).ok()??;
    let possible = (frame.len() as u64).saturating_mul(MAX_EXPANSION);
    if size > possible {
        return None;
    }
    usize::try_from(size).ok().filter(|s| *s <= max_len)
}

thread_local! {
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn with_decompressor<T>(
    f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> Option<T>,
) -> Option<T> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new().ok()?);
        }
        slot.as_mut().and_then(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_compressible_data_uses_zstd() {
        let data = vec![7u8; 10_000];
        let f = frame(AUTO_LEVEL, &data);
        assert_eq!(f.first(), Some(&FLAG_ZSTD));
        assert!(f.len() < 100);
        assert_eq!(unframe("t", &f, data.len()), Ok(data));
    }

    #[test]
    fn frame_incompressible_data_is_raw() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let f = frame(AUTO_LEVEL, &data);
        assert_eq!(f.first(), Some(&FLAG_RAW));
        assert_eq!(unframe("t", &f, data.len()), Ok(data));
    }

    /// Fuzz finding (target `blob_open`): a 22-byte frame whose header
    /// claims a huge content size made `unframe` allocate the claim (up to
    /// `max_len`, which an index entry sets as high as 4 GiB) before
    /// decompressing anything.
    #[test]
    fn regression_6_frame_claiming_a_huge_size_is_error_without_allocating_it() {
        for claim in [0xFFFF_FFF0u64, 1 << 60] {
            let mut framed = vec![FLAG_ZSTD, 0x28, 0xB5, 0x2F, 0xFD, 0xE0];
            framed.extend_from_slice(&claim.to_le_bytes());
            framed.extend_from_slice(&[1, 0, 0]);
            let frame = framed.get(1..).unwrap_or_default();
            assert_eq!(trusted_content_size(frame, usize::MAX), None);
            assert!(matches!(
                unframe("t", &framed, usize::MAX),
                Err(FormatError::Compression { .. })
            ));
        }
    }

    #[test]
    fn frame_of_highly_compressible_data_unframes_exactly() {
        let data = vec![0u8; 16 << 20];
        let f = frame(AUTO_LEVEL, &data);
        assert!(f.len() < 4096, "{}", f.len());
        let frame = f.get(1..).unwrap_or_default();
        assert_eq!(trusted_content_size(frame, data.len()), Some(data.len()));
        assert_eq!(trusted_content_size(frame, data.len() - 1), None);
        assert_eq!(unframe("t", &f, data.len()), Ok(data));
    }

    #[test]
    fn unframe_over_limit_is_error() {
        let f = frame(AUTO_LEVEL, &vec![0u8; 1000]);
        assert!(unframe("t", &f, 999).is_err());
        assert!(unframe("t", &[9, 1, 2], 10).is_err());
        assert!(unframe("t", &[], 10).is_err());
    }
}
