//! Properties of the codecs (SPEC.md §2, §4–§7): every structure survives
//! encode → decode unchanged, every decoder returns (never panics) on
//! arbitrary or damaged bytes, sealed blobs and objects open to what was
//! sealed, and any flipped bit makes them refuse to open.
//!
//! Case counts are modest so the file runs in seconds in a debug build.

// A test reports failure by panicking; the crate's no-panic lints guard the
// library against hostile input, not its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use repo_format::codec;
use repo_format::compress;
use repo_format::config::{ChunkerParams, Config, FORMAT_VERSION};
use repo_format::crypto::{self, BlobKind, MasterKey, ObjectKind};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::key::{KdfParams, KeyFile};
use repo_format::layout::{self, FileKind};
use repo_format::ledger::Ledger;
use repo_format::pack::{self, PackEntry};
use repo_format::snapshot::{Snapshot, SnapshotSummary};
use repo_format::tree::{self, ExtendedAttribute, Node, NodeKind, Timestamp, Tree};
use repo_format::{BlobId, FormatError, Id, IndexId, PackId, SnapshotId};
use std::collections::BTreeMap;

// ---- strategies ------------------------------------------------------------

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

fn any_id() -> impl Strategy<Value = Id> {
    any::<[u8; 32]>().prop_map(Id)
}

fn any_blob_id() -> impl Strategy<Value = BlobId> {
    any_id().prop_map(BlobId)
}

fn any_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

fn any_text() -> impl Strategy<Value = String> {
    // Any Unicode, including multi-byte characters.
    ".{0,12}"
}

fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    (any::<i64>(), any::<u32>()).prop_map(|(secs, nanos)| Timestamp { secs, nanos })
}

fn any_blob_kind() -> impl Strategy<Value = BlobKind> {
    prop_oneof![Just(BlobKind::Data), Just(BlobKind::Tree)]
}

fn any_object_kind() -> impl Strategy<Value = ObjectKind> {
    prop_oneof![
        Just(ObjectKind::Config),
        Just(ObjectKind::Index),
        Just(ObjectKind::Snapshot),
        Just(ObjectKind::PackHeader),
        Just(ObjectKind::Lock),
        Just(ObjectKind::Deletion),
        Just(ObjectKind::Ledger),
    ]
}

fn any_ledger() -> impl Strategy<Value = Ledger> {
    prop::collection::btree_map(any_id().prop_map(PackId), any_timestamp(), 0..8)
        .prop_map(|map| Ledger::from_map(&map))
}

fn any_node_kind() -> impl Strategy<Value = NodeKind> {
    prop_oneof![
        Just(NodeKind::File),
        Just(NodeKind::Dir),
        Just(NodeKind::Symlink),
        Just(NodeKind::Fifo),
        Just(NodeKind::CharDevice),
        Just(NodeKind::BlockDevice),
        Just(NodeKind::Socket),
    ]
}

/// A name [`Tree::decode`] accepts: non-empty, no `/` or NUL, not `.`/`..`.
fn valid_name() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0),
        1..10,
    )
    .prop_filter("not . or ..", |n| tree::is_valid_name(n))
}

