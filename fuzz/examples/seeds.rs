//! Writes the seed corpora in `fuzz/seeds/<target>/` from the golden
//! vectors and, when given one, from a real repository made by the `vault`
//! binary (see `seed-corpus.sh`, which makes it and runs this):
//!
//! ```text
//! cargo run --release --example seeds -- OUT_DIR VECTORS_DIR [REPO PASSWORD]
//! ```
//!
//! Objects of a real repository are sealed under its own key, so for the
//! targets that decode payloads this opens them with the password and
//! writes the plaintext; for the targets that decrypt, it re-seals them
//! under the fuzzers' fixed key (packs are rebuilt blob by blob; the `pack`
//! target takes a pack's plaintext, `vault_fuzz::PackInput`).

use engine::repository::pack_reader::BlobRef;
use engine::{Backend, Repository};
use repo_format::codec;
use repo_format::compress::{self, AUTO_LEVEL};
use repo_format::crypto::{BlobKind, ObjectKind};
use repo_format::keyring::{FORMAT_1, FORMAT_2};
use repo_format::layout::{FileKind, ObjectName};
use repo_format::pack::{self, PackEntry};
use repo_format::{BlobId, Id};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vault_fuzz::{
    BlobInput, HeaderMode, NONCE, OBJECT_KINDS, PackInput, PackSealer, key, keyring,
    put_only_keyring, record_salt,
};

/// Seeds larger than this are left out: a seed corpus is committed.
const MAX_SEED: usize = 4096;
/// At most this many seeds per target from the repository.
const MAX_PER_TARGET: usize = 6;

struct Seeds {
    out: PathBuf,
    counts: BTreeMap<&'static str, usize>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, name: &str, bytes: &[u8], limit: usize) {
        let count = self.counts.entry(target).or_default();
        if bytes.len() > limit || *count >= 30 {
            return;
        }
        *count += 1;
        let dir = self.out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn object(&mut self, kind: ObjectKind, name: &str, payload: &[u8]) {
        let selector = OBJECT_KINDS.iter().position(|k| *k == kind).unwrap() as u8;
        for level in [0, AUTO_LEVEL] {
            let mut input = vec![selector, repo_format::crypto::OBJECT_VERSION];
            input.extend_from_slice(&compress::frame(level, payload));
            self.add("object_open", &format!("{name}-{level}"), &input, MAX_SEED);
        }
    }

    /// Seeds of `sealed_object`: the payload framed raw and zstd, as an
    /// object of `kind` sealed as format 2 seals it (the vectors' snapshot
    /// capsule).
    fn sealed_object(&mut self, kind: ObjectKind, name: &str, payload: &[u8]) {
        let selector = OBJECT_KINDS.iter().position(|k| *k == kind).unwrap() as u8;
        for level in [0, AUTO_LEVEL] {
            let mut input = vec![selector, repo_format::crypto::OBJECT_VERSION];
            input.extend_from_slice(&compress::frame(level, payload));
            self.add(
                "sealed_object",
                &format!("{name}-{level}"),
                &input,
                MAX_SEED,
            );
        }
    }

    fn blob(&mut self, kind: BlobKind, name: &str, plain: &[u8]) {
        let id = key().blob_id(plain);
        for level in [0, AUTO_LEVEL] {
            let mut input = vec![kind.as_u8()];
            input.extend_from_slice(&(plain.len() as u32).to_le_bytes());
            input.extend_from_slice(id.as_bytes());
            input.extend_from_slice(&compress::frame(level, plain));
            self.add("blob_open", &format!("{name}-{level}"), &input, MAX_SEED);
        }
    }

