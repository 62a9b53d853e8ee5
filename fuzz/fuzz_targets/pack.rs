//! A pack read through the engine's own pack reader (`PackReader`:
//! `header`, `read_blobs`, `verify`, as `check`, `restore`, `prune` and
//! `copy` use it), from a pack the target seals itself. The input is the
//! pack's plaintext (`vault_fuzz::PackInput`: blob frames with their kind,
//! id and raw length, a header built from them or given as plaintext, an
//! optional trailer), sealed under the fixed key, so that mutations reach
//! the header decoder and the blob decompression and id check behind the
//! envelope; blobs or a header stored verbatim (unsealed) stand for what a
//! writer without the key could put in a store.
//!
//! Checks: nothing panics; a built header (trailer as written) opens to
//! exactly the entries written; any header that opens tiles the blob region
//! `[0, header start)`; a blob that opens is its sealed bytes at its offset,
//! at most its raw length, and hashes to its id; a blob sealed under its
//! content's id that unframes within its raw length opens to that content,
//! and any other sealed blob (wrong id, over the length, bad frame) is an
//! error; `verify` reports damaged exactly the blobs that did not open, and
//! a wrong pack name only when none is damaged. (Format 1; `pack_v2`
//! reads format 2's packs.)
#![no_main]
use engine::repository::pack_reader::BlobRef;
use libfuzzer_sys::fuzz_target;
use repo_format::keyring::FORMAT_1;
use repo_format::pack::{HEADER_LEN_LEN, PackEntry, header_range};
use repo_format::tree::Tree;
use repo_format::{Id, PackId};
use vault_fuzz::{PackInput, PackRepository, key};

fuzz_target!(|data: &[u8]| {
    let built = PackInput::parse(data).build();
    let pack = &built.bytes;
    let size = pack.len() as u64;
    // A format-1 repository of the fixed key whose store holds this pack
    // (`vault_fuzz::PackRepository`, opened once).
    let repository = PackRepository::get(FORMAT_1);
    repository.set_pack(pack);
    let reader = repository.repository().pack_reader();
    let name = PackId(Id::hash(pack));

    let header = reader.header(&name, size);
    if let Some(written) = &built.entries {
        match &header {
            Ok(entries) => assert_eq!(entries, written, "the built header opens differently"),
            Err(e) => panic!("the built header does not open: {e}"),
        }
    }
    let Ok(entries) = header else {
        return;
    };
    // The trailer opened, so it lies inside the pack; the entries tile
    // the region before the sealed header.
    let trailer = &pack[pack.len() - HEADER_LEN_LEN..];
    let (range, blobs_len) = header_range(size, trailer).expect("a header that opened");
    assert!(range.end <= size && blobs_len == range.start);
    let mut expected_offset = 0u64;
    for e in &entries {
        assert_eq!(u64::from(e.offset), expected_offset, "entries do not tile");
        expected_offset = e.end();
    }
    assert_eq!(
        expected_offset, blobs_len,
        "entries do not end at the header"
    );

    // What each blob gives, read as restore and copy read them.
    // (Entries may be empty and share an offset: they are kept in order.)
    let mut outcomes: Vec<(PackEntry, Option<Vec<u8>>)> = Vec::new();
    let mut refs: Vec<PackEntry> = entries.clone();
    reader
        .read_blobs(
            &name,
            &mut refs,
            |e: &PackEntry| BlobRef::from(e),
            |e, read| {
                let opened = match read {
                    Ok(read) => {
                        let at = e.offset as usize..e.end() as usize;
                        assert_eq!(read.sealed, &pack[at], "blob bytes not at their offset");
                        assert_eq!(
                            read.plain.len(),
                            e.raw_length as usize,
                            "not the raw length"
                        );
                        assert_eq!(key().blob_id(&read.plain), e.id, "opened under another id");
                        if e.kind == repo_format::crypto::BlobKind::Tree {
                            let _ = Tree::decode(&read.plain);
                        }
                        Some(read.plain)
                    }
                    Err(engine::Error::Format { .. }) => None,
                    Err(other) => panic!("a blob inside the pack failed as {other:?}"),
                };
                outcomes.push((*e, opened));
                Ok(())
            },
        )
        .expect("read_blobs");
    let read: Vec<PackEntry> = outcomes.iter().map(|(e, _)| *e).collect();
    assert_eq!(read, entries, "blobs read otherwise than listed");

    // Where the header is the one built, each sealed blob's outcome is known.
    if built.entries.is_some() {
        for (b, (_, opened)) in built.blobs.iter().zip(&outcomes) {
            if b.verbatim {
                continue;
            }
            assert_eq!(
                opened, &b.expected,
                "blob {:?} opened otherwise than sealed",
                b.entry
            );
        }
    }

    // check --read-data, under a name that is not the pack's hash: damaged
    // exactly where a read failed, and the wrong hash only when none is.
    let failed: Vec<PackEntry> = outcomes
        .iter()
        .filter(|(_, o)| o.is_none())
        .map(|(e, _)| *e)
        .collect();
    let misnamed = reader.verify(&PackId(Id([0; 32])), &entries);
    assert!(misnamed.unreadable.is_none() && misnamed.bytes == size);
    let damaged: Vec<PackEntry> = misnamed.damaged.iter().map(|(e, _)| *e).collect();
    assert_eq!(damaged, failed);
    assert_eq!(misnamed.wrong_hash.is_some(), failed.is_empty());
});
