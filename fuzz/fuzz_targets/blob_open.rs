//! Blob decryption and decompression (SPEC.md §4) under the fixed key.
//! Input: blob kind (1 byte), the plaintext limit the index would give
//! (u32 LE), a blob id (32 bytes), then a compression frame
//! (`flag || payload`). The frame is unframed directly, then sealed under
//! the key as a blob and opened: under the given id, and under the id of
//! its content (which must succeed exactly when unframing does). The same
//! bytes are also opened as a sealed blob as they are, and sealed as
//! plaintext and opened again (round trip).
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::compress::unframe;
use repo_format::crypto::BlobKind;
use repo_format::{BlobId, Id};
use vault_fuzz::{NONCE, key, seal_blob_frame, take};

fuzz_target!(|data: &[u8]| {
    let (kind, rest) = take::<1>(data);
    let kind = if kind[0] & 1 == 0 {
        BlobKind::Data
    } else {
        BlobKind::Tree
    };
    let (max_len, rest) = take::<4>(rest);
    let max_len = u32::from_le_bytes(max_len) as usize;
    let (id, frame) = take::<32>(rest);
    let id = BlobId(Id(id));

    let unframed = unframe("blob", frame, max_len);
    if let Ok(plain) = &unframed {
        assert!(plain.len() <= max_len);
    }
    let _ = key().open_blob(kind, &id, &seal_blob_frame(kind, &id, frame), max_len);
    let _ = key().open_blob(kind, &id, frame, max_len);
    let opened = match &unframed {
        Ok(plain) => {
            let real = key().blob_id(plain);
            key().open_blob(kind, &real, &seal_blob_frame(kind, &real, frame), max_len)
        }
        Err(_) => Err(repo_format::FormatError::InvalidId(String::new())),
    };
    assert_eq!(opened.is_ok(), unframed.is_ok());

    let real = key().blob_id(frame);
    let level = if frame.len() % 2 == 0 { 0 } else { 3 };
    let sealed = key().seal_blob(kind, &real, frame, level, NONCE);
    assert_eq!(
        key().open_blob(kind, &real, &sealed, frame.len()),
        Ok(frame.to_vec())
    );
});