    /// Seeds of `pack_trailer` and `pack` from a pack sealed under the
    /// fixed key. `pack` takes the pack's plaintext (`PackInput`): its
    /// blobs framed as the writer frames them, with the header built from
    /// them (`-built`), given as plaintext (`-plaintext`), and given as the
    /// sealed header (`-sealed`).
    fn pack_parts(&mut self, name: &str, pack: &[u8]) {
        let trailer = pack.get(pack.len().saturating_sub(4)..).unwrap_or_default();
        let mut input = (pack.len() as u64).to_le_bytes().to_vec();
        input.extend_from_slice(trailer);
        self.add("pack_trailer", name, &input, MAX_SEED);

        let blobs = open_pack(pack)
            .into_iter()
            .take(vault_fuzz::MAX_BLOBS)
            .map(|(kind, plain)| BlobInput {
                kind,
                verbatim: false,
                id: None,
                raw_length: None,
                bytes: compress::frame(AUTO_LEVEL, &plain),
            })
            .collect();
        let built = PackInput {
            header_mode: HeaderMode::BuiltZstd,
            trailer: None,
            blobs,
            header: Vec::new(),
        };
        let entries = built.build().entries.unwrap();
        let header = pack::encode_header(&entries);
        let mut plaintext = vec![repo_format::crypto::OBJECT_VERSION];
        plaintext.extend_from_slice(&compress::frame(AUTO_LEVEL, &header));
        let given = PackInput {
            header_mode: HeaderMode::Plaintext,
            header: plaintext,
            ..built.clone()
        };
        let sealed = PackInput {
            header_mode: HeaderMode::Verbatim,
            header: key().seal_object(ObjectKind::PackHeader, &header, 0, NONCE),
            ..built.clone()
        };
        for (suffix, input) in [
            ("built", built.clone()),
            ("plaintext", given.clone()),
            ("sealed", sealed),
        ] {
            assert_eq!(PackInput::parse(&input.encode()), input);
            assert_eq!(input.build().blobs.len(), entries.len());
            self.add(
                "pack",
                &format!("{name}-{suffix}"),
                &input.encode(),
                4 * MAX_SEED,
            );
        }
        self.pack_v2(name, &built, &given);
    }

    /// Seeds of `pack_v2` from the `pack` seeds of one pack: format 1
    /// (selector 0), format 2 under the vectors' pack capsule (1), and
    /// format 2 under a given capsule, another key's (3).
    fn pack_v2(&mut self, name: &str, built: &PackInput, given: &PackInput) {
        let other = vault_fuzz::capsule_of(&[0x07; 32]);
        for (prefix, selector, capsule) in [
            ("f1", 0u8, None),
            ("f2", 1, None),
            ("f2-capsule", 3, Some(other)),
        ] {
            let sealer = if selector == 0 {
                PackSealer::format_1()
            } else {
                PackSealer::format_2(capsule)
            };
            for (suffix, input) in [("built", built), ("plaintext", given)] {
                assert!(input.build_with(&sealer).entries.is_some() || suffix == "plaintext");
                let mut seed = vec![selector];
                if let Some(capsule) = &capsule {
                    seed.extend_from_slice(capsule);
                }
                seed.extend_from_slice(&input.encode());
                self.add(
                    "pack_v2",
                    &format!("{name}-{prefix}-{suffix}"),
                    &seed,
                    4 * MAX_SEED,
                );
            }
        }
    }
}

