//! The behaviour of vault, as a library: another program can drive a
//! backup, a restore or a prune without the CLI.
//!
//! The folders are the layers; each uses only the layers below it (a test,
//! `layers_use_only_the_layers_below`, holds them to it):
//!
//! ```text
//! backup/  maintenance/  read/  health   what commands do (peers: none uses another)
//!        \      |       /
//!          repository/                   open, keys, objects, index, packs, locks
//!               |
//!             store/                     the storage seam: one typed interface, its stores and wrappers
//!               |
//!  error progress units exclude prefix workers metadata   shared vocabulary
//! ```
//!
//! - [`store`]: objects by kind and id in a local directory, a cloud
//!   bucket, a `vault serve` server or memory; caching and fault injection
//!   as wrappers.
//! - [`repository`]: [`Repository`] (init, open, keys), encrypted objects,
//!   the master index and its one loader, the one pack reader, the one
//!   walk of what snapshots reach, the pack writer, locks, heartbeats.
//! - [`backup`]: sources, the file walk, streams and commands, trees.
//! - [`maintenance`]: forget, prune, check, repair, copy, tag.
//! - [`read`]: restore, dump, diff, find, stats, mount, snapshot selection.
//! - [`health`]: the verdicts of `vault health`.
//!
//! ```
//! use engine::{Backend, Repository, InitOptions};
//! use engine::backup::{backup, BackupOptions, Source};
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

pub mod beneath;
pub mod error;
pub mod exclude;
pub mod metadata;
mod prefix;
pub mod progress;
pub mod units;
mod workers;

pub mod store;

pub mod repository;

pub mod backup;
pub mod health;
pub mod interrupt;
pub mod maintenance;
pub mod read;

pub use error::{Error, Result};
pub use progress::{NoProgress, Progress};
pub use repo_format;
pub use repository::{InitOptions, Repository};
pub use store::{Backend, Cache};
pub use workers::{STACK_SIZE, configure_threads, with_stack};

/// A fresh random nonce for an envelope.
pub fn random_nonce() -> [u8; repo_format::crypto::NONCE_LEN] {
    let mut n = [0u8; repo_format::crypto::NONCE_LEN];
    rand::fill(&mut n);
    n
}

/// A fresh nonce and ephemeral secret for sealing one thing (see
/// [`repo_format::keyring::Fresh`]).
pub fn fresh() -> repo_format::keyring::Fresh {
    let mut ephemeral = [0u8; repo_format::crypto::KEY_LEN];
    rand::fill(&mut ephemeral);
    repo_format::keyring::Fresh {
        nonce: random_nonce(),
        ephemeral,
    }
}
