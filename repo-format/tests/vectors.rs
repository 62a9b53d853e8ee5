//! Golden vectors: every object kind built from fixed inputs (SPEC.md §12).
//! Format 1's (§12.2 to §12.12) and format 2's (`f2-*`, §12.13 to §12.20:
//! derived keys, put-only key, objects sealed with the metadata key or to
//! the repository key, a pack with its capsule, a put-only host's record),
//! all from the same master key.
//!
//! The committed files in `tests/vectors/*.hex` are the contract: a change
//! to any of them is a format change and ships with a SPEC.md edit, a
//! version-history entry and new vectors. SPEC.md quotes every file in a
//! fenced block tagged `hex <file name>`, and
//! `spec_quoted_vectors_match_files` fails when the two copies drift.
//!
//! To regenerate after a deliberate format change:
//!
//! ```text
//! VAULT_UPDATE_VECTORS=1 cargo test -p vault-repo-format --test vectors
//! ```
//!
//! which rewrites the files and the quoted blocks in SPEC.md; review the
//! diff, then run the tests again without the variable.
//!
//! The key file uses deliberately cheap Argon2id parameters (64 KiB, 1 pass,
//! 1 lane) so that the vector is quick to check; real key files use
//! `KdfParams::DEFAULT`. Compressed vectors depend on the bundled libzstd
//! (zstd-sys 2.1.3+zstd.1.5.7 through zstd 0.14.4): a reader only needs to
//! decompress them, which any zstd decoder does identically, but a writer
//! built on another libzstd may produce different (equally valid) bytes.

// A test reports failure by panicking; the crate's no-panic lints guard the
// library against hostile input, not its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use repo_format::compress::{AUTO_LEVEL, FLAG_RAW, FLAG_ZSTD};
use repo_format::config::{ChunkerParams, Config};
use repo_format::crypto::{BlobKind, MasterKey, ObjectKind};
use repo_format::deletion::Deletion;
use repo_format::heartbeat::{
    Heartbeat, HeartbeatKind, HeartbeatSigningKey, HeartbeatVerifyingKey,
};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::key::OpenedKey;
use repo_format::key::{KDF_ARGON2ID, KdfParams, KeyFile};
use repo_format::keyring::{FORMAT_1, FORMAT_2, Fresh, Keyring, PutOnlyKey};
use repo_format::ledger::{Ledger, LedgerEntry};
use repo_format::lock::{Lock, LockKind};
use repo_format::pack::{self, PackEntry};
use repo_format::record::{self, RecordHead};
use repo_format::snapshot::{Snapshot, SnapshotSummary};
use repo_format::tree::{ExtendedAttribute, Node, NodeKind, Timestamp, Tree};
use repo_format::{BlobId, Id, IndexId, KeyId, PackId, SnapshotId};
use std::path::PathBuf;

// ---- fixed inputs (SPEC.md §12.1) ----------------------------------------

const PASSWORD: &[u8] = b"correct horse battery staple";

