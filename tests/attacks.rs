//! The attacks on the history a hacked client cannot destroy (issue 19),
//! tried as the attacker would: a client of an append-only `vault serve`
//! server holds the repository password, so it can seal any object the
//! server accepts (new index files, new packs); the server's admin then
//! runs the routine `vault -r DIR forget --keep-daily 7 --prune`. Nothing a
//! snapshot needs may be lost.

use crate::args;
use crate::common::*;
use crate::serve::{ALICE_PW, Server};
use engine::repo_format::crypto::{BlobKind, ObjectKind};
use engine::repo_format::index::{IndexFile, IndexPack};
use engine::repo_format::layout::{FileKind, ObjectName};
use engine::repo_format::pack::{self, PackEntry};
use engine::repo_format::{Id, IndexId, PackId};
use engine::repository::index::LoadMode;
use engine::{Backend, Repository};
use std::path::PathBuf;

/// An append-only server, alice's repository on it with two backups
/// (several packs of data), and the admin's view of the same files.
struct Scene {
    server: Server,
    client: Repo,
    admin: Repo,
    src: PathBuf,
    _src_dir: tempfile::TempDir,
}

fn scene() -> Scene {
    let server = Server::start(&["--append-only"]);
    let client = server.repo("alice", ALICE_PW, "alice/main");
    client.init();
    let src_dir = temp_dir();
    let src = src_dir.path().join("site");
    for i in 0..6u64 {
        write(
            &src.join(format!("f{i}.bin")),
            &random_bytes(1900 + i, 3 << 20),
        );
    }
    client.ok(args!["backup", &src]);
    write(&src.join("f0.bin"), &random_bytes(1999, 3 << 20));
    client.ok(args!["backup", &src]);
    let path = server.root.join("alice/main");
    let admin = Repo {
        url: path.clone().into_os_string(),
        path,
        dir: temp_dir(),
        prefix: Vec::new(),
        envs: Vec::new(),
    };
    Scene {
        server,
        client,
        admin,
        src,
        _src_dir: src_dir,
    }
}

impl Scene {
    /// The repository as the attacker sees it: the password opens it.
    fn engine(&self) -> Repository {
        let backend = Backend::open(self.admin.path.to_str().expect("UTF-8 path")).expect("open");
        Repository::open(backend, PASSWORD.as_bytes()).expect("the password opens it")
    }

    /// Upload `bytes` as `name` through the server with alice's
    /// credentials, as her hacked client can.
    fn plant(&self, name: &ObjectName, bytes: &[u8]) {
        let path = format!("/alice/main/{}", name.path());
        let (status, body) = self
            .server
            .raw("PUT", &path, Some(("alice", ALICE_PW)), bytes);
        assert_eq!(status, 201, "the server took {}: {body}", name.path());
    }

    /// Seal `file` with the repository's key and plant it.
    fn plant_index(&self, repo: &Repository, file: &IndexFile) {
        let sealed = repo
            .keyring()
            .seal_object(
                ObjectKind::Index,
                &file.encode(repo.config().version),
                0,
                &engine::fresh(),
            )
            .unwrap();
        self.plant(
            &ObjectName::new(FileKind::Index, Id::hash(&sealed)),
            &sealed,
        );
    }

    /// The admin's routine on the server.
    fn admin_prune(&self) -> std::process::Output {
        self.admin
            .run(args!["forget", "--keep-daily", "7", "--prune"])
    }

    /// Every pack file, for "nothing was deleted".
    fn packs(&self) -> std::collections::BTreeSet<String> {
        self.admin.list("packs")
    }

    /// Restore the newest snapshot through the admin's path and compare.
    fn assert_restores(&self) {
        let target = temp_dir();
        self.admin
            .ok(args!["restore", "latest", "--target", target.path()]);
        assert_same_tree(&self.src, &restored(target.path(), &self.src), false);
    }
}

