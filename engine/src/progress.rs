//! Progress reporting. The engine never prints; callers implement this.

use std::path::Path;

/// Receives progress and problems during a backup or restore.
pub trait Progress: Sync {
    /// `bytes` more of the input were processed.
    fn bytes_processed(&self, _bytes: u64) {}
    /// One more file was processed.
    fn file_processed(&self, _path: &Path) {}
    /// Something that does not stop the operation but should be said
    /// (for example a file that changed while it was read).
    fn warning(&self, _message: &str) {}
    /// A new stage of a long operation begins (`check`: "load indexes", ...).
    fn stage(&self, _name: &str) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
