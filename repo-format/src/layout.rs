//! Object names in the store, relative to the repository prefix: the one
//! list of the kinds of object a repository holds and where each lives.
//! See SPEC.md §3. Everything that names, lists or routes objects (the
//! engine's storage seam, `vault serve`'s router, `check`'s listing of
//! strays) derives from [`FileKind::ALL`].
//!
//! ```text
//! config  keys/<id>  data/<id[0..2]>/<id>  index/<id>  snapshots/<id>  locks/<id>
//! deletions/<id>  ledger/<id>  heartbeats/<id>
//! ```

use crate::id::Id;

/// The kinds of object in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `config`.
    Config,
    /// `keys/`.
    Key,
    /// `data/`: packs.
    Pack,
    /// `index/`.
    Index,
    /// `snapshots/`.
    Snapshot,
    /// `locks/`.
    Lock,
    /// `deletions/`: packs a prune has condemned, awaiting removal.
    Deletion,
    /// `ledger/`: verification ledgers.
    Ledger,
    /// `heartbeats/`: signed freshness beacons (SPEC.md §7.7), the one
    /// kind that is replaced in place.
    Heartbeat,
}

impl FileKind {
    /// Every kind, config first, then the directories in listing order.
    pub const ALL: [FileKind; 9] = [
        FileKind::Config,
        FileKind::Key,
        FileKind::Pack,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Lock,
        FileKind::Deletion,
        FileKind::Ledger,
        FileKind::Heartbeat,
    ];

    /// Every kind that lives under a directory (all but the config), in
    /// listing order.
    pub fn directories() -> impl Iterator<Item = FileKind> {
        FileKind::ALL.into_iter().filter(|k| *k != FileKind::Config)
    }

    /// The directory (or, for config, the file) name.
    pub fn dir(self) -> &'static str {
        match self {
            FileKind::Config => "config",
            FileKind::Key => "keys",
            FileKind::Pack => "data",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshots",
            FileKind::Lock => "locks",
            FileKind::Deletion => "deletions",
            FileKind::Ledger => "ledger",
            FileKind::Heartbeat => "heartbeats",
        }
    }

    /// The kind whose directory (or file) is `name`.
    pub fn of_dir(name: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.dir() == name)
    }

    /// Whether an object's name is the BLAKE3 hash of its bytes (every
    /// kind but the config and heartbeats), so that damage to it can be
    /// told without a key.
    pub fn content_named(self) -> bool {
        !matches!(self, FileKind::Config | FileKind::Heartbeat)
    }

    /// Whether an object of this kind may be replaced in place (only
    /// heartbeats, SPEC.md §9); every other object is written once.
    pub fn replaceable(self) -> bool {
        self == FileKind::Heartbeat
    }
}

/// Whether `segment` is a name the layout gives its top level (a file or
/// directory of [`FileKind::ALL`]).
pub fn is_layout_name(segment: &str) -> bool {
    FileKind::of_dir(segment).is_some()
}

/// The path of an object of `kind` named `id`.
pub fn object_path(kind: FileKind, id: &Id) -> String {
    let hex = id.to_hex();
    match kind {
        FileKind::Config => "config".to_owned(),
        FileKind::Pack => format!("data/{}/{}", hex.get(..2).unwrap_or("00"), hex),
        other => format!("{}/{}", other.dir(), hex),
    }
}

/// Recover the id from a listed path of `kind`, or None for a stray name.
pub fn parse_object_path(kind: FileKind, path: &str) -> Option<Id> {
    let name = path.rsplit('/').next()?;
    let id = Id::from_hex(name).ok()?;
    (object_path(kind, &id) == path).then_some(id)
}

/// An object of the store, by kind and id: what the engine's storage
/// seam is addressed by, so that no code builds a path by hand. The
/// config has no id (its name is always `config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName {
    kind: FileKind,
    id: Id,
}

impl ObjectName {
    /// The repository's config.
    pub const CONFIG: ObjectName = ObjectName {
        kind: FileKind::Config,
        id: Id([0; 32]),
    };

    /// The object of `kind` named `id` (for the config, `id` is ignored).
    pub fn new(kind: FileKind, id: Id) -> Self {
        match kind {
            FileKind::Config => Self::CONFIG,
            kind => ObjectName { kind, id },
        }
    }

    /// Its kind.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Its id (zero for the config).
    pub fn id(&self) -> Id {
        self.id
    }

    /// Its path relative to the repository prefix.
    pub fn path(&self) -> String {
        object_path(self.kind, &self.id)
    }

    /// The object a listed path of `kind` names, or None for a stray name.
    pub fn parse(kind: FileKind, path: &str) -> Option<Self> {
        match kind {
            FileKind::Config => (path == "config").then_some(Self::CONFIG),
            kind => parse_object_path(kind, path).map(|id| ObjectName { kind, id }),
        }
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_path_pack_is_fanned_out() {
        let id = Id([0xab; 32]);
        let p = object_path(FileKind::Pack, &id);
        assert_eq!(p, format!("data/ab/{}", "ab".repeat(32)));
        assert_eq!(parse_object_path(FileKind::Pack, &p), Some(id));
        assert_eq!(parse_object_path(FileKind::Index, &p), None);
        assert_eq!(parse_object_path(FileKind::Pack, "data/ab/junk"), None);
    }

    #[test]
    fn every_kind_has_one_directory_and_names_parse_back() {
        let mut dirs: Vec<&str> = FileKind::ALL.iter().map(|k| k.dir()).collect();
        dirs.sort_unstable();
        dirs.dedup();
        assert_eq!(dirs.len(), FileKind::ALL.len(), "two kinds share a name");
        assert!(FileKind::directories().eq(FileKind::ALL[1..].iter().copied()));
        let id = Id([0x5c; 32]);
        for kind in FileKind::ALL {
            assert_eq!(FileKind::of_dir(kind.dir()), Some(kind));
            assert!(is_layout_name(kind.dir()));
            let name = ObjectName::new(kind, id);
            assert_eq!(ObjectName::parse(kind, &name.path()), Some(name));
            assert!(name.path().starts_with(kind.dir()));
        }
        assert!(!is_layout_name("heartbeat") && !is_layout_name(""));
        assert_eq!(ObjectName::new(FileKind::Config, id), ObjectName::CONFIG);
        assert_eq!(ObjectName::CONFIG.to_string(), "config");
        assert_eq!(ObjectName::parse(FileKind::Config, "configx"), None);
    }
}