fn any_node_body() -> impl Strategy<Value = Node> {
    let identity = (
        any_node_kind(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any_text(),
        any_text(),
    );
    let times = (any_timestamp(), any_timestamp(), any_timestamp());
    let numbers = (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    );
    let references = (
        prop::collection::vec(any_blob_id(), 0..4),
        prop::option::of(any_blob_id()),
        any_bytes(16),
        prop::collection::vec(
            (any_bytes(8), any_bytes(8))
                .prop_map(|(name, value)| ExtendedAttribute { name, value }),
            0..3,
        ),
    );
    (identity, times, numbers, references).prop_map(
        |(
            (kind, mode, uid, gid, user, group),
            (mtime, atime, ctime),
            (size, inode, device_id, links, rdev),
            (content, subtree, link_target, xattrs),
        )| Node {
            name: Vec::new(),
            kind,
            mode,
            uid,
            gid,
            user,
            group,
            mtime,
            atime,
            ctime,
            size,
            inode,
            device_id,
            links,
            rdev,
            content,
            subtree,
            link_target,
            xattrs,
        },
    )
}

/// A valid tree: names sorted and unique (a BTreeMap orders them).
fn any_tree() -> impl Strategy<Value = Tree> {
    prop::collection::btree_map(valid_name(), any_node_body(), 0..5).prop_map(
        |map: BTreeMap<_, _>| Tree {
            nodes: map
                .into_iter()
                .map(|(name, mut node)| {
                    node.name = name;
                    node
                })
                .collect(),
        },
    )
}

fn any_summary() -> impl Strategy<Value = SnapshotSummary> {
    (
        any_timestamp(),
        any_timestamp(),
        prop::array::uniform12(any::<u64>()),
    )
        .prop_map(|(backup_start, backup_end, n)| SnapshotSummary {
            backup_start,
            backup_end,
            files_new: n[0],
            files_changed: n[1],
            files_unmodified: n[2],
            dirs_new: n[3],
            dirs_changed: n[4],
            dirs_unmodified: n[5],
            data_blobs: n[6],
            tree_blobs: n[7],
            data_added: n[8],
            data_added_packed: n[9],
            total_files_processed: n[10],
            total_bytes_processed: n[11],
        })
}

fn any_snapshot() -> impl Strategy<Value = Snapshot> {
    let strings = || prop::collection::vec(any_text(), 0..3);
    let head = (
        any_timestamp(),
        any::<i32>(),
        any_blob_id(),
        strings(),
        any_text(),
        any_text(),
        any::<u32>(),
        any::<u32>(),
    );
    let tail = (
        strings(),
        prop::option::of(any_id().prop_map(SnapshotId)),
        strings(),
        prop::option::of(strings()),
        prop::option::of(any_id().prop_map(SnapshotId)),
        any_text(),
        prop::option::of(any_summary()),
    );
    (head, tail).prop_map(
        |(
            (time, utc_offset, tree, paths, hostname, username, uid, gid),
            (tags, parent, excludes, command, original, program_version, summary),
        )| Snapshot {
            time,
            utc_offset,
            tree,
            paths,
            hostname,
            username,
            uid,
            gid,
            tags,
            parent,
            excludes,
            command,
            original,
            program_version,
            summary,
        },
    )
}

/// Entries that tile `[0, total)` in order, as a writer lays them out.
fn any_pack_entries() -> impl Strategy<Value = (Vec<PackEntry>, u64)> {
    prop::collection::vec(
        (any_blob_kind(), any_blob_id(), 41u32..100_000, any::<u32>()),
        0..6,
    )
    .prop_map(|blobs| {
        let mut offset = 0u32;
        let entries: Vec<PackEntry> = blobs
            .into_iter()
            .map(|(kind, id, length, raw_length)| {
                let entry = PackEntry {
                    kind,
                    id,
                    offset,
                    length,
                    raw_length,
                };
                offset += length;
                entry
            })
            .collect();
        (entries, u64::from(offset))
    })
}

fn any_index() -> impl Strategy<Value = IndexFile> {
    let pack = (any_id(), any::<u64>(), any_id(), any_pack_entries()).prop_map(
        |(id, size, capsule, (blobs, _))| IndexPack {
            id: PackId(id),
            size,
            capsule: Some(capsule.0),
            blobs,
        },
    );
    (
        prop::collection::vec(any_id().prop_map(IndexId), 0..3),
        prop::collection::vec(pack, 0..3),
    )
        .prop_map(|(supersedes, packs)| IndexFile { supersedes, packs })
}

fn any_chunker_params() -> impl Strategy<Value = ChunkerParams> {
    (any::<u32>(), any::<u32>(), any::<u32>(), any::<u8>()).prop_map(
        |(min_size, avg_size, max_size, normalization)| ChunkerParams {
            min_size,
            avg_size,
            max_size,
            normalization,
        },
    )
}

/// Chunker parameters that pass validation (SPEC.md §5.2).
fn valid_chunker_params() -> impl Strategy<Value = ChunkerParams> {
    (32u32..=512 * 1024)
        .prop_flat_map(|min| (Just(min), min.max(128)..=2 * 1024 * 1024))
        .prop_flat_map(|(min, avg)| {
            (
                Just(min),
                Just(avg),
                avg.max(512)..=8 * 1024 * 1024,
                0u8..=3,
            )
        })
        .prop_map(|(min, avg, max, normalization)| ChunkerParams {
            min_size: 2 * min,
            avg_size: 2 * avg,
            max_size: 2 * max,
            normalization,
        })
}

fn config_with(
    chunker: impl Strategy<Value = ChunkerParams>,
    version: impl Strategy<Value = u32>,
    level: impl Strategy<Value = i32>,
) -> impl Strategy<Value = Config> {
    (version, any::<[u8; 32]>(), chunker, level, any::<u32>()).prop_map(
        |(version, repository_id, chunker, compression_level, pack_size)| Config {
            version,
            repository_id,
            chunker,
            compression_level,
            pack_size,
        },
    )
}

fn any_key_file() -> impl Strategy<Value = KeyFile> {
    (
        (any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>()),
        any::<[u8; 32]>(),
        any::<i64>(),
        any_text(),
        any_text(),
        any_bytes(120),
    )
        .prop_map(
            |(
                (algorithm, memory_kib, iterations, parallelism),
                salt,
                created,
                hostname,
                username,
                sealed_master_key,
            )| {
                KeyFile {
                    kind: repo_format::key::KeyKind::Full,
                    kdf: KdfParams {
                        algorithm,
                        memory_kib,
                        iterations,
                        parallelism,
                    },
                    salt,
                    created,
                    hostname,
                    username,
                    sealed_master_key,
                }
            },
        )
}

fn any_master_key() -> impl Strategy<Value = MasterKey> {
    prop::array::uniform32(any::<u8>())
        .prop_flat_map(|a| (Just(a), prop::array::uniform32(any::<u8>()), any::<u64>()))
        .prop_map(|(a, b, seed)| {
            let mut random = [0u8; 72];
            random[..32].copy_from_slice(&a);
            random[32..64].copy_from_slice(&b);
            random[64..].copy_from_slice(&seed.to_le_bytes());
            MasterKey::from_random(&random)
        })
}

/// A valid encoding damaged: one byte replaced, or the end cut off.
fn damage(bytes: &[u8], position: prop::sample::Index, value: u8, truncate: bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        return out;
    }
    let at = position.index(out.len());
    if truncate {
        out.truncate(at);
    } else {
        out[at] = value;
    }
    out
}

