//! Repository URLs, parsed without touching any store: the syntax half of
//! [`super::Backend::open`], pure so that the fuzzer reaches it, and the
//! names a `vault serve` server accepts for users and repository paths.

use crate::error::{Error, Result};
use object_store::path::Path as StorePath;
use repo_format::layout::is_layout_name;

/// Where a repository URL points, parsed without touching any store: the
/// syntax half of [`super::Backend::open`], pure so that the fuzzer reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location<'a> {
    /// `s3://`, `gs://` or `az://` with a bucket (container) and a prefix.
    Remote {
        /// `s3`, `gs` or `az`.
        scheme: &'a str,
        /// The bucket or container, not empty.
        bucket: &'a str,
        /// The prefix inside it, normalised (no leading or trailing `/`).
        prefix: StorePath,
    },
    /// `vault+http://` or `vault+https://`: a repository that `vault serve`
    /// exposes.
    Http {
        /// `http` or `https`.
        scheme: &'a str,
        /// Who to authenticate as (the part before `@`), if anyone.
        user: Option<&'a str>,
        /// `host[:port]`.
        authority: &'a str,
        /// The repository's path on the server (its segments validated by
        /// [`valid_repository_segment`]); empty for the server's root.
        prefix: StorePath,
    },
    /// `memory://NAME`: a store in this process.
    Memory(&'a str),
    /// A path or `file:///abs/path`, as given (not yet made absolute).
    Local(std::path::PathBuf),
}

impl<'a> Location<'a> {
    /// Parse `url` (see [`super::Backend::open`] for the forms).
    pub fn parse(url: &'a str) -> Result<Self> {
        let invalid = |detail: String| invalid_url(url, detail);
        if let Some((scheme, rest)) = url.split_once("://")
            && matches!(scheme, "s3" | "gs" | "az")
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid(format!(
                    "no bucket: write {scheme}://BUCKET[/PREFIX]"
                )));
            }
            let prefix = StorePath::parse(prefix.trim_matches('/'))
                .map_err(|e| invalid(format!("bad prefix: {e}")))?;
            return Ok(Location::Remote {
                scheme,
                bucket,
                prefix,
            });
        }
        if let Some((scheme, rest)) = url.split_once("://")
            && let Some(scheme @ ("http" | "https")) = scheme.strip_prefix("vault+")
        {
            return Self::parse_http(url, scheme, rest);
        }
        if let Some(name) = url.strip_prefix("memory://") {
            return Ok(Location::Memory(name));
        }
        if let Some(rest) = url.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(invalid(
                    "file:// URLs need an absolute path (file:///abs/path)".to_owned(),
                ));
            }
            return Ok(Location::Local(std::path::PathBuf::from(rest)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(invalid(format!(
                "the {scheme}:// scheme is not supported (use a path, file://, s3://, gs://, az://, vault+http://, vault+https:// or memory://)"
            )));
        }
        if url.is_empty() {
            return Err(invalid(
                "empty; give -r PATH or set VAULT_REPOSITORY".to_owned(),
            ));
        }
        Ok(Location::Local(std::path::PathBuf::from(url)))
    }

    /// `vault+SCHEME://[USER@]HOST[:PORT][/REPO/PATH]`, `rest` after `://`.
    fn parse_http(url: &'a str, scheme: &'a str, rest: &'a str) -> Result<Self> {
        let invalid = |detail: &str| Error::InvalidUrl {
            url: redact_userinfo(url),
            detail: detail.to_owned(),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if let Some(user) = user {
            if user.contains(':') {
                return Err(invalid(
                    "a password in the URL would show in `ps` and in messages: give only the user \
                     (vault+https://USER@HOST/REPO) and the password in VAULT_SERVER_PASSWORD_FILE \
                     or VAULT_SERVER_PASSWORD",
                ));
            }
            if !valid_user_name(user) {
                return Err(invalid(
                    "the user name must be 1 to 64 of the characters A-Z a-z 0-9 . _ -, not starting with .",
                ));
            }
        }
        if host.is_empty() || host.contains(['?', '#', ' ']) {
            return Err(invalid(
                "no host: write vault+http://[USER@]HOST[:PORT]/REPO",
            ));
        }
        let path = path.trim_end_matches('/');
        if !path.is_empty() && !path.split('/').all(valid_repository_segment) {
            return Err(invalid(
                "each part of the repository path must be 1 to 128 of the characters \
                 A-Z a-z 0-9 . _ -, not starting with . and not a name of the repository \
                 layout (config, keys, data, ...)",
            ));
        }
        let prefix = StorePath::parse(path).map_err(|e| invalid(&format!("bad path: {e}")))?;
        Ok(Location::Http {
            scheme,
            user,
            authority: host,
            prefix,
        })
    }
}

