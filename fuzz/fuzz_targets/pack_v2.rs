//! Packs of both repository formats read as SPEC.md §6 says, with the
//! repository format's own functions (`pack::parse_trailer`,
//! `Keyring::pack_key`, `PackKey::open_header` and `open_blob`,
//! `pack::decode_header`), then by the engine's `PackReader` of a
//! repository of that format, which must agree. Input: a selector byte
//! (bit 0: format 2, else format 1; bit 1, format 2: a capsule of 32 bytes
//! follows, else the golden vectors' pack capsule), then the pack's
//! plaintext as the `pack` target takes it (`vault_fuzz::PackInput`),
//! which the target seals with the pack's key: format 1's data key, or in
//! format 2 the key agreed through the capsule (derived here step by step
//! from the private key), with the capsule in the 36-byte trailer.
//!
//! Checks: nothing panics; the trailer parses in its format exactly when
//! the pack is long enough for it and its header length, the header range
//! then ends at the trailer and the blob region before it, and the
//! trailer written again parses the same; the other format's trailer
//! parser never panics; the full keyring derives the pack key exactly when
//! the capsule is not of low order, the put-only keyring never
//! (`NeedsFullKey`); a built header (trailer as written) opens to exactly
//! its entries; any header that opens tiles the blob region; a blob that
//! opens is at most its raw length and hashes to its id, and under a built
//! header each sealed blob opens at exactly its raw length exactly when
//! its frame unframes to content of its id; the engine's reader returns the
//! same header (or an error where this fails), the same blobs (or errors
//! where these fail), and `verify` reports damaged exactly those.
#![no_main]
use engine::repository::pack_reader::BlobRef;
use libfuzzer_sys::fuzz_target;
use repo_format::FormatError;
use repo_format::keyring::{CAPSULE_LEN, FORMAT_1, FORMAT_2};
use repo_format::pack::{self, PackEntry};
use repo_format::tree::Tree;
use repo_format::{Id, PackId};
use vault_fuzz::{PackInput, PackRepository, PackSealer, key, keyring, put_only_keyring, take};