fn flip_bit(bytes: &mut [u8], bit: prop::sample::Index) {
    let bit = bit.index(bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
}

/// Every decoder of the crate on the same bytes; none may panic.
fn decode_everything(bytes: &[u8], key: &MasterKey, id: &BlobId, max_len: usize) {
    let _ = Tree::decode(bytes);
    let _ = Snapshot::decode(bytes);
    let _ = IndexFile::decode(1, bytes);
    let _ = IndexFile::decode(2, bytes);
    let _ = repo_format::keyring::PutOnlyKey::decode(bytes);
    let _ = repo_format::pack::parse_trailer(2, bytes.len() as u64, bytes);
    let _ = Ledger::decode(bytes);
    let _ = Config::decode(bytes);
    let _ = KeyFile::decode(bytes);
    let _ = MasterKey::decode(bytes);
    let _ = pack::decode_header(bytes, bytes.len() as u64);
    let _ = pack::decode_header(bytes, 0);
    let _ = pack::header_range(bytes.len() as u64, bytes);
    if let Some(trailer) = bytes.get(bytes.len().saturating_sub(4)..) {
        let _ = pack::header_range(bytes.len() as u64, trailer);
    }
    let _ = compress::unframe("fuzz", bytes, max_len);
    for kind in [BlobKind::Data, BlobKind::Tree] {
        let _ = key.open_blob(kind, id, bytes, max_len);
    }
    for kind in [
        ObjectKind::Config,
        ObjectKind::Index,
        ObjectKind::Snapshot,
        ObjectKind::PackHeader,
        ObjectKind::Lock,
        ObjectKind::Deletion,
        ObjectKind::Ledger,
    ] {
        let _ = key.open_object(kind, bytes);
    }
}

fn is_authentication_failure<T>(result: &Result<T, FormatError>) -> bool {
    matches!(result, Err(FormatError::AuthenticationFailed { .. }))
}

fn fixed_key() -> MasterKey {
    MasterKey::from_random(&[9u8; 72])
}

// ---- decode(encode(x)) == x --------------------------------------------------

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn tree_round_trip_is_identity(tree in any_tree()) {
        let bytes = tree.encode();
        prop_assert_eq!(bytes.first(), Some(&tree::TREE_VERSION));
        prop_assert_eq!(Tree::decode(&bytes), Ok(tree));
    }

    #[test]
    fn tree_with_names_out_of_order_is_rejected(tree in any_tree()) {
        prop_assume!(tree.nodes.len() >= 2);
        let mut reversed = tree;
        reversed.nodes.reverse();
        prop_assert!(Tree::decode(&reversed.encode()).is_err());
    }

    #[test]
    fn snapshot_round_trip_is_identity(snapshot in any_snapshot()) {
        prop_assert_eq!(Snapshot::decode(&snapshot.encode()), Ok(snapshot));
    }

    #[test]
    fn index_round_trip_is_identity(index in any_index()) {
        prop_assert_eq!(IndexFile::decode(2, &index.encode(2)), Ok(index.clone()));
        let mut format_1 = index;
        format_1.packs.iter_mut().for_each(|p| p.capsule = None);
        prop_assert_eq!(IndexFile::decode(1, &format_1.encode(1)), Ok(format_1));
    }

    #[test]
    fn ledger_round_trip_is_identity(ledger in any_ledger()) {
        prop_assert_eq!(Ledger::decode(&ledger.encode()), Ok(ledger));
    }

    #[test]
    fn config_valid_round_trip_is_identity(
        config in config_with(valid_chunker_params(), Just(FORMAT_VERSION), 0i32..=22)
    ) {
        prop_assert_eq!(Config::decode(&config.encode()), Ok(config));
    }

    /// Decoding an arbitrary config either gives it back or refuses it, and
    /// refuses exactly the configs SPEC.md §5.2 calls invalid.
    #[test]
    fn config_decode_accepts_exactly_the_valid_ranges(
        config in config_with(
            prop_oneof![valid_chunker_params(), any_chunker_params()],
            prop_oneof![Just(1u32), Just(FORMAT_VERSION), any::<u32>()],
            prop_oneof![0i32..=22, any::<i32>()],
        )
    ) {
        let c = config.chunker;
        let valid = (1..=2).contains(&config.version)
            && (64..=1 << 20).contains(&c.min_size)
            && (256..=4 << 20).contains(&c.avg_size)
            && (1024..=16 << 20).contains(&c.max_size)
            && c.min_size <= c.avg_size
            && c.avg_size <= c.max_size
            && c.min_size.is_multiple_of(2)
            && c.avg_size.is_multiple_of(2)
            && c.max_size.is_multiple_of(2)
            && c.normalization <= 3
            && (0..=22).contains(&config.compression_level);
        match Config::decode(&config.encode()) {
            Ok(decoded) => {
                prop_assert!(valid);
                prop_assert_eq!(decoded, config);
            }
            Err(_) => prop_assert!(!valid),
        }
    }

    #[test]
    fn key_file_round_trip_is_identity(key_file in any_key_file()) {
        let bytes = key_file.encode();
        prop_assert_eq!(&bytes[..9], b"VAULTKEY\x01");
        prop_assert_eq!(KeyFile::decode(&bytes), Ok(key_file));
    }

    #[test]
    fn pack_header_round_trip_is_identity((entries, total) in any_pack_entries()) {
        let payload = pack::encode_header(&entries);
        prop_assert_eq!(pack::decode_header(&payload, total), Ok(entries.clone()));
        // The entries must tile the blob region exactly.
        prop_assert!(pack::decode_header(&payload, total + 1).is_err());
        if !entries.is_empty() {
            prop_assert!(pack::decode_header(&payload, total - 1).is_err());
        }
    }

    #[test]
    fn pack_trailer_round_trip_gives_header_range(blobs_len in 0u64..1 << 40, header_len in any::<u32>()) {
        let size = blobs_len + u64::from(header_len) + 4;
        let trailer = pack::encode_trailer(header_len);
        prop_assert_eq!(
            pack::header_range(size, &trailer),
            Ok((blobs_len..blobs_len + u64::from(header_len), blobs_len))
        );
    }

    #[test]
    fn master_key_round_trip_is_identity(key in any_master_key()) {
        let bytes = key.encode();
        prop_assert_eq!(bytes.len(), crypto::MASTER_KEY_LEN);
        prop_assert_eq!(MasterKey::decode(&bytes), Ok(key));
    }

    #[test]
    fn object_path_round_trip_is_identity(id in any_id()) {
        for kind in FileKind::directories() {
            let path = layout::object_path(kind, &id);
            prop_assert_eq!(layout::parse_object_path(kind, &path), Some(id));
        }
        prop_assert_eq!(layout::object_path(FileKind::Config, &id), "config");
    }
}