/// [`Error::InvalidUrl`] for `url`, saying what is wrong.
pub fn invalid_url(url: &str, detail: String) -> Error {
    Error::InvalidUrl {
        url: url.to_owned(),
        detail,
    }
}

/// Whether `segment` may be one part of a repository's path on a
/// `vault serve` server: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting
/// with `.` (so neither `.` nor `..`), and not a name of the repository
/// layout ([`is_layout_name`]): the first such name in a request path ends
/// the repository's path.
pub fn valid_repository_segment(segment: &str) -> bool {
    (1..=128).contains(&segment.len())
        && !segment.starts_with('.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !is_layout_name(segment)
}

/// Whether `name` may name a `vault serve` user: 1 to 64 of
/// `A-Z a-z 0-9 . _ -`, not starting with `.`. (With `--private-repos` a
/// user's repositories live under `/NAME/`.)
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !is_layout_name(name)
}

/// `url` with anything between `://` and `@` replaced, for messages.
fn redact_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority.len()..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_parse_names_each_form_without_touching_a_store() {
        let remote = Location::parse("s3://bucket//a/b/").unwrap();
        assert_eq!(
            remote,
            Location::Remote {
                scheme: "s3",
                bucket: "bucket",
                prefix: StorePath::from("a/b"),
            }
        );
        assert_eq!(
            Location::parse("memory://m").unwrap(),
            Location::Memory("m")
        );
        assert_eq!(
            Location::parse("file:///no/such/dir").unwrap(),
            Location::Local("/no/such/dir".into())
        );
        assert_eq!(
            Location::parse("rel/dir").unwrap(),
            Location::Local("rel/dir".into())
        );
        assert!(Location::parse("").is_err());
        assert!(Location::parse("s3://b/a//../x").is_err());
    }

    #[test]
    fn location_parse_vault_http_urls_and_refuses_passwords_and_traversal() {
        assert_eq!(
            Location::parse("vault+https://alice@backup.example:8443/alice/site/").unwrap(),
            Location::Http {
                scheme: "https",
                user: Some("alice"),
                authority: "backup.example:8443",
                prefix: StorePath::from("alice/site"),
            }
        );
        assert_eq!(
            Location::parse("vault+http://127.0.0.1:8000").unwrap(),
            Location::Http {
                scheme: "http",
                user: None,
                authority: "127.0.0.1:8000",
                prefix: StorePath::default(),
            }
        );
        for (url, needle) in [
            ("vault+http://alice:secret@h/r", "VAULT_SERVER_PASSWORD"),
            ("vault+http://h/alice/../bob", "repository path"),
            ("vault+http://h/alice/%2e%2e/bob", "repository path"),
            ("vault+http://h/a//b", "repository path"),
            ("vault+http://h/r/data", "repository path"),
            ("vault+http:///r", "no host"),
            ("vault+http://@h/r", "user name"),
            ("vault+ftp://h/r", "not supported"),
        ] {
            match Location::parse(url) {
                Err(Error::InvalidUrl { url: shown, detail }) => {
                    assert!(detail.contains(needle), "{url}: {detail}");
                    assert!(!shown.contains("secret"), "{shown}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn repository_segments_and_user_names_are_safe_characters() {
        for good in ["alice", "a.b_c-1", "X9"] {
            assert!(
                valid_repository_segment(good) && valid_user_name(good),
                "{good}"
            );
        }
        for bad in [
            "", ".", "..", ".hidden", "a/b", "a%2e", "a b", "keys", "config", "é",
        ] {
            assert!(!valid_repository_segment(bad), "{bad}");
        }
        assert!(!valid_user_name(&"a".repeat(65)));
        assert!(valid_repository_segment(&"a".repeat(128)));
        assert!(!valid_repository_segment(&"a".repeat(129)));
    }
}
