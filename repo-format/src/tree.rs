//! Trees: one directory's entries, sorted by name, stored as a blob of kind
//! Tree. See SPEC.md §7.2.
//!
//! ```text
//! tree blob plaintext: +-------------+------------------+
//!                      | version u8  | bincode(Tree)    |
//!                      +-------------+------------------+
//! ```

use crate::codec;
use crate::error::{FormatError, Result};
use crate::id::BlobId;
use serde::{Deserialize, Serialize};

pub use crate::time::Timestamp;

/// Tree encoding version.
pub const TREE_VERSION: u8 = 1;

/// What kind of file system entry a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Named pipe.
    Fifo,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Unix socket.
    Socket,
}

/// An extended attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedAttribute {
    /// Name, raw bytes.
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    /// Value, raw bytes.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// File name, raw bytes (any valid Unix file name, not necessarily UTF-8).
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    /// Entry kind.
    pub kind: NodeKind,
    /// Permission bits and set-id/sticky bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Owner user name, empty when unknown.
    pub user: String,
    /// Owner group name, empty when unknown.
    pub group: String,
    /// Modification time.
    pub mtime: Timestamp,
    /// Access time.
    pub atime: Timestamp,
    /// Status change time.
    pub ctime: Timestamp,
    /// Size in bytes (files: content length; others: as stat reports).
    pub size: u64,
    /// Inode number (change detection and hard links).
    pub inode: u64,
    /// Device of the file system holding the entry (`st_dev`).
    pub device_id: u64,
    /// Hard-link count.
    pub links: u64,
    /// Device number for character and block devices (`st_rdev`).
    pub rdev: u64,
    /// Content chunks in order (files).
    pub content: Vec<BlobId>,
    /// Tree of the directory (dirs).
    pub subtree: Option<BlobId>,
    /// Link target, raw bytes (symlinks).
    #[serde(with = "serde_bytes")]
    pub link_target: Vec<u8>,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<ExtendedAttribute>,
}

impl Node {
    /// A node with every field empty or zero.
    pub fn new(name: Vec<u8>, kind: NodeKind) -> Self {
        Node {
            name,
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            user: String::new(),
            group: String::new(),
            mtime: Timestamp::default(),
            atime: Timestamp::default(),
            ctime: Timestamp::default(),
            size: 0,
            inode: 0,
            device_id: 0,
            links: 0,
            rdev: 0,
            content: Vec::new(),
            subtree: None,
            link_target: Vec::new(),
            xattrs: Vec::new(),
        }
    }
}

/// A directory listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// Entries, sorted by name bytes, names unique.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The tree blob's plaintext.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![TREE_VERSION];
        out.extend_from_slice(&codec::encode(self));
        out
    }

    /// Parse a tree blob's plaintext; names must be sorted, unique, non-empty
    /// and free of `/` and NUL, and not `.` or `..`, so that a hostile tree
    /// cannot make restore write outside its target.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (version, body) = bytes.split_first().ok_or(FormatError::Truncated {
            what: "tree",
            needed: 1,
            got: 0,
        })?;
        if *version != TREE_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "tree",
                version: u32::from(*version),
            });
        }
        let tree: Tree = codec::decode("tree", body)?;
        let mut previous: Option<&[u8]> = None;
        for node in &tree.nodes {
            let name = node.name.as_slice();
            if !is_valid_name(name) {
                return Err(FormatError::Malformed {
                    what: "tree",
                    detail: format!("invalid entry name {:?}", String::from_utf8_lossy(name)),
                });
            }
            if previous.is_some_and(|p| p >= name) {
                return Err(FormatError::Malformed {
                    what: "tree",
                    detail: "entries not sorted or not unique".to_owned(),
                });
            }
            previous = Some(name);
        }
        Ok(tree)
    }
}

/// Whether `name` may name a directory entry.
pub fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|b| *b == b'/' || *b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_round_trip() {
        let mut a = Node::new(b"a".to_vec(), NodeKind::File);
        a.content = vec![BlobId::default()];
        let b = Node::new(vec![0xff, 0xfe], NodeKind::Dir);
        let t = Tree { nodes: vec![a, b] };
        assert_eq!(Tree::decode(&t.encode()), Ok(t));
    }

    #[test]
    fn tree_unsorted_or_hostile_names_are_errors() {
        let t = Tree {
            nodes: vec![
                Node::new(b"b".to_vec(), NodeKind::File),
                Node::new(b"a".to_vec(), NodeKind::File),
            ],
        };
        assert!(Tree::decode(&t.encode()).is_err());
        for bad in [&b".."[..], b".", b"a/b", b"", b"a\0"] {
            let t = Tree {
                nodes: vec![Node::new(bad.to_vec(), NodeKind::File)],
            };
            assert!(Tree::decode(&t.encode()).is_err(), "{bad:?}");
        }
    }

    /// A tree blob: version, then a node count of `count` (varint), then
    /// `rest`.
    fn claiming(count: u64, rest: &[u8]) -> Vec<u8> {
        let mut out = vec![TREE_VERSION, 253];
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(rest);
        out
    }

    #[test]
    fn tree_claiming_2_pow_60_nodes_is_error_without_allocating_them() {
        // 2^60 nodes would be exabytes; serde preallocates at most 1 MiB
        // whatever the prefix says, and the input ends at the first node.
        let bytes = claiming(1 << 60, &[]);
        assert!(matches!(
            Tree::decode(&bytes),
            Err(FormatError::Malformed { what: "tree", .. })
        ));
        // The same with one valid node and then nothing.
        let one = Tree {
            nodes: vec![Node::new(b"a".to_vec(), NodeKind::File)],
        }
        .encode();
        let node = one.get(2..).unwrap_or_default();
        assert!(!node.is_empty());
        assert!(Tree::decode(&claiming(1 << 60, node)).is_err());
    }

    #[test]
    fn tree_name_claiming_more_than_the_input_is_refused_before_allocation() {
        // One node whose name claims 2 MiB (then 2^60 bytes), in a blob of
        // a dozen bytes: refused by the limit that follows the input
        // (1 MiB here), not allocated and then found short.
        for claim in [2u64 << 20, 1 << 60] {
            let mut bytes = vec![TREE_VERSION, 1, 253];
            bytes.extend_from_slice(&claim.to_le_bytes());
            let decoded = Tree::decode(&bytes);
            assert!(
                matches!(&decoded, Err(FormatError::Malformed { detail, .. }) if detail.contains("Limit")),
                "{claim}: {decoded:?}"
            );
        }
        assert_eq!(codec::limit_for(12), 1 << 20);
        assert_eq!(codec::limit_for((16 << 10) + 1), 4 << 20);
        assert_eq!(codec::limit_for(usize::MAX), codec::DECODE_LIMIT);
    }
}
