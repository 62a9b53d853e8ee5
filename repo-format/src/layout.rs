//! Object names in the store, relative to the repository prefix.
//! See SPEC.md §3.
//!
//! ```text
//! config  keys/<id>  data/<id[0..2]>/<id>  index/<id>  snapshots/<id>  locks/<id>
//! deletions/<id>
//! ledger/<id>
//! ```

use crate::id::Id;

/// The kinds of file in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
}

impl FileKind {
    /// Every kind that lives under a directory, in listing order.
    pub const DIRECTORIES: [FileKind; 7] = [
        FileKind::Key,
        FileKind::Pack,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Lock,
        FileKind::Deletion,
        FileKind::Ledger,
    ];

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
        }
    }
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
}
