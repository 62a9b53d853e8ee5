//! Fault injection around any store. With the feature `crash-points`
//! (test builds only: the integration tests enable it),
//! `VAULT_CRASH_AFTER_WRITES=N` kills the process with SIGKILL right after
//! its Nth object write or delete: a crash exactly between two steps of a
//! command, which a kill timed from outside rarely hits
//! (tests/torture.rs). Without the feature, or without the variable, the
//! store is returned as it is.

use super::{Listing, ObjectMeta, Put, PutOutcome, Store, StoreInfo};
use crate::error::Result;
use repo_format::layout::{FileKind, ObjectName};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A store that dies after a number of writes and deletes.
pub struct CrashPoints {
    inner: Arc<dyn Store>,
    /// Writes and deletes left before the crash.
    left: AtomicU64,
}

impl CrashPoints {
    /// `inner`, wrapped when this build has crash points and the process
    /// was asked for one.
    pub fn around(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        if !cfg!(feature = "crash-points") {
            return inner;
        }
        match std::env::var("VAULT_CRASH_AFTER_WRITES")
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(n) => Arc::new(Self::after(inner, n)),
            None => inner,
        }
    }

    /// `inner`, dying right after its `writes`th write or delete.
    pub fn after(inner: Arc<dyn Store>, writes: u64) -> Self {
        CrashPoints {
            inner,
            left: AtomicU64::new(writes),
        }
    }

    fn count(&self) {
        if self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Store for CrashPoints {
    fn put(&self, name: &ObjectName, bytes: bytes::Bytes, mode: Put) -> Result<PutOutcome> {
        let outcome = self.inner.put(name, bytes, mode)?;
        if outcome == PutOutcome::Created {
            self.count();
        }
        Ok(outcome)
    }

    fn get(&self, name: &ObjectName, range: Option<Range<u64>>) -> Result<bytes::Bytes> {
        self.inner.get(name, range)
    }

    fn list(&self, kind: FileKind) -> Result<Listing> {
        self.inner.list(kind)
    }

    fn delete(&self, name: &ObjectName) -> Result<()> {
        self.inner.delete(name)?;
        self.count();
        Ok(())
    }

    super::pass_through!();
}
