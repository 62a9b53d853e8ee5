//! What a request path names: a repository (its path on the server) and,
//! inside it, an object of the repository layout or one of its
//! directories. Pure string work, so that every refusal is unit-tested.
//!
//! The path is taken raw, before any percent-decoding, and every segment
//! must consist of `A-Z a-z 0-9 . _ -` (repository segments) or lower-case
//! hex (object names). Nothing the layout uses needs escaping, so a `%`,
//! `..`, `.`, an empty segment or a backslash is refused outright: no
//! encoded form of a traversal can reach the store.

use engine::repo_format::layout::{FileKind, ObjectName, is_layout_name};
use engine::store::valid_repository_segment;

/// What inside a repository a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inside {
    /// A directory: the repository itself (empty), `keys`, `data`,
    /// `data/ab`, ... — what PROPFIND lists.
    Dir(String),
    /// One object: its kind and its path in the repository
    /// (`data/ab/ab12…`), exactly as the engine names it.
    Object(FileKind, String),
}

/// A request path, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The repository's path on the server, segment by segment (empty for
    /// a repository at the root).
    pub repository: Vec<String>,
    /// What inside it.
    pub inside: Inside,
}

impl Target {
    /// The repository's segments and what inside it, joined: the path
    /// below the served root.
    pub fn store_path(&self) -> String {
        let inside = match &self.inside {
            Inside::Dir(d) => d.as_str(),
            Inside::Object(_, p) => p.as_str(),
        };
        let mut parts: Vec<&str> = self.repository.iter().map(String::as_str).collect();
        if !inside.is_empty() {
            parts.push(inside);
        }
        parts.join("/")
    }
}

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPath(pub &'static str);

fn lower_hex(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Take a raw request path (`/alice/repo/data/ab/ab…`) apart, or refuse it.
pub fn parse(raw: &str) -> Result<Target, BadPath> {
    let rest = raw
        .strip_prefix('/')
        .ok_or(BadPath("the path must start with /"))?;
    if rest.contains('%') {
        return Err(BadPath(
            "percent-encoded paths are refused: no name in a repository needs escaping",
        ));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let layout_at = segments
        .iter()
        .position(|s| is_layout_name(s))
        .unwrap_or(segments.len());
    let (repository, inside) = segments.split_at(layout_at);
    for segment in repository {
        if !valid_repository_segment(segment) {
            return Err(BadPath(
                "each part of a repository path must be 1 to 128 of A-Z a-z 0-9 . _ -, not starting with .",
            ));
        }
    }
    Ok(Target {
        repository: repository.iter().map(|s| (*s).to_owned()).collect(),
        inside: parse_inside(inside)?,
    })
}

fn parse_inside(segments: &[&str]) -> Result<Inside, BadPath> {
    const NOT_LAYOUT: BadPath = BadPath("not an object or directory of the repository layout");
    let Some((&first, rest)) = segments.split_first() else {
        return Ok(Inside::Dir(String::new()));
    };
    let kind = FileKind::of_dir(first).ok_or(NOT_LAYOUT)?;
    let joined = segments.join("/");
    match (kind, rest) {
        (FileKind::Config, []) => Ok(Inside::Object(kind, joined)),
        (_, []) => Ok(Inside::Dir(joined)),
        (FileKind::Pack, [fan]) if lower_hex(fan, 2, 2) => Ok(Inside::Dir(joined)),
        // The names the engine gives objects of this kind, and no other.
        _ => match ObjectName::parse(kind, &joined) {
            Some(_) => Ok(Inside::Object(kind, joined)),
            None => Err(NOT_LAYOUT),
        },
    }
}

/// A byte range asked for with `Range:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=A-B`: A to B inclusive.
    Bounded(u64, u64),
    /// `bytes=A-`: from A to the end.
    From(u64),
    /// `bytes=-N`: the last N bytes.
    Last(u64),
}

/// Parse one `Range: bytes=…` value; several ranges, other units and
/// malformed values give None (the caller answers 416).
pub fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.trim().split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (start.trim(), end.trim()) {
        ("", n) => number(n).filter(|n| *n > 0).map(ByteRange::Last),
        (a, "") => number(a).map(ByteRange::From),
        (a, b) => {
            let (a, b) = (number(a)?, number(b)?);
            (a <= b).then_some(ByteRange::Bounded(a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn parse_repository_and_object_paths() {
        let pack = format!("/alice/main/data/ab/ab{}", &id('c')[2..]);
        let t = parse(&pack).unwrap();
        assert_eq!(t.repository, vec!["alice", "main"]);
        assert_eq!(
            t.inside,
            Inside::Object(FileKind::Pack, pack["/alice/main/".len()..].to_owned())
        );
        assert_eq!(t.store_path(), pack[1..]);
        let t = parse("/config").unwrap();
        assert!(t.repository.is_empty());
        assert_eq!(t.inside, Inside::Object(FileKind::Config, "config".into()));
        let t = parse(&format!("/r/snapshots/{}", id('0'))).unwrap();
        assert_eq!(
            t.inside,
            Inside::Object(FileKind::Snapshot, format!("snapshots/{}", id('0')))
        );
        let t = parse(&format!("/r/heartbeats/{}", id('b'))).unwrap();
        assert_eq!(
            t.inside,
            Inside::Object(FileKind::Heartbeat, format!("heartbeats/{}", id('b')))
        );
    }

    /// The one layout list (the format crate's kinds), the names the
    /// engine gives objects, and what this router accepts are the same.
    #[test]
    fn router_layout_and_format_kinds_agree() {
        let id = engine::repo_format::Id([0xab; 32]);
        for kind in FileKind::ALL {
            let name = ObjectName::new(kind, id);
            for repository in ["", "/alice/main"] {
                let t = parse(&format!("{repository}/{}", name.path())).unwrap();
                assert_eq!(t.inside, Inside::Object(kind, name.path()), "{kind:?}");
            }
            // No repository or user may be named like a part of the layout:
            // the first such name in a path ends the repository's path.
            assert!(!valid_repository_segment(kind.dir()), "{kind:?}");
            assert!(!engine::store::valid_user_name(kind.dir()), "{kind:?}");
            if kind != FileKind::Config {
                assert_eq!(
                    parse(&format!("/r/{}", kind.dir())).unwrap().inside,
                    Inside::Dir(kind.dir().to_owned())
                );
            }
        }
        for unknown in ["/r/heartbeat", "/r/packs", "/r/snapshot"] {
            let t = parse(unknown).unwrap();
            assert_eq!(
                t.inside,
                Inside::Dir(String::new()),
                "{unknown} is a repository path"
            );
        }
    }

    #[test]
    fn parse_directories_for_listing() {
        assert_eq!(parse("/").unwrap().inside, Inside::Dir(String::new()));
        let t = parse("/alice/r/").unwrap();
        assert_eq!(t.repository, vec!["alice", "r"]);
        assert_eq!(t.inside, Inside::Dir(String::new()));
        assert_eq!(t.store_path(), "alice/r");
        assert_eq!(
            parse("/alice/r/keys").unwrap().inside,
            Inside::Dir("keys".into())
        );
        assert_eq!(
            parse("/r/data/0f").unwrap().inside,
            Inside::Dir("data/0f".into())
        );
    }

    #[test]
    fn parse_traversal_and_encodings_are_refused() {
        for bad in [
            "/../etc/passwd",
            "/alice/../bob/config",
            "/alice/./config",
            "/alice/%2e%2e/bob/config",
            "/alice/%2E%2E/config",
            "/alice%2f..%2fbob/config",
            "/alice/..%2fbob/config",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/alice//config",
            "//etc/passwd",
            "/alice\\..\\bob/config",
            "/.hidden/config",
            "/alice/keys/../../bob/keys",
            "relative/config",
            "/a b/config",
            "/alice/\u{e9}/config",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn parse_names_outside_the_layout_are_refused() {
        let upper = id('A');
        for bad in [
            format!("/r/config/{}", id('a')),
            format!("/r/keys/{upper}"),
            format!("/r/keys/{}", &id('a')[1..]),
            format!("/r/keys/{}/x", id('a')),
            format!("/r/data/ab/{}", id('c')),
            format!("/r/data/{}", id('a')),
            "/r/data/a".to_owned(),
            "/r/heartbeats/xyz".to_owned(),
            "/r/heartbeats/0a1b".to_owned(),
            format!("/r/heartbeats/{}", "a".repeat(129)),
            "/r/locks/passwd".to_owned(),
        ] {
            assert!(parse(&bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn parse_range_forms() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::Bounded(0, 9)));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse_range("bytes=-4"), Some(ByteRange::Last(4)));
        for bad in [
            "bytes=9-0",
            "bytes=-0",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