/// KDF salt: bytes 0x00, 0x01, ..., 0x1f.
fn salt() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Master-key randomness: bytes 0x40, 0x41, ..., 0x87 (data key 0x40..0x5f,
/// id key 0x60..0x7f, chunker seed bytes 0x80..0x87).
fn master_random() -> [u8; 72] {
    std::array::from_fn(|i| 0x40 + i as u8)
}

/// Every envelope's nonce is one byte repeated 24 times.
fn nonce(byte: u8) -> [u8; 24] {
    [byte; 24]
}

/// Cheap parameters, for the vector only.
const VECTOR_KDF: KdfParams = KdfParams {
    algorithm: KDF_ARGON2ID,
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

const CREATED: i64 = 1_700_000_000;

/// Format 2: the random secret of the put-only key file, bytes 0xc0..0xdf.
fn record_secret() -> [u8; 32] {
    std::array::from_fn(|i| 0xc0 + i as u8)
}

/// Format 2: the salt of the put-only host's record, bytes 0xe0..0xff.
fn record_salt() -> [u8; 32] {
    std::array::from_fn(|i| 0xe0 + i as u8)
}

/// Format 2: an ephemeral X25519 secret, one byte repeated 32 times (used
/// as is: X25519 clamps it).
fn ephemeral(byte: u8) -> [u8; 32] {
    [byte; 32]
}

/// What a format-2 writer draws for one sealing: a nonce and an ephemeral
/// secret (the latter unused by symmetric keys).
fn fresh(nonce_byte: u8, ephemeral_byte: u8) -> Fresh {
    Fresh {
        nonce: nonce(nonce_byte),
        ephemeral: ephemeral(ephemeral_byte),
    }
}

/// The BLAKE3 derive-key contexts of format 2 (SPEC.md §5.3), written out
/// here so that the vectors check the derivations independently of the
/// library's constants.
const METADATA_CONTEXT: &str = "vault 2026-12-07 metadata key";
const PRIVATE_CONTEXT: &str = "vault 2026-12-07 repository private key";
const SEALED_CONTEXT: &str = "vault 2026-12-07 sealed to the repository key";
const GEAR_CONTEXT: &str = "vault 2026-12-07 chunker gear table";
const RECORD_CONTEXT: &str = "vault 2026-12-07 put-only record key";

/// Compressible file content: one line repeated 16 times (1056 bytes).
fn data_text() -> Vec<u8> {
    b"vault golden vector: the quick brown fox jumps over the lazy dog.\n".repeat(16)
}

// ---- building every object -----------------------------------------------

/// Everything the vectors hold, as structures and as bytes.
struct Vectors {
    master: MasterKey,
    key_file: KeyFile,
    config: Config,
    data: Vec<u8>,
    data_id: BlobId,
    tree: Tree,
    tree_id: BlobId,
    entries: Vec<PackEntry>,
    index: IndexFile,
    snapshot: Snapshot,
    deletion: Deletion,
    lock: Lock,
    ledger: Ledger,
    heartbeat: Heartbeat,
    f2: Format2,
    /// (file name without `.hex`, bytes), in SPEC order.
    files: Vec<(&'static str, Vec<u8>)>,
}

/// The format-2 vectors' structures (SPEC.md §12.13 to §12.20).
struct Format2 {
    keyring: Keyring,
    config: Config,
    put_only: PutOnlyKey,
    put_only_file: KeyFile,
    index: IndexFile,
    record_head: RecordHead,
    record_head_name: Id,
}

fn build() -> Vectors {
    let mut files: Vec<(&'static str, Vec<u8>)> = Vec::new();
    files.push(("input-salt", salt().to_vec()));
    files.push(("input-master-random", master_random().to_vec()));

    // Key and master key.
    let master = MasterKey::from_random(&master_random());
    let kek = VECTOR_KDF.derive(PASSWORD, &salt()).unwrap();
    files.push(("kek", kek.to_vec()));
    files.push(("master-key", master.encode().to_vec()));
    let key_file = KeyFile::create(
        &master,
        PASSWORD,
        VECTOR_KDF,
        salt(),
        nonce(0x01),
        CREATED,
        "vectorhost".to_owned(),
        "alice".to_owned(),
    )
    .unwrap();
    let key_bytes = key_file.encode();
    files.push(("key-id", Id::hash(&key_bytes).0.to_vec()));
    files.push(("key-file", key_bytes));

    // Config.
    let config = Config {
        version: FORMAT_1,
        repository_id: std::array::from_fn(|i| 0xa0 + i as u8),
        chunker: ChunkerParams::DEFAULT,
        compression_level: AUTO_LEVEL,
        pack_size: 16 << 20,
    };
    let config_payload = config.encode();
    let config_sealed =
        master.seal_object(ObjectKind::Config, &config_payload, AUTO_LEVEL, nonce(0x02));
    files.push(("config-payload", config_payload));
    files.push(("config-sealed", config_sealed));

    // A data blob, compressed and raw.
    let data = data_text();
    let data_id = master.blob_id(&data);
    let data_zstd = master.seal_blob(BlobKind::Data, &data_id, &data, AUTO_LEVEL, nonce(0x03));
    let data_raw = master.seal_blob(BlobKind::Data, &data_id, &data, 0, nonce(0x04));
    files.push(("data-blob-id", data_id.as_bytes().to_vec()));
    files.push(("data-blob-zstd", data_zstd.clone()));
    files.push(("data-blob-raw", data_raw));

    // A tree blob: a file, a symlink and a subdirectory (whose tree is the
    // empty tree, `01 00`).
    let empty_tree_id = master.blob_id(&Tree::default().encode());
    let tree = vector_tree(&data, data_id, empty_tree_id);
    let tree_plain = tree.encode();
    let tree_id = master.blob_id(&tree_plain);
    let tree_sealed = master.seal_blob(
        BlobKind::Tree,
        &tree_id,
        &tree_plain,
        AUTO_LEVEL,
        nonce(0x05),
    );
    files.push(("empty-tree-blob-id", empty_tree_id.as_bytes().to_vec()));
    files.push(("tree-plain", tree_plain.clone()));
    files.push(("tree-blob-id", tree_id.as_bytes().to_vec()));
    files.push(("tree-blob", tree_sealed.clone()));

    // A pack holding the compressed data blob and the tree blob.
    let entries = vec![
        PackEntry {
            kind: BlobKind::Data,
            id: data_id,
            offset: 0,
            length: u32::try_from(data_zstd.len()).unwrap(),
            raw_length: u32::try_from(data.len()).unwrap(),
        },
        PackEntry {
            kind: BlobKind::Tree,
            id: tree_id,
            offset: u32::try_from(data_zstd.len()).unwrap(),
            length: u32::try_from(tree_sealed.len()).unwrap(),
            raw_length: u32::try_from(tree_plain.len()).unwrap(),
        },
    ];
    let header_payload = pack::encode_header(&entries);
    let sealed_header = master.seal_object(
        ObjectKind::PackHeader,
        &header_payload,
        AUTO_LEVEL,
        nonce(0x06),
    );
    let mut pack_bytes = data_zstd;
    pack_bytes.extend_from_slice(&tree_sealed);
    pack_bytes.extend_from_slice(&sealed_header);
    pack_bytes.extend_from_slice(&pack::encode_trailer(
        u32::try_from(sealed_header.len()).unwrap(),
    ));
    let pack_id = PackId(Id::hash(&pack_bytes));
    files.push(("pack-header-payload", header_payload));
    files.push(("pack-id", pack_id.as_bytes().to_vec()));
    files.push(("pack", pack_bytes.clone()));

    // An index describing the pack, superseding one (fictitious) older index.
    let index = IndexFile {
        supersedes: vec![IndexId(Id([0x22; 32]))],
        packs: vec![IndexPack {
            id: pack_id,
            size: pack_bytes.len() as u64,
            capsule: None,
            blobs: entries.clone(),
        }],
    };
    let index_payload = index.encode(FORMAT_1);
    let index_sealed =
        master.seal_object(ObjectKind::Index, &index_payload, AUTO_LEVEL, nonce(0x07));
    files.push(("index-payload", index_payload));
    files.push(("index-id", Id::hash(&index_sealed).0.to_vec()));
    files.push(("index-sealed", index_sealed));

    // A snapshot of the tree, with a (fictitious) parent.
    let blob_region = entries.last().map_or(0, PackEntry::end);
    let snapshot = vector_snapshot(&data, tree_id, blob_region);
    let snapshot_payload = snapshot.encode();
    let snapshot_sealed = master.seal_object(
        ObjectKind::Snapshot,
        &snapshot_payload,
        AUTO_LEVEL,
        nonce(0x08),
    );
    files.push(("snapshot-payload", snapshot_payload));
    files.push(("snapshot-id", Id::hash(&snapshot_sealed).0.to_vec()));
    files.push(("snapshot-sealed", snapshot_sealed));

    // A deletion notice condemning the pack.
    let deletion = vector_deletion(pack_id);
    let deletion_payload = deletion.encode();
    let deletion_sealed = master.seal_object(
        ObjectKind::Deletion,
        &deletion_payload,
        AUTO_LEVEL,
        nonce(0x0d),
    );
    files.push(("deletion-payload", deletion_payload));
    files.push(("deletion-sealed", deletion_sealed));
    // A maintenance lock held by a prune.
    let lock = vector_lock();
    let lock_payload = lock.encode();
    let lock_sealed = master.seal_object(ObjectKind::Lock, &lock_payload, AUTO_LEVEL, nonce(0x09));
    files.push(("lock-payload", lock_payload));
    files.push(("lock-id", Id::hash(&lock_sealed).0.to_vec()));
    files.push(("lock-sealed", lock_sealed));
    // A ledger: the vector pack verified at one time, a (fictitious) pack
    // `33 33 … 33` at an earlier one; sorted by pack id.
    let ledger = Ledger {
        entries: vec![
            LedgerEntry {
                pack: PackId(Id([0x33; 32])),
                verified: ts(1_700_000_150, 0),
            },
            LedgerEntry {
                pack: pack_id,
                verified: ts(1_700_000_200, 250_000_000),
            },
        ],
    };
    let ledger_payload = ledger.encode();
    let ledger_sealed =
        master.seal_object(ObjectKind::Ledger, &ledger_payload, AUTO_LEVEL, nonce(0x0a));
    files.push(("ledger-payload", ledger_payload));
    files.push(("ledger-id", Id::hash(&ledger_sealed).0.to_vec()));
    files.push(("ledger-sealed", ledger_sealed));

    // A heartbeat of the backup that made the vector snapshot.
    let heartbeat = vector_heartbeat(&snapshot_id_of(&files));
    let signing_key = HeartbeatSigningKey::of(&master);
    files.push((
        "heartbeat-verifying-key",
        signing_key.verifying_key().to_bytes().to_vec(),
    ));
    files.push(("heartbeat-name", heartbeat.path().into_bytes()));
    files.push(("heartbeat", heartbeat.seal(&signing_key)));

    let f2 = build_format_2(&master, &mut files);

    Vectors {
        master,
        key_file,
        config,
        data,
        data_id,
        tree,
        tree_id,
        entries,
        index,
        snapshot,
        deletion,
        lock,
        ledger,
        heartbeat,
        f2,
        files,
    }
}

/// The format-2 vectors, from the same master key: appended to `files`.
fn build_format_2(master: &MasterKey, files: &mut Vec<(&'static str, Vec<u8>)>) -> Format2 {
    files.push(("input-record-secret", record_secret().to_vec()));
    files.push(("input-record-salt", record_salt().to_vec()));

    // The keys format 2 derives from the master key.
    let keyring = Keyring::full(master, FORMAT_2);
    let metadata_key = blake3::derive_key(METADATA_CONTEXT, &master.data_key);
    let private_key = blake3::derive_key(PRIVATE_CONTEXT, &master.data_key);
    let heartbeat_seed = HeartbeatSigningKey::seed_of(master);
    files.push(("f2-metadata-key", metadata_key.to_vec()));
    files.push(("f2-private-key", private_key.to_vec()));
    files.push(("f2-public-key", keyring.public_key().to_vec()));
    files.push(("f2-heartbeat-seed", heartbeat_seed.to_vec()));
    let gear = keyring.gear().unwrap();
    let gear_bytes: Vec<u8> = gear.gear.iter().flat_map(|g| g.to_le_bytes()).collect();
    files.push(("f2-gear-table", gear_bytes));

    // The config of a format-2 repository, sealed with the data key.
    let config = Config {
        version: FORMAT_2,
        repository_id: std::array::from_fn(|i| 0xa0 + i as u8),
        chunker: ChunkerParams::DEFAULT,
        compression_level: AUTO_LEVEL,
        pack_size: 16 << 20,
    };
    let config_payload = config.encode();
    let config_sealed = keyring
        .seal_object(
            ObjectKind::Config,
            &config_payload,
            AUTO_LEVEL,
            &fresh(0x11, 0x00),
        )
        .unwrap();
    files.push(("f2-config-payload", config_payload));
    files.push(("f2-config-sealed", config_sealed));

    // A put-only key of the repository and its key file.
    let put_only = keyring.put_only_key(&config, record_secret()).unwrap();
    files.push(("f2-put-only-key", put_only.encode().to_vec()));
    let put_only_file = KeyFile::create_put_only(
        &put_only,
        PASSWORD,
        VECTOR_KDF,
        salt(),
        nonce(0x10),
        CREATED,
        "vectorhost".to_owned(),
        "alice".to_owned(),
    )
    .unwrap();
    let put_only_bytes = put_only_file.encode();
    let put_only_id = Id::hash(&put_only_bytes);
    files.push(("f2-put-only-key-id", put_only_id.0.to_vec()));
    files.push(("f2-put-only-key-file", put_only_bytes));

    // The snapshot of §12.8 sealed to the repository key.
    let snapshot_sealed = keyring
        .seal_object(
            ObjectKind::Snapshot,
            &vector_file(files, "snapshot-payload"),
            AUTO_LEVEL,
            &fresh(0x12, 0xe1),
        )
        .unwrap();
    let snapshot_id = Id::hash(&snapshot_sealed);
    files.push(("f2-snapshot-sealed", snapshot_sealed));
    files.push(("f2-snapshot-id", snapshot_id.0.to_vec()));

    // A pack of the same two blobs under a fresh pack key.
    // (A pack key uses only the ephemeral secret of its Fresh; each blob
    // and the header take their own nonce.)
    let pack_key = keyring.new_pack_key(&fresh(0x00, 0xe2)).unwrap();
    let capsule = pack_key.capsule().unwrap();
    files.push(("f2-pack-capsule", capsule.to_vec()));
    files.push((
        "f2-pack-key",
        pack_key_of(&ephemeral(0xe2), &keyring.public_key()).to_vec(),
    ));
    let data = data_text();
    let data_id = master.blob_id(&data);
    let data_sealed = pack_key.seal_blob(BlobKind::Data, &data_id, &data, AUTO_LEVEL, nonce(0x13));
    let tree_plain = vector_file(files, "tree-plain");
    let tree_id = master.blob_id(&tree_plain);
    let tree_sealed = pack_key.seal_blob(
        BlobKind::Tree,
        &tree_id,
        &tree_plain,
        AUTO_LEVEL,
        nonce(0x14),
    );
    let entries = vec![
        PackEntry {
            kind: BlobKind::Data,
            id: data_id,
            offset: 0,
            length: u32::try_from(data_sealed.len()).unwrap(),
            raw_length: u32::try_from(data.len()).unwrap(),
        },
        PackEntry {
            kind: BlobKind::Tree,
            id: tree_id,
            offset: u32::try_from(data_sealed.len()).unwrap(),
            length: u32::try_from(tree_sealed.len()).unwrap(),
            raw_length: u32::try_from(tree_plain.len()).unwrap(),
        },
    ];
    let header_payload = pack::encode_header(&entries);
    assert_eq!(header_payload, vector_file(files, "pack-header-payload"));
    let sealed_header = pack_key.seal_header(&header_payload, AUTO_LEVEL, nonce(0x15));
    files.push(("f2-data-blob", data_sealed.clone()));
    files.push(("f2-tree-blob", tree_sealed.clone()));
    files.push(("f2-pack-header-sealed", sealed_header.clone()));
    let mut pack_bytes = data_sealed;
    pack_bytes.extend_from_slice(&tree_sealed);
    pack_bytes.extend_from_slice(&sealed_header);
    pack_bytes.extend_from_slice(&pack::encode_trailer_with(
        Some(&capsule),
        u32::try_from(sealed_header.len()).unwrap(),
    ));
    let pack_id = PackId(Id::hash(&pack_bytes));
    files.push(("f2-pack-id", pack_id.as_bytes().to_vec()));
    files.push(("f2-pack", pack_bytes.clone()));

    // Its index file, with the capsule, sealed with the metadata key.
    let index = IndexFile {
        supersedes: vec![IndexId(Id([0x22; 32]))],
        packs: vec![IndexPack {
            id: pack_id,
            size: pack_bytes.len() as u64,
            capsule: Some(capsule),
            blobs: entries,
        }],
    };
    let index_payload = index.encode(FORMAT_2);
    let index_sealed = keyring
        .seal_object(
            ObjectKind::Index,
            &index_payload,
            AUTO_LEVEL,
            &fresh(0x16, 0x00),
        )
        .unwrap();
    files.push(("f2-index-payload", index_payload));
    files.push(("f2-index-id", Id::hash(&index_sealed).0.to_vec()));
    files.push(("f2-index-sealed", index_sealed));

    // The lock of §12.9 sealed with the metadata key.
    let lock_sealed = keyring
        .seal_object(
            ObjectKind::Lock,
            &vector_file(files, "lock-payload"),
            AUTO_LEVEL,
            &fresh(0x17, 0x00),
        )
        .unwrap();
    files.push(("f2-lock-id", Id::hash(&lock_sealed).0.to_vec()));
    files.push(("f2-lock-sealed", lock_sealed));

    // The put-only host's record: the root tree and the head of its last
    // backup (the snapshot above), under the record key of its salt.
    let put_keyring = Keyring::put_only(&put_only);
    let record_key = put_keyring.record_key(&record_salt()).unwrap();
    files.push(("f2-record-key", record_key.to_vec()));
    let record_tree =
        record::seal_tree(&record_key, &tree_id, &tree_plain, AUTO_LEVEL, nonce(0x18));
    let record_head_name =
        record::head_name(&put_only_id, "vectorhost", &["/home/alice".to_owned()]);
    let record_head = RecordHead {
        snapshot: SnapshotId(snapshot_id),
        tree: tree_id,
        time: ts(1_700_000_100, 5),
        trees: vec![record::RecordEntry {
            id: tree_id,
            offset: 0,
            length: record_tree.len() as u32,
        }],
    };
    let sealed_head = record_head.seal(&record_key, &record_head_name, nonce(0x19));
    // The record file of that backup: its one tree, the head, its length.
    let mut record_file = record_tree.clone();
    record_file.extend_from_slice(&sealed_head);
    record_file.extend_from_slice(&(sealed_head.len() as u32).to_le_bytes());
    files.push(("f2-record-tree", record_tree));
    files.push(("f2-record-head-name", record_head_name.0.to_vec()));
    files.push(("f2-record-head", sealed_head));
    files.push(("f2-record-file", record_file));

    Format2 {
        keyring,
        config,
        put_only,
        put_only_file,
        index,
        record_head,
        record_head_name,
    }
}

/// A vector built earlier.
fn vector_file(files: &[(&'static str, Vec<u8>)], name: &str) -> Vec<u8> {
    let (_, bytes) = files.iter().find(|(n, _)| *n == name).unwrap();
    bytes.clone()
}

/// The key of something sealed to the repository key `public` with the
/// ephemeral secret `ephemeral` (SPEC.md §4.5), derived here step by step.
fn pack_key_of(ephemeral: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    let secret = x25519_dalek::StaticSecret::from(*ephemeral);
    let capsule = x25519_dalek::PublicKey::from(&secret);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    let material = [shared.as_bytes().as_slice(), capsule.as_bytes(), public].concat();
    blake3::derive_key(SEALED_CONTEXT, &material)
}

fn snapshot_id_of(files: &[(&'static str, Vec<u8>)]) -> [u8; 32] {
    let (_, id) = files.iter().find(|(n, _)| *n == "snapshot-id").unwrap();
    id.as_slice().try_into().unwrap()
}

fn vector_heartbeat(snapshot: &[u8; 32]) -> Heartbeat {
    Heartbeat {
        kind: HeartbeatKind::Backup,
        hostname: "vectorhost".to_owned(),
        source: "db".to_owned(),
        time: ts(1_700_000_300, 0),
        duration_ms: 1500,
        bytes: 1056,
        files: 1,
        errors: 0,
        snapshot: Some(*snapshot),
        history: vec![1000, 990],
    }
}

fn vector_deletion(pack_id: PackId) -> Deletion {
    Deletion {
        time: ts(1_700_000_200, 0),
        packs: vec![pack_id],
        snapshots: vec![SnapshotId(Id([0x33; 32]))],
        sessions: vec![[0x44; 16]],
    }
}

fn ts(secs: i64, nanos: u32) -> Timestamp {
    Timestamp { secs, nanos }
}

fn vector_tree(data: &[u8], data_id: BlobId, empty_tree_id: BlobId) -> Tree {
    let mut file = Node::new(b"fox.txt".to_vec(), NodeKind::File);
    file.mode = 0o644;
    file.uid = 1000;
    file.gid = 1000;
    file.user = "alice".to_owned();
    file.group = "alice".to_owned();
    file.mtime = ts(1_700_000_000, 123_456_789);
    file.atime = ts(1_700_000_001, 0);
    file.ctime = ts(1_700_000_000, 123_456_789);
    file.size = data.len() as u64;
    file.inode = 1_234_567;
    file.device_id = 2049;
    file.links = 1;
    file.content = vec![data_id];
    file.xattrs = vec![ExtendedAttribute {
        name: b"user.note".to_vec(),
        value: b"golden".to_vec(),
    }];

    let mut link = Node::new(b"link".to_vec(), NodeKind::Symlink);
    link.mode = 0o777;
    link.uid = 1000;
    link.gid = 1000;
    link.user = "alice".to_owned();
    link.group = "alice".to_owned();
    link.mtime = ts(1_700_000_000, 0);
    link.atime = ts(1_700_000_000, 0);
    link.ctime = ts(1_700_000_000, 0);
    link.size = 7;
    link.inode = 1_234_568;
    link.device_id = 2049;
    link.links = 1;
    link.link_target = b"fox.txt".to_vec();

    let mut dir = Node::new(b"sub".to_vec(), NodeKind::Dir);
    dir.mode = 0o755;
    dir.uid = 1000;
    dir.gid = 1000;
    dir.user = "alice".to_owned();
    dir.group = "alice".to_owned();
    dir.mtime = ts(-1, 999_999_999);
    dir.atime = ts(0, 0);
    dir.ctime = ts(1_700_000_000, 0);
    dir.size = 4096;
    dir.inode = 1_234_569;
    dir.device_id = 2049;
    dir.links = 2;
    dir.subtree = Some(empty_tree_id);

    Tree {
        nodes: vec![file, link, dir],
    }
}

fn vector_snapshot(data: &[u8], tree_id: BlobId, blob_region: u64) -> Snapshot {
    Snapshot {
        time: ts(1_700_000_100, 5),
        utc_offset: 3600,
        tree: tree_id,
        paths: vec!["/home/alice".to_owned()],
        hostname: "vectorhost".to_owned(),
        username: "alice".to_owned(),
        uid: 1000,
        gid: 1000,
        tags: vec!["daily".to_owned(), "golden".to_owned()],
        parent: Some(SnapshotId(Id([0x11; 32]))),
        excludes: vec!["*.tmp".to_owned()],
        command: None,
        original: None,
        program_version: "vault 0.1.0".to_owned(),
        summary: Some(SnapshotSummary {
            backup_start: ts(1_700_000_000, 0),
            backup_end: ts(1_700_000_100, 5),
            files_new: 1,
            files_changed: 0,
            files_unmodified: 0,
            dirs_new: 2,
            dirs_changed: 0,
            dirs_unmodified: 0,
            data_blobs: 1,
            tree_blobs: 2,
            data_added: data.len() as u64,
            data_added_packed: blob_region,
            total_files_processed: 2,
            total_bytes_processed: data.len() as u64 + 7,
        }),
    }
}

fn vector_lock() -> Lock {
    Lock {
        kind: LockKind::Maintenance,
        session: std::array::from_fn(|i| 0x30 + i as u8),
        created: ts(1_700_000_200, 0),
        refreshed: ts(1_700_000_500, 7),
        hostname: "vectorhost".to_owned(),
        username: "alice".to_owned(),
        uid: 1000,
        pid: 4242,
        command: "prune".to_owned(),
    }
}

// ---- hex files and SPEC.md blocks ----------------------------------------

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
}

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("SPEC.md")
}

fn updating() -> bool {
    std::env::var_os("VAULT_UPDATE_VECTORS").is_some_and(|v| v == "1")
}

/// Lower-case hex, 32 bytes (64 digits) a line, each line ending in `\n`.
fn hex_lines(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.chunks(32) {
        out.push_str(&hex::encode(line));
        out.push('\n');
    }
    out
}

fn parse_hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(digits).expect("vector file is not hex")
}

fn read_vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    parse_hex(&text)
}

/// Vectors up to this size are quoted in SPEC.md in full.
const SPEC_FULL_QUOTE_MAX: usize = 256;
/// Longer vectors are quoted by their first and last this many bytes.
const SPEC_EDGE_LEN: usize = 64;

/// The body of SPEC.md's fenced block for one vector.
fn spec_block(bytes: &[u8]) -> String {
    if bytes.len() <= SPEC_FULL_QUOTE_MAX {
        return hex_lines(bytes);
    }
    let head = &bytes[..SPEC_EDGE_LEN];
    let tail = &bytes[bytes.len() - SPEC_EDGE_LEN..];
    format!(
        "length {}\nfirst {SPEC_EDGE_LEN} bytes:\n{}...\nlast {SPEC_EDGE_LEN} bytes:\n{}blake3 {}\n",
        bytes.len(),
        hex_lines(head),
        hex_lines(tail),
        blake3::hash(bytes).to_hex()
    )
}

/// The fenced blocks of SPEC.md tagged `hex <name>.hex`: (name, body).
fn spec_blocks(spec: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = spec.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```hex ") else {
            continue;
        };
        let name = name.trim().trim_end_matches(".hex").to_owned();
        let mut body = String::new();
        for inner in lines.by_ref() {
            if inner.starts_with("```") {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        blocks.push((name, body));
    }
    blocks
}

/// Replace the body of every `hex <name>.hex` block with `render(name)`.
fn rewrite_spec_blocks(spec: &str, render: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut lines = spec.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(name) = line.strip_prefix("```hex ") else {
            continue;
        };
        let name = name.trim().trim_end_matches(".hex");
        let mut old = String::new();
        let mut closing = None;
        for inner in lines.by_ref() {
            if inner.starts_with("```") {
                closing = Some(inner);
                break;
            }
            old.push_str(inner);
            old.push('\n');
        }
        out.push_str(&render(name).unwrap_or(old));
        if let Some(closing) = closing {
            out.push_str(closing);
            out.push('\n');
        }
    }
    out
}

// ---- the tests -------------------------------------------------------------

#[test]
fn vectors_built_from_fixed_inputs_match_committed_files() {
    let vectors = build();
    if updating() {
        std::fs::create_dir_all(vectors_dir()).unwrap();
        for (name, bytes) in &vectors.files {
            std::fs::write(vectors_dir().join(format!("{name}.hex")), hex_lines(bytes)).unwrap();
        }
    }
    for (name, bytes) in &vectors.files {
        let committed = read_vector(name);
        assert!(
            committed == *bytes,
            "vector {name}.hex differs from the bytes built now:\n committed {}\n built     {}\n\
             (a format change needs a SPEC.md edit, a version-history entry and \
             VAULT_UPDATE_VECTORS=1)",
            hex::encode(&committed),
            hex::encode(bytes)
        );
    }
}

#[test]
fn vector_directory_holds_only_known_files() {
    let vectors = build();
    let known: Vec<String> = vectors
        .files
        .iter()
        .map(|(n, _)| format!("{n}.hex"))
        .collect();
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(known.contains(&name), "stray file tests/vectors/{name}");
    }
}

#[test]
fn spec_quoted_vectors_match_files() {
    let vectors = build();
    let path = spec_path();
    if updating() {
        let spec = std::fs::read_to_string(&path).unwrap();
        let lookup = |name: &str| {
            vectors
                .files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| spec_block(bytes))
        };
        std::fs::write(&path, rewrite_spec_blocks(&spec, lookup)).unwrap();
    }
    let spec = std::fs::read_to_string(&path).unwrap();
    let blocks = spec_blocks(&spec);
    for (name, body) in &blocks {
        assert!(
            vectors.files.iter().any(|(n, _)| n == name),
            "SPEC.md quotes {name}.hex, which is not a vector"
        );
        let expected = spec_block(&read_vector(name));
        assert_eq!(
            *body, expected,
            "SPEC.md's quote of {name}.hex drifted from the file"
        );
    }
    for (name, _) in &vectors.files {
        let count = blocks.iter().filter(|(n, _)| n == name).count();
        assert_eq!(
            count, 1,
            "SPEC.md must quote {name}.hex exactly once, found {count}"
        );
    }
}

#[test]
fn key_vector_decodes_and_opens_with_the_password() {
    let v = build();
    let bytes = read_vector("key-file");
    assert_eq!(&bytes[..9], b"VAULTKEY\x01");
    let key_file = KeyFile::decode(&bytes).unwrap();
    assert_eq!(key_file, v.key_file);
    assert_eq!(
        KeyId(Id::hash(&bytes)).as_bytes().to_vec(),
        read_vector("key-id")
    );
    assert_eq!(key_file.sealed_master_key.len(), 24 + 73 + 16);
    assert_eq!(&key_file.sealed_master_key[..24], &nonce(0x01));
    let Ok(OpenedKey::Full(master)) = key_file.open(PASSWORD) else {
        panic!("the vector's key file is a full key");
    };
    assert_eq!(master, v.master);
    assert_eq!(master.encode().to_vec(), read_vector("master-key"));
    assert_eq!(
        MasterKey::decode(&read_vector("master-key")).unwrap(),
        v.master
    );
    assert_eq!(master.chunker_seed, 0x8786_8584_8382_8180);
    assert_eq!(
        VECTOR_KDF.derive(PASSWORD, &salt()).unwrap().to_vec(),
        read_vector("kek")
    );
    assert!(matches!(
        key_file.open(b"Tr0ub4dor&3"),
        Err(repo_format::FormatError::AuthenticationFailed { .. })
    ));
}

#[test]
fn config_vector_decodes_to_the_config() {
    let v = build();
    let payload = read_vector("config-payload");
    assert_eq!(Config::decode(&payload).unwrap(), v.config);
    let opened = v
        .master
        .open_object(ObjectKind::Config, &read_vector("config-sealed"))
        .unwrap();
    assert_eq!(opened, payload);
}

#[test]
fn data_blob_vectors_open_to_the_text() {
    let v = build();
    let id = BlobId(Id(read_vector("data-blob-id").try_into().unwrap()));
    assert_eq!(id, v.data_id);
    assert_eq!(id, v.master.blob_id(&v.data));
    for (name, flag) in [("data-blob-zstd", FLAG_ZSTD), ("data-blob-raw", FLAG_RAW)] {
        let sealed = read_vector(name);
        let plain = v
            .master
            .open_blob(BlobKind::Data, &id, &sealed, v.data.len())
            .unwrap();
        assert_eq!(plain, v.data, "{name}");
        // Look inside the envelope at the compression flag.
        let aad = [b"vault blob\0".as_slice(), &[0], id.as_bytes()].concat();
        let framed = repo_format::crypto::open(&v.master.data_key, &aad, &sealed, "blob").unwrap();
        assert_eq!(framed[0], flag, "{name}");
    }
}

#[test]
fn tree_vector_decodes_to_the_tree() {
    let v = build();
    let plain = read_vector("tree-plain");
    assert_eq!(Tree::decode(&plain).unwrap(), v.tree);
    let id = BlobId(Id(read_vector("tree-blob-id").try_into().unwrap()));
    assert_eq!(id, v.tree_id);
    let opened = v
        .master
        .open_blob(BlobKind::Tree, &id, &read_vector("tree-blob"), plain.len())
        .unwrap();
    assert_eq!(opened, plain);
    let empty = BlobId(Id(read_vector("empty-tree-blob-id").try_into().unwrap()));
    assert_eq!(v.tree.nodes[2].subtree, Some(empty));
    assert_eq!(empty, v.master.blob_id(&[1, 0]));
}

#[test]
fn pack_vector_reads_back_as_a_reader_would() {
    let v = build();
    let pack_bytes = read_vector("pack");
    assert_eq!(Id::hash(&pack_bytes).0.to_vec(), read_vector("pack-id"));
    let size = pack_bytes.len() as u64;
    let trailer = &pack_bytes[pack_bytes.len() - 4..];
    let (range, blobs_len) = pack::header_range(size, trailer).unwrap();
    let sealed_header = &pack_bytes[range.start as usize..range.end as usize];
    let payload = v
        .master
        .open_object(ObjectKind::PackHeader, sealed_header)
        .unwrap();
    assert_eq!(payload, read_vector("pack-header-payload"));
    let entries = pack::decode_header(&payload, blobs_len).unwrap();
    assert_eq!(entries, v.entries);
    let expected = [read_vector("data-blob-zstd"), read_vector("tree-blob")];
    for (entry, stored) in entries.iter().zip(expected) {
        let sealed = &pack_bytes[entry.offset as usize..entry.end() as usize];
        assert_eq!(sealed, stored.as_slice());
        let plain = v
            .master
            .open_blob(entry.kind, &entry.id, sealed, entry.raw_length as usize)
            .unwrap();
        assert_eq!(plain.len(), entry.raw_length as usize);
    }
}

#[test]
fn index_vector_decodes_to_the_index() {
    let v = build();
    let payload = read_vector("index-payload");
    assert_eq!(IndexFile::decode(FORMAT_1, &payload).unwrap(), v.index);
    let sealed = read_vector("index-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("index-id"));
    assert_eq!(
        v.master.open_object(ObjectKind::Index, &sealed).unwrap(),
        payload
    );
    assert_eq!(
        v.index.packs[0].id.as_bytes().to_vec(),
        read_vector("pack-id")
    );
}

#[test]
fn snapshot_vector_decodes_to_the_snapshot() {
    let v = build();
    let payload = read_vector("snapshot-payload");
    assert_eq!(Snapshot::decode(&payload).unwrap(), v.snapshot);
    let sealed = read_vector("snapshot-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("snapshot-id"));
    assert_eq!(
        v.master.open_object(ObjectKind::Snapshot, &sealed).unwrap(),
        payload
    );
}

#[test]
fn deletion_vector_decodes_to_the_notice() {
    let v = build();
    let payload = read_vector("deletion-payload");
    assert_eq!(Deletion::decode(&payload).unwrap(), v.deletion);
    let sealed = read_vector("deletion-sealed");
    assert_eq!(
        v.master.open_object(ObjectKind::Deletion, &sealed).unwrap(),
        payload
    );
}

#[test]
fn lock_vector_decodes_to_the_lock() {
    let v = build();
    let payload = read_vector("lock-payload");
    assert_eq!(Lock::decode(&payload).unwrap(), v.lock);
    assert_eq!(payload[0], LockKind::Maintenance as u8);
    let sealed = read_vector("lock-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("lock-id"));
    assert_eq!(
        v.master.open_object(ObjectKind::Lock, &sealed).unwrap(),
        payload
    );
}

#[test]
fn ledger_vector_decodes_to_the_ledger() {
    let v = build();
    let payload = read_vector("ledger-payload");
    assert_eq!(Ledger::decode(&payload).unwrap(), v.ledger);
    let sealed = read_vector("ledger-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("ledger-id"));
    assert_eq!(
        v.master.open_object(ObjectKind::Ledger, &sealed).unwrap(),
        payload
    );
    assert_eq!(
        v.ledger.entries[1].pack.as_bytes().to_vec(),
        read_vector("pack-id")
    );
}

#[test]
fn heartbeat_vector_opens_with_the_verifying_key_only() {
    let v = build();
    let bytes = read_vector("heartbeat");
    assert_eq!(&bytes[..8], b"vaulthb1");
    let key = HeartbeatVerifyingKey::from_hex(&hex::encode(read_vector("heartbeat-verifying-key")))
        .unwrap();
    assert_eq!(Heartbeat::open(&bytes, &key).unwrap(), v.heartbeat);
    assert_eq!(
        String::from_utf8(read_vector("heartbeat-name")).unwrap(),
        v.heartbeat.path()
    );
    let other = HeartbeatSigningKey::of(&MasterKey::from_random(&[0x41; 72])).verifying_key();
    assert!(Heartbeat::open(&bytes, &other).is_err());
}

#[test]
fn sealed_object_vectors_refuse_another_kind() {
    let v = build();
    for (name, kind, wrong) in [
        ("config-sealed", ObjectKind::Config, ObjectKind::Snapshot),
        ("index-sealed", ObjectKind::Index, ObjectKind::Snapshot),
        ("snapshot-sealed", ObjectKind::Snapshot, ObjectKind::Index),
        ("deletion-sealed", ObjectKind::Deletion, ObjectKind::Lock),
        ("lock-sealed", ObjectKind::Lock, ObjectKind::Snapshot),
        ("ledger-sealed", ObjectKind::Ledger, ObjectKind::Snapshot),
    ] {
        let sealed = read_vector(name);
        assert!(v.master.open_object(kind, &sealed).is_ok(), "{name}");
        assert!(v.master.open_object(wrong, &sealed).is_err(), "{name}");
    }
}

// ---- format 2 ----------------------------------------------------------------

fn id32(name: &str) -> [u8; 32] {
    read_vector(name).try_into().unwrap()
}

fn object_aad(kind: ObjectKind) -> Vec<u8> {
    [b"vault object\0".as_slice(), &[kind as u8]].concat()
}

#[test]
fn format_2_keys_derive_from_the_master_key() {
    let v = build();
    let keys = &v.f2.keyring;
    assert_eq!(keys.format(), FORMAT_2);
    assert!(keys.is_full());
    // The private key's X25519 public key is the repository's.
    let private = x25519_dalek::StaticSecret::from(id32("f2-private-key"));
    let public = *x25519_dalek::PublicKey::from(&private).as_bytes();
    assert_eq!(public, id32("f2-public-key"));
    assert_eq!(keys.public_key(), public);
    assert_eq!(v.f2.put_only.public_key, public);
    // The metadata key is what a put-only key holds, not the data key.
    assert_eq!(v.f2.put_only.metadata_key, id32("f2-metadata-key"));
    assert_ne!(id32("f2-metadata-key"), v.master.data_key);
    // The heartbeat seed is format 1's signing key's.
    assert_eq!(v.f2.put_only.heartbeat_seed, id32("f2-heartbeat-seed"));
    assert_eq!(
        HeartbeatSigningKey::from_seed(&id32("f2-heartbeat-seed"))
            .verifying_key()
            .to_bytes()
            .to_vec(),
        read_vector("heartbeat-verifying-key")
    );
    // The gear table: BLAKE3's XOF keyed with derive_key(ctx, id key ‖
    // seed LE), 2048 bytes, entry i the u64 LE at byte 8·i.
    let table = read_vector("f2-gear-table");
    assert_eq!(table.len(), 2048);
    let gear_key = blake3::derive_key(
        GEAR_CONTEXT,
        &[
            v.master.id_key.as_slice(),
            &v.master.chunker_seed.to_le_bytes(),
        ]
        .concat(),
    );
    let mut xof = vec![0u8; 2048];
    blake3::Hasher::new_keyed(&gear_key)
        .finalize_xof()
        .fill(&mut xof);
    assert_eq!(xof, table);
    let gear = keys.gear().unwrap();
    for (i, entry) in table.chunks_exact(8).enumerate() {
        let entry = u64::from_le_bytes(entry.try_into().unwrap());
        assert_eq!(gear.gear[i], entry);
        assert_eq!(gear.gear_ls[i], entry << 1);
    }
    assert_eq!(
        gear.gear,
        repo_format::keyring::gear_tables(&v.master.id_key, v.master.chunker_seed).gear
    );
    // Format 1 has none of these: its metadata key is the data key.
    let f1 = Keyring::full(&v.master, FORMAT_1);
    assert!(f1.gear().is_none());
    assert!(f1.put_only_key(&v.f2.config, record_secret()).is_err());
}

#[test]
fn put_only_key_vector_decodes_and_opens_with_the_password() {
    let v = build();
    let encoding = read_vector("f2-put-only-key");
    let key = PutOnlyKey::decode(&encoding).unwrap();
    assert_eq!(key, v.f2.put_only);
    assert_eq!(key.version, 1);
    assert_eq!(key.id_key, v.master.id_key);
    assert_eq!(key.chunker_seed, v.master.chunker_seed);
    assert_eq!(key.record_secret, record_secret());
    assert_eq!(key.config, v.f2.config);
    assert_eq!(key.encode().to_vec(), encoding);

    let bytes = read_vector("f2-put-only-key-file");
    assert_eq!(&bytes[..9], b"VAULTKEY\x02");
    assert_eq!(
        Id::hash(&bytes).0.to_vec(),
        read_vector("f2-put-only-key-id")
    );
    let file = KeyFile::decode(&bytes).unwrap();
    assert_eq!(file, v.f2.put_only_file);
    assert_eq!(file.kind, repo_format::key::KeyKind::PutOnly);
    assert_eq!(file.encode(), bytes);
    assert_eq!(file.sealed_master_key.len(), 24 + encoding.len() + 16);
    assert_eq!(&file.sealed_master_key[..24], &nonce(0x10));
    // The same KEK as the full key file (same password, salt and KDF),
    // under the put-only associated data.
    let kek: [u8; 32] = id32("kek");
    let inside = repo_format::crypto::open(
        &kek,
        b"vault put-only key\0",
        &file.sealed_master_key,
        "put-only key",
    )
    .unwrap();
    assert_eq!(inside, encoding);
    let Ok(OpenedKey::PutOnly(opened)) = file.open(PASSWORD) else {
        panic!("the put-only key file opens to a put-only key");
    };
    assert_eq!(opened, v.f2.put_only);
    assert!(matches!(
        file.open(b"Tr0ub4dor&3"),
        Err(repo_format::FormatError::AuthenticationFailed { .. })
    ));
    // The kind byte is bound: read as a full key file, it does not open.
    let mut as_full = bytes.clone();
    as_full[8] = 1;
    let as_full = KeyFile::decode(&as_full).unwrap();
    assert!(matches!(
        as_full.open(PASSWORD),
        Err(repo_format::FormatError::AuthenticationFailed { .. })
    ));
}

#[test]
fn format_2_config_vector_is_sealed_with_the_data_key() {
    let v = build();
    let payload = read_vector("f2-config-payload");
    assert_eq!(Config::decode(&payload).unwrap(), v.f2.config);
    assert_eq!(payload[0], 2);
    assert_eq!(payload[1..], read_vector("config-payload")[1..]);
    let sealed = read_vector("f2-config-sealed");
    assert_eq!(
        v.f2.keyring
            .open_object(ObjectKind::Config, &sealed)
            .unwrap(),
        payload
    );
    assert_eq!(
        v.master.open_object(ObjectKind::Config, &sealed).unwrap(),
        payload
    );
    let put = Keyring::put_only(&v.f2.put_only);
    assert_eq!(
        put.open_object(ObjectKind::Config, &sealed),
        Err(repo_format::FormatError::NeedsFullKey { what: "config" })
    );
}

#[test]
fn format_2_snapshot_vector_opens_with_the_private_key_only() {
    let v = build();
    let sealed = read_vector("f2-snapshot-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("f2-snapshot-id"));
    let payload = read_vector("snapshot-payload");
    assert_eq!(
        v.f2.keyring
            .open_object(ObjectKind::Snapshot, &sealed)
            .unwrap(),
        payload
    );
    // capsule ‖ envelope under the key agreed with the ephemeral secret.
    let capsule = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(ephemeral(0xe1)));
    assert_eq!(&sealed[..32], capsule.as_bytes());
    let key = pack_key_of(&ephemeral(0xe1), &id32("f2-public-key"));
    let plain = repo_format::crypto::open(
        &key,
        &object_aad(ObjectKind::Snapshot),
        &sealed[32..],
        "snapshot",
    )
    .unwrap();
    assert_eq!(plain[0], 1);
    assert_eq!(&sealed[32..56], &nonce(0x12));
    // A put-only key wrote it and cannot read it; nor can format 1's reading.
    let put = Keyring::put_only(&v.f2.put_only);
    assert_eq!(
        put.open_object(ObjectKind::Snapshot, &sealed),
        Err(repo_format::FormatError::NeedsFullKey { what: "snapshot" })
    );
    assert!(v.master.open_object(ObjectKind::Snapshot, &sealed).is_err());
    assert!(
        v.master
            .open_object(ObjectKind::Snapshot, &sealed[32..])
            .is_err()
    );
}

#[test]
fn format_2_pack_vector_reads_back_from_its_capsule() {
    let v = build();
    let pack_bytes = read_vector("f2-pack");
    assert_eq!(Id::hash(&pack_bytes).0.to_vec(), read_vector("f2-pack-id"));
    let size = pack_bytes.len() as u64;
    let tail = pack_bytes.len() - pack::trailer_len(FORMAT_2);
    assert_eq!(pack::trailer_len(FORMAT_2), 36);
    let trailer = pack::parse_trailer(FORMAT_2, size, &pack_bytes[tail..]).unwrap();
    let capsule = trailer.capsule.unwrap();
    assert_eq!(capsule.to_vec(), read_vector("f2-pack-capsule"));
    assert_eq!(v.f2.index.packs[0].capsule, Some(capsule));
    let sealed_header = &pack_bytes[trailer.header.start as usize..trailer.header.end as usize];
    assert_eq!(
        sealed_header,
        read_vector("f2-pack-header-sealed").as_slice()
    );
    let key = v.f2.keyring.pack_key(Some(&capsule)).unwrap();
    let payload = key.open_header(sealed_header).unwrap();
    assert_eq!(payload, read_vector("pack-header-payload"));
    let entries = pack::decode_header(&payload, trailer.blobs_len).unwrap();
    assert_eq!(entries, v.f2.index.packs[0].blobs);
    // The pack key, derived step by step, opens the header as object kind 4.
    let pack_key = id32("f2-pack-key");
    assert_eq!(
        pack_key,
        pack_key_of(&ephemeral(0xe2), &id32("f2-public-key"))
    );
    assert!(
        repo_format::crypto::open(
            &pack_key,
            &object_aad(ObjectKind::PackHeader),
            sealed_header,
            "pack header"
        )
        .is_ok()
    );
    let expected = [
        (read_vector("f2-data-blob"), data_text()),
        (read_vector("f2-tree-blob"), read_vector("tree-plain")),
    ];
    for (entry, (stored, plain)) in entries.iter().zip(expected) {
        let sealed = &pack_bytes[entry.offset as usize..entry.end() as usize];
        assert_eq!(sealed, stored.as_slice());
        let opened = key
            .open_blob(entry.kind, &entry.id, sealed, entry.raw_length as usize)
            .unwrap();
        assert_eq!(opened, plain);
        let aad = [
            b"vault blob\0".as_slice(),
            &[entry.kind.as_u8()],
            entry.id.as_bytes(),
        ]
        .concat();
        assert!(repo_format::crypto::open(&pack_key, &aad, sealed, "blob").is_ok());
        // Not with the data key (format 1's pack key).
        assert!(
            v.master
                .open_blob(entry.kind, &entry.id, sealed, entry.raw_length as usize)
                .is_err()
        );
    }
    // Same blob sizes as format 1's pack, so the same header payload; the
    // pack is 32 bytes longer (the capsule in the trailer).
    assert_eq!(pack_bytes.len(), read_vector("pack").len() + 32);
    // A put-only key cannot derive the pack key again.
    let put = Keyring::put_only(&v.f2.put_only);
    assert!(put.pack_key(Some(&capsule)).is_err());
}

#[test]
fn format_2_index_vector_carries_the_capsule_under_the_metadata_key() {
    let v = build();
    let payload = read_vector("f2-index-payload");
    assert_eq!(IndexFile::decode(FORMAT_2, &payload).unwrap(), v.f2.index);
    assert_eq!(v.f2.index.encode(FORMAT_2), payload);
    // Format 1's payload is format 2's without the capsule.
    let mut without = v.f2.index.clone();
    without.packs[0].capsule = None;
    assert_eq!(
        payload.len(),
        without.encode(FORMAT_1).len() + 32,
        "one capsule per pack"
    );
    assert_eq!(
        v.f2.index.packs[0].id.as_bytes().to_vec(),
        read_vector("f2-pack-id")
    );
    let sealed = read_vector("f2-index-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("f2-index-id"));
    assert_eq!(
        v.f2.keyring
            .open_object(ObjectKind::Index, &sealed)
            .unwrap(),
        payload
    );
    let put = Keyring::put_only(&v.f2.put_only);
    assert_eq!(
        put.open_object(ObjectKind::Index, &sealed).unwrap(),
        payload
    );
    let plain = repo_format::crypto::open(
        &id32("f2-metadata-key"),
        &object_aad(ObjectKind::Index),
        &sealed,
        "index",
    )
    .unwrap();
    assert_eq!(plain[0], 1);
    assert!(v.master.open_object(ObjectKind::Index, &sealed).is_err());
}

#[test]
fn format_2_lock_vector_is_sealed_with_the_metadata_key() {
    let v = build();
    let sealed = read_vector("f2-lock-sealed");
    assert_eq!(Id::hash(&sealed).0.to_vec(), read_vector("f2-lock-id"));
    let payload = read_vector("lock-payload");
    assert_eq!(
        v.f2.keyring.open_object(ObjectKind::Lock, &sealed).unwrap(),
        payload
    );
    let put = Keyring::put_only(&v.f2.put_only);
    assert_eq!(put.open_object(ObjectKind::Lock, &sealed).unwrap(), payload);
    assert!(
        repo_format::crypto::open(
            &id32("f2-metadata-key"),
            &object_aad(ObjectKind::Lock),
            &sealed,
            "lock"
        )
        .is_ok()
    );
    assert!(v.master.open_object(ObjectKind::Lock, &sealed).is_err());
}

#[test]
fn record_vectors_open_under_the_record_key() {
    let v = build();
    let put = Keyring::put_only(&v.f2.put_only);
    let key = put.record_key(&record_salt()).unwrap();
    assert_eq!(key.to_vec(), read_vector("f2-record-key"));
    assert_eq!(
        *key,
        blake3::derive_key(
            RECORD_CONTEXT,
            &[record_secret().as_slice(), &record_salt()].concat()
        )
    );
    assert!(v.f2.keyring.record_key(&record_salt()).is_none());
    let tree_id = BlobId(Id(id32("tree-blob-id")));
    let tree = record::open_tree(&key, &tree_id, &read_vector("f2-record-tree")).unwrap();
    assert_eq!(tree, read_vector("tree-plain"));
    record::check_tree_id(&v.master.id_key, &tree_id, &tree).unwrap();
    let empty = BlobId(Id(id32("empty-tree-blob-id")));
    assert!(record::open_tree(&key, &empty, &read_vector("f2-record-tree")).is_err());

    let name = Id(id32("f2-record-head-name"));
    assert_eq!(name, v.f2.record_head_name);
    assert_eq!(
        name,
        record::head_name(
            &Id(id32("f2-put-only-key-id")),
            "vectorhost",
            &["/home/alice".to_owned()]
        )
    );
    let head = RecordHead::open(&key, &name, &read_vector("f2-record-head")).unwrap();
    assert_eq!(head, v.f2.record_head);
    assert_eq!(head.snapshot.0.0.to_vec(), read_vector("f2-snapshot-id"));
    assert_eq!(head.tree, tree_id);
    assert!(RecordHead::open(&key, &Id([0; 32]), &read_vector("f2-record-head")).is_err());
    let other = put.record_key(&[0; 32]).unwrap();
    assert!(RecordHead::open(&other, &name, &read_vector("f2-record-head")).is_err());
    // The record file: the tree where the head says, then the head.
    let file = read_vector("f2-record-file");
    let trailer: [u8; 4] = file[file.len() - 4..].try_into().unwrap();
    let range = record::head_range(file.len() as u64, trailer).unwrap();
    let head =
        RecordHead::open(&key, &name, &file[range.start as usize..range.end as usize]).unwrap();
    let entry = head.trees[0];
    let sealed = &file[entry.offset as usize..entry.offset as usize + entry.length as usize];
    assert_eq!(record::open_tree(&key, &entry.id, sealed).unwrap(), tree);
}

#[test]
fn format_2_sealed_object_vectors_refuse_another_kind() {
    let v = build();
    for (name, kind, wrong) in [
        ("f2-config-sealed", ObjectKind::Config, ObjectKind::Ledger),
        ("f2-index-sealed", ObjectKind::Index, ObjectKind::Lock),
        ("f2-lock-sealed", ObjectKind::Lock, ObjectKind::Index),
        (
            "f2-snapshot-sealed",
            ObjectKind::Snapshot,
            ObjectKind::PackHeader,
        ),
    ] {
        let sealed = read_vector(name);
        assert!(v.f2.keyring.open_object(kind, &sealed).is_ok(), "{name}");
        assert!(v.f2.keyring.open_object(wrong, &sealed).is_err(), "{name}");
    }
}