// ---- decoders return on arbitrary and damaged bytes ------------------------

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn decoders_on_arbitrary_bytes_return(bytes in any_bytes(300), id in any_blob_id(), max_len in 0usize..1 << 20) {
        decode_everything(&bytes, &fixed_key(), &id, max_len);
    }

    #[test]
    fn decoders_on_bytes_with_a_valid_prefix_return(
        prefix in prop_oneof![
            Just(b"VAULTKEY\x01".to_vec()),
            Just(vec![tree::TREE_VERSION]),
            Just(vec![compress::FLAG_ZSTD, 0x28, 0xb5, 0x2f, 0xfd]),
            Just(vec![compress::FLAG_RAW]),
            Just(vec![1]),
        ],
        rest in any_bytes(200),
        id in any_blob_id(),
        max_len in 0usize..1 << 16,
    ) {
        let bytes = [prefix, rest].concat();
        decode_everything(&bytes, &fixed_key(), &id, max_len);
    }

    #[test]
    fn decoders_on_damaged_encodings_return(
        tree in any_tree(),
        snapshot in any_snapshot(),
        index in any_index(),
        key_file in any_key_file(),
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
        truncate in any::<bool>(),
    ) {
        let key = fixed_key();
        let id = BlobId::default();
        let config = Config {
            version: FORMAT_VERSION,
            repository_id: [3; 32],
            chunker: ChunkerParams::DEFAULT,
            compression_level: 3,
            pack_size: 1 << 24,
        };
        let entries = [PackEntry { kind: BlobKind::Tree, id, offset: 0, length: 50, raw_length: 9 }];
        for valid in [
            tree.encode(),
            snapshot.encode(),
            index.encode(2),
            key_file.encode(),
            config.encode(),
            pack::encode_header(&entries),
            compress::frame(3, &tree.encode()),
        ] {
            decode_everything(&damage(&valid, position, value, truncate), &key, &id, 1 << 16);
        }
    }

    #[test]
    fn unframe_of_damaged_zstd_frame_returns(
        data in any_bytes(2000),
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
        truncate in any::<bool>(),
        max_len in 0usize..4000,
    ) {
        let framed = compress::frame(3, &[data.as_slice(), &data].concat());
        let _ = compress::unframe("fuzz", &damage(&framed, position, value, truncate), max_len);
    }

    #[test]
    fn header_range_on_arbitrary_input_returns(size in any::<u64>(), trailer in any_bytes(8)) {
        if let Ok((range, blobs_len)) = pack::header_range(size, &trailer) {
            prop_assert!(range.start <= range.end);
            prop_assert_eq!(range.end + 4, size);
            prop_assert_eq!(range.start, blobs_len);
        }
    }

    #[test]
    fn master_key_decode_accepts_exactly_73_bytes_of_version_1(bytes in any_bytes(80)) {
        let ok = bytes.len() == 73 && bytes.first() == Some(&1);
        prop_assert_eq!(MasterKey::decode(&bytes).is_ok(), ok);
    }
}

