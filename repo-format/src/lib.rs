//! The bytes of a vault repository.
//!
//! Everything here is a pure function over byte slices: no file system, no
//! network, no clock and no random source (nonces, salts and times are passed
//! in). SPEC.md is the normative description; each module opens with the
//! section it implements.
//!
//! ```
//! use repo_format::crypto::{BlobKind, MasterKey};
//! let key = MasterKey::from_random(&[7u8; 72]);
//! let data = b"some file content";
//! let id = key.blob_id(data);
//! let sealed = key.seal_blob(BlobKind::Data, &id, data, 3, [0u8; 24]);
//! assert_eq!(key.open_blob(BlobKind::Data, &id, &sealed, data.len()).unwrap(), data);
//! ```
#![deny(missing_docs)]

pub mod codec;
pub mod compress;
pub mod config;
pub mod crypto;
pub mod deletion;
pub mod error;
pub mod heartbeat;
pub mod id;
pub mod index;
pub mod key;
pub mod keyring;
pub mod layout;
pub mod ledger;
pub mod lock;
pub mod pack;
pub mod record;
pub mod snapshot;
pub mod time;
pub mod tree;

pub use error::{FormatError, Result};
pub use id::{BlobId, Id, IndexId, KeyId, LockId, PackId, SnapshotId};
