//! Key files: one per password, each sealing the same master key
//! (SPEC.md §5). Key files are not encrypted and hold nothing secret but
//! the sealed master key.

use super::Repository;
use crate::error::{Error, Result};
use crate::prefix::{Matches, by_prefix};
use crate::store::Backend;
use repo_format::crypto::MasterKey;
use repo_format::key::{KdfParams, KeyFile, KeyKind};
use repo_format::layout::{FileKind, ObjectName};
use repo_format::{Id, KeyId};

impl Repository {
    /// Add a key for another password; returns its id.
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        add_key(&self.backend, self.master()?, password, kdf)
    }

    /// Add a put-only key for `password` (SPEC.md §5.5): it adds backups
    /// and opens nothing but index files and locks. Only a format 2
    /// repository can hold one. Returns its id.
    pub fn add_put_only_key(&self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        self.require_full_key()?;
        if self.config().version < repo_format::keyring::FORMAT_2 {
            return Err(Error::InvalidArgument {
                what: "key add --put-only",
                detail: format!(
                    "this repository has format {}, which cannot hold put-only keys; \
                     'vault init' a new repository and 'vault copy' into it",
                    self.config().version
                ),
            });
        }
        let mut record_secret = [0u8; 32];
        rand::fill(&mut record_secret);
        let key = self
            .keyring()
            .put_only_key(self.config(), record_secret)
            .map_err(|e| Error::format("new put-only key", e))?;
        zeroize::Zeroize::zeroize(&mut record_secret);
        let mut salt = [0u8; 32];
        rand::fill(&mut salt);
        let (user, host) = super::current_user_and_host();
        let file = KeyFile::create_put_only(
            &key,
            password,
            kdf,
            salt,
            crate::random_nonce(),
            chrono::Utc::now().timestamp(),
            host,
            user,
        )
        .map_err(|e| Error::format("new key", e))?;
        store_key_file(&self.backend, &file)
    }

    /// Every key file that decodes, oldest first, and those that do not
    /// (anyone who can upload can put one there) with why.
    #[allow(clippy::type_complexity)]
    pub fn keys(&self) -> Result<(Vec<(KeyId, KeyFile)>, Vec<(KeyId, Error)>)> {
        let mut keys = Vec::new();
        let mut damaged = Vec::new();
        for (id, _) in self.backend.list_objects(FileKind::Key)? {
            let name = ObjectName::new(FileKind::Key, id);
            let bytes = self.backend.get(&name)?;
            let decoded = if Id::hash(&bytes) == id {
                KeyFile::decode(&bytes)
            } else {
                Err(repo_format::FormatError::IdMismatch {
                    what: "key file",
                    expected: id.to_hex(),
                })
            };
            match decoded {
                Ok(file) => keys.push((KeyId(id), file)),
                Err(e) => damaged.push((KeyId(id), Error::format(name.path(), e))),
            }
        }
        keys.sort_by_key(|(id, k)| (k.created, *id));
        Ok((keys, damaged))
    }

    /// The key named by its full id or a unique prefix (4 hex digits or more).
    pub fn find_key(&self, arg: &str) -> Result<KeyId> {
        let ids = self.list_ids(FileKind::Key)?;
        match by_prefix(arg, ids, |id| id) {
            None => Err(Error::InvalidArgument {
                what: "key",
                detail: format!("{arg:?}: give at least 4 hex digits of a key id"),
            }),
            Some(Matches::One(id)) => Ok(KeyId(id)),
            Some(Matches::None) => Err(Error::KeyNotFound(arg.to_owned())),
            Some(Matches::Many(count)) => Err(Error::AmbiguousKey {
                prefix: arg.to_owned(),
                count,
            }),
        }
    }

    /// Remove a key file. Refuses the key this repository was opened with
    /// (see [`Repository::change_password`]) and the repository's last key.
    pub fn remove_key(&self, id: KeyId) -> Result<()> {
        let refuse = |reason| Error::KeyRefused {
            key: id.short(),
            reason,
        };
        if id == self.key_id {
            return Err(refuse(
                "it is the key in use; open the repository with another key's password to remove it, or change this key's password",
            ));
        }
        let ids = self.list_ids(FileKind::Key)?;
        if !ids.contains(&id.0) {
            return Err(Error::KeyNotFound(id.to_hex()));
        }
        if ids.len() < 2 {
            return Err(refuse("it is the repository's last key"));
        }
        // Put-only keys open no snapshot: without a full key nothing could
        // be restored again.
        let (keys, _) = self.keys()?;
        let full = |k: &KeyFile| k.kind == KeyKind::Full;
        if keys.iter().any(|(k, f)| *k == id && full(f))
            && keys.iter().filter(|(k, f)| *k != id && full(f)).count() == 0
        {
            return Err(refuse(
                "it is the repository's last full key; put-only keys cannot read what they wrote",
            ));
        }
        self.backend.delete(&ObjectName::new(FileKind::Key, id.0))
    }

    /// Replace the key in use by a new key for `password`: the new key is
    /// written first, then the old one removed, so a crash leaves both.
    /// Returns the new key's id, which is then the key in use.
    pub fn change_password(&mut self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        let old = self.key_id;
        self.backend.ensure_deletable()?;
        let new = self.add_key(password, kdf)?;
        self.key_id = new;
        self.backend
            .delete(&ObjectName::new(FileKind::Key, old.0))?;
        Ok(new)
    }
}