/// The index files in force, and every index file's id.
fn index(repo: &Repository) -> (Vec<IndexPack>, Vec<IndexId>) {
    let files = repo.read_index_files(LoadMode::Strict).expect("index");
    let packs = files
        .active
        .iter()
        .flat_map(|(_, f)| f.packs.clone())
        .collect();
    (packs, files.all)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Hole 1 as the review found it: a forged index, superseding the real
/// ones, leaves every tree where it is but says the data blobs live in the
/// first pack. The packs that really hold the data are then in no index
/// (or hold entries the index left out), and a prune that believed the
/// index condemned and deleted them. Now prune reads every
/// header, finds the index contradicts them, and deletes nothing; check
/// names the forged claims; repair index rebuilds the index from the
/// headers, and the admin's routine runs as it should.
#[test]
fn attack_forged_index_claiming_every_blob_in_one_pack_deletes_nothing() {
    let s = scene();
    let repo = s.engine();
    let (packs, all) = index(&repo);
    assert!(packs.len() >= 2, "the scene needs several packs");
    let is_data = |e: &&PackEntry| e.kind == BlobKind::Data;
    let mut forged_packs: Vec<IndexPack> = packs
        .iter()
        .map(|p| IndexPack {
            blobs: p.blobs.iter().filter(|e| !is_data(e)).copied().collect(),
            ..p.clone()
        })
        .filter(|p| !p.blobs.is_empty())
        .collect();
    let data: Vec<PackEntry> = packs
        .iter()
        .flat_map(|p| p.blobs.iter().filter(is_data).copied())
        .collect();
    match forged_packs.iter_mut().find(|p| p.id == packs[0].id) {
        Some(first) => first.blobs.extend(data),
        None => forged_packs.push(IndexPack {
            blobs: data,
            ..packs[0].clone()
        }),
    }
    let forged = IndexFile {
        packs: forged_packs,
        supersedes: all,
    };
    s.plant_index(&repo, &forged);
    let before = s.packs();

    let out = s.admin_prune();
    assert_error(&out, 1);
    assert!(
        stderr(&out).contains("contradicts") && stderr(&out).contains("repair index"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.packs(), before, "no pack was deleted");

    let out = s.admin.run(args!["check", "--json"]);
    assert_error(&out, 1);
    let report = json_values(&out.stdout);
    let kinds: Vec<&str> = report[0]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"pack_header_mismatch"), "{kinds:?}");

    s.admin.ok(args!["repair", "index"]);
    s.admin.ok(args!["check", "--read-data"]);
    s.admin.ok(args!["forget", "--keep-daily", "7", "--prune"]);
    s.assert_restores();
    s.client.ok(args!["check"]);
}

/// The same attack made consistent: the client uploads a pack of its own
/// whose header lists every data blob (sealed with the key, as a real
/// header) but whose bodies are garbage, and an index that names it first
/// beside the real packs. Every header agrees with the index, so the
/// index's copy of each data blob is the garbage one and the real packs
/// look unused. Prune reads the copy it would keep before deleting the
/// other: it does not open, so nothing is deleted.
#[test]
fn attack_forged_pack_of_garbage_named_first_deletes_nothing() {
    let s = scene();
    let repo = s.engine();
    let (packs, all) = index(&repo);
    let mut entries = Vec::new();
    let mut body = Vec::new();
    for e in packs
        .iter()
        .flat_map(|p| &p.blobs)
        .filter(|e| e.kind == BlobKind::Data)
    {
        entries.push(PackEntry {
            offset: body.len() as u32,
            ..*e
        });
        body.extend(random_bytes(u64::from(e.offset), e.length as usize));
    }
    let key = repo.keyring().new_pack_key(&engine::fresh()).unwrap();
    let header = key.seal_header(&pack::encode_header(&entries), 0, [9; 24]);
    body.extend_from_slice(&header);
    body.extend_from_slice(&pack::encode_trailer_with(
        key.capsule().as_ref(),
        header.len() as u32,
    ));
    let garbage = PackId(Id::hash(&body));
    s.plant(&ObjectName::new(FileKind::Pack, garbage.0), &body);
    let mut forged_packs = vec![IndexPack {
        id: garbage,
        size: body.len() as u64,
        capsule: key.capsule(),
        blobs: entries,
    }];
    forged_packs.extend(packs.iter().cloned());
    s.plant_index(
        &repo,
        &IndexFile {
            packs: forged_packs,
            supersedes: all,
        },
    );
    let before = s.packs();

    let out = s.admin_prune();
    assert_error(&out, 1);
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
    assert_eq!(s.packs(), before, "no pack was deleted");
    s.assert_restores_after_repair();
}

impl Scene {
    /// check --read-data names the garbage; `repair index` leaves the
    /// copies that do not open out of the index; then the routine runs,
    /// removes the forged pack, and the real data is all there.
    fn assert_restores_after_repair(&self) {
        let out = self.admin.run(args!["check", "--read-data"]);
        assert_error(&out, 1);
        let repaired = self.admin.ok(args!["repair", "index"]);
        assert!(
            String::from_utf8_lossy(&repaired.stdout).contains("does not open"),
            "{}",
            describe(&repaired)
        );
        self.admin.ok(args!["check", "--read-data"]);
        self.admin
            .ok(args!["forget", "--keep-daily", "7", "--prune"]);
        self.admin.ok(args!["check", "--read-data"]);
        self.assert_restores();
    }
}