// ---- sealing and opening ---------------------------------------------------

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn blob_seal_open_round_trip(
        key in any_master_key(),
        kind in any_blob_kind(),
        data in prop_oneof![any_bytes(3000), any_bytes(64).prop_map(|d| d.repeat(40))],
        level in prop_oneof![Just(0), 1i32..=5],
        nonce in any::<[u8; 24]>(),
    ) {
        let id = key.blob_id(&data);
        let sealed = key.seal_blob(kind, &id, &data, level, nonce);
        prop_assert_eq!(&sealed[..24], &nonce);
        // Overhead: nonce, tag, and the flag byte; never more.
        prop_assert!(sealed.len() <= data.len() + crypto::ENVELOPE_OVERHEAD + 1);
        prop_assert_eq!(key.open_blob(kind, &id, &sealed, data.len()), Ok(data.clone()));
        // The reader's bound on the plaintext is enforced.
        if !data.is_empty() {
            prop_assert!(key.open_blob(kind, &id, &sealed, data.len() - 1).is_err());
        }
        // Kind and id are bound into the associated data.
        let other_kind = if kind == BlobKind::Data { BlobKind::Tree } else { BlobKind::Data };
        prop_assert!(is_authentication_failure(&key.open_blob(other_kind, &id, &sealed, data.len())));
        let other_id = key.blob_id(&[data.as_slice(), b"x"].concat());
        prop_assert!(is_authentication_failure(&key.open_blob(kind, &other_id, &sealed, data.len())));
    }

    #[test]
    fn object_seal_open_round_trip(
        key in any_master_key(),
        kind in any_object_kind(),
        wrong in any_object_kind(),
        payload in prop_oneof![any_bytes(3000), any_bytes(64).prop_map(|d| d.repeat(40))],
        level in prop_oneof![Just(0), 1i32..=5],
        nonce in any::<[u8; 24]>(),
    ) {
        let sealed = key.seal_object(kind, &payload, level, nonce);
        prop_assert!(sealed.len() <= payload.len() + crypto::ENVELOPE_OVERHEAD + 2);
        prop_assert_eq!(key.open_object(kind, &sealed), Ok(payload.clone()));
        if wrong != kind {
            prop_assert!(is_authentication_failure(&key.open_object(wrong, &sealed)));
        }
        let other = MasterKey::from_random(&[0x55; 72]);
        prop_assume!(other != key);
        prop_assert!(other.open_object(kind, &sealed).is_err());
    }

    #[test]
    fn blob_with_any_flipped_bit_fails_to_open(
        key in any_master_key(),
        kind in any_blob_kind(),
        data in any_bytes(500),
        level in prop_oneof![Just(0), Just(3)],
        nonce in any::<[u8; 24]>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let id = key.blob_id(&data);
        let mut sealed = key.seal_blob(kind, &id, &data, level, nonce);
        flip_bit(&mut sealed, bit);
        prop_assert!(is_authentication_failure(&key.open_blob(kind, &id, &sealed, data.len())));
    }

    #[test]
    fn object_with_any_flipped_bit_fails_to_open(
        key in any_master_key(),
        kind in any_object_kind(),
        payload in any_bytes(500),
        nonce in any::<[u8; 24]>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut sealed = key.seal_object(kind, &payload, 3, nonce);
        flip_bit(&mut sealed, bit);
        prop_assert!(is_authentication_failure(&key.open_object(kind, &sealed)));
    }

    #[test]
    fn blob_id_is_keyed(key in any_master_key(), data in any_bytes(200)) {
        let id = key.blob_id(&data);
        let expected = blake3::keyed_hash(&key.id_key, &data);
        prop_assert_eq!(id.as_bytes(), expected.as_bytes());
        prop_assert_ne!(id.0, Id::hash(&data));
    }
}

