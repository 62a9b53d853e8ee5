//! Golden vectors: every object kind built from fixed inputs (SPEC.md §12).
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
use repo_format::config::{ChunkerParams, Config, FORMAT_VERSION};
use repo_format::crypto::{BlobKind, MasterKey, ObjectKind};
use repo_format::deletion::Deletion;
use repo_format::heartbeat::{
    Heartbeat, HeartbeatKind, HeartbeatSigningKey, HeartbeatVerifyingKey,
};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::key::{KDF_ARGON2ID, KdfParams, KeyFile};
use repo_format::ledger::{Ledger, LedgerEntry};
use repo_format::lock::{Lock, LockKind};
use repo_format::pack::{self, PackEntry};
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
    /// (file name without `.hex`, bytes), in SPEC order.
    files: Vec<(&'static str, Vec<u8>)>,
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
        version: FORMAT_VERSION,
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
            blobs: entries.clone(),
        }],
    };
    let index_payload = index.encode();
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
        files,
    }
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
    let master = key_file.open(PASSWORD).unwrap();
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
    assert_eq!(IndexFile::decode(&payload).unwrap(), v.index);
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
