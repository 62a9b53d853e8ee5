//! The behaviour of vault: a storage adapter over `object_store`, the
//! repository, backup, restore, and the read side (snapshots, trees, dump,
//! stats, find, diff), with an optional local cache of metadata
//! ([`Cache`], given to a repository by [`Repository::set_cache`]).
//!
//! A library first: another program can drive a backup without the CLI.
//!
//! ```
//! use engine::{Backend, Repository, InitOptions};
//! use engine::archive::{backup, BackupOptions, Source};
//! use std::sync::Arc;
//!
//! let mut options = InitOptions::default();
//! options.kdf.memory_kib = 64; // cheap key derivation for the example
//! options.kdf.iterations = 1;
//! let backend = Backend::open("memory://doc-example").unwrap();
//! let repo = Arc::new(Repository::init(backend, b"secret", &options).unwrap());
//! let source = Source::Stdin { filename: "hello.txt".into(), reader: Box::new(&b"hello"[..]) };
//! let report = backup(&repo, source, &BackupOptions::default(), &engine::NoProgress).unwrap();
//! assert!(report.snapshot_id.is_some());
//! ```
#![deny(missing_docs)]

pub mod archive;
pub mod backend;
pub mod blob_set;
pub mod cache;
pub mod check;
pub mod chunker;
pub mod copy;
pub mod diff;
pub mod dump;
pub mod error;
pub mod exclude;
pub mod find;
pub mod forget;
pub mod heartbeat;
pub mod index;
pub mod lock;
pub mod metadata;
pub mod mount;
pub mod packer;
mod prefix;
pub mod progress;
pub mod prune;
pub mod repair;
pub mod repo;
pub mod restore;
pub mod snapshots;
pub mod stats;
pub mod tag;
pub mod tree_walk;
pub mod units;
mod workers;

pub use backend::Backend;
pub use cache::Cache;
pub use error::{Error, Result};
pub use progress::{NoProgress, Progress};
pub use repo::{InitOptions, Repository};
pub use repo_format;

/// A fresh random nonce for an envelope.
pub fn random_nonce() -> [u8; repo_format::crypto::NONCE_LEN] {
    let mut n = [0u8; repo_format::crypto::NONCE_LEN];
    rand::fill(&mut n);
    n
}