// ---- behaviour SPEC.md states explicitly -----------------------------------

/// SPEC.md §2.3: readers accept integers in a longer varint form than the
/// shortest one (bincode 2.0.1 does not check minimality); writers never
/// produce them. An empty tree is `01 00`; `01 fb 00 00` decodes to the same.
#[test]
fn codec_non_minimal_varint_is_accepted() {
    assert_eq!(Tree::default().encode(), vec![1, 0]);
    assert_eq!(Tree::decode(&[1, 0xfb, 0, 0]), Ok(Tree::default()));
    assert_eq!(Tree::decode(&[1, 0xfc, 0, 0, 0, 0]), Ok(Tree::default()));
    // A marker wider than the integer's type is refused.
    assert!(codec::decode::<u32>("t", &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    // Byte 255 is never a valid marker.
    assert!(codec::decode::<u64>("t", &[0xff]).is_err());
}

/// SPEC.md §2.3: the integer encodings, spelled out.
#[test]
fn codec_integer_encodings_match_spec() {
    assert_eq!(codec::encode(&250u32), vec![250]);
    assert_eq!(codec::encode(&251u32), vec![251, 251, 0]);
    assert_eq!(codec::encode(&65_535u64), vec![251, 0xff, 0xff]);
    assert_eq!(codec::encode(&65_536u64), vec![252, 0, 0, 1, 0]);
    assert_eq!(
        codec::encode(&(1u64 << 32)),
        vec![253, 0, 0, 0, 0, 1, 0, 0, 0]
    );
    assert_eq!(codec::encode(&255u8), vec![255]);
    assert_eq!(codec::encode(&-1i64), vec![1]);
    assert_eq!(codec::encode(&1i32), vec![2]);
    assert_eq!(codec::encode(&-126i32), vec![251, 251, 0]);
    assert_eq!(codec::encode(&Some(7u32)), vec![1, 7]);
    assert_eq!(codec::encode(&None::<u32>), vec![0]);
    assert_eq!(codec::encode(&"ab"), vec![2, b'a', b'b']);
    assert_eq!(codec::encode(&[1u8, 2, 3]), vec![1, 2, 3]);
    assert_eq!(codec::encode(&vec![1u8, 2, 3]), vec![3, 1, 2, 3]);
    assert_eq!(codec::encode(&NodeKind::Socket), vec![6]);
    assert_eq!(codec::encode(&BlobKind::Tree), vec![1]);
    // Option tags other than 0 and 1 are refused.
    assert!(codec::decode::<Option<u8>>("t", &[2, 0]).is_err());
    // Strings must be UTF-8.
    assert!(codec::decode::<String>("t", &[1, 0xff]).is_err());
    // Trailing bytes are refused.
    assert!(codec::decode::<u8>("t", &[1, 2]).is_err());
}

/// SPEC.md §4.2: a zstd payload may hold several frames (and skippable
/// frames); the reference reader concatenates them.
#[test]
fn unframe_concatenated_zstd_frames_are_joined() {
    let a = compress::frame(3, &[b'a'; 1000]);
    let b = compress::frame(3, &[b'b'; 1000]);
    assert_eq!(a.first(), Some(&compress::FLAG_ZSTD));
    let joined = [a.as_slice(), &b[1..]].concat();
    let expected = [[b'a'; 1000], [b'b'; 1000]].concat();
    assert_eq!(compress::unframe("t", &joined, 2000), Ok(expected));
    // A flag-1 frame with no zstd data, a truncated frame and trailing
    // garbage are errors.
    assert!(compress::unframe("t", &[compress::FLAG_ZSTD], 10).is_err());
    assert!(compress::unframe("t", &a[..a.len() - 1], 2000).is_err());
    assert!(compress::unframe("t", &[a.as_slice(), &[0]].concat(), 2000).is_err());
}

/// Opening with `max_len = usize::MAX` ("no bound") must not panic: the
/// reader's `max_len + 1` once overflowed (a panic in debug builds; in
/// release it wrapped to 0 and the zstd branch returned an empty plaintext).
#[test]
fn regression_unframe_max_len_usize_max_overflows() {
    let framed = compress::frame(3, &[7u8; 1000]);
    let result = std::panic::catch_unwind(|| compress::unframe("t", &framed, usize::MAX));
    assert_eq!(result.ok(), Some(Ok(vec![7u8; 1000])));
}