fn hex_file(dir: &Path, name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.hex"))).unwrap();
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// The blobs of a pack sealed under the fixed key: kind and plaintext.
fn open_pack(pack: &[u8]) -> Vec<(BlobKind, Vec<u8>)> {
    open_pack_of(FORMAT_1, pack)
}

/// The blobs of a pack of `format` sealed under the fixed key (in format
/// 2, the key of its capsule).
fn open_pack_of(format: u32, pack: &[u8]) -> Vec<(BlobKind, Vec<u8>)> {
    let tail = pack.len() - pack::trailer_len(format);
    let trailer = pack::parse_trailer(format, pack.len() as u64, &pack[tail..]).unwrap();
    let pack_key = keyring(format).pack_key(trailer.capsule.as_ref()).unwrap();
    let sealed = &pack[trailer.header.start as usize..trailer.header.end as usize];
    let payload = pack_key.open_header(sealed).unwrap();
    pack::decode_header(&payload, trailer.blobs_len)
        .unwrap()
        .iter()
        .map(|e| {
            let sealed = &pack[e.offset as usize..e.end() as usize];
            let plain = pack_key
                .open_blob(e.kind, &e.id, sealed, e.raw_length as usize)
                .unwrap();
            (e.kind, plain)
        })
        .collect()
}

fn header_seed(payload: &[u8]) -> Vec<u8> {
    let entries: Vec<PackEntry> = codec::decode("pack header", payload).unwrap();
    let end = entries.last().map_or(0, PackEntry::end);
    let mut input = end.to_le_bytes().to_vec();
    input.extend_from_slice(payload);
    input
}

fn vectors(seeds: &mut Seeds, dir: &Path) {
    let v = |name| hex_file(dir, name);
    seeds.add("key_file", "vector-key-file", &v("key-file"), MAX_SEED);
    seeds.add("key_file", "vector-master-key", &v("master-key"), MAX_SEED);
    let payloads = [
        ("config", ObjectKind::Config, "config-payload"),
        ("index", ObjectKind::Index, "index-payload"),
        ("snapshot", ObjectKind::Snapshot, "snapshot-payload"),
        ("lock", ObjectKind::Lock, "lock-payload"),
        ("ledger", ObjectKind::Ledger, "ledger-payload"),
        ("deletion", ObjectKind::Deletion, "deletion-payload"),
    ];
    for (target, kind, file) in payloads {
        let payload = v(file);
        seeds.add(target, &format!("vector-{file}"), &payload, MAX_SEED);
        seeds.object(kind, &format!("vector-{file}"), &payload);
    }
    let heartbeat = v("heartbeat");
    let payload = &heartbeat[8..heartbeat.len() - 64];
    seeds.add("heartbeat", "vector-heartbeat-payload", payload, MAX_SEED);
    let header = v("pack-header-payload");
    seeds.add("pack_header", "vector", &header_seed(&header), MAX_SEED);
    seeds.object(ObjectKind::PackHeader, "vector-pack-header", &header);
    seeds.pack_parts("vector", &v("pack"));
    let tree = v("tree-plain");
    seeds.add("tree", "vector", &tree, MAX_SEED);
    seeds.blob(BlobKind::Tree, "vector-tree", &tree);
    let id = BlobId(Id(v("data-blob-id").try_into().unwrap()));
    let data = key()
        .open_blob(BlobKind::Data, &id, &v("data-blob-raw"), 1 << 20)
        .unwrap();
    seeds.blob(BlobKind::Data, "vector-data", &data);
    format_2_vectors(seeds, dir);
}

/// Seeds of the format-2 targets from the golden vectors' `f2-*` files.
fn format_2_vectors(seeds: &mut Seeds, dir: &Path) {
    let v = |name| hex_file(dir, name);
    let with = |mode: u8, bytes: &[u8]| [&[mode][..], bytes].concat();
    // put_only_key: key files (mode 0), the put-only key encoding (mode 1,
    // and 3: also sealed as a full key's file, which must not open).
    seeds.add(
        "put_only_key",
        "vector-put-only-key-file",
        &with(0, &v("f2-put-only-key-file")),
        MAX_SEED,
    );
    seeds.add(
        "put_only_key",
        "vector-key-file",
        &with(0, &v("key-file")),
        MAX_SEED,
    );
    seeds.add(
        "put_only_key",
        "vector-put-only-key",
        &with(1, &v("f2-put-only-key")),
        MAX_SEED,
    );
    seeds.add(
        "put_only_key",
        "vector-put-only-key-kind",
        &with(3, &v("f2-put-only-key")),
        MAX_SEED,
    );

    // sealed_object: every kind's vector payload, and a snapshot under a
    // capsule of low order (all zeros), which must not open.
    let payloads = [
        (ObjectKind::Config, "f2-config-payload"),
        (ObjectKind::Index, "f2-index-payload"),
        (ObjectKind::Snapshot, "snapshot-payload"),
        (ObjectKind::PackHeader, "pack-header-payload"),
        (ObjectKind::Lock, "lock-payload"),
        (ObjectKind::Ledger, "ledger-payload"),
        (ObjectKind::Deletion, "deletion-payload"),
    ];
    for (kind, file) in payloads {
        seeds.sealed_object(kind, &format!("vector-{file}"), &v(file));
    }
    let selector = OBJECT_KINDS
        .iter()
        .position(|k| *k == ObjectKind::Snapshot)
        .unwrap() as u8;
    let mut low_order = vec![selector | 8];
    low_order.extend_from_slice(&[0; 32]);
    low_order.push(repo_format::crypto::OBJECT_VERSION);
    low_order.extend_from_slice(&compress::frame(0, &v("snapshot-payload")));
    seeds.add(
        "sealed_object",
        "vector-snapshot-low-order-capsule",
        &low_order,
        MAX_SEED,
    );

    // index_v2: both formats' vector payloads.
    seeds.add(
        "index_v2",
        "vector-index-payload",
        &with(0, &v("index-payload")),
        MAX_SEED,
    );
    seeds.add(
        "index_v2",
        "vector-f2-index-payload",
        &with(1, &v("f2-index-payload")),
        MAX_SEED,
    );

    // pack_v2: the format-2 vector pack (its blobs; as the `pack` seeds),
    // and under a capsule of low order.
    let blobs: Vec<BlobInput> = open_pack_of(FORMAT_2, &v("f2-pack"))
        .into_iter()
        .map(|(kind, plain)| BlobInput {
            kind,
            verbatim: false,
            id: None,
            raw_length: None,
            bytes: compress::frame(AUTO_LEVEL, &plain),
        })
        .collect();
    let input = PackInput {
        header_mode: HeaderMode::BuiltZstd,
        trailer: None,
        blobs,
        header: Vec::new(),
    };
    // The vector pack again, but for the nonces: the same as the
    // `vector-f2-built` seed that pack_parts writes, so only the one under
    // a capsule of low order is added here.
    let rebuilt = input.build_with(&PackSealer::format_2(None));
    assert_eq!(rebuilt.bytes.len(), v("f2-pack").len());
    let mut seed = vec![3];
    seed.extend_from_slice(&[0; 32]);
    seed.extend_from_slice(&input.encode());
    seeds.add(
        "pack_v2",
        "vector-f2-pack-low-order-capsule",
        &seed,
        4 * MAX_SEED,
    );

    // record: the record tree's frame under its id, the head's payload
    // under its name.
    let record_key = put_only_keyring().record_key(&record_salt()).unwrap();
    let tree_id = v("tree-blob-id");
    let frame = repo_format::crypto::open(
        &record_key,
        &[b"vault record tree\0".as_slice(), &tree_id].concat(),
        &v("f2-record-tree"),
        "record tree",
    )
    .unwrap();
    seeds.add(
        "record",
        "vector-tree",
        &[&[0][..], &tree_id, &frame].concat(),
        MAX_SEED,
    );
    let plain = v("tree-plain");
    let raw = compress::frame(0, &plain);
    seeds.add(
        "record",
        "vector-tree-raw",
        &[&[0][..], &tree_id, &raw].concat(),
        MAX_SEED,
    );
    let name = v("f2-record-head-name");
    let head = repo_format::crypto::open(
        &record_key,
        &[b"vault record head\0".as_slice(), &name].concat(),
        &v("f2-record-head"),
        "record head",
    )
    .unwrap();
    seeds.add(
        "record",
        "vector-head",
        &[&[1][..], &name, &head].concat(),
        MAX_SEED,
    );
    let host_paths = b"vectorhost\0/home/alice";
    seeds.add(
        "record",
        "vector-head-name",
        &[&[1][..], &name, host_paths].concat(),
        MAX_SEED,
    );
}

fn repository(seeds: &mut Seeds, url: &str, password: &str) {
    let repo = Repository::open(Backend::open(url).unwrap(), password.as_bytes()).unwrap();
    let backend = repo.backend();
    for id in repo.list_ids(FileKind::Key).unwrap() {
        let bytes = backend.get(&ObjectName::new(FileKind::Key, id)).unwrap();
        seeds.add(
            "key_file",
            &format!("repo-{}", id.short()),
            &bytes,
            MAX_SEED,
        );
    }
    seeds.add(
        "key_file",
        "repo-master-key",
        &repo.master().unwrap().encode(),
        MAX_SEED,
    );
    let config = repo.config().encode();
    seeds.add("config", "repo", &config, MAX_SEED);
    seeds.object(ObjectKind::Config, "repo-config", &config);
    let kinds = [
        ("index", FileKind::Index, ObjectKind::Index),
        ("snapshot", FileKind::Snapshot, ObjectKind::Snapshot),
        ("lock", FileKind::Lock, ObjectKind::Lock),
        ("ledger", FileKind::Ledger, ObjectKind::Ledger),
        ("deletion", FileKind::Deletion, ObjectKind::Deletion),
    ];
    for (target, file, kind) in kinds {
        for id in repo
            .list_ids(file)
            .unwrap()
            .into_iter()
            .take(MAX_PER_TARGET)
        {
            let payload = repo.load_object(file, kind, &id).unwrap();
            let name = format!("repo-{}", id.short());
            if kind == ObjectKind::Index {
                // The index target reads format 1; index_v2 both.
                let format = repo.config().version;
                let selector = u8::from(format == FORMAT_2);
                let mut input = vec![selector];
                input.extend_from_slice(&payload);
                seeds.add("index_v2", &name, &input, MAX_SEED);
                let index = repo_format::index::IndexFile::decode(format, &payload).unwrap();
                seeds.add(target, &name, &index.encode(FORMAT_1), MAX_SEED);
            } else {
                seeds.add(target, &name, &payload, MAX_SEED);
            }
            seeds.object(kind, &format!("repo-{target}-{}", id.short()), &payload);
            seeds.sealed_object(kind, &format!("repo-{target}-{}", id.short()), &payload);
        }
    }
    for id in repo
        .list_ids(FileKind::Pack)
        .unwrap()
        .into_iter()
        .take(MAX_PER_TARGET)
    {
        let id = repo_format::PackId(id);
        let size = backend
            .size(&ObjectName::new(FileKind::Pack, id.0))
            .unwrap();
        let entries = repo.read_pack_header(&id, size).unwrap();
        // The pack rebuilt under the fixed key: its blobs, header, trailer.
        let mut rebuilt = Vec::new();
        let mut rebuilt_entries = Vec::new();
        for e in &entries {
            let plain = repo
                .pack_reader()
                .read_blob(&id, &BlobRef::from(e))
                .unwrap();
            let name = format!("repo-{}", e.id.short());
            if e.kind == BlobKind::Tree {
                seeds.add("tree", &name, &plain, MAX_SEED);
            }
            seeds.blob(e.kind, &name, &plain);
            let id = key().blob_id(&plain);
            let sealed = key().seal_blob(e.kind, &id, &plain, AUTO_LEVEL, NONCE);
            rebuilt_entries.push(PackEntry {
                kind: e.kind,
                id,
                offset: rebuilt.len() as u32,
                length: sealed.len() as u32,
                raw_length: plain.len() as u32,
            });
            rebuilt.extend_from_slice(&sealed);
        }
        let header = pack::encode_header(&rebuilt_entries);
        seeds.add(
            "pack_header",
            &format!("repo-{}", id.short()),
            &header_seed(&header),
            MAX_SEED,
        );
        seeds.object(
            ObjectKind::PackHeader,
            &format!("repo-pack-{}", id.short()),
            &header,
        );
        let sealed = key().seal_object(ObjectKind::PackHeader, &header, AUTO_LEVEL, NONCE);
        rebuilt.extend_from_slice(&sealed);
        rebuilt.extend_from_slice(&pack::encode_trailer(sealed.len() as u32));
        seeds.pack_parts(&format!("repo-{}", id.short()), &rebuilt);
        let listed = ObjectName::new(FileKind::Pack, id.0).path();
        seeds.add(
            "layout",
            &format!("repo-{}", id.short()),
            listed.as_bytes(),
            MAX_SEED,
        );
    }
}

/// Seeds of the targets that parse what a person types.
fn text(seeds: &mut Seeds) {
    let sets: [(&'static str, &[&str]); 6] = [
        (
            "repo_url",
            &[
                "/srv/backup",
                "relative/repo",
                "file:///srv/backup",
                "s3://bucket/some/prefix",
                "gs://bucket",
                "az://container/p/",
                "memory://test",
                "sftp://host/x",
                "file://rel",
                "",
            ],
        ),
        (
            "snapshot_id",
            &[
                "latest",
                "aaaa",
                "AAAA01",
                "abcd\0a\0x,y\0/src/1",
                "f00d\0\0\0\0aaaa01\0latest",
                "bbbb010000000000000000000000000000000000000000000000000000000000",
                "zz",
            ],
        ),
        (
            "duration",
            &[
                "0",
                "30s",
                "5m",
                "2h30m",
                "1d12h",
                "2y5m7d3h",
                "unlimited",
                "-1",
                "7",
                "1.5h",
            ],
        ),
        (
            "size",
            &[
                "100M",
                "2G",
                "1.5 GiB",
                "512k",
                "5%",
                "2/5",
                "host,paths",
                "tags",
                "0",
                "1e3",
            ],
        ),
        (
            "exclude_pattern",
            &[
                "\0*.log\n/srv/cache\ntmp/x\n/a/tmp/x/y.log",
                "\x01*.JPG\n# comment\n\n/a/B.jpg",
                "\0**/node_modules/**\n{a,b}/[!c]?\\*\n/x/a/n",
                "\0a[\n/a",
            ],
        ),
        (
            "layout",
            &[
                "config",
                "keys/0000000000000000000000000000000000000000000000000000000000000000",
                "data/ab/abababababababababababababababababababababababababababababababab",
                "index/FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            ],
        ),
    ];
    for (target, inputs) in sets {
        for (i, input) in inputs.iter().enumerate() {
            seeds.add(target, &format!("text-{i}"), input.as_bytes(), MAX_SEED);
        }
    }
}

/// Argon2id PHC strings (of "correct horse" and "admin password"), made
/// once with argon2 0.6's defaults, the kind `vault serve --add-user`
/// writes; fixed here so that the seeds do not change on every run.
const PHC_USER: &str = "$argon2id$v=19$m=19456,t=2,p=1$tEYlf9t2eDBoa8psy2czNg$E/YKabB/MYXWYprDGkeCfk7HjL78fMuImNcXbI6vb3o";
const PHC_ADMIN: &str = "$argon2id$v=19$m=19456,t=2,p=1$8WI65wdsw1BtGqaZvinadA$6EbBvKfk78tZk6qoiO4C8X3PCmKjE4WxkKgx25oHDRc";

/// The vault.toml of the README (examples/vault.toml), the one of
/// cli/src/config.rs's tests, and one with every retention rule, a
/// heartbeat key (the golden vectors') and two profiles.
const VAULT_TOMLS: [&str; 3] = [
    include_str!("../../examples/vault.toml"),
    r#"
[repositories.local]
url = "/srv/vault"
password-file = "/etc/vault/pw"

[sources.www]
paths = ["/var/www"]

[sources.db]
command = "pg_dump app"
filename = "app.sql"
max-age = "26h"
size-drop = "50%"

[profiles.nightly]
repository = "local"
retention = { keep-daily = 7, keep-weekly = 4 }
"#,
    r#"[repositories.a]
url = "memory://a"
heartbeat-key = "f38b071e8c21fb1b66e2ec990bdfeaedc9a1e3263f4f75f71f39fe5d1f793023"
[repositories.b]
url = "file:///b"
password-command = "cat pw"
env = { X = "1" }
[sources.s]
paths = ["/s"]
exclude-larger-than = "1.5 GiB"
size-history = 3
size-drop = "0.25"
tags = ["t"]
[profiles.default]
repository = "a"
copy-to = ["b"]
sources = ["s"]
retention = { keep-last = "unlimited", keep-hourly = 24, keep-yearly = 1, keep-within = "2y5m7d3h", keep-within-daily = "30d", keep-within-monthly = "1y", keep-newer-than = "7d", keep-tag = ["a,b", ""], prune = false }
check = { enabled = false, read-data-subset = "1/7", max-age = "1d12h" }
[profiles.other]
repository = "b"
retention = { keep-within-hourly = "2d", keep-within-weekly = "4m", keep-within-yearly = "3y" }
"#,
];

/// Seeds of the targets for what reaches `vault serve` before any
/// authentication (request paths, `Range:`, `Authorization: Basic`), its
/// users file, and vault.toml.
fn serve_and_vault_toml(seeds: &mut Seeds) {
    use base64::Engine as _;
    let basic = |credentials: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(credentials);
        format!("Basic {token}")
    };
    let ab = "ab".repeat(32);
    let zero = "0".repeat(64);
    let sets: [(&'static str, Vec<String>); 5] = [
        (
            "serve_route",
            vec![
                "/".to_owned(),
                "/config".to_owned(),
                format!("/alice/main/data/ab/{ab}"),
                format!("/r/keys/{zero}"),
                "/r/snapshots/".to_owned(),
                "/alice/r/keys".to_owned(),
                "/r/data/0f/".to_owned(),
                format!("/srv/repo.1/heartbeats/{ab}"),
                format!("/a-b/c_d/locks/{zero}"),
                "/alice/%2e%2e/bob/config".to_owned(),
                "/alice/../bob/config".to_owned(),
                "//etc/passwd".to_owned(),
            ],
        ),
        (
            "serve_range",
            [
                "bytes=0-9",
                "bytes=5-",
                "bytes=-4",
                "bytes=0-18446744073709551615",
                " bytes= 3 - 7 ",
                "bytes=9-0",
                "bytes=0-1,3-4",
                "items=0-1",
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        (
            "basic_auth",
            vec![
                "Basic YWxpY2U6cDpx".to_owned(),
                basic("alice:correct horse"),
                basic("root-1:"),
                format!(" {} ", basic("\u{e9}:p")),
                "Bearer YWxpY2U6cA==".to_owned(),
                "Basic YWxpY2U=".to_owned(),
                "alice:correct horse".to_owned(),
            ],
        ),
        (
            "users_file",
            vec![
                format!("alice:{PHC_USER}\n"),
                format!(
                    "# vault serve users: NAME:ARGON2ID-HASH[:admin] (vault serve --add-user)\n\nalice:{PHC_USER}\nroot-1:{PHC_ADMIN}:admin\n"
                ),
                format!("a:{PHC_USER}\r\n  b.c_d-e:{PHC_ADMIN}  \r\na:{PHC_ADMIN}\n"),
                format!("alice:{PHC_USER}:root\n"),
                "alice:plaintext\n".to_owned(),
                format!("../x:{PHC_USER}\n"),
            ],
        ),
        ("vault_toml", VAULT_TOMLS.map(str::to_owned).to_vec()),
    ];
    for (target, inputs) in sets {
        for (i, input) in inputs.iter().enumerate() {
            seeds.add(target, &format!("text-{i}"), input.as_bytes(), MAX_SEED);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, vectors_dir, rest @ ..] = args.as_slice() else {
        eprintln!("usage: seeds OUT_DIR VECTORS_DIR [REPO PASSWORD]");
        std::process::exit(2);
    };
    let mut seeds = Seeds {
        out: PathBuf::from(out),
        counts: BTreeMap::new(),
    };
    vectors(&mut seeds, Path::new(vectors_dir));
    text(&mut seeds);
    serve_and_vault_toml(&mut seeds);
    if let [repo, password] = rest {
        repository(&mut seeds, repo, password);
    }
    for (target, count) in &seeds.counts {
        println!("{target}: {count} seeds");
    }
}
