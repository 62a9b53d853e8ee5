//! The users file: one user a line, `NAME:HASH` or `NAME:HASH:admin`, where
//! HASH is an Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`,
//! which holds no `:`). Blank lines and lines starting with `#` are
//! ignored. `vault serve --users FILE --add-user NAME` writes entries.
//!
//! Argon2 is slow on purpose, and a client sends its password with every
//! request; so a password that verified once is remembered as a keyed
//! BLAKE3 hash (the key drawn at start, never stored) and later requests
//! compare against that.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A problem with the users file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsersError(pub String);

/// One user of the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The name, as in the URL `vault+https://NAME@HOST/…`.
    pub name: String,
    /// The Argon2id PHC string of the password.
    pub hash: String,
    /// May delete in append-only mode, and reach every repository.
    pub admin: bool,
}

/// Parse a users file's text. Errors name the line.
pub fn parse(text: &str) -> Result<Vec<User>, UsersError> {
    let mut users: Vec<User> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| UsersError(format!("line {}: {what}", n + 1));
        let mut fields = line.split(':');
        let (Some(name), Some(hash)) = (fields.next(), fields.next()) else {
            return Err(bad("expected NAME:HASH or NAME:HASH:admin"));
        };
        let admin = match fields.next() {
            None => false,
            Some("admin") => true,
            Some(_) => return Err(bad("the third field may only be `admin`")),
        };
        if fields.next().is_some() {
            return Err(bad("expected NAME:HASH or NAME:HASH:admin"));
        }
        if !engine::store::valid_user_name(name) {
            return Err(bad(
                "the user name must be 1 to 64 of A-Z a-z 0-9 . _ -, not starting with .",
            ));
        }
        if argon2::password_hash::phc::PasswordHash::new(hash).is_err()
            || !hash.starts_with("$argon2")
        {
            return Err(bad(
                "the hash is not an Argon2 PHC string (write entries with vault serve --add-user)",
            ));
        }
        if users.iter().any(|u| u.name == name) {
            return Err(bad("the user is listed twice"));
        }
        users.push(User {
            name: name.to_owned(),
            hash: hash.to_owned(),
            admin,
        });
    }
    Ok(users)
}

/// Read and parse the users file at `path`.
pub fn load(path: &Path) -> Result<Vec<User>, UsersError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        UsersError(format!(
            "cannot read the users file {}: {e}",
            path.display()
        ))
    })?;
    parse(&text).map_err(|e| UsersError(format!("users file {}: {e}", path.display())))
}

/// The Argon2id PHC string of `password` with a fresh salt (argon2's
/// default parameters, OWASP's: 19 MiB, 2 passes).
pub fn hash_password(password: &[u8]) -> Result<String, UsersError> {
    argon2::Argon2::default()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| UsersError(format!("cannot hash the password: {e}")))
}