/// Hole 3: with only alice's HTTP credentials (no repository password),
/// five bytes planted under `index/` and under `locks/` used to make
/// every backup fail ("truncated index", exit 1; "locked", exit 11).
/// Objects that do not open are damage to report and pass: the backup
/// goes on with one warning line each, restores, and `check` names the
/// index file. Maintenance, which deletes, stays on the safe side beside
/// a lock it cannot read.
#[test]
fn attack_garbage_index_and_lock_from_server_credentials_do_not_stop_backups() {
    let s = scene();
    let garbage = b"vault";
    let name = |kind| ObjectName::new(kind, Id::hash(garbage));
    s.plant(&name(FileKind::Index), garbage);
    s.plant(&name(FileKind::Lock), garbage);
    let short = &Id::hash(garbage).to_hex()[..8];

    write(&s.src.join("new.txt"), b"written after the attack");
    let out = s.client.ok(args!["backup", &s.src]);
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.contains("index file") && l.contains(short) && l.contains("skipped")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("lock") && l.contains(short) && l.contains("passed")),
        "{err}"
    );
    let target = temp_dir();
    s.client
        .ok(args!["restore", "latest", "--target", target.path()]);
    assert_same_tree(&s.src, &restored(target.path(), &s.src), false);

    // Maintenance refuses to run beside a lock it cannot read ...
    let out = s.admin_prune();
    assert_error(&out, 11);
    // ... check names the index file ...
    let out = s.admin.run(args!["check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = json_values(&out.stdout);
    assert!(
        report[0]["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e.to_string().contains(short)),
        "{report:?}"
    );
    // ... and the admin's way out works.
    s.admin.ok(args!["unlock", "--remove-all"]);
    s.admin.ok(args!["repair", "index"]);
    s.admin.ok(args!["check"]);
    s.admin.ok(args!["forget", "--keep-daily", "7", "--prune"]);
    s.assert_restores();
}

/// Hole 3, the key file: with server credentials alone, a copy of a real
/// key file whose KDF asks for 4 GiB and 64 passes is uploaded. Every
/// open used to be able to spend minutes on it. It is refused before any
/// derivation: the real key opens as fast as before, and a wrong
/// password is told which key file was not tried.
#[test]
fn attack_key_file_with_absurd_kdf_is_refused_before_any_work() {
    use engine::repo_format::key::{KdfParams, KeyFile};
    let s = scene();
    let real = std::fs::read_dir(s.admin.path.join("keys"))
        .expect("keys/")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("a key file");
    let mut file = KeyFile::decode(&std::fs::read(real).expect("read")).expect("decode");
    file.kdf = KdfParams {
        memory_kib: KdfParams::MAX_MEMORY_KIB,
        iterations: KdfParams::MAX_ITERATIONS,
        ..file.kdf
    };
    file.salt = [0; 32];
    let bytes = file.encode();
    let id = Id::hash(&bytes);
    s.plant(&ObjectName::new(FileKind::Key, id), &bytes);

    s.client.ok(args!["snapshots"]);
    s.client.ok(args!["backup", &s.src]);
    let out = s.client.ok(args!["key", "list", "--json"]);
    assert_eq!(
        json_values(&out.stdout).len(),
        2,
        "the planted key is listed"
    );

    let mut wrong = s.client.cmd();
    wrong
        .env("VAULT_PASSWORD", "not the password")
        .arg("snapshots");
    let out = output_with_stdin(wrong, None);
    assert_error(&out, 12);
    let err = stderr(&out);
    assert!(
        err.contains(&id.to_hex()[..8]) && err.contains("was not tried"),
        "{err}"
    );
}

/// Hole 2: four real daily backups (each received by the server on its
/// day), then a hacked client of the append-only server uploads seven
/// empty snapshots of the same host and paths dated 2027. The admin's
/// routine `forget --keep-daily 7 --prune` used to keep the seven fakes
/// and remove the four real snapshots with their data. Now each snapshot
/// counts as no newer than when the server received it: the fakes share
/// today, every real snapshot and its data stays, and forget, check and
/// health name the fakes.
#[test]
fn attack_future_dated_snapshots_do_not_displace_real_ones() {
    use chrono::{Duration, Utc};
    let server = Server::start(&["--append-only"]);
    let client = server.repo("alice", ALICE_PW, "alice/main");
    client.init();
    let path = server.root.join("alice/main");
    let src_dir = temp_dir();
    let src = src_dir.path().join("site");
    let snapshot_files = || {
        std::fs::read_dir(path.join("snapshots"))
            .expect("snapshots/")
            .count()
    };
    let mut real = Vec::new();
    for day in (1..=4i64).rev() {
        let when = Utc::now() - Duration::days(day);
        let content = random_bytes(2000 + day as u64, 1 << 20);
        write(&src.join("data.bin"), &content);
        let before: std::collections::BTreeSet<_> = std::fs::read_dir(path.join("snapshots"))
            .map_or_else(
                |_| Default::default(),
                |d| d.map(|e| e.expect("entry").path()).collect(),
            );
        let summary = client.backup(args![&src, "--time", &when.to_rfc3339()]);
        let id = summary["snapshot_id"].as_str().expect("id").to_owned();
        // The server received it on its day.
        for file in std::fs::read_dir(path.join("snapshots")).expect("snapshots/") {
            let file = file.expect("entry").path();
            if !before.contains(&file) {
                set_mtime(&file, (when + Duration::minutes(5)).timestamp() as u64, 0);
            }
        }
        real.push((id, content));
    }
    std::fs::remove_file(src.join("data.bin")).expect("empty the source");
    for n in 1..=7 {
        client.ok(args![
            "backup",
            &src,
            "--time",
            format!("2027-01-0{n}T03:00:00Z")
        ]);
    }
    assert_eq!(snapshot_files(), 11);
    let admin = Repo {
        url: path.clone().into_os_string(),
        path: path.clone(),
        dir: temp_dir(),
        prefix: Vec::new(),
        envs: Vec::new(),
    };

    let out = admin.ok(args!["forget", "--keep-daily", "7", "--prune"]);
    let err = stderr(&out);
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("is dated 2027-01-0") && l.contains("received it at"))
            .count(),
        7,
        "{err}"
    );
    assert_eq!(snapshot_files(), 5, "four real snapshots and one fake stay");
    for (id, content) in &real {
        let target = temp_dir();
        admin.ok(args!["restore", id, "--target", target.path()]);
        assert_eq!(
            &std::fs::read(restored(target.path(), &src).join("data.bin")).expect("restored"),
            content,
            "snapshot {id}"
        );
    }
    admin.ok(args!["check", "--read-data"]);
    let out = admin.ok(args!["check", "--json"]);
    let kinds: Vec<String> = json_values(&out.stdout)[0]["info"]
        .as_array()
        .expect("info")
        .iter()
        .filter_map(|i| i["kind"].as_str().map(str::to_owned))
        .collect();
    assert!(
        kinds.contains(&"snapshot_dated_after_received".to_owned()),
        "{kinds:?}"
    );

    // The next real backup is `latest` (and the next backup's parent),
    // not the fake dated 2027.
    let fresh = random_bytes(2999, 1 << 20);
    write(&src.join("data.bin"), &fresh);
    client.ok(args!["backup", &src]);
    let target = temp_dir();
    admin.ok(args!["restore", "latest", "--target", target.path()]);
    assert_eq!(
        std::fs::read(restored(target.path(), &src).join("data.bin")).expect("restored"),
        fresh
    );

    // The floor: whatever the rules say, nothing the server received in
    // the last week goes.
    admin.ok(args![
        "forget",
        "--keep-last",
        "1",
        "--keep-newer-than",
        "7d"
    ]);
    assert_eq!(snapshot_files(), 6);
}