/// Seal `key` for `password` in a new key file and store it.
pub(super) fn add_key(
    backend: &Backend,
    key: &MasterKey,
    password: &[u8],
    kdf: KdfParams,
) -> Result<KeyId> {
    let mut salt = [0u8; 32];
    rand::fill(&mut salt);
    let (user, host) = super::current_user_and_host();
    let file = KeyFile::create(
        key,
        password,
        kdf,
        salt,
        crate::random_nonce(),
        chrono::Utc::now().timestamp(),
        host,
        user,
    )
    .map_err(|e| Error::format("new key", e))?;
    store_key_file(backend, &file)
}

/// Store a key file under its hash.
fn store_key_file(backend: &Backend, file: &KeyFile) -> Result<KeyId> {
    let bytes = file.encode();
    let id = Id::hash(&bytes);
    backend.put_once(&ObjectName::new(FileKind::Key, id), bytes)?;
    Ok(KeyId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitOptions;

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            ..KdfParams::DEFAULT
        }
    }

    #[test]
    fn keys_add_find_remove_and_change_password() {
        let url = "memory://repo-keys-test";
        let options = InitOptions {
            kdf: cheap(),
            ..InitOptions::default()
        };
        let mut repo = Repository::init(Backend::open(url).unwrap(), b"one", &options).unwrap();
        let first = repo.key_id();
        // The last key, which is also the key in use, stays.
        assert!(matches!(
            repo.remove_key(first),
            Err(Error::KeyRefused { .. })
        ));
        let second = repo.add_key(b"two", cheap()).unwrap();
        assert_eq!(repo.keys().unwrap().0.len(), 2);
        assert_eq!(repo.find_key(&second.to_hex()[..8]).unwrap(), second);
        assert!(matches!(
            repo.find_key("abc"),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            repo.remove_key(first),
            Err(Error::KeyRefused { .. })
        ));
        // Both passwords open it.
        let two = Repository::open(Backend::open(url).unwrap(), b"two").unwrap();
        assert_eq!(two.key_id(), second);
        // The other key may go: removing the first through the second.
        two.remove_key(first).unwrap();
        assert!(matches!(
            Repository::open(Backend::open(url).unwrap(), b"one"),
            Err(Error::WrongPassword)
        ));
        // passwd: a new key replaces the one in use.
        repo = two;
        let third = repo.change_password(b"three", cheap()).unwrap();
        assert_eq!(repo.key_id(), third);
        let ids: Vec<KeyId> = repo
            .keys()
            .unwrap()
            .0
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, [third]);
        assert!(Repository::open(Backend::open(url).unwrap(), b"two").is_err());
        Repository::open(Backend::open(url).unwrap(), b"three").unwrap();
    }
}