/// Add `name` to the users file at `path` (created with mode 0600 if
/// missing), or give an existing user the new password and admin flag.
/// The file is replaced atomically. Returns whether the user was new.
pub fn add_user(path: &Path, name: &str, password: &[u8], admin: bool) -> Result<bool, UsersError> {
    if !engine::store::valid_user_name(name) {
        return Err(UsersError(format!(
            "invalid user name {name:?}: use 1 to 64 of A-Z a-z 0-9 . _ -, not starting with ."
        )));
    }
    if password.is_empty() {
        return Err(UsersError("the password is empty".to_owned()));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(UsersError(format!(
                "cannot read the users file {}: {e}",
                path.display()
            )));
        }
    };
    parse(&text).map_err(|e| UsersError(format!("users file {}: {e}", path.display())))?;
    let hash = hash_password(password)?;
    let entry = if admin {
        format!("{name}:{hash}:admin")
    } else {
        format!("{name}:{hash}")
    };
    let mut lines: Vec<String> = Vec::new();
    let mut new = true;
    for line in text.lines() {
        if line.trim().split(':').next() == Some(name) && !line.trim().starts_with('#') {
            lines.push(entry.clone());
            new = false;
        } else {
            lines.push(line.to_owned());
        }
    }
    if text.is_empty() {
        lines.push(
            "# vault serve users: NAME:ARGON2ID-HASH[:admin] (vault serve --add-user)".to_owned(),
        );
    }
    if new {
        lines.push(entry);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| {
        UsersError(format!(
            "cannot write the users file {}: {e}",
            path.display()
        ))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    {
        use std::io::Write as _;
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
        tmp.write_all((lines.join("\n") + "\n").as_bytes())
            .map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(new)
}

/// Checks credentials against the users, remembering passwords that
/// verified (as a keyed hash) so that Argon2 runs once per user and
/// password, not once per request.
#[derive(Clone)]
pub struct Verifier {
    users: Arc<HashMap<String, User>>,
    key: [u8; 32],
    /// Verified against when the user is unknown, so that an unknown name
    /// costs as much time as a wrong password.
    dummy: String,
    verified: Arc<Mutex<HashMap<String, [u8; 32]>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({} users)", self.users.len())
    }
}

impl Verifier {
    /// A verifier of `users`.
    pub fn new(users: Vec<User>) -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        let dummy = hash_password(&key).unwrap_or_default();
        Verifier {
            users: Arc::new(users.into_iter().map(|u| (u.name.clone(), u)).collect()),
            key,
            dummy,
            verified: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn tag(&self, name: &str, password: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(password);
        *h.finalize().as_bytes()
    }

    /// Whether the users file names `name`.
    pub fn knows(&self, name: &str) -> bool {
        self.users.contains_key(name)
    }

    /// The user `name` if `password` is the one that last verified for
    /// them: cheap (one keyed BLAKE3), no Argon2.
    pub fn remembered(&self, name: &str, password: &[u8]) -> Option<User> {
        let user = self.users.get(name)?;
        let tag = self.tag(name, password);
        self.verified
            .lock()
            .ok()
            .and_then(|m| m.get(name).copied())
            .is_some_and(|t| constant_time_eq(&t, &tag))
            .then(|| user.clone())
    }

    /// The user `name` if `password` is theirs. Slow (Argon2) the first
    /// time a user and password meet: call it off the async threads.
    pub fn verify(&self, name: &str, password: &[u8]) -> Option<User> {
        if let Some(user) = self.remembered(name, password) {
            return Some(user);
        }
        let tag = self.tag(name, password);
        let Some(user) = self.users.get(name) else {
            let _ = argon2::Argon2::default().verify_password(password, self.dummy.as_str());
            return None;
        };
        if argon2::Argon2::default()
            .verify_password(password, user.hash.as_str())
            .is_err()
        {
            return None;
        }
        if let Ok(mut m) = self.verified.lock() {
            m.insert(name.to_owned(), tag);
        }
        Some(user.clone())
    }
}

/// The user name and password of an `Authorization: Basic …` header
/// value; None when it is not one (another scheme, bad base64, no `:`).
/// The name is taken lossily as UTF-8; the password as the bytes sent.
pub fn decode_basic(value: &[u8]) -> Option<(String, zeroize::Zeroizing<Vec<u8>>)> {
    use base64::Engine as _;
    let token = value.strip_prefix(b"Basic ")?;
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(token.trim_ascii())
            .ok()?,
    );
    let colon = decoded.iter().position(|b| *b == b':')?;
    let name = String::from_utf8_lossy(&decoded[..colon]).into_owned();
    Some((name, zeroize::Zeroizing::new(decoded[colon + 1..].to_vec())))
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_basic_takes_name_and_password_and_refuses_the_rest() {
        let (name, pw) = decode_basic(b"Basic YWxpY2U6cDpx").unwrap();
        assert_eq!((name.as_str(), pw.as_slice()), ("alice", b"p:q".as_slice()));
        for bad in [
            &b"Bearer YWxpY2U6cA=="[..],
            b"Basic !!!",
            b"Basic YWxpY2U=",
            b"",
        ] {
            assert!(decode_basic(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn parse_accepts_users_and_admins_and_skips_comments() {
        let hash = hash_password(b"pw").unwrap();
        let text = format!("# comment\n\nalice:{hash}\nroot-1:{hash}:admin\n");
        let users = parse(&text).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!((users[0].name.as_str(), users[0].admin), ("alice", false));
        assert_eq!((users[1].name.as_str(), users[1].admin), ("root-1", true));
    }

    #[test]
    fn parse_refuses_malformed_lines_naming_the_line() {
        let hash = hash_password(b"pw").unwrap();
        for (text, needle) in [
            ("alice".to_owned(), "line 1"),
            (format!("alice:{hash}:root"), "third field"),
            (format!("alice:{hash}:admin:x"), "expected"),
            ("alice:plaintext".to_owned(), "Argon2"),
            (format!("../x:{hash}"), "user name"),
            (
                format!("a:{hash}\na:{hash}"),
                "line 2: the user is listed twice",
            ),
        ] {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn add_user_then_verify_and_replace_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users");
        assert!(add_user(&file, "alice", b"one", false).unwrap());
        assert!(add_user(&file, "bob", b"two", true).unwrap());
        assert!(!add_user(&file, "alice", b"three", false).unwrap());
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("three") && !text.contains("one"));
        let v = Verifier::new(load(&file).unwrap());
        assert!(v.verify("alice", b"one").is_none());
        assert_eq!(v.verify("alice", b"three").unwrap().name, "alice");
        // Remembered now, and still refuses a wrong one.
        assert!(v.verify("alice", b"three").is_some());
        assert!(v.verify("alice", b"thre").is_none());
        assert!(v.verify("bob", b"two").unwrap().admin);
        assert!(v.verify("carol", b"two").is_none());
        assert!(add_user(&file, "../evil", b"x", false).is_err());
    }
}
