//! A whole pack read the way the engine reads one (`read_pack_header`, then
//! `read_blob` for each entry), under the fixed key: trailer, header range,
//! sealed header, entries, then every blob opened and checked against its
//! id. Seeded with the golden pack, which is sealed under that key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::crypto::ObjectKind;
use repo_format::pack::{HEADER_LEN_LEN, decode_header, header_range};
use vault_fuzz::key;

fuzz_target!(|pack: &[u8]| {
    let size = pack.len() as u64;
    let trailer = pack
        .get(pack.len().saturating_sub(HEADER_LEN_LEN)..)
        .unwrap_or_default();
    let Ok((range, blobs_len)) = header_range(size, trailer) else {
        return;
    };
    let Some(sealed) = pack.get(range.start as usize..range.end as usize) else {
        panic!("header range {range:?} outside a pack of {size} bytes");
    };
    let Ok(payload) = key().open_object(ObjectKind::PackHeader, sealed) else {
        return;
    };
    let Ok(entries) = decode_header(&payload, blobs_len) else {
        return;
    };
    for e in entries {
        let Some(sealed) = pack.get(e.offset as usize..e.end() as usize) else {
            panic!("entry {e:?} outside the blob region of {blobs_len} bytes");
        };
        let _ = key().open_blob(e.kind, &e.id, sealed, e.raw_length as usize);
    }
});