/// Phase two against forged objects: the hacked client plants a deletion
/// notice condemning every pack (no sessions to wait for) and an index
/// that supersedes every index file and lists nothing. The admin's prune
/// finishes the notice first: what any snapshot reaches is copied out of
/// the condemned packs before they go, so every backup still restores.
#[test]
fn attack_forged_deletion_notice_and_empty_index_lose_nothing() {
    use engine::repo_format::deletion::Deletion;
    use engine::repo_format::time::Timestamp;
    let s = scene();
    let repo = s.engine();
    let (_, all) = index(&repo);
    let packs_before = s.packs();
    let packs: Vec<PackId> = packs_before
        .iter()
        .map(|p| {
            let name = p.rsplit('/').next().expect("name");
            PackId(Id::from_hex(name).expect("a pack name"))
        })
        .collect();
    assert!(packs.len() >= 2);
    let mut sorted = packs.clone();
    sorted.sort_unstable();
    let notice = Deletion {
        time: Timestamp { secs: 0, nanos: 0 },
        packs: sorted,
        snapshots: Vec::new(),
        sessions: Vec::new(),
    };
    let sealed = repo
        .keyring()
        .seal_object(ObjectKind::Deletion, &notice.encode(), 0, &engine::fresh())
        .unwrap();
    s.plant(
        &ObjectName::new(FileKind::Deletion, Id::hash(&sealed)),
        &sealed,
    );
    s.plant_index(
        &repo,
        &IndexFile {
            packs: Vec::new(),
            supersedes: all,
        },
    );

    // The notice is finished: its packs go, after what the snapshots
    // reach was copied out of them.
    let out = s.admin_prune();
    assert_success(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rescued"),
        "{}",
        describe(&out)
    );
    assert!(
        s.packs().is_disjoint(&packs_before),
        "the condemned packs went"
    );
    s.admin.ok(args!["repair", "index"]);
    s.admin.ok(args!["check", "--read-data"]);
    s.assert_restores();
}
