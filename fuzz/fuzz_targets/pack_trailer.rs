//! A pack's trailer (SPEC.md §6): from the pack size and its last bytes, the
//! header range. Input: pack size (u64 LE), then the trailer bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::pack::{HEADER_LEN_LEN, encode_trailer, header_range};
use vault_fuzz::take;

fuzz_target!(|data: &[u8]| {
    let (size, trailer) = take::<8>(data);
    let pack_size = u64::from_le_bytes(size);
    if let Ok((range, blobs_len)) = header_range(pack_size, trailer) {
        assert_eq!(range.start, blobs_len);
        assert!(range.start <= range.end);
        assert_eq!(range.end + HEADER_LEN_LEN as u64, pack_size);
        let header_len = u32::try_from(range.end - range.start).unwrap();
        assert_eq!(
            header_range(pack_size, &encode_trailer(header_len)),
            Ok((range, blobs_len))
        );
    }
});