fuzz_target!(|data: &[u8]| {
    let ([selector], rest) = take::<1>(data);
    let (sealer, rest) = if selector & 1 == 0 {
        (PackSealer::format_1(), rest)
    } else if selector & 2 != 0 {
        let (capsule, rest) = take::<CAPSULE_LEN>(rest);
        (PackSealer::format_2(Some(capsule)), rest)
    } else {
        (PackSealer::format_2(None), rest)
    };
    let format = sealer.format;
    let built = PackInput::parse(rest).build_with(&sealer);
    let pack = &built.bytes;
    let size = pack.len() as u64;

    // The trailer.
    let other = if format == FORMAT_1 {
        FORMAT_2
    } else {
        FORMAT_1
    };
    let other_len = pack::trailer_len(other);
    let _ = pack::parse_trailer(other, size, &pack[pack.len().saturating_sub(other_len)..]);
    let trailer_len = pack::trailer_len(format);
    let tail = &pack[pack.len().saturating_sub(trailer_len)..];
    let trailer = pack::parse_trailer(format, size, tail);
    let blobs_len = trailer.as_ref().ok().map(|t| t.blobs_len);
    let model: Result<(Vec<PackEntry>, _), FormatError> = trailer.and_then(|t| {
        assert_eq!(t.header.end + trailer_len as u64, size);
        assert_eq!(t.header.start, t.blobs_len);
        assert_eq!(t.capsule.is_some(), format == FORMAT_2);
        assert_eq!(t.capsule, sealer.capsule);
        let header_len = u32::try_from(t.header.end - t.header.start).expect("a u32 length");
        let again = pack::encode_trailer_with(t.capsule.as_ref(), header_len);
        assert_eq!(pack::parse_trailer(format, size, &again).as_ref(), Ok(&t));
        // The key, then the header.
        assert!(matches!(
            put_only_keyring().pack_key(t.capsule.as_ref()),
            Err(FormatError::NeedsFullKey { .. })
        ));
        let pack_key = keyring(format).pack_key(t.capsule.as_ref());
        assert_eq!(pack_key.is_ok(), sealer.opens, "pack key: {pack_key:?}");
        let pack_key = pack_key?;
        let sealed_header = &pack[t.header.start as usize..t.header.end as usize];
        let payload = pack_key.open_header(sealed_header)?;
        let entries = pack::decode_header(&payload, t.blobs_len)?;
        Ok((entries, pack_key))
    });
    if let Some(written) = &built.entries {
        match &model {
            Ok((entries, _)) => assert_eq!(entries, written, "the built header opens differently"),
            Err(e) => panic!("the built header does not open: {e}"),
        }
    }

    // The engine's reader of a repository of this format.
    let repository = PackRepository::get(format);
    repository.set_pack(pack);
    let reader = repository.repository().pack_reader();
    let name = PackId(Id::hash(pack));
    let header = reader.header(&name, size);
    let (entries, pack_key) = match (model, header) {
        (Ok((entries, pack_key)), Ok(read)) => {
            assert_eq!(read, entries, "the engine reads another header");
            (entries, pack_key)
        }
        (Err(_), Err(_)) => return,
        (model, read) => panic!(
            "the header: {:?} here, {read:?} by the engine",
            model.map(|(e, _)| e)
        ),
    };
    let mut end = 0u64;
    for e in &entries {
        assert_eq!(u64::from(e.offset), end, "entries do not tile");
        end = e.end();
    }
    assert_eq!(Some(end), blobs_len, "entries do not end at the header");

    // Each blob.
    let mut opened: Vec<Option<Vec<u8>>> = Vec::new();
    for e in &entries {
        let sealed = &pack[e.offset as usize..e.end() as usize];
        let plain = pack_key.open_blob(e.kind, &e.id, sealed, e.raw_length as usize);
        if let Ok(plain) = &plain {
            assert!(plain.len() <= e.raw_length as usize, "over the raw length");
            assert_eq!(key().blob_id(plain), e.id, "opened under another id");
            if e.kind == repo_format::crypto::BlobKind::Tree {
                let _ = Tree::decode(plain);
            }
        }
        // The engine's readers also want exactly the raw length (§4.3).
        opened.push(plain.ok().filter(|p| p.len() == e.raw_length as usize));
    }
    if built.entries.is_some() {
        for (b, got) in built.blobs.iter().zip(&opened) {
            if !b.verbatim {
                assert_eq!(
                    got, &b.expected,
                    "blob {:?} opened otherwise than sealed",
                    b.entry
                );
            }
        }
    }
    let mut read: Vec<(PackEntry, Option<Vec<u8>>)> = Vec::new();
    let mut refs = entries.clone();
    reader
        .read_blobs(
            &name,
            &mut refs,
            |e: &PackEntry| BlobRef::from(e),
            |e, blob| {
                let plain = match blob {
                    Ok(blob) => {
                        assert_eq!(blob.sealed, &pack[e.offset as usize..e.end() as usize]);
                        Some(blob.plain)
                    }
                    Err(engine::Error::Format { .. }) => None,
                    Err(other) => panic!("a blob inside the pack failed as {other:?}"),
                };
                read.push((*e, plain));
                Ok(())
            },
        )
        .expect("read_blobs");
    let listed: Vec<PackEntry> = read.iter().map(|(e, _)| *e).collect();
    assert_eq!(listed, entries, "blobs read otherwise than listed");
    let by_engine: Vec<Option<Vec<u8>>> = read.into_iter().map(|(_, p)| p).collect();
    assert_eq!(by_engine, opened, "the engine opens other blobs");
    let failed: Vec<PackEntry> = entries
        .iter()
        .zip(&opened)
        .filter(|(_, o)| o.is_none())
        .map(|(e, _)| *e)
        .collect();
    let verified = reader.verify(&name, &entries);
    assert!(verified.unreadable.is_none() && verified.bytes == size);
    let damaged: Vec<PackEntry> = verified.damaged.iter().map(|(e, _)| *e).collect();
    assert_eq!(damaged, failed);
    assert!(verified.wrong_hash.is_none());
});
