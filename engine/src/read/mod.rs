//! Reading snapshots back: [`restore`], [`dump`], [`diff`], [`find`],
//! [`stats`], [`mount`] (a file system that knows nothing of FUSE), and
//! [`snapshots`] (choosing snapshots by id, `latest` and filters).
//! [`tree_walk`] walks a snapshot by path; what snapshots reach, by tree,
//! is the repository's one walk ([`crate::repository::reachable`]).

pub mod diff;
pub mod dump;
pub mod find;
pub mod mount;
pub mod restore;
pub mod snapshots;
pub mod stats;
pub mod tree_walk;
