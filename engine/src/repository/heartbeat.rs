//! Writing and reading heartbeats (SPEC.md §7.7): the signed freshness
//! beacons `vault run` leaves after each successful backup, check and
//! drill, which `vault health --heartbeats` reads with the verification
//! key alone.

use super::Repository;
use crate::error::{Error, Result};
use crate::store::Backend;
use repo_format::heartbeat::{HISTORY_LEN, Heartbeat, HeartbeatVerifyingKey};
use repo_format::layout::{FileKind, ObjectName};

/// The repository's heartbeat verification key (public; `vault key heartbeat`).
pub fn verifying_key(repo: &Repository) -> HeartbeatVerifyingKey {
    repo.keyring().heartbeat_signing_key().verifying_key()
}

/// Sign `beat` and write it, replacing the last heartbeat of its kind, host
/// and source. Its `history` is set from that last one (which must verify;
/// one that does not is replaced with an empty history).
pub fn write(repo: &Repository, mut beat: Heartbeat) -> Result<Heartbeat> {
    let signing = repo.keyring().heartbeat_signing_key();
    let name = beat.name();
    beat.history = match repo.backend().get(&name) {
        Ok(bytes) => match Heartbeat::open(&bytes, &signing.verifying_key()) {
            Ok(last) => std::iter::once(last.bytes)
                .chain(last.history)
                .take(HISTORY_LEN)
                .collect(),
            Err(_) => Vec::new(),
        },
        Err(Error::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    repo.backend().put_replace(&name, beat.seal(&signing))?;
    Ok(beat)
}

/// A heartbeat read from the store, or why it could not be.
pub type Read = std::result::Result<Heartbeat, Error>;

/// Every heartbeat in the store at `backend`, verified with `key`. Needs no
/// password. Objects under `heartbeats/` that are not heartbeat names are
/// skipped; one that does not verify is returned as an error, by path.
pub fn read_all(backend: &Backend, key: &HeartbeatVerifyingKey) -> Result<Vec<(String, Read)>> {
    let mut out = Vec::new();
    for (id, _) in backend.list_objects(FileKind::Heartbeat)? {
        let name = ObjectName::new(FileKind::Heartbeat, id);
        let path = name.path();
        let read = backend.get(&name).and_then(|bytes| {
            Heartbeat::open(&bytes, key).map_err(|source| Error::Format {
                object: path.clone(),
                source,
            })
        });
        out.push((path, read));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitOptions;
    use repo_format::heartbeat::HeartbeatKind;
    use repo_format::tree::Timestamp;

    fn beat(bytes: u64) -> Heartbeat {
        Heartbeat {
            kind: HeartbeatKind::Backup,
            hostname: "h".into(),
            source: "db".into(),
            time: Timestamp {
                secs: 1_700_000_000 + bytes as i64,
                nanos: 0,
            },
            duration_ms: 10,
            bytes,
            files: 1,
            errors: 0,
            snapshot: None,
            history: vec![999],
        }
    }

    #[test]
    fn write_replaces_and_carries_history_read_all_verifies() {
        let mut options = InitOptions::default();
        options.kdf.memory_kib = 64;
        options.kdf.iterations = 1;
        let backend = Backend::open("memory://heartbeat-test").unwrap();
        let repo = Repository::init(backend, b"pw", &options).unwrap();
        for size in 1..=12 {
            write(&repo, beat(size)).unwrap();
        }
        let key = verifying_key(&repo);
        let all = read_all(repo.backend(), &key).unwrap();
        assert_eq!(all.len(), 1, "one object per kind, host and source");
        let last = all[0].1.as_ref().unwrap();
        assert_eq!(last.bytes, 12);
        // The history is the earlier sizes, newest first, at most 10; the
        // caller's own history is ignored.
        assert_eq!(last.history, (2..=11).rev().collect::<Vec<u64>>());

        // A forged heartbeat (another key) is reported, not believed.
        let other = Repository::init(
            Backend::open("memory://heartbeat-test-other").unwrap(),
            b"pw",
            &options,
        )
        .unwrap();
        let forged = beat(5).seal(&other.keyring().heartbeat_signing_key());
        let name = ObjectName::parse(FileKind::Heartbeat, &all[0].0).unwrap();
        repo.backend().put_replace(&name, forged).unwrap();
        let all = read_all(repo.backend(), &key).unwrap();
        assert!(all[0].1.is_err());
        // And a write over it starts a new history.
        assert!(write(&repo, beat(20)).unwrap().history.is_empty());
    }
}
